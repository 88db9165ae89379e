//! How records are laid out on disk: versioned JSON, so a later build can
//! migrate or refuse data it does not understand instead of misreading it.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::StoreError;

/// Version of the records written by this build.
pub(super) const RECORD_VERSION: u32 = 1;

/// A stored record: the payload and the format version it was written in.
#[derive(Serialize, Deserialize)]
struct Record<T> {
    v: u32,
    #[serde(flatten)]
    body: T,
}

pub(super) fn encode<T: Serialize>(body: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Record {
        v: RECORD_VERSION,
        body,
    })
}

pub(super) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let show = || String::from_utf8_lossy(key).into_owned();
    #[derive(Deserialize)]
    struct Version {
        v: u32,
    }
    let version: Version = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: show(),
        why: e.to_string(),
    })?;
    if version.v != RECORD_VERSION {
        return Err(StoreError::UnknownVersion {
            key: show(),
            found: version.v,
        });
    }
    serde_json::from_slice::<Record<T>>(bytes)
        .map(|r| r.body)
        .map_err(|e| StoreError::Corrupt {
            key: show(),
            why: e.to_string(),
        })
}
