//! A wrapper that keeps secret values out of logs and wipes them on drop.
//!
//! Keys, passwords and similar values travel through config structs that
//! derive `Debug`; wrapping them here means a stray `{:?}` or `tracing`
//! field prints `Secret([redacted])` instead of the value.

use std::fmt;

/// A value that must never be printed and is overwritten when dropped.
///
/// The inner value is private so that reading it is always an explicit,
/// greppable `expose()` call.
pub(crate) struct Secret<T: Wipe>(T);

/// Secret key material as raw bytes (HMAC keys, for instance).
pub(crate) type SecretBytes = Secret<Vec<u8>>;

/// Types whose memory can be overwritten in place before it is freed.
///
/// A bound on [`Secret`] rather than a blanket drop so that only types we
/// know how to wipe without `unsafe` can be wrapped.
pub(crate) trait Wipe {
    /// Overwrites the value's memory (including spare capacity) with zeros.
    fn wipe(&mut self);
}

impl Wipe for Vec<u8> {
    fn wipe(&mut self) {
        zero_whole_allocation(self);
        self.clear();
    }
}

/// Overwrites every byte of the vector's allocation with zeros, leaving
/// `len == capacity`: the spare capacity too, where earlier contents may
/// linger after a `truncate`. The writes are zeroize's, volatile, so the
/// optimiser cannot drop them as dead stores before the buffer is freed.
fn zero_whole_allocation(bytes: &mut Vec<u8>) {
    // Growing to exactly the capacity never reallocates.
    bytes.resize(bytes.capacity(), 0);
    zeroize::Zeroize::zeroize(bytes.as_mut_slice());
}

impl Wipe for String {
    fn wipe(&mut self) {
        // `into_bytes` reuses the same allocation, so this wipes the
        // original buffer rather than a copy.
        let mut bytes = std::mem::take(self).into_bytes();
        bytes.wipe();
    }
}

impl<T: Wipe> Secret<T> {
    /// Wraps a value; from here on it is redacted in output and wiped on drop.
    pub(crate) fn new(value: T) -> Self {
        Secret(value)
    }

    /// Reads the secret. Call sites are deliberately explicit so a review can
    /// find every place a secret is used.
    pub(crate) fn expose(&self) -> &T {
        &self.0
    }
}

impl SecretBytes {}

impl<T: Wipe> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T: Wipe + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl<T: Wipe> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

impl<T: Wipe> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<T: Wipe> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Lets config structs hold secrets directly; there is intentionally no
/// `Serialize`, so a secret cannot be written back out by accident.
impl<'de, T: Wipe + serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let bytes = SecretBytes::new(b"hunter2-hunter2".to_vec());
        let text = Secret::new(String::from("hunter2"));
        for shown in [
            format!("{bytes:?}"),
            format!("{bytes}"),
            format!("{text:?}"),
            format!("{text}"),
            format!("{:#?}", Some(&bytes)),
        ] {
            assert!(shown.contains("Secret([redacted])"), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("104"), "byte values leaked: {shown}");
        }
    }

    #[test]
    fn expose_returns_the_value() {
        let bytes = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(bytes.expose(), &vec![1, 2, 3]);
    }

    #[test]
    fn wipe_zeroes_contents_and_spare_capacity() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&[0xAB; 48]);
        v.truncate(16);
        let (ptr, cap) = (v.as_ptr(), v.capacity());
        zero_whole_allocation(&mut v);
        assert_eq!(v.as_ptr(), ptr, "must zero the same buffer, not a copy");
        assert_eq!(v.len(), cap);
        assert!(v.iter().all(|&b| b == 0), "old bytes survived: {v:?}");
    }

    #[test]
    fn wipe_leaves_vec_empty() {
        let mut v = vec![7u8; 40];
        v.wipe();
        assert!(v.is_empty());
    }

    #[test]
    fn wipe_string_empties_it() {
        let mut s = String::from("correct horse battery staple");
        s.wipe();
        assert!(s.is_empty());
    }

    #[test]
    fn deserializes_transparently() {
        let s: Secret<String> = serde_json::from_str("\"pw\"").unwrap();
        assert_eq!(s.expose(), "pw");
    }
}
