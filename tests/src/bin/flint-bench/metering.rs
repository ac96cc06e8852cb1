//! Metering on vs off: warm HTTP through two fresh `flint up` processes, one
//! with metering and one with `--no-metering`, alternating rounds;
//! requests/s and the ratio (the goal is at least 0.98).

use flint_api::{LimitsSpec, Name};
use flint_tests::{Flint, http};

use crate::{deploy, median, ms, wrk};

/// On vs off is a difference of a few percent: more rounds than the others.
const ROUNDS: usize = 5;

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
    let mut on_runs = Vec::new();
    let mut off_runs = Vec::new();
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always runs on a warmer machine.
        if round % 2 == 0 {
            on_runs.push(wrk(&on_url, seconds));
            off_runs.push(wrk(&off_url, seconds));
        } else {
            off_runs.push(wrk(&off_url, seconds));
            on_runs.push(wrk(&on_url, seconds));
        }
    }
    let (on, off) = (median(&on_runs), median(&off_runs));
    println!("{:<12} {:>12} {:>10} {:>10}", "metering", "requests/s", "p50", "p99");
    println!("{:<12} {:>12.0} {:>10} {:>10}", "on", on.rps, ms(on.p50), ms(on.p99));
    println!("{:<12} {:>12.0} {:>10} {:>10}", "off", off.rps, ms(off.p50), ms(off.p99));
    println!("ratio metering on / off: {:.3} (goal ≥ 0.98)", on.rps / off.rps);
}
