//! Namespaces as tenants: quotas, the monthly spend cap, route
//! reservations, and the audit log of who changed what.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{FieldError, HttpTrigger, Name, Timestamp};

/// Most route reservations per namespace.
pub const MAX_RESERVATIONS: usize = 100;

/// `PUT /v1/namespaces/{ns}` (admins): a namespace's quotas. A field left
/// out has no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Most functions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_functions: Option<u32>,
    /// Most memory configured across its functions (the sum of their
    /// `memory_mb`), in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_mb: Option<u64>,
    /// Most invocations per period on each invoker; past it callers get
    /// `429` with `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Most cost per calendar month (UTC) at the price plan, in the plan's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_budget: Option<f64>,
    /// What happens when the budget is spent.
    #[serde(default)]
    pub budget_action: BudgetAction,
    /// Hosts and path prefixes only this namespace may route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reserved: Vec<Reservation>,
}

impl Quotas {
    /// Checks each value, naming the field that is wrong.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(budget) = self.monthly_budget
            && !(budget.is_finite() && budget >= 0.0)
        {
            return Err(FieldError::new(
                "monthly_budget",
                format!("{budget} is not a finite amount of 0 or more"),
            ));
        }
        if self.reserved.len() > MAX_RESERVATIONS {
            return Err(FieldError::new(
                "reserved",
                format!("at most {MAX_RESERVATIONS} reservations per namespace"),
            ));
        }
        for reservation in &self.reserved {
            reservation.as_route().validate().map_err(|e| {
                FieldError::new(e.field.replace("http.route", "reserved.prefix"), e.message)
            })?;
        }
        Ok(())
    }
}

/// What a spent budget does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetAction {
    /// New invocations get `402 Payment Required` until the month ends or
    /// the budget is raised.
    #[default]
    Block,
    /// Keep running; `flint_controller_namespace_budget_exceeded` says so.
    Alert,
}

/// A request rate: `200/s`, `6000/m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period.
    pub requests: u32,
    /// The period in seconds (1 or 60).
    pub period_secs: u32,
}

impl Rate {
    /// Requests per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.requests) / f64::from(self.period_secs)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.period_secs == 60 { "m" } else { "s" };
        write!(f, "{}/{unit}", self.requests)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid rate `{s}`: expected requests per second or minute, e.g. `200/s` or `6000/m`"
            )
        };
        let (count, unit) = s.split_once('/').ok_or_else(bad)?;
        let requests: u32 = count.trim().parse().map_err(|_| bad())?;
        let period_secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            _ => return Err(bad()),
        };
        if requests == 0 {
            return Err(format!("invalid rate `{s}`: must allow at least 1 request"));
        }
        Ok(Self { requests, period_secs })
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A host and path prefix kept for one namespace: another namespace's
/// route inside it is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// Host name; `None`: any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Path prefix, e.g. `/team-a`; `/` for the whole host.
    #[serde(default = "root")]
    pub prefix: String,
}

fn root() -> String {
    "/".into()
}

impl Reservation {
    /// The reservation as the route it covers (for the overlap checks).
    pub fn as_route(&self) -> HttpTrigger {
        HttpTrigger { host: self.host.clone(), ..HttpTrigger::new(self.prefix.clone()) }
    }
}

/// A namespace as `GET /v1/namespaces/{ns}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    /// Its name.
    pub name: Name,
    /// Its quotas.
    pub quotas: Quotas,
    /// Functions it has.
    pub functions: u32,
    /// Memory configured across its functions, in MiB.
    pub memory_mb: u64,
    /// Its cost so far this month at the price plan.
    pub month_cost: f64,
    /// Whether new invocations are refused for the budget.
    pub blocked: bool,
}

/// What invokers need of a namespace (in the change feed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceState {
    /// Its name.
    pub name: Name,
    /// Its request rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Why new invocations are refused with `402`, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

/// One mutating call, as `GET /v1/audit` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its place in the log (increasing).
    pub seq: u64,
    /// When it was answered.
    pub time: Timestamp,
    /// The caller's token id.
    pub token_id: String,
    /// The caller's token name.
    pub token_name: String,
    /// The HTTP method.
    pub method: String,
    /// The path called (without the query).
    pub path: String,
    /// The namespace it touched, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Name>,
    /// The answer's status.
    pub status: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print() {
        let rate: Rate = "200/s".parse().expect("rate");
        assert_eq!(rate, Rate { requests: 200, period_secs: 1 });
        assert_eq!(rate.to_string(), "200/s");
        let rate: Rate = "6000/m".parse().expect("rate");
        assert!((rate.per_second() - 100.0).abs() < 1e-9);
        for bad in ["", "200", "0/s", "x/s", "10/h", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn quotas_refuse_bad_values() {
        let quotas = Quotas { monthly_budget: Some(f64::NAN), ..Quotas::default() };
        assert!(quotas.validate().is_err());
        let quotas = Quotas { monthly_budget: Some(-1.0), ..Quotas::default() };
        assert!(quotas.validate().is_err());
        let quotas = Quotas {
            reserved: vec![Reservation { host: None, prefix: "nope".into() }],
            ..Quotas::default()
        };
        assert!(quotas.validate().unwrap_err().to_string().contains("reserved.prefix"));
        assert!(serde_json::from_str::<Quotas>(r#"{"max_function": 1}"#).is_err());
    }
}
