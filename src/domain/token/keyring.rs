//! The keys: the one that signs, the older ones still accepted, and the two
//! MACs every token carries.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::Mac;
use sha2::{Digest, Sha256};

use super::*;
use crate::domain::ids::RequestNonce;
use crate::secret::SecretBytes;

/// Why a keyring could not be built. Names keys by position, never by value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyError {
    /// A key is too short to be a safe HMAC key.
    #[error("{key} is {len} bytes long; token keys need at least {MIN_KEY_LEN} bytes")]
    TooShort {
        /// Which key, e.g. "current key" or "previous key #2".
        key: KeyName,
        /// Its length, to help spot a key file read with the wrong encoding.
        len: usize,
    },
    /// Two keys map to the same one-byte key id, so tokens could not say
    /// which key signed them.
    #[error("{first} and {second} have the same key id {key_id:#04x}; remove the duplicate or generate a new key")]
    IdClash {
        /// The earlier key of the pair.
        first: KeyName,
        /// The later key of the pair.
        second: KeyName,
        /// The shared id.
        key_id: u8,
    },
}

/// Names a key by its position in the configuration, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyName {
    /// The key used for signing.
    Current,
    /// An older key still accepted for verification (index into the list).
    Previous(usize),
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyName::Current => f.write_str("current key"),
            KeyName::Previous(i) => write!(f, "previous key #{i}"),
        }
    }
}

/// One key plus its derived id.
struct KeyEntry {
    /// Written into each token so verification picks the right key.
    id: u8,
    /// The HMAC key itself.
    key: SecretBytes,
}

/// The signing key and the older keys still accepted, so keys can be rotated
/// without invalidating mails already sent.
pub(crate) struct Keyring {
    /// Signs new tokens; also verifies.
    current: KeyEntry,
    /// Verify only; drop a key from here once its tokens have expired.
    previous: Vec<KeyEntry>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let previous: Vec<String> = self
            .previous
            .iter()
            .map(|k| format!("{:#04x}", k.id))
            .collect();
        f.debug_struct("Keyring")
            .field("current_key_id", &format_args!("{:#04x}", self.current.id))
            .field("previous_key_ids", &previous)
            .finish()
    }
}

/// Derives the public one-byte id of a key. Not secret: it only picks which
/// key to try.
pub(crate) fn key_id(key: &[u8]) -> u8 {
    let digest = Sha256::new()
        .chain_update(KEY_ID_DOMAIN)
        .chain_update(key)
        .finalize();
    digest.first().copied().unwrap_or(0)
}

impl Keyring {
    /// Builds a keyring; `current` signs, all keys verify.
    pub(crate) fn new(
        current: SecretBytes,
        previous: Vec<SecretBytes>,
    ) -> Result<Keyring, KeyError> {
        let current = entry(KeyName::Current, current)?;
        let mut seen = vec![(KeyName::Current, current.id)];
        let mut prev_entries = Vec::with_capacity(previous.len());
        for (i, key) in previous.into_iter().enumerate() {
            let name = KeyName::Previous(i);
            let e = entry(name, key)?;
            if let Some((first, _)) = seen.iter().find(|(_, id)| *id == e.id) {
                return Err(KeyError::IdClash {
                    first: *first,
                    second: name,
                    key_id: e.id,
                });
            }
            seen.push((name, e.id));
            prev_entries.push(e);
        }
        Ok(Keyring {
            current,
            previous: prev_entries,
        })
    }

    #[cfg(test)]
    /// The id of the signing key, for logging which key is in use.
    pub(crate) fn current_key_id(&self) -> u8 {
        self.current.id
    }

    /// Mints a token for `approver` of the request with `nonce`, with the
    /// current key.
    ///
    /// `expires_at` is rounded up to the minute and clamped to the
    /// representable range (1970 to year ~10136).
    pub(crate) fn sign(&self, claims: &TokenClaims, nonce: &RequestNonce, approver: &str) -> Token {
        let claim_bytes = encode_claims(self.current.id, claims);
        let outer = claims_mac(&self.current.key, &claim_bytes);
        let inner = binding_mac(&self.current.key, &claim_bytes, nonce, approver);
        let mut raw = [0u8; RAW_LEN];
        for (dst, src) in raw
            .iter_mut()
            .zip(claim_bytes.iter().chain(outer.iter()).chain(inner.iter()))
        {
            *dst = *src;
        }
        Token {
            text: encode_text(&raw),
            raw,
        }
    }

    /// Checks, from the token alone, that we issued it and that it has not
    /// expired at `now`; returns its claims. Call before looking anything
    /// up for it, then [`Keyring::check_binding`] with what was looked up.
    pub(crate) fn check(
        &self,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<TokenClaims, TokenError> {
        let entry = self.entry_for(token)?;
        let (claim_bytes, outer, _) = split_raw(&token.raw);
        if !tags_equal(&claims_mac(&entry.key, &claim_bytes), &outer) {
            return Err(TokenError::BadMac {
                token: token.log_prefix(),
            });
        }
        // Expiry is checked only after the MAC, so an "expired" entry in
        // the audit log always refers to a token we really issued.
        let claims = token.claims();
        if now > claims.expires_at {
            return Err(TokenError::Expired {
                token: token.log_prefix(),
                expires_at: claims.expires_at,
            });
        }
        Ok(claims)
    }

    /// Checks that `token` was issued for the request with `nonce` and to
    /// `approver`.
    pub(crate) fn check_binding(
        &self,
        token: &Token,
        nonce: &RequestNonce,
        approver: &str,
    ) -> Result<(), TokenError> {
        let entry = self.entry_for(token)?;
        let (claim_bytes, _, inner) = split_raw(&token.raw);
        if !tags_equal(
            &binding_mac(&entry.key, &claim_bytes, nonce, approver),
            &inner,
        ) {
            return Err(TokenError::BadMac {
                token: token.log_prefix(),
            });
        }
        Ok(())
    }

    /// Both checks at once: issued by us, for the request with `nonce`, to
    /// `approver`, and not expired at `now`.
    #[cfg(test)]
    pub(crate) fn verify(
        &self,
        token: &Token,
        nonce: &RequestNonce,
        approver: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenClaims, TokenError> {
        let claims = self.check(token, now)?;
        self.check_binding(token, nonce, approver)?;
        Ok(claims)
    }

    /// The key that (supposedly) signed `token`.
    /// The anti-forgery value of the decision page for `token`: a MAC of
    /// the token under the token's own key, so only a page approvald
    /// served can carry it, and it is good for that token only.
    pub(crate) fn page_guard(&self, token: &Token) -> Option<String> {
        let entry = self.entry_for(token).ok()?;
        let tag = half_mac(&entry.key, &[PAGE_GUARD_DOMAIN, &token.raw]);
        Some(data_encoding::HEXLOWER.encode(&tag))
    }

    /// Whether `guard` is the page guard of `token` (constant time).
    pub(crate) fn check_page_guard(&self, token: &Token, guard: &str) -> bool {
        self.page_guard(token).is_some_and(|want| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                want.as_bytes(),
                guard.as_bytes(),
            ))
        })
    }

    fn entry_for(&self, token: &Token) -> Result<&KeyEntry, TokenError> {
        let key_id = token.key_id();
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|e| e.id == key_id)
            .ok_or_else(|| TokenError::UnknownKey {
                token: token.log_prefix(),
                key_id,
            })
    }
}

fn entry(name: KeyName, key: SecretBytes) -> Result<KeyEntry, KeyError> {
    let len = key.expose().len();
    if len < MIN_KEY_LEN {
        return Err(KeyError::TooShort { key: name, len });
    }
    Ok(KeyEntry {
        id: key_id(key.expose()),
        key,
    })
}

/// HMAC-SHA256 of `parts` under `key`, truncated to its first 64 bits. HMAC
/// accepts keys of any length, so the key is never refused; were it ever,
/// the all-zero tag fails closed like any wrong guess.
pub(super) fn half_mac(key: &SecretBytes, parts: &[&[u8]]) -> [u8; HALF_MAC_LEN] {
    let mut tag = [0u8; HALF_MAC_LEN];
    if let Ok(mut m) = <HmacSha256 as Mac>::new_from_slice(key.expose()) {
        for p in parts {
            m.update(p);
        }
        for (dst, src) in tag.iter_mut().zip(m.finalize().into_bytes().iter()) {
            *dst = *src;
        }
    }
    tag
}

pub(super) fn claims_mac(key: &SecretBytes, claims: &[u8; CLAIMS_LEN]) -> [u8; HALF_MAC_LEN] {
    half_mac(key, &[CLAIMS_MAC_DOMAIN, claims])
}

pub(super) fn binding_mac(
    key: &SecretBytes,
    claims: &[u8; CLAIMS_LEN],
    nonce: &RequestNonce,
    approver: &str,
) -> [u8; HALF_MAC_LEN] {
    // The address is the last, variable-length input; everything before it
    // has a fixed length, so the concatenation is unambiguous.
    let approver = approver.to_lowercase();
    half_mac(
        key,
        &[
            BINDING_MAC_DOMAIN,
            claims,
            nonce.as_bytes(),
            approver.as_bytes(),
        ],
    )
}

/// Constant-time comparison, so timing does not tell how much of a forged
/// tag was right.
pub(super) fn tags_equal(a: &[u8; HALF_MAC_LEN], b: &[u8; HALF_MAC_LEN]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(&a[..], &b[..]))
}

pub(super) fn split_raw(
    raw: &[u8; RAW_LEN],
) -> ([u8; CLAIMS_LEN], [u8; HALF_MAC_LEN], [u8; HALF_MAC_LEN]) {
    let mut claims = [0u8; CLAIMS_LEN];
    let mut outer = [0u8; HALF_MAC_LEN];
    let mut inner = [0u8; HALF_MAC_LEN];
    for (dst, src) in claims
        .iter_mut()
        .chain(outer.iter_mut())
        .chain(inner.iter_mut())
        .zip(raw.iter())
    {
        *dst = *src;
    }
    (claims, outer, inner)
}
