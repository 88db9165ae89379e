//! The approvals inbox address, as configured.

use std::fmt;
use std::str::FromStr;

use crate::domain::wire::PLUS_DELIMITER;

/// The address approvers reply to, split and lowercased once at start-up so
/// that every message is compared with the same normalised parts. Replies
/// arrive at `local+TOKEN@domain`; the plus-address detail carries the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InboxAddress {
    /// Part before `@`, lowercase; never contains `+`, which is the
    /// recipient delimiter that separates the token.
    local: String,
    /// Part after `@`, lowercase, without a trailing dot.
    domain: String,
}

/// Why a configured inbox address was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid inbox address {address:?}: {reason}")]
pub(crate) struct InvalidInboxAddress {
    /// What was configured, so the operator can find it.
    address: String,
    /// What is wrong with it.
    reason: &'static str,
}

impl InboxAddress {
    /// Validates an address such as `approvals@example.test`.
    pub(crate) fn new(address: &str) -> Result<Self, InvalidInboxAddress> {
        let fail = |reason| InvalidInboxAddress {
            address: address.to_string(),
            reason,
        };
        let trimmed = address.trim();
        let (local, domain) = trimmed.split_once('@').ok_or_else(|| fail("no @"))?;
        if domain.contains('@') {
            return Err(fail("more than one @"));
        }
        if local.is_empty() || local.len() > 64 {
            return Err(fail("local part must have 1 to 64 characters"));
        }
        if local.contains(PLUS_DELIMITER) {
            return Err(fail("local part must not contain '+', the token delimiter"));
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*/=?^_`{|}~.-".contains(c));
        if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(fail("local part has characters outside a dot-atom"));
        }
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if domain.is_empty() || domain.len() > 253 {
            return Err(fail("domain must have 1 to 253 characters"));
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if !labels_ok {
            return Err(fail("domain is not a host name"));
        }
        Ok(InboxAddress {
            local: local.to_ascii_lowercase(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    /// Local part, lowercase.
    pub(crate) fn local(&self) -> &str {
        &self.local
    }

    /// Domain, lowercase.
    pub(crate) fn domain(&self) -> &str {
        &self.domain
    }
}

impl FromStr for InboxAddress {
    type Err = InvalidInboxAddress;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InboxAddress::new(s)
    }
}

impl fmt::Display for InboxAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::InboxAddress;

    #[test]
    fn accepts_and_normalises() {
        let a = InboxAddress::new(" Approvals@Example.TEST. ").unwrap();
        assert_eq!((a.local(), a.domain()), ("approvals", "example.test"));
        assert_eq!(a.to_string(), "approvals@example.test");
        assert!("it-access.approvals@corp.example"
            .parse::<InboxAddress>()
            .is_ok());
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "",
            "approvals",
            "@example.test",
            "approvals@",
            "a@b@example.test",
            "approvals+x@example.test",
            "appr ovals@example.test",
            ".approvals@example.test",
            "approvals@example..test",
            "approvals@-example.test",
            "approvals@exa_mple.test",
            "\"approvals\"@example.test",
        ] {
            assert!(InboxAddress::new(bad).is_err(), "{bad:?}");
        }
    }
}
