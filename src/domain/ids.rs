//! Validated identifiers: a value of these types can only exist in valid form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Identifies one access request. Numeric so that it fits in a reply token,
/// shown as `AR-<n>` so that people can quote it in mail and tickets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct RequestId(u64);

impl RequestId {
    pub(crate) fn new(n: u64) -> Self {
        RequestId(n)
    }

    pub(crate) fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AR-{}", self.0)
    }
}

impl FromStr for RequestId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("AR-")
            .or_else(|| s.strip_prefix("ar-"))
            .unwrap_or(s);
        digits
            .parse::<u64>()
            .map(RequestId)
            .map_err(|_| format!("{s:?} is not a request id (expected AR-<number>)"))
    }
}

impl TryFrom<String> for RequestId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.to_string()
    }
}

/// A request's secret-free random identity, drawn when it is created and
/// covered by every token issued for it: request numbers may repeat (a
/// store restored from an old backup counts again from where it was), a
/// nonce does not, so a token from another timeline never verifies.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct RequestNonce([u8; 16]);

impl RequestNonce {
    pub(crate) const fn from_bytes(bytes: [u8; 16]) -> Self {
        RequestNonce(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for RequestNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RequestNonce({})",
            data_encoding::HEXLOWER.encode(&self.0)
        )
    }
}

impl TryFrom<String> for RequestNonce {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(|e| format!("request nonce: {e}"))?;
        <[u8; 16]>::try_from(bytes)
            .map(RequestNonce)
            .map_err(|_| "request nonce: not 16 bytes".to_string())
    }
}

impl From<RequestNonce> for String {
    fn from(n: RequestNonce) -> String {
        data_encoding::HEXLOWER.encode(&n.0)
    }
}

/// An email address, normalised to lower case so that comparisons between a
/// configured approver and the From of a reply cannot be fooled by case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct Address(String);

impl Address {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`.
    pub(crate) fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }

    /// The part before `@`.
    pub(crate) fn local(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or("")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Address {
    type Err = String;

    /// Accepts a bare `local@domain` address (no display name): the forms
    /// that come from configuration and API input. Mail headers are parsed
    /// elsewhere and handed over as bare addresses.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = |why: &str| Err(format!("{s:?} is not an email address: {why}"));
        let Some((local, domain)) = s.rsplit_once('@') else {
            return bad("no @");
        };
        if local.is_empty() || local.len() > 64 {
            return bad("the part before @ must be 1 to 64 characters (RFC 5321)");
        }
        if domain.is_empty() || domain.len() > 253 || !domain.contains('.') && domain != "localhost"
        {
            return bad("the domain is not a host name");
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return bad("unsupported character in the local part");
        }
        let domain_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
        if !domain_ok {
            return bad("the domain is not a host name");
        }
        Ok(Address(s.to_ascii_lowercase()))
    }
}

impl TryFrom<String> for Address {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_round_trips_through_text() {
        for n in [0u64, 1, 42, u64::MAX] {
            let id = RequestId::new(n);
            assert_eq!(id.to_string().parse::<RequestId>(), Ok(id));
        }
        assert!("AR-".parse::<RequestId>().is_err());
        assert!("AR-12x".parse::<RequestId>().is_err());
    }

    #[test]
    fn address_validation_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("alice@example.test", Some("alice@example.test")),
            ("Alice.Smith@Example.TEST", Some("alice.smith@example.test")),
            ("  bob+tag@example.test ", Some("bob+tag@example.test")),
            ("root@localhost", Some("root@localhost")),
            ("no-at-sign", None),
            ("@example.test", None),
            ("alice@", None),
            ("alice@nodot", None),
            ("al ice@example.test", None),
            ("Alice <alice@example.test>", None),
            ("alice@exa_mple.test", None),
            ("alice..x@example.test", None),
            ("alice@-bad.test", None),
        ];
        for (input, want) in cases {
            let got = input.parse::<Address>().ok();
            assert_eq!(got.as_ref().map(Address::as_str), *want, "input {input:?}");
        }
    }
}
