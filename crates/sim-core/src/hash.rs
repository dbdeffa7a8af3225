//! A stable 64-bit hash with a fixed key, for the trace hash.
//!
//! std's `DefaultHasher` promises nothing across Rust releases, so the trace hash uses its own
//! function: 64-bit words folded through a multiply-xorshift mix (the finaliser of SplitMix64).
//! It is not a cryptographic hash; it only has to make two diverging runs differ.
//!
//! [`hash_value`] folds any `serde::Serialize` value into a hasher field by field (see
//! [`serializer`]): that is how protocol messages, timers, reports, requests and replies reach
//! the trace hash.

use std::fmt;

pub mod serializer;

pub use serializer::{hash_text, hash_value, HashSerializer};

const KEY: u64 = 0x5349_4d5f_5452_4143; // "SIM_TRAC"

/// A hasher whose output depends only on the words written into it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StableHasher {
    state: u64,
    count: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl StableHasher {
    pub const fn new() -> Self {
        StableHasher {
            state: KEY,
            count: 0,
        }
    }

    #[inline]
    pub fn write_u64(&mut self, word: u64) {
        self.count = self.count.wrapping_add(1);
        self.state =
            mix(self.state ^ word.wrapping_add(self.count.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    }

    #[inline]
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        self.write_u64(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
    }

    #[inline]
    pub fn finish(&self) -> u64 {
        mix(self.state ^ self.count)
    }
}

/// Lets `write!(hasher, "{:?}", value)` hash a value's debug form without allocating.
impl fmt::Write for StableHasher {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_content_matter() {
        let mut a = StableHasher::new();
        a.write_u64(1);
        a.write_u64(2);
        let mut b = StableHasher::new();
        b.write_u64(2);
        b.write_u64(1);
        assert_ne!(a.finish(), b.finish());
        let mut c = StableHasher::new();
        c.write_bytes(b"ab");
        let mut d = StableHasher::new();
        d.write_bytes(b"ab\0");
        assert_ne!(c.finish(), d.finish());
    }

    #[test]
    fn golden_value() {
        let mut h = StableHasher::new();
        h.write_bytes(b"sim");
        h.write_u64(42);
        assert_eq!(format!("{:016x}", h.finish()), GOLDEN);
    }
    const GOLDEN: &str = "6b6d49648be1ea43";
}
