//! The usage dashboard at `/ui`: server-rendered HTML with inline SVG
//! charts, no script and nothing fetched from elsewhere, so it works offline
//! and behind any proxy.
//!
//! - `/ui?period=24h&namespace=NS` (or `from=…&to=…`, RFC 3339): totals for
//!   the period (invocations, GB-seconds, cost, free tier, error and
//!   cold-start shares), charts over time (invocations, p50/p99 duration,
//!   cost), every function by cost, and small charts for the costliest.
//! - `/ui/functions/{ns}/{name}`: the same for one function, with its outcomes.
//!
//! Every figure comes from [`Ledger::query`](crate::usage::Ledger::query)
//! and [`usage::figures`], the code behind `GET /v1/usage`, so the page and
//! the API agree. Charts have at most [`MAX_POINTS`] points: the time step
//! grows with the period and the ledger reads its hour or day records for
//! long periods, so a month of a hundred functions renders in milliseconds.

mod chart;
mod html;
mod session;

pub use session::sign_in_page;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flint_api::server::{self, FullResponse};
use flint_api::{Name, PricePlan, Timestamp, UsageFigures};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use crate::State;
use crate::api::blocking;
use crate::auth::Caller;
use crate::usage::{self, Acc, Answer, Query};
use chart::{Kind, Series};
use html::{card, count, escape, millis, money, percent};

/// The most points a chart has.
pub const MAX_POINTS: u64 = 180;
/// Chart steps to choose from, in seconds.
const STEPS: &[u64] =
    &[60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 7 * 86_400];
/// The periods offered as links.
const PERIODS: &[&str] = &["1h", "6h", "24h", "7d", "30d"];
/// Functions that get their own small charts on the overview.
const SMALL_MULTIPLES: usize = 6;
const HTML: &str = "text/html; charset=utf-8";

/// Answers `/ui…` for a caller allowed to read the dashboard; it shows only
/// the caller's namespaces.
pub async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &[&str],
    caller: &Caller,
) -> (&'static str, FullResponse) {
    if rest == ["login"] && request.method() == Method::POST {
        return ("/ui/login", session::login(state, request).await);
    }
    if request.method() != Method::GET {
        return ("/ui", crate::api::method_not_allowed(request.method(), &[Method::GET]));
    }
    let query = request.uri().query();
    let visible = match caller.scope() {
        Some(flint_api::Scope::Only(list)) => Some(list.iter().cloned().collect::<Vec<_>>()),
        _ => None,
    };
    match rest {
        [] | [""] => ("/ui", overview(state, query, visible).await),
        ["logout"] => ("/ui/logout", session::logout()),
        ["functions", ns, name] => {
            let page = match ns.parse::<Name>() {
                Ok(parsed) if !caller.sees(&parsed) => error_page(
                    StatusCode::FORBIDDEN,
                    &format!("Your token may not read namespace {parsed}."),
                ),
                _ => function_page(state, query, ns, name).await,
            };
            ("/ui/functions/{ns}/{name}", page)
        }
        _ => ("other", error_page(StatusCode::NOT_FOUND, "No such page.")),
    }
}

/// The period and filters of a page.
struct View {
    from: u64,
    to: u64,
    step: u64,
    /// The `period` link that is selected, if any.
    period: Option<String>,
    namespace: Option<Name>,
    /// The namespaces the viewer may see; `None`: all.
    visible: Option<Vec<Name>>,
}

impl View {
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let namespace = usage::param(query, "namespace")
            .filter(|ns| !ns.is_empty())
            .map(|ns| ns.parse::<Name>().map_err(|e| e.to_string()))
            .transpose()?;
        let (from, to, period) = if usage::param(query, "from").is_some() {
            let params =
                usage::Params::parse(query, Timestamp::now()).map_err(|e| e.to_string())?;
            (params.query.from, params.query.to, None)
        } else {
            let period = usage::param(query, "period").unwrap_or_else(|| "24h".to_owned());
            let length = humantime::parse_duration(&period)
                .map_err(|e| format!("invalid period `{period}`: {e}"))?
                .as_secs()
                .max(usage::MINUTE);
            let now = u64::try_from(Timestamp::now().as_second()).unwrap_or(0);
            // The end of the current minute (see `usage::Params::parse`).
            let to = (now / usage::MINUTE + 1) * usage::MINUTE;
            (to.saturating_sub(length) / usage::MINUTE * usage::MINUTE, to, Some(period))
        };
        let span = to - from;
        // Every point holds an accumulator per function: a period too long
        // for MAX_POINTS of the longest step would make the page's memory
        // grow with the period (security review row 9). Refuse it.
        let Some(step) = STEPS.iter().copied().find(|step| span.div_ceil(*step) <= MAX_POINTS)
        else {
            return Err(format!(
                "the period is too long for the dashboard: at most {} days (use `GET /v1/usage` for longer reports)",
                MAX_POINTS * STEPS[STEPS.len() - 1] / usage::DAY
            ));
        };
        Ok(Self { from, to, step, period, namespace, visible: None })
    }

    /// The first bucket start and the number of points.
    fn points(&self) -> (u64, usize) {
        let first = self.from / self.step * self.step;
        (first, (self.to - first).div_ceil(self.step) as usize)
    }

    /// The point a bucket starting at `start` falls in.
    fn point(&self, start: u64) -> usize {
        (start.saturating_sub(self.points().0) / self.step) as usize
    }

    fn labels(&self) -> Vec<String> {
        let (first, points) = self.points();
        let format = if self.step >= usage::DAY { "%Y-%m-%d" } else { "%m-%d %H:%M" };
        (0..points as u64).map(|i| time(first + i * self.step, format)).collect()
    }

    /// The query string that keeps this view's period and namespace.
    fn link_query(&self) -> String {
        let mut parts = Vec::new();
        match &self.period {
            Some(period) => parts.push(format!("period={period}")),
            None => {
                parts.push(format!("from={}", time(self.from, "%Y-%m-%dT%H:%M:%SZ")));
                parts.push(format!("to={}", time(self.to, "%Y-%m-%dT%H:%M:%SZ")));
            }
        }
        if let Some(ns) = &self.namespace {
            parts.push(format!("namespace={ns}"));
        }
        parts.join("&")
    }

    fn query(&self, function: Option<Name>, by_function: bool) -> Query {
        Query {
            from: self.from,
            to: self.to,
            namespace: self.namespace.clone(),
            function,
            by_function,
            by_trigger: false,
            step: Some(self.step),
            visible: self.visible.clone(),
        }
    }
}

fn time(second: u64, format: &str) -> String {
    Timestamp::from_second(second as i64)
        .map(|t| t.strftime(format).to_string())
        .unwrap_or_default()
}

/// Runs a ledger query off the async threads; an error page if it fails.
async fn ask(state: &Arc<State>, query: Query) -> Result<Answer, FullResponse> {
    blocking(state, move |s| s.ledger.query(&query))
        .await
        .map_err(|_| error_page(StatusCode::INTERNAL_SERVER_ERROR, "The ledger failed."))
}

async fn overview(
    state: &Arc<State>,
    query: Option<&str>,
    visible: Option<Vec<Name>>,
) -> FullResponse {
    let started = Instant::now();
    let mut view = match View::parse(query) {
        Ok(view) => view,
        Err(message) => return error_page(StatusCode::BAD_REQUEST, &message),
    };
    if let (Some(list), Some(ns)) = (&visible, &view.namespace)
        && !list.contains(ns)
    {
        return error_page(
            StatusCode::FORBIDDEN,
            &format!("Your token may not read namespace {ns}."),
        );
    }
    view.visible = visible;
    let answer = match ask(state, view.query(None, true)).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    let plans = &answer.plans.by_id;
    let currency = answer.plans.current.currency.clone();

    // Fold the (time, function) groups into a series over time and a total
    // per function.
    let (_, points) = view.points();
    let mut overall = vec![Acc::default(); points];
    let mut functions: HashMap<(Name, Name), (Acc, Vec<Acc>)> = HashMap::new();
    for group in &answer.groups {
        let Some(start) = group.start else { continue };
        let i = view.point(start);
        if i >= points {
            continue;
        }
        overall[i].merge(&group.acc);
        if let Some(function) = &group.function {
            let entry = functions
                .entry(function.clone())
                .or_insert_with(|| (Acc::default(), vec![Acc::default(); points]));
            entry.0.merge(&group.acc);
            entry.1[i].merge(&group.acc);
        }
    }
    let mut ranked: Vec<((Name, Name), UsageFigures, Vec<Acc>)> = functions
        .into_iter()
        .map(|(name, (acc, series))| (name, usage::figures(&acc, plans), series))
        .collect();
    ranked.sort_by(|a, b| b.1.cost.total_cmp(&a.1.cost).then_with(|| a.0.cmp(&b.0)));

    let totals = usage::figures(&answer.totals, plans);
    let mut body = String::new();
    let scope = match (&view.namespace, &view.visible) {
        (Some(ns), _) => format!("namespace <b>{}</b>", escape(ns.as_str())),
        (None, Some(list)) => {
            let names: Vec<&str> = list.iter().map(Name::as_str).collect();
            format!("namespaces <b>{}</b>", escape(&names.join(", ")))
        }
        (None, None) => "all namespaces".to_owned(),
    };
    let _ = write!(body, "<h1>Usage and cost</h1>{}", period_line(&view, &scope));
    period_links(&mut body, &view, "/ui");
    totals_cards(&mut body, &totals, &answer, &currency, true);
    budget_table(&mut body, &budgets(state, &view).await, &currency);
    body.push_str(r#"<div class="charts">"#);
    body.push_str(&series_charts(&view, &overall, plans, &currency, ""));
    body.push_str("</div>");

    let _ = write!(body, "<h2>Functions by cost</h2>");
    if ranked.is_empty() {
        body.push_str(r#"<p class="empty">Nothing ran in this period.</p>"#);
    } else {
        body.push_str(
            "<table id=\"functions\"><thead><tr><th>Function</th><th>Invocations</th><th>Errors</th>\
             <th>Cold starts</th><th>p50</th><th>p99</th><th>GB-s</th><th>Cost</th></tr></thead><tbody>",
        );
        for ((ns, name), f, _) in &ranked {
            let _ = write!(
                body,
                r#"<tr><td><a href="/ui/functions/{ns}/{name}?{link}">{shown}</a></td><td>{inv}</td><td>{err}</td><td>{cold}</td><td>{p50}</td><td>{p99}</td><td>{gbs:.3}</td><td data-value="{cost}">{money}</td></tr>"#,
                link = escape(&view.link_query()),
                shown = escape(&if ns.as_str() == flint_api::DEFAULT_NAMESPACE {
                    name.to_string()
                } else {
                    format!("{ns}/{name}")
                }),
                inv = count(f.invocations),
                err = percent(f.error_share()),
                cold = percent(f.cold_start_share()),
                p50 = f.p50_ms.map_or_else(|| "-".into(), millis),
                p99 = f.p99_ms.map_or_else(|| "-".into(), millis),
                gbs = f.gb_seconds,
                cost = f.cost,
                money = money(f.cost, &currency),
            );
        }
        body.push_str("</tbody></table>");
        let _ = write!(body, "<h2>The {SMALL_MULTIPLES} costliest functions over time</h2>");
        body.push_str(r#"<div class="small">"#);
        for ((ns, name), _, series) in ranked.iter().take(SMALL_MULTIPLES) {
            let label = format!("{ns}/{name}: ");
            body.push_str(&series_charts(&view, series, plans, &currency, &label));
        }
        body.push_str("</div>");
    }
    footer(&mut body, &answer.plans.current, started.elapsed());
    server::with_type(StatusCode::OK, HTML, html::page("Usage", &body).into())
}

async fn function_page(
    state: &Arc<State>,
    query: Option<&str>,
    ns: &str,
    name: &str,
) -> FullResponse {
    let started = Instant::now();
    let (Ok(ns), Ok(name)) = (ns.parse::<Name>(), name.parse::<Name>()) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid namespace or function name.");
    };
    let mut view = match View::parse(query) {
        Ok(view) => view,
        Err(message) => return error_page(StatusCode::BAD_REQUEST, &message),
    };
    view.namespace = Some(ns.clone());
    let answer = match ask(state, view.query(Some(name.clone()), false)).await {
        Ok(answer) => answer,
        Err(page) => return page,
    };
    let plans = &answer.plans.by_id;
    let currency = answer.plans.current.currency.clone();
    let (_, points) = view.points();
    let mut series = vec![Acc::default(); points];
    for group in &answer.groups {
        let Some(start) = group.start else { continue };
        if let Some(slot) = series.get_mut(view.point(start)) {
            slot.merge(&group.acc);
        }
    }
    let totals = usage::figures(&answer.totals, plans);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{name}</h1>{}",
        period_line(&view, &format!("namespace <b>{}</b>", escape(ns.as_str())))
    );
    period_links(&mut body, &view, &format!("/ui/functions/{ns}/{name}"));
    totals_cards(&mut body, &totals, &answer, &currency, false);
    let f = &answer.totals.sums;
    let ran = totals.invocations.max(1);
    body.push_str(r#"<div class="cards">"#);
    card(
        &mut body,
        "peak-memory",
        "Peak memory",
        &flint_api::human_bytes(f.peak_memory_bytes).to_string(),
        &f.peak_memory_bytes.to_string(),
    );
    card(
        &mut body,
        "configured-memory",
        "Configured memory",
        &format!("{} MiB", f.memory_mb),
        &f.memory_mb.to_string(),
    );
    let instantiate = f.instantiate_us as f64 / ran as f64 / 1000.0;
    card(
        &mut body,
        "instantiate",
        "Mean instantiation",
        &millis(instantiate),
        &instantiate.to_string(),
    );
    let cold = if f.cold_starts == 0 {
        0.0
    } else {
        f.cold_start_us as f64 / f.cold_starts as f64 / 1000.0
    };
    card(&mut body, "cold-start", "Mean cold start", &millis(cold), &cold.to_string());
    body.push_str("</div>");
    body.push_str(r#"<div class="charts">"#);
    body.push_str(&series_charts(&view, &series, plans, &currency, ""));
    body.push_str("</div>");
    let c = &f.counts;
    let _ = write!(
        body,
        "<h2>Outcomes</h2><table id=\"outcomes\"><thead><tr><th>Outcome</th><th>Invocations</th></tr></thead><tbody>\
         <tr><td>ok</td><td>{}</td></tr><tr><td>error</td><td>{}</td></tr><tr><td>timeout</td><td>{}</td></tr>\
         <tr><td>out of memory</td><td>{}</td></tr><tr><td>rejected (not billed)</td><td>{}</td></tr></tbody></table>",
        count(c.ok),
        count(c.error),
        count(c.timeout),
        count(c.out_of_memory),
        count(c.rejected)
    );
    footer(&mut body, &answer.plans.current, started.elapsed());
    server::with_type(StatusCode::OK, HTML, html::page(name.as_str(), &body).into())
}

fn period_line(view: &View, scope: &str) -> String {
    format!(
        r#"<p class="sub">{scope} · <time id="period-from" datetime="{from}">{from_shown}</time> to <time id="period-to" datetime="{to}">{to_shown}</time> UTC · one point per {step}</p>"#,
        from = time(view.from, "%Y-%m-%dT%H:%M:%SZ"),
        to = time(view.to, "%Y-%m-%dT%H:%M:%SZ"),
        from_shown = time(view.from, "%Y-%m-%d %H:%M"),
        to_shown = time(view.to, "%Y-%m-%d %H:%M"),
        step = humantime::format_duration(Duration::from_secs(view.step)),
    )
}

fn period_links(body: &mut String, view: &View, path: &str) {
    body.push_str(r#"<nav class="periods">"#);
    let ns = view.namespace.as_ref().map(|ns| format!("&namespace={ns}")).unwrap_or_default();
    for period in PERIODS {
        let on = if view.period.as_deref() == Some(*period) { r#" class="on""# } else { "" };
        let _ = write!(body, r#"<a{on} href="{path}?period={period}{ns}">{period}</a>"#);
    }
    body.push_str("</nav>");
}

fn totals_cards(
    body: &mut String,
    totals: &UsageFigures,
    answer: &Answer,
    currency: &str,
    with_free_tier: bool,
) {
    body.push_str(r#"<div class="cards">"#);
    card(
        body,
        "total-invocations",
        "Invocations",
        &count(totals.invocations),
        &totals.invocations.to_string(),
    );
    card(
        body,
        "total-gb-seconds",
        "GB-seconds",
        &format!("{:.3}", totals.gb_seconds),
        &totals.gb_seconds.to_string(),
    );
    card(body, "total-cost", "Cost", &money(totals.cost, currency), &totals.cost.to_string());
    if with_free_tier {
        let credit = answer.free_tier.iter().fold(0.0, |sum, f| sum + f.credit);
        let net = (totals.cost - credit).max(0.0);
        card(body, "total-free-tier", "Free tier", &money(credit, currency), &credit.to_string());
        card(
            body,
            "total-net-cost",
            "Cost after free tier",
            &money(net, currency),
            &net.to_string(),
        );
    }
    card(
        body,
        "total-error-share",
        "Error share",
        &percent(totals.error_share()),
        &totals.error_share().to_string(),
    );
    card(
        body,
        "total-cold-start-share",
        "Cold-start share",
        &percent(totals.cold_start_share()),
        &totals.cold_start_share().to_string(),
    );
    card(
        body,
        "total-rejected",
        "Rejected",
        &count(totals.counts.rejected),
        &totals.counts.rejected.to_string(),
    );
    let p = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), millis);
    let v = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    card(body, "total-p50", "p50 duration", &p(totals.p50_ms), &v(totals.p50_ms));
    card(body, "total-p99", "p99 duration", &p(totals.p99_ms), &v(totals.p99_ms));
    body.push_str("</div>");
}

/// Invocations, p50/p99 and cost charts of one series of buckets.
fn series_charts(
    view: &View,
    series: &[Acc],
    plans: &HashMap<u64, PricePlan>,
    currency: &str,
    prefix: &str,
) -> String {
    let labels = view.labels();
    let figures: Vec<UsageFigures> = series.iter().map(|acc| usage::figures(acc, plans)).collect();
    let step = humantime::format_duration(Duration::from_secs(view.step)).to_string();
    let invocations = Series {
        name: "ran",
        color: "#3b5bdb",
        values: figures.iter().map(|f| Some(f.invocations as f64)).collect(),
    };
    let mut out = chart::render(
        &format!("{prefix}invocations per {step}"),
        Kind::Bars,
        &labels,
        &[invocations],
        |v| count(v.round() as u64),
    );
    out.push_str(&chart::render(
        &format!("{prefix}duration"),
        Kind::Lines,
        &labels,
        &[
            Series {
                name: "p50",
                color: "#2b8a3e",
                values: figures.iter().map(|f| f.p50_ms).collect(),
            },
            Series {
                name: "p99",
                color: "#d9480f",
                values: figures.iter().map(|f| f.p99_ms).collect(),
            },
        ],
        millis,
    ));
    out.push_str(&chart::render(
        &format!("{prefix}cost per {step}"),
        Kind::Bars,
        &labels,
        &[Series {
            name: currency,
            color: "#862e9c",
            values: figures.iter().map(|f| Some(f.cost)).collect(),
        }],
        |v| format!("{v:.6}"),
    ));
    out
}

fn footer(body: &mut String, plan: &PricePlan, took: Duration) {
    let _ = write!(
        body,
        r#"<footer>Plan {id}: {gbs} {cur}/GB-s, {req} {cur}/million invocations, durations rounded up to {granularity}, {free_r} invocations and {free_gbs} GB-s free per namespace and month. Costs are priced with the plan each invocation was recorded under. Same figures as <code>GET /v1/usage</code>. Rendered in <span id="render-ms">{ms:.1}</span> ms.</footer>"#,
        id = plan.id,
        gbs = plan.per_gb_second,
        req = plan.per_million_requests,
        cur = escape(&plan.currency),
        granularity = humantime::format_duration(Duration::from_micros(plan.granularity_us)),
        free_r = plan.free_requests_per_month,
        free_gbs = plan.free_gb_seconds_per_month,
        ms = took.as_secs_f64() * 1000.0,
    );
}

/// `(namespace, cost this month, budget, blocked)` of the namespaces on the
/// page that have a monthly budget.
async fn budgets(state: &Arc<State>, view: &View) -> Vec<(Name, f64, f64, bool)> {
    let (only, visible) = (view.namespace.clone(), view.visible.clone());
    let rows = blocking(state, move |s| {
        let now = Timestamp::now();
        let mut rows = Vec::new();
        for (ns, record) in s.store.namespace_records()? {
            let shown = only.as_ref().is_none_or(|o| o == &ns)
                && visible.as_ref().is_none_or(|list| list.contains(&ns));
            if let (true, Some(budget)) = (shown, record.quotas.monthly_budget) {
                let cost = crate::budget::month_cost(s, &ns, now)?;
                rows.push((ns, cost, budget, record.blocked.is_some()));
            }
        }
        Ok(rows)
    })
    .await;
    rows.unwrap_or_default()
}

/// The monthly budgets: spent, of how much, and whether calls are refused.
fn budget_table(body: &mut String, rows: &[(Name, f64, f64, bool)], currency: &str) {
    if rows.is_empty() {
        return;
    }
    body.push_str(
        "<h2>Monthly budgets</h2><table id=\"budgets\"><thead><tr><th>Namespace</th><th>Spent this month</th>\
         <th>Budget</th><th>Used</th><th>State</th></tr></thead><tbody>",
    );
    for (ns, cost, budget, blocked) in rows {
        let used = if *budget > 0.0 { cost / budget } else { 1.0 };
        let _ = write!(
            body,
            r#"<tr><td>{ns}</td><td>{spent}</td><td>{of}</td><td data-value="{used}">{shown}</td><td>{state}</td></tr>"#,
            ns = escape(ns.as_str()),
            spent = money(*cost, currency),
            of = money(*budget, currency),
            shown = percent(used),
            state = if *blocked {
                "blocked (402)"
            } else if used >= 1.0 {
                "over budget"
            } else {
                "ok"
            },
        );
    }
    body.push_str("</tbody></table>");
}

fn error_page(status: StatusCode, message: &str) -> FullResponse {
    let body = format!(r#"<h1>{}</h1><p class="empty">{}</p>"#, status, escape(message));
    server::with_type(status, HTML, html::page("Error", &body).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_longer_than_the_charts_hold_are_refused() {
        let view = View::parse(Some("period=30d")).expect("a month");
        assert!(view.points().1 as u64 <= MAX_POINTS);
        let longest = MAX_POINTS * STEPS[STEPS.len() - 1] / usage::DAY;
        View::parse(Some(&format!("period={longest}days"))).expect("the longest period");
        let err = View::parse(Some("from=1970-01-01T00:00:00Z&to=2900-01-01T00:00:00Z"))
            .err()
            .expect("refused");
        assert!(err.contains("too long"), "{err}");
        assert!(View::parse(Some("period=5000d")).is_err());
    }
}
