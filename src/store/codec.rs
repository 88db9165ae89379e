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

/// How every record this build writes begins (`encode` puts the version
/// first). A record that begins so is read in one pass: its body's types
/// ignore the `v` field. Anything else takes the careful path below.
const CURRENT: &[u8] = b"{\"v\":1,";

pub(super) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let show = || String::from_utf8_lossy(key).into_owned();
    if bytes.starts_with(CURRENT) {
        return serde_json::from_slice::<T>(bytes).map_err(|e| StoreError::Corrupt {
            key: show(),
            why: e.to_string(),
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass prefix is this build's version, as `encode` writes it.
    #[test]
    fn the_fast_prefix_is_what_encode_writes() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Body {
            a: u32,
        }
        assert_eq!(CURRENT, format!("{{\"v\":{RECORD_VERSION},").as_bytes());
        let bytes = encode(&Body { a: 7 }).unwrap();
        assert!(
            bytes.starts_with(CURRENT),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(decode::<Body>(b"k", &bytes).unwrap(), Body { a: 7 });
    }

    /// Both paths read the same records the same way and refuse the same
    /// damage: a later field order, another version, a body that does not
    /// fit, a cut record.
    #[test]
    fn one_pass_and_careful_reading_agree() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Body {
            a: u32,
        }
        let cases: &[(&str, Option<u32>)] = &[
            (r#"{"v":1,"a":3}"#, Some(3)),
            (r#"{"a":3,"v":1}"#, Some(3)),
            (r#"{ "v":1,"a":3}"#, Some(3)),
            (r#"{"v":2,"a":3}"#, None),
            (r#"{"v":1,"a":"x"}"#, None),
            (r#"{"v":1,"a":3"#, None),
            (r#"{"v":1,"b":3}"#, None),
        ];
        for (text, want) in cases {
            let got = decode::<Body>(b"k", text.as_bytes()).ok().map(|b| b.a);
            assert_eq!(got, *want, "{text}");
        }
    }
}
