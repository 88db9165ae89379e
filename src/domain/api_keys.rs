//! API keys for the HTTP listener: each a name, a role and the SHA-256 of
//! the key. SHA-256 and not a password hash (argon2): a key is 32 random
//! bytes, so there is nothing to guess that a slow hash would protect, and
//! a fast hash keeps every request cheap. The key itself is never stored
//! or logged; only its name appears in the audit trail.

use sha2::{Digest, Sha256};

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Submit, cancel its requesters' requests, check grants, show the
    /// requests it submitted.
    Integrator,
    /// List, show and export; decide nothing.
    Auditor,
    /// Everything, override and revoke included.
    Admin,
}

impl Role {
    pub(crate) fn parse(s: &str) -> Option<Role> {
        match s {
            "integrator" => Some(Role::Integrator),
            "auditor" => Some(Role::Auditor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Integrator => "integrator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

/// The prefix of every key's text, so a leaked key is recognisable by
/// secret scanners.
pub(crate) const KEY_PREFIX: &str = "apd_";

/// One configured key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ApiKey {
    pub(crate) name: String,
    pub(crate) role: Role,
    /// SHA-256 of the key's text.
    pub(crate) hash: [u8; 32],
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The configured keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ApiKeys {
    keys: Vec<ApiKey>,
}

impl ApiKeys {
    pub(crate) fn new(keys: Vec<ApiKey>) -> Self {
        ApiKeys { keys }
    }

    /// The key whose text `presented` is, if any. Every configured hash is
    /// compared in constant time, so timing says nothing about which.
    pub(crate) fn find(&self, presented: &str) -> Option<&ApiKey> {
        let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for k in &self.keys {
            if bool::from(subtle::ConstantTimeEq::ct_eq(&k.hash[..], &hash[..])) {
                found = Some(k);
            }
        }
        found
    }
}

/// A new key's text from 32 random bytes, and the `sha256:HEX` to configure.
pub(crate) fn new_key(random: [u8; 32]) -> (String, String) {
    let text = format!(
        "{KEY_PREFIX}{}",
        data_encoding::BASE32_NOPAD
            .encode(&random)
            .to_ascii_lowercase()
    );
    let hash = format!(
        "sha256:{}",
        data_encoding::HEXLOWER.encode(&Sha256::digest(text.as_bytes()))
    );
    (text, hash)
}

/// Reads `sha256:HEX` (64 hex digits).
pub(crate) fn parse_hash(s: &str) -> Result<[u8; 32], String> {
    let hex = s
        .strip_prefix("sha256:")
        .ok_or_else(|| "must be sha256: followed by 64 hex digits".to_owned())?;
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .map_err(|e| format!("not hex: {e}"))?;
    <[u8; 32]>::try_from(bytes).map_err(|_| "must be 64 hex digits".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_found_by_its_text_and_nothing_else_is() {
        let (text, hash) = new_key([7; 32]);
        assert!(text.starts_with(KEY_PREFIX) && text.len() > 50, "{text}");
        let keys = ApiKeys::new(vec![ApiKey {
            name: "portal".into(),
            role: Role::Integrator,
            hash: parse_hash(&hash).unwrap(),
        }]);
        assert_eq!(keys.find(&text).map(|k| k.name.as_str()), Some("portal"));
        for wrong in [
            "",
            "apd_",
            &text[..text.len() - 1],
            &text.to_uppercase(),
            &format!("{text} "),
        ] {
            assert!(keys.find(wrong).is_none(), "{wrong:?}");
        }
        assert!(
            !format!("{keys:?}").contains(&hash[7..]),
            "Debug shows no hash"
        );
    }

    #[test]
    fn hashes_and_roles_table() {
        assert!(parse_hash("sha256:00").is_err());
        assert!(parse_hash("md5:00").is_err());
        assert!(parse_hash(&format!("sha256:{}", "a".repeat(64))).is_ok());
        for r in [Role::Integrator, Role::Auditor, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
