//! Reply tokens: the proof that a mailed decision came from the approver we
//! asked, for the request and level we asked about.
//!
//! One token is minted per (request, level, approver) and travels in the
//! approval mail. The request's nonce and the approver's address are bound
//! by the MAC but not carried in the token, which keeps it short enough (52
//! base32 characters) to survive mail clients, line wrapping and phone
//! keyboards.
//!
//! Wire layout, 32 bytes:
//!
//! ```text
//! version u8 (=2) | key_id u8 | request u64 BE | level u8 | approver_index u8
//! | expires_at u32 BE (unix minutes) | claims_mac[8] | binding_mac[8]
//! ```
//!
//! `claims_mac` is HMAC-SHA256(key, "approvald-token-v2-claims" || claims)
//! and `binding_mac` is HMAC-SHA256(key, "approvald-token-v2-binding" ||
//! claims || request nonce || lowercase approver address), each truncated to
//! 64 bits. The first is checked from the token alone ([`Keyring::check`]),
//! so a forged token never causes a store lookup; the second after the
//! request is read ([`Keyring::check_binding`]), so a token is valid only
//! for the request it was issued for — not for an earlier or later request
//! that happens to carry the same number — and only from its approver.
//! Forging a token means guessing both: 128 bits.
//!
//! This module is pure: no clock, no randomness, no I/O.
//!
//! `keyring` signs and verifies; this file is the token itself: its
//! claims, its wire form and its text.

mod keyring;

pub(crate) use keyring::Keyring;

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::Hmac;
use sha2::Sha256;

pub(super) type HmacSha256 = Hmac<Sha256>;

/// Token format version; bumped when the layout or MAC input changes so old
/// and new tokens can never be confused. Version 1 (one MAC over claims and
/// approver, no nonce) is refused.
pub(super) const VERSION: u8 = 2;
/// Length of the claims part (everything before the MAC).
pub(super) const CLAIMS_LEN: usize = 16;
/// Length of both truncated MACs together.
pub(super) const MAC_LEN: usize = 16;
/// Length of each of the two MACs.
pub(super) const HALF_MAC_LEN: usize = 8;
/// Length of the decoded token.
pub(super) const RAW_LEN: usize = CLAIMS_LEN + MAC_LEN;
/// Length of the base32 text form of a token.
pub(crate) const TOKEN_TEXT_LEN: usize = 52;
/// Domain separation so a MAC over a token can never be valid for another
/// use of the same key, nor one of a token's MACs for the other.
pub(super) const CLAIMS_MAC_DOMAIN: &[u8] = b"approvald-token-v2-claims";
pub(super) const BINDING_MAC_DOMAIN: &[u8] = b"approvald-token-v2-binding";
/// Domain separation for deriving a key's public id.
pub(super) const KEY_ID_DOMAIN: &[u8] = b"approvald-key-id";
/// Domain of the anti-forgery value a decision page carries for its token.
pub(super) const PAGE_GUARD_DOMAIN: &[u8] = b"approvald-page-guard-v1";
/// Keys shorter than the HMAC-SHA256 output would weaken the MAC.
pub(crate) const MIN_KEY_LEN: usize = 32;
/// How many leading token characters may appear in logs: enough to
/// correlate entries, far too few to replay.
pub(super) const LOG_PREFIX_LEN: usize = 8;

/// What a token asserts. Verified only through [`Keyring::verify`];
/// [`Token::claims`] gives the unverified view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenClaims {
    /// The access request this decision is about, so a reply cannot be
    /// replayed against another request.
    pub(crate) request: u64,
    /// The approval level (1..n) the approver was asked for, so a level-1
    /// reply cannot count at level 2.
    pub(crate) level: u8,
    /// Position of the approver in the level's list; lets the daemon find
    /// the expected sender without storing per-token state.
    pub(crate) approver_index: u8,
    /// After this instant the token is refused. Stored with minute
    /// precision; signing rounds down, so a token never outlives the
    /// requested deadline.
    pub(crate) expires_at: DateTime<Utc>,
}

/// A well-formed token of the current version. Says nothing about
/// authenticity until [`Keyring::verify`] accepts it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Token {
    /// Canonical lowercase text, what goes into mails.
    pub(super) text: String,
    /// Decoded bytes, kept to avoid decoding again on every use.
    pub(super) raw: [u8; RAW_LEN],
}

/// Why a token was refused. Messages are written for the audit log: they
/// never contain key material and show at most a short token prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// The text is not 52 characters long.
    #[error("malformed token: {len} characters, expected {TOKEN_TEXT_LEN}")]
    Length {
        /// Byte length of the rejected text, to tell truncation from junk.
        len: usize,
    },
    /// The text is not canonical unpadded base32.
    #[error("malformed token: not base32 text")]
    Encoding,
    /// A token of another format version.
    #[error("unsupported token version {version}")]
    Version {
        /// The version byte found, to spot mails from a future release.
        version: u8,
    },
    /// Signed with a key that is not (or no longer) in the keyring.
    #[error("token {token} was signed with unknown key id {key_id:#04x} (key rotated out?)")]
    UnknownKey {
        /// Truncated token, for correlating log lines.
        token: String,
        /// The key id named by the token, to tell which rotation it predates.
        key_id: u8,
    },
    /// The MAC does not match: forged, corrupted, or sent by someone other
    /// than the approver it was issued to.
    #[error("token {token} failed verification (forged, altered, or not issued to this sender)")]
    BadMac {
        /// Truncated token, for correlating log lines.
        token: String,
    },
    /// Authentic but past its expiry.
    #[error("token {token} expired at {expires_at}")]
    Expired {
        /// Truncated token, for correlating log lines.
        token: String,
        /// When it expired, so the approver can be told.
        expires_at: DateTime<Utc>,
    },
}

impl Token {
    /// Parses the text form. Accepts upper or lower case (some clients and
    /// people retype tokens in capitals); rejects anything that is not the
    /// canonical encoding of a token of the current version.
    pub(crate) fn parse(text: &str) -> Result<Token, TokenError> {
        if text.len() != TOKEN_TEXT_LEN {
            return Err(TokenError::Length { len: text.len() });
        }
        let upper = text.to_ascii_uppercase();
        let decoded = data_encoding::BASE32_NOPAD
            .decode(upper.as_bytes())
            .map_err(|_| TokenError::Encoding)?;
        let raw: [u8; RAW_LEN] = decoded.try_into().map_err(|_| TokenError::Encoding)?;
        Token::from_raw(raw)
    }

    /// Checks the version and builds the canonical text.
    fn from_raw(raw: [u8; RAW_LEN]) -> Result<Token, TokenError> {
        let [version, ..] = raw;
        if version != VERSION {
            return Err(TokenError::Version { version });
        }
        Ok(Token {
            text: encode_text(&raw),
            raw,
        })
    }

    /// The canonical lowercase text, as put into mails.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The claims as written in the token, NOT verified: use this only to
    /// find the request and approver to verify against.
    pub(crate) fn claims(&self) -> TokenClaims {
        let [_, _, r0, r1, r2, r3, r4, r5, r6, r7, level, approver_index, e0, e1, e2, e3, ..] =
            self.raw;
        let minutes = u32::from_be_bytes([e0, e1, e2, e3]);
        TokenClaims {
            request: u64::from_be_bytes([r0, r1, r2, r3, r4, r5, r6, r7]),
            level,
            approver_index,
            expires_at: from_minutes(minutes),
        }
    }

    /// The id of the key that (supposedly) signed this token.
    pub(crate) fn key_id(&self) -> u8 {
        let [_, key_id, ..] = self.raw;
        key_id
    }

    /// A short prefix safe for logs: identifies the token without letting a
    /// log reader replay it.
    pub(crate) fn log_prefix(&self) -> String {
        let prefix: String = self.text.chars().take(LOG_PREFIX_LEN).collect();
        format!("{prefix}…")
    }
}

/// Full token text: this is what goes into mail templates.
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Shortened, so tokens do not end up whole in debug logs.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.log_prefix())
    }
}

pub(super) fn encode_claims(key_id: u8, claims: &TokenClaims) -> [u8; CLAIMS_LEN] {
    let [r0, r1, r2, r3, r4, r5, r6, r7] = claims.request.to_be_bytes();
    let [e0, e1, e2, e3] = to_minutes(claims.expires_at).to_be_bytes();
    [
        VERSION,
        key_id,
        r0,
        r1,
        r2,
        r3,
        r4,
        r5,
        r6,
        r7,
        claims.level,
        claims.approver_index,
        e0,
        e1,
        e2,
        e3,
    ]
}

/// Unix minutes, rounded up and clamped to `u32`. Up, not down: a token
/// must not die before the deadline it stands for (the request's own
/// deadline still refuses a late answer, to the instant); rounded down, an
/// approver answering in the last minute was told the token had expired.
pub(super) fn to_minutes(at: DateTime<Utc>) -> u32 {
    let seconds = at
        .timestamp()
        .saturating_add(i64::from(at.timestamp_subsec_nanos() > 0));
    let minutes = seconds.saturating_add(59).div_euclid(60);
    u32::try_from(minutes.max(0)).unwrap_or(u32::MAX)
}

pub(super) fn from_minutes(minutes: u32) -> DateTime<Utc> {
    // u32::MAX minutes is about year 10136, well inside chrono's range.
    DateTime::from_timestamp(i64::from(minutes) * 60, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(super) fn encode_text(raw: &[u8; RAW_LEN]) -> String {
    data_encoding::BASE32_NOPAD.encode(raw).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::keyring::{key_id, KeyError, KeyName};
    use super::*;
    use crate::domain::ids::RequestNonce;
    use crate::secret::SecretBytes;
    use chrono::TimeZone;
    use hmac::Mac;
    use proptest::prelude::*;

    fn key(byte: u8) -> SecretBytes {
        SecretBytes::new(vec![byte; 32])
    }

    fn at(min: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(min * 60, 0).unwrap()
    }

    fn claims() -> TokenClaims {
        TokenClaims {
            request: 42,
            level: 2,
            approver_index: 3,
            expires_at: at(29_000_000),
        }
    }

    const ALICE: &str = "alice@example.com";

    /// The nonce of request 42 in these tests.
    const NONCE: RequestNonce = RequestNonce::from_bytes([5; 16]);

    fn ring() -> Keyring {
        Keyring::new(key(1), vec![]).unwrap()
    }

    /// Two distinct keys whose ids collide, found by search.
    fn clashing_keys() -> (SecretBytes, SecretBytes) {
        let mut seen = std::collections::HashMap::new();
        for i in 0..=u16::MAX {
            let mut k = vec![0u8; 32];
            k[..2].copy_from_slice(&i.to_be_bytes());
            if let Some(prev) = seen.insert(key_id(&k), k.clone()) {
                return (SecretBytes::new(prev), SecretBytes::new(k));
            }
        }
        unreachable!("pigeonhole: 65536 keys into 256 ids must collide")
    }

    #[test]
    fn text_form_is_52_lowercase_base32_chars() {
        let t = ring().sign(&claims(), &NONCE, ALICE);
        assert_eq!(t.as_str().len(), TOKEN_TEXT_LEN);
        assert!(t
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        assert_eq!(t.to_string(), t.as_str());
    }

    #[test]
    fn wire_layout_matches_the_documented_format() {
        let ring = ring();
        let t = ring.sign(&claims(), &NONCE, ALICE);
        let raw = data_encoding::BASE32_NOPAD
            .decode(t.as_str().to_ascii_uppercase().as_bytes())
            .unwrap();
        assert_eq!(raw.len(), 32);
        assert_eq!(raw[0], 2, "version");
        assert_eq!(raw[1], ring.current_key_id());
        assert_eq!(&raw[2..10], &42u64.to_be_bytes());
        assert_eq!(raw[10], 2, "level");
        assert_eq!(raw[11], 3, "approver index");
        assert_eq!(&raw[12..16], &29_000_000u32.to_be_bytes());
        let mut outer = HmacSha256::new_from_slice(&[1u8; 32]).unwrap();
        outer.update(b"approvald-token-v2-claims");
        outer.update(&raw[..16]);
        assert_eq!(&raw[16..24], &outer.finalize().into_bytes()[..8]);
        let mut inner = HmacSha256::new_from_slice(&[1u8; 32]).unwrap();
        inner.update(b"approvald-token-v2-binding");
        inner.update(&raw[..16]);
        inner.update(&[5u8; 16]);
        inner.update(b"alice@example.com");
        assert_eq!(&raw[24..], &inner.finalize().into_bytes()[..8]);
    }

    /// A token is bound to the request it was issued for, not to its number:
    /// the same claims under another nonce (a request that reused AR-42
    /// after a store was restored from a backup) do not verify.
    #[test]
    fn a_token_does_not_verify_for_another_request_with_the_same_number() {
        let ring = ring();
        let t = ring.sign(&claims(), &NONCE, ALICE);
        let now = at(28_000_000);
        assert!(ring.check(&t, now).is_ok(), "the claims are ours");
        let other = RequestNonce::from_bytes([6; 16]);
        assert_eq!(
            ring.check_binding(&t, &other, ALICE),
            Err(TokenError::BadMac {
                token: t.log_prefix()
            })
        );
        assert!(ring.verify(&t, &other, ALICE, now).is_err());
        assert_eq!(ring.verify(&t, &NONCE, ALICE, now), Ok(claims()));
    }

    /// Forged claims are refused from the token alone, before anything is
    /// looked up for them.
    #[test]
    fn forged_claims_fail_the_check_that_needs_no_lookup() {
        let ring = ring();
        let t = ring.sign(&claims(), &NONCE, ALICE);
        let mut raw = t.raw;
        raw[9] ^= 1; // another request number
        let forged = Token::from_raw(raw).unwrap();
        assert!(matches!(
            ring.check(&forged, at(28_000_000)),
            Err(TokenError::BadMac { .. })
        ));
    }

    #[test]
    fn version_1_tokens_are_refused() {
        let mut raw = ring().sign(&claims(), &NONCE, ALICE).raw;
        raw[0] = 1;
        let text = encode_text(&raw);
        assert_eq!(
            Token::parse(&text).err(),
            Some(TokenError::Version { version: 1 })
        );
    }

    #[test]
    fn roundtrip_sign_parse_verify() {
        let ring = ring();
        let t = ring.sign(&claims(), &NONCE, ALICE);
        let parsed = Token::parse(t.as_str()).unwrap();
        assert_eq!(parsed, t);
        assert_eq!(parsed.claims(), claims());
        assert_eq!(
            ring.verify(&parsed, &NONCE, ALICE, at(0)).unwrap(),
            claims()
        );
    }

    #[test]
    fn parse_accepts_upper_case_and_canonicalises() {
        let t = ring().sign(&claims(), &NONCE, ALICE);
        let upper = Token::parse(&t.as_str().to_ascii_uppercase()).unwrap();
        assert_eq!(upper.as_str(), t.as_str());
    }

    #[test]
    fn approver_address_is_case_insensitive() {
        let ring = ring();
        let t = ring.sign(&claims(), &NONCE, "Alice@Example.COM");
        assert!(ring.verify(&t, &NONCE, ALICE, at(0)).is_ok());
    }

    #[test]
    fn wrong_approver_is_rejected_as_bad_mac() {
        let ring = ring();
        let t = ring.sign(&claims(), &NONCE, ALICE);
        for other in [
            "bob@example.com",
            "alice@example.co",
            "",
            "alice@example.com ",
        ] {
            assert!(
                matches!(
                    ring.verify(&t, &NONCE, other, at(0)),
                    Err(TokenError::BadMac { .. })
                ),
                "{other:?} accepted"
            );
        }
    }

    #[test]
    fn expiry_boundary() {
        let ring = ring();
        let t = ring.sign(&claims(), &NONCE, ALICE);
        let exp = claims().expires_at;
        let cases = [
            (exp - chrono::Duration::minutes(1), true),
            (exp, true),
            (exp + chrono::Duration::seconds(1), false),
            (exp + chrono::Duration::days(365), false),
        ];
        for (now, ok) in cases {
            let r = ring.verify(&t, &NONCE, ALICE, now);
            if ok {
                assert!(r.is_ok(), "{now}: {r:?}");
            } else {
                assert_eq!(
                    r,
                    Err(TokenError::Expired {
                        token: t.log_prefix(),
                        expires_at: exp
                    }),
                    "{now}"
                );
            }
        }
    }

    /// Regression: rounded down, a token died up to a minute before the
    /// deadline it stands for, and an approver answering in time was told
    /// it had expired. Rounded up, it lives at most a minute past it; the
    /// request's own deadline refuses a late answer to the instant (see
    /// the state machine's `answers_after_the_deadline_are_refused`).
    #[test]
    fn regression_expiry_rounds_up_to_the_minute_so_a_token_never_dies_before_its_deadline() {
        let ring = ring();
        let cases = [
            (at(1000) + chrono::Duration::seconds(1), at(1001)),
            (at(1000) + chrono::Duration::seconds(59), at(1001)),
            (at(1000) + chrono::Duration::milliseconds(1), at(1001)),
            (at(1000), at(1000)),
        ];
        for (expires_at, shown) in cases {
            let c = TokenClaims {
                expires_at,
                ..claims()
            };
            let t = ring.sign(&c, &NONCE, ALICE);
            assert_eq!(t.claims().expires_at, shown, "{expires_at}");
            assert!(ring
                .verify(
                    &t,
                    &NONCE,
                    ALICE,
                    expires_at - chrono::Duration::milliseconds(1)
                )
                .is_ok());
            assert!(ring
                .verify(&t, &NONCE, ALICE, shown + chrono::Duration::seconds(1))
                .is_err());
        }
    }

    #[test]
    fn out_of_range_expiry_is_clamped_not_wrapped() {
        let ring = ring();
        let cases = [
            (Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap(), 0u32),
            (DateTime::<Utc>::MAX_UTC, u32::MAX),
        ];
        for (expires_at, minutes) in cases {
            let c = TokenClaims {
                expires_at,
                ..claims()
            };
            assert_eq!(
                ring.sign(&c, &NONCE, ALICE).claims().expires_at,
                from_minutes(minutes),
                "{expires_at}"
            );
        }
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let ring = ring();
        let t = ring.sign(&claims(), &NONCE, ALICE);
        for bit in 0..RAW_LEN * 8 {
            let mut raw = t.raw;
            raw[bit / 8] ^= 1 << (bit % 8);
            let verdict = Token::from_raw(raw).and_then(|t| ring.verify(&t, &NONCE, ALICE, at(0)));
            assert!(verdict.is_err(), "bit {bit} flip accepted");
        }
    }

    #[test]
    fn rotation_old_tokens_verify_until_their_key_is_removed() {
        let old = Keyring::new(key(1), vec![]).unwrap();
        let t = old.sign(&claims(), &NONCE, ALICE);
        let rotated = Keyring::new(key(2), vec![key(1)]).unwrap();
        assert_eq!(rotated.verify(&t, &NONCE, ALICE, at(0)).unwrap(), claims());
        let fresh = rotated.sign(&claims(), &NONCE, ALICE);
        assert_ne!(fresh.key_id(), t.key_id(), "new tokens use the new key");
        assert!(rotated.verify(&fresh, &NONCE, ALICE, at(0)).is_ok());
        let removed = Keyring::new(key(2), vec![]).unwrap();
        assert_eq!(
            removed.verify(&t, &NONCE, ALICE, at(0)),
            Err(TokenError::UnknownKey {
                token: t.log_prefix(),
                key_id: key_id(&[1u8; 32]),
            })
        );
    }

    #[test]
    fn keyring_rejects_short_keys() {
        let cases = [
            (
                Keyring::new(SecretBytes::new(vec![1; 31]), vec![]),
                KeyName::Current,
                31,
            ),
            (
                Keyring::new(key(1), vec![key(2), SecretBytes::new(vec![])]),
                KeyName::Previous(1),
                0,
            ),
        ];
        for (result, name, len) in cases {
            assert_eq!(result.err(), Some(KeyError::TooShort { key: name, len }));
        }
    }

    #[test]
    fn keyring_rejects_same_key_twice() {
        let err = Keyring::new(key(1), vec![key(1)]).err().unwrap();
        assert_eq!(
            err,
            KeyError::IdClash {
                first: KeyName::Current,
                second: KeyName::Previous(0),
                key_id: key_id(&[1; 32])
            }
        );
        assert!(err.to_string().contains("current key and previous key #0"));
    }

    #[test]
    fn keyring_rejects_distinct_keys_with_clashing_ids() {
        let (a, b) = clashing_keys();
        let id = key_id(a.expose());
        let err = Keyring::new(key(9), vec![a, b]).err();
        if key_id(&[9; 32]) == id {
            // Current clashes with both; first clash reported.
            assert!(matches!(err, Some(KeyError::IdClash { .. })));
        } else {
            assert_eq!(
                err,
                Some(KeyError::IdClash {
                    first: KeyName::Previous(0),
                    second: KeyName::Previous(1),
                    key_id: id
                })
            );
        }
    }

    #[test]
    fn debug_and_errors_never_show_key_material_or_full_token() {
        let secret_key = SecretBytes::new(b"0123456789abcdef0123456789ABCDEF".to_vec());
        let ring = Keyring::new(secret_key, vec![key(1)]).unwrap();
        let dbg = format!("{ring:?}");
        assert!(!dbg.contains("0123456789"), "{dbg}");
        assert!(!dbg.contains("Secret"), "{dbg}");
        let t = ring.sign(&claims(), &NONCE, ALICE);
        let errors = [
            ring.verify(&t, &NONCE, "mallory@example.com", at(0))
                .unwrap_err(),
            ring.verify(&t, &NONCE, ALICE, at(40_000_000)).unwrap_err(),
            Keyring::new(key(2), vec![])
                .unwrap()
                .verify(&t, &NONCE, ALICE, at(0))
                .unwrap_err(),
        ];
        for e in errors {
            let msg = e.to_string();
            assert!(!msg.contains(t.as_str()), "{msg}");
            assert!(msg.contains(&t.as_str()[..8]), "{msg}");
        }
        assert!(!format!("{t:?}").contains(t.as_str()));
    }

    #[test]
    fn parse_rejects_malformed_text() {
        let good = ring().sign(&claims(), &NONCE, ALICE).to_string();
        let mut other_version = good.clone().into_bytes();
        // The first character carries the top 5 bits of the version byte
        // (2 = 00000|010): 'c' makes them 00010, so the byte reads 0x12.
        other_version[0] = b'c';
        let cases: Vec<(String, TokenError)> = vec![
            (String::new(), TokenError::Length { len: 0 }),
            (good[..51].to_string(), TokenError::Length { len: 51 }),
            (format!("{good}a"), TokenError::Length { len: 53 }),
            (format!("{}1", &good[..51]), TokenError::Encoding),
            (format!("{}=", &good[..51]), TokenError::Encoding),
            // 52 base32 chars hold 260 bits; the last 4 must be zero.
            (format!("{}b", &good[..51]), TokenError::Encoding),
            (format!("{}é", &good[..50]), TokenError::Encoding),
            (
                String::from_utf8(other_version).unwrap(),
                TokenError::Version { version: 0x12 },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Token::parse(&input).err(), Some(want), "{input:?}");
        }
    }

    fn arb_claims() -> impl Strategy<Value = TokenClaims> {
        (any::<u64>(), any::<u8>(), any::<u8>(), any::<u32>()).prop_map(
            |(request, level, idx, m)| TokenClaims {
                request,
                level,
                approver_index: idx,
                expires_at: from_minutes(m),
            },
        )
    }

    proptest! {
        #[test]
        fn prop_roundtrip(c in arb_claims(), approver in "\\PC{0,40}") {
            let ring = Keyring::new(key(3), vec![key(4)]).unwrap();
            let t = Token::parse(ring.sign(&c, &NONCE, &approver).as_str()).unwrap();
            prop_assert_eq!(t.claims(), c);
            prop_assert_eq!(ring.verify(&t, &NONCE, &approver, c.expires_at), Ok(c));
        }

        #[test]
        fn prop_single_bit_flip_rejected(c in arb_claims(), bit in 0usize..RAW_LEN * 8) {
            let ring = ring();
            let mut raw = ring.sign(&c, &NONCE, ALICE).raw;
            raw[bit / 8] ^= 1 << (bit % 8);
            let verdict = Token::from_raw(raw)
                .and_then(|t| ring.verify(&t, &NONCE, ALICE, at(0)));
            prop_assert!(verdict.is_err());
        }

        #[test]
        fn prop_wrong_approver_rejected(c in arb_claims(), a in "[a-z]{1,10}@x", b in "[a-z]{1,10}@x") {
            prop_assume!(a != b);
            let ring = ring();
            let t = ring.sign(&c, &NONCE, &a);
            prop_assert!(
                matches!(ring.verify(&t, &NONCE, &b, at(0)), Err(TokenError::BadMac { .. })),
                "wrong approver accepted"
            );
        }

        #[test]
        fn prop_parse_never_panics(s in "\\PC*") {
            drop(Token::parse(&s));
        }

        #[test]
        fn prop_parse_base32_alphabet_never_panics_and_roundtrips(s in "[a-zA-Z2-7]{52}") {
            if let Ok(t) = Token::parse(&s) {
                prop_assert_eq!(t.as_str(), s.to_ascii_lowercase());
            }
        }
    }
}
