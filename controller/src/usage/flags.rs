//! The price plan's command-line flags, shared by `flint-controller` and
//! `flint up`.

use std::time::Duration;

use flint_api::PricePlanSpec;

/// Price plan flags. Each one given sets that field of the plan in force at
/// start (a new plan, if it changes anything); fields not given keep their
/// stored value, or the default on a new store.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Price plan (usage recorded before a change keeps its prices)")]
pub struct PlanFlags {
    /// Price of one GB-second of configured memory × billed duration [default: 0.0000166667]
    #[arg(long, env = "FLINT_PRICE_GB_SECOND", value_name = "PRICE")]
    pub price_gb_second: Option<f64>,
    /// Price of one million invocations [default: 0.20]
    #[arg(long, env = "FLINT_PRICE_PER_MILLION_REQUESTS", value_name = "PRICE")]
    pub price_per_million_requests: Option<f64>,
    /// Each invocation's duration is rounded up to a multiple of this, 1us to 60s [default: 1ms]
    #[arg(long, env = "FLINT_BILLING_GRANULARITY", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub billing_granularity: Option<Duration>,
    /// Invocations free per namespace and calendar month [default: 0]
    #[arg(long, env = "FLINT_FREE_REQUESTS", value_name = "N")]
    pub free_requests: Option<u64>,
    /// GB-seconds free per namespace and calendar month [default: 0]
    #[arg(long, env = "FLINT_FREE_GB_SECONDS", value_name = "N")]
    pub free_gb_seconds: Option<f64>,
    /// Currency of the prices, shown with costs [default: USD]
    #[arg(long, env = "FLINT_CURRENCY", value_name = "CODE")]
    pub currency: Option<String>,
}

impl PlanFlags {
    /// The fields given, or `None` if none was.
    pub fn spec(&self) -> Option<PricePlanSpec> {
        let spec = PricePlanSpec {
            currency: self.currency.clone(),
            per_gb_second: self.price_gb_second,
            per_million_requests: self.price_per_million_requests,
            granularity_us: self.billing_granularity.map(|d| d.as_micros() as u64),
            free_requests_per_month: self.free_requests,
            free_gb_seconds_per_month: self.free_gb_seconds,
        };
        (!spec.is_empty()).then_some(spec)
    }
}
