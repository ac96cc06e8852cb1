//! The controller's Prometheus metrics.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

/// Controller metrics: registered once, cloned into the state.
#[derive(Clone)]
pub struct Metrics {
    /// API requests by route template and status code.
    pub requests: IntCounterVec,
    /// Wasm uploads by outcome (`accepted`, `invalid`, `too_large`).
    pub uploads: IntCounterVec,
    /// Time to validate (compile and link-check) one upload.
    pub validation_seconds: Histogram,
    /// The store's current revision.
    pub revision: IntGauge,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new("controller_api_requests_total", "API requests by route and status code."),
            &["route", "code"],
        )?;
        let uploads = IntCounterVec::new(
            Opts::new("controller_uploads_total", "Wasm uploads by outcome."),
            &["outcome"],
        )?;
        let validation_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "controller_upload_validation_seconds",
                "Time to compile and link-check one upload.",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let revision =
            IntGauge::new("controller_store_revision", "Revision of the last stored change.")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(uploads.clone()))?;
        registry.register(Box::new(validation_seconds.clone()))?;
        registry.register(Box::new(revision.clone()))?;
        Ok(Self { requests, uploads, validation_seconds, revision })
    }
}
