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

use flint_api::{Digest, DurationHistogram, OutcomeCounts, UsageAggregate};

use crate::store::{Error, Result};

const FORMAT: u8 = 1;

/// The figures of one ledger record; what two records of the same key add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Invocations by outcome.
    pub counts: OutcomeCounts,
    /// Sum of wall times, µs.
    pub wall_us: u64,
    /// Sum of billed durations, µs.
    pub billed_us: u64,
    /// Sum of MiB × billed µs.
    pub mb_billed_us: u64,
    /// Sum of instantiation times, µs.
    pub instantiate_us: u64,
    /// Cold starts.
    pub cold_starts: u64,
    /// Sum of cold-start load times, µs.
    pub cold_start_us: u64,
    /// Largest linear memory of one instance, bytes.
    pub peak_memory_bytes: u64,
    /// Configured memory, MiB (the largest seen).
    pub memory_mb: u64,
    /// Billing granularity, µs (the largest seen).
    pub granularity_us: u64,
    /// Wall-time histogram.
    pub histogram: DurationHistogram,
}

impl Figures {
    /// The figures of an aggregate an invoker sent.
    pub fn of(aggregate: &UsageAggregate) -> Self {
        Self {
            counts: aggregate.counts,
            wall_us: aggregate.wall_us,
            billed_us: aggregate.billed_us,
            mb_billed_us: aggregate.mb_billed_us,
            instantiate_us: aggregate.instantiate_us,
            cold_starts: aggregate.cold_starts,
            cold_start_us: aggregate.cold_start_us,
            peak_memory_bytes: aggregate.peak_memory_bytes,
            memory_mb: u64::from(aggregate.memory_mb),
            granularity_us: aggregate.granularity_us,
            histogram: aggregate.histogram.clone(),
        }
    }

    /// Adds `other` (sums, and the largest of the maxima).
    pub fn merge(&mut self, other: &Self) {
        self.counts.add(&other.counts);
        self.wall_us += other.wall_us;
        self.billed_us += other.billed_us;
        self.mb_billed_us += other.mb_billed_us;
        self.instantiate_us += other.instantiate_us;
        self.cold_starts += other.cold_starts;
        self.cold_start_us += other.cold_start_us;
        self.peak_memory_bytes = self.peak_memory_bytes.max(other.peak_memory_bytes);
        self.memory_mb = self.memory_mb.max(other.memory_mb);
        self.granularity_us = self.granularity_us.max(other.granularity_us);
        self.histogram.merge(&other.histogram);
    }

    /// The value bytes of an hour or day record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + 3 * self.histogram.0.len());
        out.push(FORMAT);
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let c = &self.counts;
        for v in [
            c.ok,
            c.error,
            c.timeout,
            c.out_of_memory,
            c.rejected,
            self.wall_us,
            self.billed_us,
            self.mb_billed_us,
            self.instantiate_us,
            self.cold_starts,
            self.cold_start_us,
            self.peak_memory_bytes,
            self.memory_mb,
            self.granularity_us,
            self.histogram.0.len() as u64,
        ] {
            put_varint(out, v);
        }
        for (bucket, count) in &self.histogram.0 {
            out.push(*bucket);
            put_varint(out, *count);
        }
    }

    /// Decodes the value bytes of an hour or day record.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        match bytes.split_first() {
            Some((&FORMAT, mut input)) => Self::decode_from(&mut input),
            _ => Err(corrupt("a usage record has an unknown format")),
        }
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self> {
        let mut next = || varint(input);
        let counts = OutcomeCounts {
            ok: next()?,
            error: next()?,
            timeout: next()?,
            out_of_memory: next()?,
            rejected: next()?,
        };
        let mut figures = Self {
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
            let (&bucket, rest) =
                input.split_first().ok_or_else(|| corrupt("a usage record is truncated"))?;
            *input = rest;
            histogram.push((bucket, varint(input)?));
        }
        figures.histogram = DurationHistogram(histogram);
        Ok(figures)
    }
}

/// The minutes of one hour: the value of a minute-level record. Keeping an
/// hour of minutes in one record makes a month of minute data for a
/// function 720 records, not 43,200 (sled spends microseconds per key).
///
/// Bytes: a format byte (2), a count, then per minute its offset in the
/// hour (a byte, ascending) and its figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Minutes(pub Vec<(u8, Figures)>);

const MINUTES_FORMAT: u8 = 2;

impl Minutes {
    /// Adds `figures` to minute `offset` (0 to 59) of the hour.
    pub fn add(&mut self, offset: u8, figures: &Figures) {
        match self.0.binary_search_by_key(&offset, |(m, _)| *m) {
            Ok(i) => self.0[i].1.merge(figures),
            Err(i) => self.0.insert(i, (offset, figures.clone())),
        }
    }

    /// Adds every minute of `other`.
    pub fn merge(&mut self, other: &Self) {
        for (offset, figures) in &other.0 {
            self.add(*offset, figures);
        }
    }

    /// The value bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 40 * self.0.len());
        out.push(MINUTES_FORMAT);
        put_varint(&mut out, self.0.len() as u64);
        for (offset, figures) in &self.0 {
            out.push(*offset);
            figures.encode_into(&mut out);
        }
        out
    }

    /// Decodes value bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let Some((&MINUTES_FORMAT, mut input)) = bytes.split_first() else {
            return Err(corrupt("a minute record has an unknown format"));
        };
        let count = varint(&mut input)? as usize;
        let mut minutes = Vec::with_capacity(count.min(60));
        for _ in 0..count {
            let (&offset, rest) =
                input.split_first().ok_or_else(|| corrupt("a minute record is truncated"))?;
            input = rest;
            minutes.push((offset, Figures::decode_from(&mut input)?));
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
        let bad = || corrupt("a usage key is malformed");
        if bytes.len() < 9 + 3 + 16 {
            return Err(bad());
        }
        let (level, bytes) = bytes.split_at(1);
        let (bucket, rest) = bytes.split_at(8);
        let (middle, tail) = rest.split_at(rest.len() - 16);
        let mut parts = middle.split(|b| *b == 0);
        let (Some(namespace), Some(function), Some(trigger), Some([])) =
            (parts.next(), parts.next(), parts.next(), parts.next())
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
        let (&byte, rest) =
            input.split_first().ok_or_else(|| corrupt("a usage record is truncated"))?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(corrupt("a usage record has an overlong number"))
}

fn corrupt(message: &str) -> Error {
    Error::Corrupt(<serde_json::Error as serde::de::Error>::custom(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_keys_round_trip() {
        let mut figures = Figures {
            counts: OutcomeCounts { ok: 5, error: 1, timeout: 0, out_of_memory: 2, rejected: 300 },
            wall_us: 1 << 62,
            billed_us: 1 << 40,
            mb_billed_us: 127,
            instantiate_us: 128,
            peak_memory_bytes: 1 << 20,
            memory_mb: 128,
            granularity_us: 1000,
            ..Figures::default()
        };
        figures.histogram.add_to(3, 1);
        figures.histogram.add_to(159, 1 << 33);
        assert_eq!(Figures::decode(&figures.encode()).unwrap(), figures);
        assert!(Figures::decode(&figures.encode()[..10]).is_err());
        assert!(Figures::decode(b"").is_err());
        let mut minutes = Minutes::default();
        minutes.add(59, &figures);
        minutes.add(3, &figures);
        minutes.add(59, &figures);
        assert_eq!(minutes.0.iter().map(|(m, _)| *m).collect::<Vec<_>>(), vec![3, 59]);
        assert_eq!(minutes.0[1].1.counts.ok, 10);
        assert_eq!(Minutes::decode(&minutes.encode()).unwrap(), minutes);
        assert!(Minutes::decode(&figures.encode()).is_err());

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
}
