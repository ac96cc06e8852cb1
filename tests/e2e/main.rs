//! End-to-end tests: each starts the real `flint up` on `127.0.0.1` with
//! port 0, deploys components built from source in this run, and drives it
//! over HTTP and the CLI. See `flint_tests` for the harness.

mod cli;
mod cluster;
mod dashboard;
mod http_functions;
mod kafka;
mod limits;
mod prometheus;
mod restart;
mod schedules;
mod uploads;
mod usage;
mod usage_controller_crash;
mod usage_crash;

use std::time::{Duration, Instant};

use flint_tests::Flint;

/// Polls the invoker's metric until it has `value`; panics after 10 s.
pub async fn wait_for_metric(flint: &Flint, name: &str, labels: &[(&str, &str)], value: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = flint.metric(name, labels).await;
        if current == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} is {current:?}, expected {value} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The text of a CLI run's stdout and stderr.
pub fn output_text(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
