//! `flint-bench`: Flint's performance figures, each beside a baseline
//! measured in the same run (this machine's absolute times are noisy).
//! Sections, in order (all by default, or those named after the seconds):
//!
//! - `http`: `wrk` with 50 connections on `hello-http` through Flint and on
//!   a bare hyper hello-world server, alternating; requests/s, p50, p99 and
//!   the ratio;
//! - `kafka`: records/s through the same function from a 4-partition topic
//!   (consume, invoke, commit) beside the HTTP rate and a bare consumer, and
//!   end-to-end latency at a fixed rate below the maximum (when a broker is
//!   given in `FLINT_TEST_KAFKA`, which `tests/bench` starts);
//! - `metering`: warm HTTP through two fresh `flint up`, metering on and
//!   off, alternating; requests/s and the ratio (the goal is at least 0.98);
//! - `cold`: latency of the first call to a function scaled to zero
//!   (artifact on disk, code unloaded) beside a warm call;
//! - `instantiate`: a fresh instance of `hello-http` from its `InstancePre`,
//!   in this process with Flint's engine;
//! - `memory`: resident memory of a fresh `flint up` with 1,000 deployed
//!   idle functions;
//! - `auth`: a route with `auth = "token"` beside an open one, and the CPU
//!   of the controller's check of an authenticated API call.
//!
//! Run it with `tests/bench [SECONDS] [SECTION...]` (which builds in release
//! first). Needs `wrk`.

use std::convert::Infallible;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flint_api::{FunctionSpec, HttpTrigger, LimitsSpec, Name, TriggerRequest, TriggerSpec};
use flint_tests::{Flint, guest, http};
use http_body_util::Full;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod auth;
mod kafka;
mod metering;

const CONNECTIONS: u32 = 50;
/// wrk runs per server and figure; the median is reported.
const ROUNDS: usize = 3;

/// The sections, in the order they run.
const SECTIONS: [&str; 7] = ["http", "kafka", "metering", "cold", "instantiate", "memory", "auth"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let chosen: Vec<String> = args.collect();
    if let Some(unknown) = chosen.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
        eprintln!("unknown section `{unknown}`; the sections are {}", SECTIONS.join(", "));
        std::process::exit(64);
    }
    let wants = |section: &str| chosen.is_empty() || chosen.iter().any(|s| s == section);
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        eprintln!(
            "note: RUST_BACKTRACE is set; wasmtime then captures a backtrace per instance teardown"
        );
    }
    let wasm = guest("hello-http");
    let flint = Flint::start();
    let client = flint.client();
    let ns = Name::default_namespace();
    deploy(&client, &ns, "hello", "/hello", &wasm, LimitsSpec::default()).await;
    let flint_url = format!("{}/hello", flint.http);
    assert_eq!(http::wait_for(&flint_url, 200).await.text(), "Hello, world!\n");

    let mut http_rate = None;
    if wants("http") {
        let bare = bare_hyper().await;
        let bare_url = format!("http://{bare}/hello");
        println!(
            "# warm HTTP, {CONNECTIONS} connections, {seconds} s per run, {ROUNDS} rounds alternating"
        );
        wrk(&bare_url, 2);
        wrk(&flint_url, 2);
        let mut bare_runs = Vec::new();
        let mut flint_runs = Vec::new();
        for _ in 0..ROUNDS {
            bare_runs.push(wrk(&bare_url, seconds));
            flint_runs.push(wrk(&flint_url, seconds));
        }
        let bare = median(&bare_runs);
        let fl = median(&flint_runs);
        println!("{:<12} {:>12} {:>10} {:>10}", "server", "requests/s", "p50", "p99");
        println!(
            "{:<12} {:>12.0} {:>10} {:>10}",
            "bare hyper",
            bare.rps,
            ms(bare.p50),
            ms(bare.p99)
        );
        println!("{:<12} {:>12.0} {:>10} {:>10}", "flint", fl.rps, ms(fl.p50), ms(fl.p99));
        println!("ratio flint / bare hyper: {:.3}", fl.rps / bare.rps);
        http_rate = Some(fl.rps);
    }

    if wants("kafka") {
        match std::env::var(flint_tests::kafka::ENV_BOOTSTRAP) {
            Ok(bootstrap) => {
                kafka::section(&flint, &bootstrap, &flint_url, http_rate, seconds).await;
            }
            Err(_) => println!(
                "\n# Kafka path: skipped ({} not set; tests/bench sets it)",
                flint_tests::kafka::ENV_BOOTSTRAP
            ),
        }
    }

    if wants("metering") {
        metering::compare(&wasm, seconds).await;
    }

    if wants("cold") {
        println!("\n# cold start (function scaled to zero, artifact on disk)");
        let idle = LimitsSpec { idle_timeout_ms: Some(100), ..LimitsSpec::default() };
        deploy(&client, &ns, "cold", "/cold", &wasm, idle).await;
        let cold_url = format!("{}/cold", flint.http);
        http::wait_for(&cold_url, 200).await;
        let labels = [("namespace", "default"), ("function", "cold")];
        let mut cold = Vec::new();
        for _ in 0..20 {
            let deadline = Instant::now() + Duration::from_secs(5);
            while flint.metric("flint_invoker_function_loaded", &labels).await != Some(0.0)
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let started = Instant::now();
            let response = http::get(&cold_url).await;
            cold.push(started.elapsed());
            assert_eq!(response.status, 200);
        }
        let warm_started = Instant::now();
        for _ in 0..20 {
            http::get(&flint_url).await;
        }
        let warm = warm_started.elapsed() / 20;
        cold.sort();
        println!(
            "first call after scale to zero: p50 {}  max {}  (a warm call: {})",
            ms(cold[10]),
            ms(cold[19]),
            ms(warm)
        );
    }

    if wants("instantiate") {
        println!("\n# instantiation (fresh instance from the InstancePre, this process)");
        let samples = instantiation(&wasm).await;
        println!(
            "instantiate: p50 {:.1} µs  p99 {:.1} µs  ({} samples)",
            micros(samples[samples.len() / 2]),
            micros(samples[samples.len() * 99 / 100]),
            samples.len()
        );
    }

    if wants("auth") {
        auth::section(&flint, &wasm, seconds).await;
    }

    if wants("memory") {
        println!("\n# memory of `flint up` with 1,000 deployed idle functions (a fresh process)");
        drop(flint);
        let flint = Flint::start();
        let client = flint.client();
        let rss_before = rss_kib(flint.pid());
        let started = Instant::now();
        for i in 0..1000 {
            deploy_function_only(&client, &ns, &format!("idle-{i}"), &wasm).await;
        }
        // Let the invoker apply the feed and the artifacts settle.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss, peak) = (rss_kib(flint.pid()), peak_kib(flint.pid()));
        println!(
            "deployed 1000 in {:.1} s; RSS before {} MiB, after {} MiB, peak {} MiB",
            started.elapsed().as_secs_f64(),
            rss_before / 1024,
            rss / 1024,
            peak / 1024
        );
    }
}

async fn deploy(
    client: &flint_api::Client,
    ns: &Name,
    name: &str,
    route: &str,
    wasm: &std::path::Path,
    limits: LimitsSpec,
) {
    let name: Name = name.parse().expect("valid name");
    let spec = FunctionSpec { limits, ..FunctionSpec::default() };
    client.put_function(ns, &name, &spec).await.expect("put function");
    let bytes = Bytes::from(std::fs::read(wasm).expect("wasm"));
    client.upload_version(ns, &name, bytes).await.expect("upload");
    let trigger =
        TriggerRequest { function: name.clone(), spec: TriggerSpec::Http(HttpTrigger::new(route)) };
    client.put_trigger(ns, &name, &trigger).await.expect("trigger");
}

async fn deploy_function_only(
    client: &flint_api::Client,
    ns: &Name,
    name: &str,
    wasm: &std::path::Path,
) {
    let name: Name = name.parse().expect("valid name");
    client.put_function(ns, &name, &FunctionSpec::default()).await.expect("put function");
    let bytes = Bytes::from(std::fs::read(wasm).expect("wasm"));
    client.upload_version(ns, &name, bytes).await.expect("upload");
}

/// A hello-world hyper server in this process, the baseline.
async fn bare_hyper() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = hyper::service::service_fn(|_request| async {
        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"Hello, world!\n"))))
    });
    // Never cancelled: the process ends with the benchmark.
    let shutdown = CancellationToken::new();
    std::mem::forget(shutdown.clone());
    tokio::spawn(flint_api::server::serve(listener, service, shutdown));
    addr
}

#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

fn wrk(url: &str, seconds: u64) -> Run {
    wrk_with(url, seconds, &[])
}

/// [`wrk`] with request headers (`Name: value`).
fn wrk_with(url: &str, seconds: u64, headers: &[String]) -> Run {
    let mut command = Command::new("wrk");
    command.args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s"), "--latency"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command.arg(url).output().expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
            .unwrap_or_default()
    };
    assert!(!text.contains("Non-2xx"), "wrk saw errors:\n{text}");
    Run {
        rps: field("Requests/sec:").parse().unwrap_or(0.0),
        p50: duration(&field("50%")),
        p99: duration(&field("99%")),
    }
}

/// Prints a table of runs with CPU time per request: one row per label,
/// the median requests/s run and the median CPU time.
fn print_cpu_rows(what: &str, rows: &[(&str, &[(Run, Duration)])]) {
    println!(
        "{what:<12} {:>12} {:>10} {:>10} {:>14}",
        "requests/s", "p50", "p99", "CPU µs/request"
    );
    for (label, runs) in rows {
        let run = median(&runs.iter().map(|r| r.0).collect::<Vec<_>>());
        let mut cpu: Vec<f64> = runs.iter().map(|r| r.1.as_secs_f64() * 1e6).collect();
        cpu.sort_by(f64::total_cmp);
        println!(
            "{label:<12} {:>12.0} {:>10} {:>10} {:>14.1}",
            run.rps,
            ms(run.p50),
            ms(run.p99),
            cpu[cpu.len() / 2]
        );
    }
}

fn duration(s: &str) -> Duration {
    let (number, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let value: f64 = number.parse().unwrap_or(0.0);
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => 0.0,
    };
    Duration::from_secs_f64(seconds)
}

fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    sorted[sorted.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Instantiates hello-http 10,000 times, each in a fresh store, timing each.
async fn instantiation(wasm: &std::path::Path) -> Vec<Duration> {
    let settings = flint_engine::Settings::default();
    let engine = flint_engine::engine(&settings).expect("engine");
    let linker = flint_engine::linker(&engine).expect("linker");
    let artifact =
        flint_engine::precompile(&engine, &std::fs::read(wasm).expect("wasm")).expect("compile");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hello.cwasm");
    std::fs::write(&path, artifact).expect("write artifact");
    let pre = flint_engine::load(&linker, &path).expect("load");
    let mut samples = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let host = flint_engine::Host::new(flint_engine::HostOptions {
            memory_limit: 128 << 20,
            env: &[],
            stdout: flint_engine::LogPipe::new(1024),
            stderr: flint_engine::LogPipe::new(1024),
        });
        let mut store = wasmtime::Store::new(&engine, host);
        store.limiter(|host| host.limiter_mut());
        store.set_epoch_deadline(u64::MAX / 2);
        let started = Instant::now();
        pre.instantiate_async(&mut store).await.expect("instantiate");
        samples.push(started.elapsed());
    }
    samples.sort();
    samples
}

/// CPU time (user + system) the process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) end at its `)`.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    proc_status(pid, "VmRSS:")
}

fn peak_kib(pid: u32) -> u64 {
    proc_status(pid, "VmHWM:")
}
