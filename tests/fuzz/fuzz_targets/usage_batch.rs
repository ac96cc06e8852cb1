//! Usage batches as an invoker posts them (`POST /v1/usage/batches`):
//! decoding, adding up, the duration histogram and its quantiles, and the
//! price plan that prices them.
//!
//! Input: JSON, a `UsageBatch` or a `PricePlanSpec`.
//!
//! Properties: a batch survives the trip back to JSON; adding its
//! aggregates up gives the same sums in any order, never less than any one
//! of them (counts stop at the maximum, they do not wrap), with a sorted
//! histogram of valid buckets whose count is the sum of the counts;
//! quantiles exist exactly when something ran, grow with `q` and stay within
//! the buckets; a duration falls in the bucket whose bounds hold it; costs
//! are finite and not negative.
#![no_main]

use flint_api::{
    DurationHistogram, PricePlan, PricePlanSpec, UsageBatch, UsageSums, billed_us, gb_seconds,
};
use libfuzzer_sys::fuzz_target;

const QUANTILES: [f64; 7] = [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0];

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<PricePlanSpec>(data)
        && let Ok(plan) = spec.apply(&PricePlan::default())
    {
        for (requests, mb_billed_us) in [(0, 0), (1, 1), (u64::MAX, u64::MAX)] {
            let cost = plan.cost(requests, mb_billed_us);
            assert!(cost.is_finite() && cost >= 0.0, "{plan:?}: {cost}");
        }
    }
    let Ok(batch) = serde_json::from_slice::<UsageBatch>(data) else { return };
    let json = serde_json::to_string(&batch).expect("a batch serializes");
    let back: UsageBatch = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, batch);

    let mut total = UsageSums::default();
    let mut reverse = UsageSums::default();
    for aggregate in &batch.aggregates {
        total.merge(&aggregate.sums);
        figures(&aggregate.sums);
    }
    for aggregate in batch.aggregates.iter().rev() {
        reverse.merge(&aggregate.sums);
    }
    assert_eq!(total, reverse, "adding up depends on the order");
    let mut sum_of_counts = 0u64;
    for aggregate in &batch.aggregates {
        let (sums, c) = (&aggregate.sums, &aggregate.sums.counts);
        assert!(total.counts.ok >= c.ok && total.counts.rejected >= c.rejected);
        assert!(total.counts.ran() >= c.ran() && total.counts.failed() >= c.failed());
        assert!(total.wall_us >= sums.wall_us && total.mb_billed_us >= sums.mb_billed_us);
        assert!(total.peak_memory_bytes >= sums.peak_memory_bytes);
        sum_of_counts = sum_of_counts.saturating_add(sums.histogram.count());
    }
    let buckets: Vec<u8> = total.histogram.0.iter().map(|(b, _)| *b).collect();
    assert!(buckets.windows(2).all(|w| w[0] < w[1]), "unsorted: {buckets:?}");
    assert!(buckets.iter().all(|b| *b < DurationHistogram::BUCKETS));
    assert_eq!(total.histogram.count(), sum_of_counts);
    figures(&total);
});

/// What a report computes from sums.
fn figures(sums: &UsageSums) {
    let counts = &sums.counts;
    assert!(counts.ran() >= counts.failed());
    let _ = billed_us(sums.wall_us, sums.granularity_us);
    let plan = PricePlan::default();
    let cost = plan.cost(counts.ran(), sums.mb_billed_us);
    assert!(cost.is_finite() && cost >= 0.0);
    assert!(gb_seconds(sums.mb_billed_us) >= 0.0);

    for us in [sums.wall_us, sums.billed_us, sums.instantiate_us, sums.cold_start_us] {
        bucket(us);
    }

    let sorted = sums.histogram.0.windows(2).all(|w| w[0].0 < w[1].0);
    let mut previous = 0.0f64;
    for q in QUANTILES {
        let quantile = sums.histogram.quantile_us(q);
        assert_eq!(quantile.is_some(), sums.histogram.count() > 0, "{:?}", sums.histogram);
        let Some(value) = quantile else { continue };
        assert!(value.is_finite() && value >= 1.0, "q{q} = {value}");
        if sorted {
            let last = sums.histogram.0.last().map_or(0, |(b, _)| *b);
            assert!(value <= DurationHistogram::upper_us(last) * (1.0 + 1e-9), "q{q} = {value}");
            assert!(value >= previous * (1.0 - 1e-9), "q{q} = {value} < {previous}");
        }
        previous = value;
    }
}

/// A duration lies within its bucket's bounds (the last bucket is open).
fn bucket(us: u64) {
    let bucket = DurationHistogram::bucket(us);
    assert!(bucket < DurationHistogram::BUCKETS);
    let value = us as f64;
    assert!(
        DurationHistogram::lower_us(bucket) <= value * (1.0 + 1e-9),
        "{us} µs below bucket {bucket}"
    );
    if bucket < DurationHistogram::BUCKETS - 1 {
        assert!(
            value < DurationHistogram::upper_us(bucket) * (1.0 + 1e-9),
            "{us} µs above bucket {bucket}"
        );
    }
    if let Some(next) = us.checked_add(1) {
        assert!(DurationHistogram::bucket(next) >= bucket, "buckets go down at {us} µs");
    }
}
