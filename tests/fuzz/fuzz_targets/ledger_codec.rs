//! The usage ledger's binary keys and values: `flint_api::codec`, which the
//! controller reads back from sled for every report.
//!
//! Input: bytes. The first byte picks what they are decoded as (a value, an
//! hour of minutes or a key); the same bytes also make a record, an hour of
//! minutes and a key that are encoded.
//!
//! Properties: what was encoded decodes to the same thing; what decodes
//! encodes to bytes that decode to the same thing again; a key decodes only
//! from the bytes its encoding gives; keys of one level sort by time.
#![no_main]

use flint_api::codec::{self, Key, Minutes};
use flint_api::{DurationHistogram, OutcomeCounts, UsageSums};
use flint_fuzz::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    match pick % 3 {
        0 => {
            if let Ok(sums) = codec::decode(rest) {
                assert_eq!(codec::decode(&codec::encode(&sums)), Ok(sums));
            }
        }
        1 => {
            if let Ok(minutes) = Minutes::decode(rest) {
                assert_eq!(Minutes::decode(&minutes.encode()), Ok(minutes));
            }
        }
        _ => {
            if let Ok(key) = Key::decode(rest) {
                assert_eq!(key.encode(), rest, "{key:?} is not what it decoded from");
            }
        }
    }

    let mut bytes = Bytes(data);
    let sums = sums(&mut bytes);
    let encoded = codec::encode(&sums);
    assert_eq!(codec::decode(&encoded).as_ref(), Ok(&sums));
    for cut in [0, 1, encoded.len() / 2, encoded.len() - 1] {
        assert!(codec::decode(&encoded[..cut]).is_err(), "{cut} of {} bytes decode", encoded.len());
    }

    let mut minutes = Minutes::default();
    for _ in 0..bytes.u8() % 4 {
        minutes.add(bytes.u8() % 60, &sums);
    }
    assert!(minutes.0.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(Minutes::decode(&minutes.encode()), Ok(minutes.clone()));
    assert!(codec::decode(&minutes.encode()).is_err() && Minutes::decode(&encoded).is_err());

    let part = |bytes: &mut Bytes<'_>| -> Vec<u8> {
        let len = usize::from(bytes.u8() % 16);
        bytes.take(len).iter().map(|b| b.max(&1)).copied().collect()
    };
    let (namespace, function, trigger) = (part(&mut bytes), part(&mut bytes), part(&mut bytes));
    let key = Key {
        level: bytes.u8() % 3,
        bucket: bytes.u64(),
        namespace: &namespace,
        function: &function,
        trigger: &trigger,
        plan: bytes.u64(),
        version: bytes.u64().to_be_bytes(),
    };
    let encoded = key.encode();
    assert_eq!(Key::decode(&encoded), Ok(key));
    if let Some(later) = key.bucket.checked_add(1) {
        let other = Key { bucket: later, namespace: b"", function: b"", trigger: b"", ..key };
        assert!(other.encode() > encoded, "keys do not sort by time");
        assert!(codec::range_start(key.level, later).as_slice() > encoded.as_slice());
    }
    assert!(codec::range_start(key.level, key.bucket).as_slice() <= encoded.as_slice());
});

/// A record made of the next bytes.
fn sums(bytes: &mut Bytes<'_>) -> UsageSums {
    let mut sums = UsageSums {
        counts: OutcomeCounts {
            ok: bytes.u64(),
            error: bytes.u64() >> 8,
            timeout: u64::from(bytes.u8()),
            out_of_memory: 0,
            rejected: bytes.u64() >> 32,
        },
        wall_us: bytes.u64(),
        billed_us: bytes.u64() >> 16,
        mb_billed_us: bytes.u64(),
        instantiate_us: u64::from(bytes.u8()) << 7,
        cold_starts: u64::from(bytes.u8()),
        cold_start_us: bytes.u64() >> 40,
        peak_memory_bytes: bytes.u64(),
        memory_mb: u64::from(bytes.u8()),
        granularity_us: 1000,
        histogram: DurationHistogram::default(),
    };
    for _ in 0..bytes.u8() % 8 {
        sums.histogram.add_to(bytes.u8(), bytes.u64() >> (bytes.u8() % 64));
    }
    sums
}
