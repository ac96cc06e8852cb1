//! `auth`: what checking tokens costs.
//!
//! - Warm HTTP on two routes to the same function in one `flint up`, one
//!   open and one with `auth = "token"` (callers send an invoker token),
//!   alternating rounds; requests/s, CPU per request and the ratio (the goal
//!   is at least 0.97).
//! - The controller's check of an API call (find the token, hash its secret,
//!   compare, check role and namespace), timed in this process over many
//!   calls: the CPU an authenticated API call adds (the goal is under 20 µs).

use std::time::{Duration, Instant};

use bytes::Bytes;
use flint_api::{HttpTrigger, Name, Role, Scope, TokenSpec, TriggerRequest, TriggerSpec};
use flint_controller::auth::access::{self, Need};
use flint_controller::auth::{self as controller_auth, Tokens};
use flint_tests::{Flint, http};

use crate::{cpu_time, wrk_with};

/// Token or not is a difference of a few percent: as many rounds as metering.
const ROUNDS: usize = 7;
/// Checks timed in this process.
const CHECKS: u32 = 200_000;

pub async fn section(flint: &Flint, wasm: &std::path::Path, seconds: u64) {
    println!("\n# route auth: `auth = \"token\"` vs an open route, {ROUNDS} rounds alternating");
    let client = flint.client();
    let ns = Name::default_namespace();
    let name: Name = "guarded".parse().expect("name");
    client.put_function(&ns, &name, &Default::default()).await.expect("put function");
    let bytes = Bytes::from(std::fs::read(wasm).expect("wasm"));
    client.upload_version(&ns, &name, bytes).await.expect("upload");
    let guarded = HttpTrigger { auth: flint_api::RouteAuth::Token, ..HttpTrigger::new("/guarded") };
    let trigger = TriggerRequest { function: name.clone(), spec: TriggerSpec::Http(guarded) };
    client.put_trigger(&ns, &name, &trigger).await.expect("trigger");
    let spec = TokenSpec {
        name: "bench-caller".parse().expect("name"),
        role: Role::Invoker,
        namespaces: Scope::Only([ns.clone()].into()),
        expires_at: None,
    };
    let token = client.create_token(&spec).await.expect("token").token;
    let header = format!("Authorization: Bearer {token}");

    let open_url = format!("{}/hello", flint.http);
    let guarded_url = format!("{}/guarded", flint.http);
    http::wait_for(&open_url, 200).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = http::send(
            ::http::Method::GET,
            &guarded_url,
            &[("authorization", &format!("Bearer {token}"))],
            Bytes::new(),
        )
        .await
        .status;
        if status == 200 || Instant::now() > deadline {
            assert_eq!(status, 200, "the guarded route answers with the token");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let measure = |url: &str, headers: &[String]| {
        let before = cpu_time(flint.pid());
        let run = wrk_with(url, seconds, headers);
        let cpu = cpu_time(flint.pid()) - before;
        (run, cpu.div_f64(run.rps * seconds as f64))
    };
    let with_token = [header];
    measure(&open_url, &[]);
    measure(&guarded_url, &with_token);
    let (mut open, mut closed, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (o, g) = if round % 2 == 0 {
            let o = measure(&open_url, &[]);
            (o, measure(&guarded_url, &with_token))
        } else {
            let g = measure(&guarded_url, &with_token);
            (measure(&open_url, &[]), g)
        };
        ratios.push(g.0.rps / o.0.rps);
        open.push(o);
        closed.push(g);
    }
    crate::print_cpu_rows("route", &[("open", &open), ("token", &closed)]);
    ratios.sort_by(f64::total_cmp);
    println!(
        "ratio token / open (median of {ROUNDS} paired rounds): {:.3}  (goal at least 0.97)",
        ratios[ratios.len() / 2]
    );

    println!("\n# API call check: authenticate + access check, this process, {CHECKS} calls");
    let store = flint_controller::store::Store::temporary().expect("store");
    let cluster = "bench-cluster-credential-0123456789abcdef";
    let tokens = Tokens::load(&store, cluster).expect("tokens");
    let (token, record) = controller_auth::mint(
        "bench".parse().expect("name"),
        Role::Deployer,
        Scope::Only([ns.clone()].into()),
        None,
        "bench",
    )
    .expect("mint");
    store.add_token(&record).expect("add token");
    tokens.reload(&store).expect("reload");
    let segments = ["v1", "namespaces", "default", "functions"];
    let started = Instant::now();
    for _ in 0..CHECKS {
        let now = flint_api::Timestamp::now();
        let (caller, _) = tokens.authenticate(Some(&token), now).expect("valid");
        let need = access::need(&::http::Method::GET, &segments, false);
        access::check(&caller, &need).expect("allowed");
        std::hint::black_box(matches!(need, Need::User { .. }));
    }
    let per_call = started.elapsed() / CHECKS;
    println!(
        "one authenticated API call's check: {:.2} µs of CPU  (goal under 20 µs)",
        per_call.as_secs_f64() * 1e6
    );
}
