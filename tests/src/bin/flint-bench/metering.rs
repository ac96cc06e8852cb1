//! Metering on vs off: warm HTTP through two fresh `flint up` processes, one
//! with metering and one with `--no-metering`, alternating rounds;
//! requests/s and the ratio (the goal is at least 0.98).

use flint_api::{LimitsSpec, Name};
use flint_tests::{Flint, http};

use crate::{cpu_time, deploy, wrk};

/// On vs off is a difference of a few percent: more rounds than the others.
const ROUNDS: usize = 7;

pub async fn compare(wasm: &std::path::Path, seconds: u64) {
    println!("\n# metering on vs off (two fresh `flint up`), {ROUNDS} rounds alternating");
    let ns = Name::default_namespace();
    let metered = Flint::start();
    let unmetered = Flint::start_with(&["--no-metering"]);
    for flint in [&metered, &unmetered] {
        deploy(&flint.client(), &ns, "hello", "/hello", wasm, LimitsSpec::default()).await;
        http::wait_for(&format!("{}/hello", flint.http), 200).await;
    }
    let (on_url, off_url) =
        (format!("{}/hello", metered.http), format!("{}/hello", unmetered.http));
    wrk(&on_url, 2);
    wrk(&off_url, 2);
    // Each round runs both, in alternating order; the ratio of each round's
    // pair is less exposed to the machine's drift than the medians alone.
    // CPU time per request, from /proc, is the steadier figure of the two.
    let measure = |flint: &Flint, url: &str| {
        let cpu_before = cpu_time(flint.pid());
        let run = wrk(url, seconds);
        let cpu = cpu_time(flint.pid()) - cpu_before;
        (run, cpu.div_f64(run.rps * seconds as f64))
    };
    let mut on_runs = Vec::new();
    let mut off_runs = Vec::new();
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    for round in 0..ROUNDS {
        let (on, off) = if round % 2 == 0 {
            let on = measure(&metered, &on_url);
            (on, measure(&unmetered, &off_url))
        } else {
            let off = measure(&unmetered, &off_url);
            (measure(&metered, &on_url), off)
        };
        ratios.push(on.0.rps / off.0.rps);
        cpu_ratios.push(on.1.as_secs_f64() / off.1.as_secs_f64());
        on_runs.push(on);
        off_runs.push(off);
    }
    crate::print_cpu_rows("metering", &[("on", &on_runs), ("off", &off_runs)]);
    let middle = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "ratio metering on / off, requests/s: {:.3} (median of {ROUNDS} paired rounds; goal ≥ 0.98)",
        middle(ratios)
    );
    println!("ratio metering on / off, CPU per request: {:.3}", middle(cpu_ratios));
}
