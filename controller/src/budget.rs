//! Spend caps: each namespace's cost this month (UTC) at the price plans
//! its usage was recorded under, against its `monthly_budget`.
//!
//! A check runs shortly after usage arrives ([`Budgets::usage_arrived`],
//! debounced so a burst of batches costs one check), after a namespace's
//! quotas change, and every `Config::budget_interval` (a new month, a new
//! plan). A namespace whose cost reached a budget with action `block` gets
//! a block in the store, which the change feed carries to every invoker:
//! they answer its new invocations with `402` until the budget is raised or
//! the month turns. The block lags spending by the invokers' usage flush
//! and this debounce, so a namespace can overspend by what it runs in that
//! time (a second or two): the cap is enforced, not to the cent.

use std::sync::Arc;
use std::time::Duration;

use flint_api::{BudgetAction, Name, Quotas, Timestamp};
use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};
use tokio_util::sync::CancellationToken;

use crate::State;
use crate::store;
use crate::usage::{self, MINUTE, Query};

/// Usage that arrives within this time is checked once.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The budget checker's wake-up and metrics.
pub struct Budgets {
    wake: tokio::sync::Notify,
    /// Cost this month per namespace with a budget.
    month_cost: GaugeVec,
    /// 1 while a namespace's budget is spent (blocked or alerting).
    exceeded: IntGaugeVec,
}

impl Budgets {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let month_cost = GaugeVec::new(
            Opts::new(
                "controller_namespace_month_cost",
                "Cost this calendar month (UTC) of namespaces with a monthly budget.",
            ),
            &["namespace"],
        )?;
        let exceeded = IntGaugeVec::new(
            Opts::new(
                "controller_namespace_budget_exceeded",
                "1 while a namespace has spent its monthly budget.",
            ),
            &["namespace"],
        )?;
        registry.register(Box::new(month_cost.clone()))?;
        registry.register(Box::new(exceeded.clone()))?;
        Ok(Self { wake: tokio::sync::Notify::new(), month_cost, exceeded })
    }

    /// Asks for a check soon (usage was applied, a quota changed).
    pub fn usage_arrived(&self) {
        self.wake.notify_one();
    }
}

/// Cost of namespace `ns` from the start of this month to now.
pub fn month_cost(state: &State, ns: &Name, now: Timestamp) -> store::Result<f64> {
    let now = u64::try_from(now.as_second()).unwrap_or(0);
    let to = (now / MINUTE + 1) * MINUTE;
    let query = Query {
        from: usage::month_start(now),
        to,
        namespace: Some(ns.clone()),
        function: None,
        by_function: false,
        by_trigger: false,
        step: None,
        visible: None,
    };
    let answer = state.ledger.query(&query)?;
    let (requests, compute) = answer.totals.cost(&answer.plans.by_id);
    Ok(requests + compute)
}

/// The block a namespace should have, given its quotas and cost.
pub fn block_for(ns: &Name, quotas: &Quotas, cost: f64) -> Option<String> {
    let budget = quotas.monthly_budget?;
    (quotas.budget_action == BudgetAction::Block && cost >= budget).then(|| {
        format!(
            "namespace `{ns}` has spent its monthly budget of {budget:.2} ({cost:.4} this month); an admin can raise it with `flint namespace set {ns} --monthly-budget AMOUNT`"
        )
    })
}

/// Checks every namespace with a budget, or without one but still blocked.
fn check_all(state: &State) -> store::Result<()> {
    let now = Timestamp::now();
    for (ns, record) in state.store.namespace_records()? {
        let cost = match record.quotas.monthly_budget {
            Some(_) => month_cost(state, &ns, now)?,
            None => 0.0,
        };
        let block = block_for(&ns, &record.quotas, cost);
        if let Some(budget) = record.quotas.monthly_budget {
            state.budgets.month_cost.with_label_values(&[ns.as_str()]).set(cost);
            state.budgets.exceeded.with_label_values(&[ns.as_str()]).set(i64::from(cost >= budget));
        } else {
            let _ = state.budgets.month_cost.remove_label_values(&[ns.as_str()]);
            let _ = state.budgets.exceeded.remove_label_values(&[ns.as_str()]);
        }
        let blocked = block.is_some();
        if state.store.set_blocked(&ns, block)? {
            tracing::info!(namespace = %ns, blocked, cost, "namespace budget state changed");
        }
    }
    Ok(())
}

/// Checks budgets until `shutdown`.
pub async fn run(state: Arc<State>, shutdown: CancellationToken) {
    let interval = state.config.budget_interval;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = state.budgets.wake.notified() => {
                tokio::time::sleep(DEBOUNCE).await;
            }
            () = tokio::time::sleep(interval) => {}
        }
        let checked = {
            let state = Arc::clone(&state);
            tokio::task::spawn_blocking(move || check_all(&state)).await
        };
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(error = %flint_api::ErrorChain(&error), "budget check failed");
            }
            Err(join) => tracing::error!(error = %join, "budget check panicked"),
        }
    }
}
