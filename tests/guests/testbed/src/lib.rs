//! `testbed`: a function that does on request what the end-to-end tests need
//! a guest to do: echo, sleep, spin, allocate, panic, log, exit, and probe
//! the sandbox.
//!
//! The behaviour is chosen by the last segment of the request path, so the
//! function works under any route prefix (`/tb/sleep?ms=50`). README.md lists
//! each behaviour; the tests rely on it exactly. Whether the host stops,
//! limits or denies each of them is the host's business, and what the tests
//! check.

mod echo;
mod sandbox;

use std::hint::black_box;
use std::str::FromStr;
use std::time::Duration;

use flint_sdk::{Request, Response};

fn handle(req: Request) -> Response {
    let action = req.path().rsplit('/').next().unwrap_or_default();
    let result = match action {
        "echo" => Ok(echo::echo(&req)),
        "sleep" => sleep(&req),
        "spin" => spin(),
        "alloc" => alloc(&req),
        "panic" => panic!("testbed panic requested"),
        "log" => log(&req),
        "status" => status(&req),
        "env" => env(&req),
        "fs" => Ok(sandbox::fs()),
        "net" => Ok(sandbox::net()),
        "exit" => exit(&req),
        "event" => Ok(event(&req)),
        "flaky" => flaky(&req),
        _ => Ok(Response::text(200, "testbed")),
    };
    result.unwrap_or_else(|bad| bad)
}

flint_sdk::http_handler!(handle);

/// Query parameter `name` parsed as a `T`, or a 400 naming it.
fn param<T: FromStr>(req: &Request, name: &str) -> Result<T, Response> {
    req.query_param(name)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| Response::text(400, format!("missing or invalid {name}")))
}

/// Prints the CloudEvent the request carries on one line of stdout, so a
/// test reading the logs sees what a trigger delivered.
fn event(req: &Request) -> Response {
    let Some(event) = req.event() else {
        return Response::text(400, "no CloudEvent in the request");
    };
    println!(
        "event id={} type={} source={} time={} attempt={} data={}",
        event.id(),
        event.ty(),
        event.source(),
        event.time().unwrap_or("-"),
        event.extension("flintattempt").unwrap_or("-"),
        String::from_utf8_lossy(event.data()),
    );
    Response::text(200, "event received")
}

/// Fails (500) until the CloudEvent's `flintattempt` reaches `succeed_at`.
fn flaky(req: &Request) -> Result<Response, Response> {
    let succeed_at: u32 = param(req, "succeed_at")?;
    let attempt: u32 = req.event().and_then(|e| e.extension("flintattempt")?.parse().ok()).unwrap_or(1);
    println!("flaky attempt {attempt}");
    if attempt < succeed_at {
        return Ok(Response::text(500, format!("failing attempt {attempt}")));
    }
    Ok(Response::text(200, format!("succeeded at attempt {attempt}")))
}

fn sleep(req: &Request) -> Result<Response, Response> {
    let ms: u64 = param(req, "ms")?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(Response::text(200, format!("slept {ms} ms")))
}

fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

fn alloc(req: &Request) -> Result<Response, Response> {
    /// One byte per 4 KiB host page, so every page of the allocation is
    /// really committed, not just reserved.
    const STRIDE: usize = 4096;
    let mb: usize = param(req, "mb")?;
    let mut bytes = vec![0u8; mb << 20];
    for (i, byte) in bytes.iter_mut().enumerate().step_by(STRIDE) {
        *byte = i as u8 | 1;
    }
    black_box(&bytes);
    Ok(Response::text(200, format!("allocated {mb} MiB")))
}

fn log(req: &Request) -> Result<Response, Response> {
    let lines: u64 = param(req, "lines")?;
    for i in 0..lines {
        println!("log line {i}");
    }
    eprintln!("stderr line");
    Ok(Response::text(200, format!("logged {lines} lines")))
}

fn status(req: &Request) -> Result<Response, Response> {
    let code: u16 = param(req, "code")?;
    Ok(Response::text(code, format!("status {code}")))
}

fn env(req: &Request) -> Result<Response, Response> {
    let name: String = param(req, "name")?;
    Ok(match std::env::var_os(&name) {
        Some(value) => Response::text(200, value.to_string_lossy()),
        None => Response::text(404, "unset"),
    })
}

fn exit(req: &Request) -> Result<Response, Response> {
    let code: i32 = param(req, "code")?;
    std::process::exit(code)
}
