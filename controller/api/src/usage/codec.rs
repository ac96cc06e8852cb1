//! The binary form of ledger keys and values. A month of minute data for a
//! hundred functions is millions of records, and a report reads hundreds of
//! thousands of them: a fixed key layout that sorts by time and a varint
//! value decode in well under a microsecond, where JSON would not.
//!
//! Key: the resolution level (0 minute, 1 hour, 2 day) · bucket start (u64
//! seconds since the epoch, big endian, so keys of a level sort by time) ·
//! namespace · `0` · function · `0` · trigger · `0` · plan id
//! (u64 BE) · the first 8 bytes of the version's digest. Names and trigger
//! kinds never contain a `0` byte.
//!
//! Value of an hour or day record: a format byte (1), then unsigned LEB128
//! varints: the five outcome counts, wall µs, billed µs, MiB × billed µs,
//! instantiation µs, cold starts, cold-start µs, peak memory bytes, memory
//! MiB, granularity µs, then the histogram as a count and `(bucket byte,
//! varint)` pairs. A minute-level record holds the minutes of one hour
//! ([`Minutes`]); its key's bucket is the hour.
//!
//! The controller's ledger (`flint-controller`, `usage::ledger`) is the one
//! user; the codec lives here, free of sled, so `tests/fuzz` can fuzz it
//! without building the controller.

use crate::{Digest, DurationHistogram, OutcomeCounts, UsageSums};

/// Bytes that are not a ledger key or value, and what is wrong with them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Corrupt(&'static str);

/// Result of decoding.
pub type Result<T, E = Corrupt> = std::result::Result<T, E>;

const FORMAT: u8 = 1;

/// The value bytes of an hour or day record.
pub fn encode(sums: &UsageSums) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + 3 * sums.histogram.0.len());
    out.push(FORMAT);
    encode_into(sums, &mut out);
    out
}

/// Decodes the value bytes of an hour or day record.
pub fn decode(bytes: &[u8]) -> Result<UsageSums> {
    match bytes.split_first() {
        Some((&FORMAT, mut input)) => decode_from(&mut input),
        _ => Err(Corrupt("a usage record has an unknown format")),
    }
}

fn encode_into(sums: &UsageSums, out: &mut Vec<u8>) {
    let c = &sums.counts;
    for v in [
        c.ok,
        c.error,
        c.timeout,
        c.out_of_memory,
        c.rejected,
        sums.wall_us,
        sums.billed_us,
        sums.mb_billed_us,
        sums.instantiate_us,
        sums.cold_starts,
        sums.cold_start_us,
        sums.peak_memory_bytes,
        sums.memory_mb,
        sums.granularity_us,
        sums.histogram.0.len() as u64,
    ] {
        put_varint(out, v);
    }
    for (bucket, count) in &sums.histogram.0 {
        out.push(*bucket);
        put_varint(out, *count);
    }
}

fn decode_from(input: &mut &[u8]) -> Result<UsageSums> {
    let mut next = || varint(input);
    let counts = OutcomeCounts {
        ok: next()?,
        error: next()?,
        timeout: next()?,
        out_of_memory: next()?,
        rejected: next()?,
    };
    let mut sums = UsageSums {
        counts,
        wall_us: next()?,
        billed_us: next()?,
        mb_billed_us: next()?,
        instantiate_us: next()?,
        cold_starts: next()?,
        cold_start_us: next()?,
        peak_memory_bytes: next()?,
        memory_mb: next()?,
        granularity_us: next()?,
        histogram: DurationHistogram::default(),
    };
    let buckets = next()? as usize;
    let mut histogram = Vec::with_capacity(buckets.min(256));
    for _ in 0..buckets {
        let (&bucket, rest) = input.split_first().ok_or(Corrupt("a usage record is truncated"))?;
        *input = rest;
        histogram.push((bucket, varint(input)?));
    }
    sums.histogram = DurationHistogram(histogram);
    Ok(sums)
}

/// The minutes of one hour: the value of a minute-level record. Keeping an
/// hour of minutes in one record makes a month of minute data for a
/// function 720 records, not 43,200 (sled spends microseconds per key).
///
/// Bytes: a format byte (2), a count, then per minute its offset in the
/// hour (a byte, ascending) and its figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Minutes(pub Vec<(u8, UsageSums)>);

const MINUTES_FORMAT: u8 = 2;

impl Minutes {
    /// Adds `sums` to minute `offset` (0 to 59) of the hour.
    pub fn add(&mut self, offset: u8, sums: &UsageSums) {
        match self.0.binary_search_by_key(&offset, |(m, _)| *m) {
            Ok(i) => self.0[i].1.merge(sums),
            Err(i) => self.0.insert(i, (offset, sums.clone())),
        }
    }

    /// Adds every minute of `other`.
    pub fn merge(&mut self, other: &Self) {
        for (offset, sums) in &other.0 {
            self.add(*offset, sums);
        }
    }

    /// The value bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 40 * self.0.len());
        out.push(MINUTES_FORMAT);
        put_varint(&mut out, self.0.len() as u64);
        for (offset, sums) in &self.0 {
            out.push(*offset);
            encode_into(sums, &mut out);
        }
        out
    }

    /// Decodes value bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let Some((&MINUTES_FORMAT, mut input)) = bytes.split_first() else {
            return Err(Corrupt("a minute record has an unknown format"));
        };
        let count = varint(&mut input)? as usize;
        let mut minutes = Vec::with_capacity(count.min(60));
        for _ in 0..count {
            let (&offset, rest) =
                input.split_first().ok_or(Corrupt("a minute record is truncated"))?;
            input = rest;
            minutes.push((offset, decode_from(&mut input)?));
        }
        Ok(Self(minutes))
    }
}

/// The parts of a ledger key, borrowed from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    /// The resolution: 0 minute, 1 hour, 2 day.
    pub level: u8,
    /// Start of the time bucket, seconds since the epoch.
    pub bucket: u64,
    /// Namespace bytes.
    pub namespace: &'a [u8],
    /// Function bytes.
    pub function: &'a [u8],
    /// Trigger kind bytes.
    pub trigger: &'a [u8],
    /// Price plan id.
    pub plan: u64,
    /// The first 8 bytes of the version digest.
    pub version: [u8; 8],
}

impl<'a> Key<'a> {
    /// The key bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            9 + self.namespace.len() + self.function.len() + self.trigger.len() + 3 + 16,
        );
        out.push(self.level);
        out.extend_from_slice(&self.bucket.to_be_bytes());
        for part in [self.namespace, self.function, self.trigger] {
            out.extend_from_slice(part);
            out.push(0);
        }
        out.extend_from_slice(&self.plan.to_be_bytes());
        out.extend_from_slice(&self.version);
        out
    }

    /// Splits key bytes into their parts.
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let bad = || Corrupt("a usage key is malformed");
        if bytes.len() < 9 + 3 + 16 {
            return Err(bad());
        }
        let (level, bytes) = bytes.split_at(1);
        let (bucket, rest) = bytes.split_at(8);
        let (middle, tail) = rest.split_at(rest.len() - 16);
        // Exactly three parts, each ended by a `0`: `split` gives them and
        // an empty fourth, and nothing after it.
        let mut parts = middle.split(|b| *b == 0);
        let (Some(namespace), Some(function), Some(trigger), Some([]), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let (plan, version) = tail.split_at(8);
        Ok(Self {
            level: level[0],
            bucket: u64::from_be_bytes(bucket.try_into().map_err(|_| bad())?),
            namespace,
            function,
            trigger,
            plan: u64::from_be_bytes(plan.try_into().map_err(|_| bad())?),
            version: version.try_into().map_err(|_| bad())?,
        })
    }
}

/// The start of the keys of `level` from `bucket` on.
pub fn range_start(level: u8, bucket: u64) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[0] = level;
    out[1..].copy_from_slice(&bucket.to_be_bytes());
    out
}

/// The first 8 bytes of a digest, as stored in keys.
pub fn version_prefix(digest: &Digest) -> [u8; 8] {
    let hex = digest.hex().as_bytes();
    let mut out = [0u8; 8];
    for (i, byte) in out.iter_mut().enumerate() {
        let nibble = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        };
        *byte = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
    }
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint(input: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first().ok_or(Corrupt("a usage record is truncated"))?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Corrupt("a usage record has an overlong number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_keys_round_trip() {
        let mut sums = UsageSums {
            counts: OutcomeCounts { ok: 5, error: 1, timeout: 0, out_of_memory: 2, rejected: 300 },
            wall_us: 1 << 62,
            billed_us: 1 << 40,
            mb_billed_us: 127,
            instantiate_us: 128,
            peak_memory_bytes: 1 << 20,
            memory_mb: 128,
            granularity_us: 1000,
            ..UsageSums::default()
        };
        sums.histogram.add_to(3, 1);
        sums.histogram.add_to(159, 1 << 33);
        assert_eq!(decode(&encode(&sums)).unwrap(), sums);
        assert!(decode(&encode(&sums)[..10]).is_err());
        assert!(decode(b"").is_err());
        let mut minutes = Minutes::default();
        minutes.add(59, &sums);
        minutes.add(3, &sums);
        minutes.add(59, &sums);
        assert_eq!(minutes.0.iter().map(|(m, _)| *m).collect::<Vec<_>>(), vec![3, 59]);
        assert_eq!(minutes.0[1].1.counts.ok, 10);
        assert_eq!(Minutes::decode(&minutes.encode()).unwrap(), minutes);
        assert!(Minutes::decode(&encode(&sums)).is_err());

        let digest = Digest::from_sha256(&[0xab; 32]);
        let key = Key {
            level: 1,
            bucket: 1_700_000_040,
            namespace: b"default",
            function: b"hello",
            trigger: b"http",
            plan: 3,
            version: version_prefix(&digest),
        };
        assert_eq!(key.version, [0xab; 8]);
        let bytes = key.encode();
        assert_eq!(Key::decode(&bytes).unwrap(), key);
        // Keys sort by time first.
        let later = Key { bucket: key.bucket + 60, namespace: b"a", ..key }.encode();
        assert!(later > bytes);
    }

    #[test]
    fn keys_with_extra_parts_are_refused() {
        // Found by tests/fuzz (ledger_codec): a key with more than three
        // `0`-ended parts decoded as if the extra ones were not there, so
        // two different keys read as one.
        let key = Key {
            level: 0,
            bucket: 60,
            namespace: b"default",
            function: b"hello",
            trigger: b"http",
            plan: 1,
            version: [7; 8],
        };
        let bytes = key.encode();
        assert_eq!(Key::decode(&bytes), Ok(key));
        let at = bytes.len() - 16;
        for extra in [&b"\0"[..], b"x\0", b"\0\0"] {
            let mut longer = bytes[..at].to_vec();
            longer.extend_from_slice(extra);
            longer.extend_from_slice(&bytes[at..]);
            assert!(Key::decode(&longer).is_err(), "{longer:?}");
        }
    }
}
