//! What the fuzz targets in `fuzz_targets/` share: splitting the fuzzer's
//! bytes into the text parts and numbers a target needs.
//!
//! Most targets read text, so their seed corpus (`corpus/<target>/`) is made
//! of readable files: lines for the separate inputs, the rest as a body.

use flint_api::Timestamp;

/// Reads typed values off the front of the fuzzer's bytes; past the end,
/// every value is zero, so any input is usable.
pub struct Bytes<'a>(pub &'a [u8]);

impl<'a> Bytes<'a> {
    /// The next byte.
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&byte, rest)) => {
                self.0 = rest;
                byte
            }
            None => 0,
        }
    }

    /// The next 8 bytes, little endian.
    pub fn u64(&mut self) -> u64 {
        let mut out = [0u8; 8];
        for byte in &mut out {
            *byte = self.u8();
        }
        u64::from_le_bytes(out)
    }

    /// The next `n` bytes, or fewer at the end.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits off the first line (without its `\n`); the rest follows it.
pub fn split_line(text: &str) -> (&str, &str) {
    text.split_once('\n').unwrap_or((text, ""))
}

/// An instant written as RFC 3339 (`2025-03-30T01:00:00Z`) or as seconds
/// since the Unix epoch (clamped to what [`Timestamp`] holds); `None` for
/// anything else.
pub fn parse_instant(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    let seconds: i64 = text.parse().ok()?;
    let seconds = seconds.clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    Timestamp::from_second(seconds).ok()
}
