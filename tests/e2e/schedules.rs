//! Schedule triggers: on time, exactly once across invokers, missed-run
//! policies after an outage, retries, bad input.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flint_api::scheduler::{Run, RunOutcome, ScheduleStatus};
use flint_api::{
    FunctionSpec, MissedPolicy, Name, RetryPolicy, ScheduleTrigger, Timestamp, TriggerRequest,
    TriggerSpec,
};
use flint_tests::{Controller, Flint, Invoker, guest, http};

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn every_second(path: &str) -> ScheduleTrigger {
    ScheduleTrigger {
        cron: "* * * * * *".into(),
        timezone: "UTC".into(),
        payload: Some("tick".into()),
        content_type: Some("text/plain".into()),
        path: path.into(),
        missed: MissedPolicy::Skip,
        max_catch_up: 10,
        retry: RetryPolicy::default(),
    }
}

async fn add_schedule(
    client: &flint_api::Client,
    trigger: &str,
    function: &str,
    spec: ScheduleTrigger,
) {
    let request = TriggerRequest { function: name(function), spec: TriggerSpec::Schedule(spec) };
    client
        .put_trigger(&Name::default_namespace(), &name(trigger), &request)
        .await
        .expect("schedule added");
}

async fn status(client: &flint_api::Client, trigger: &str) -> ScheduleStatus {
    client.schedule_status(&Name::default_namespace(), &name(trigger)).await.expect("status")
}

/// Waits until `done` holds for the trigger's status; panics after `limit`.
async fn wait_status(
    client: &flint_api::Client,
    trigger: &str,
    limit: Duration,
    done: impl Fn(&ScheduleStatus) -> bool,
) -> ScheduleStatus {
    let deadline = Instant::now() + limit;
    loop {
        let status = status(client, trigger).await;
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{trigger} not done within {limit:?}: {:#?}",
            status.runs
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// First attempts by scheduled time (runs come newest first).
fn first_attempts(runs: &[Run]) -> BTreeMap<Timestamp, Vec<&Run>> {
    let mut by_time: BTreeMap<Timestamp, Vec<&Run>> = BTreeMap::new();
    for run in runs.iter().filter(|r| r.attempt <= 1) {
        by_time.entry(run.scheduled).or_default().push(run);
    }
    by_time
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_second_schedule_fires_on_time_with_a_cloudevent() {
    let flint = Flint::start();
    flint.deploy("tb", &guest("testbed"), "/tb", &[]);
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;
    let client = flint.client();
    add_schedule(&client, "tick", "tb", every_second("/event")).await;
    let started = Timestamp::now();

    let status =
        wait_status(&client, "tick", Duration::from_secs(20), |s| s.runs.len() >= 11).await;
    let window: Vec<Timestamp> =
        status.runs.iter().map(|r| r.scheduled).filter(|t| *t > started).collect();
    let by_time = first_attempts(&status.runs);
    // Ten consecutive seconds, each fired once, on time and successfully.
    let mut seconds: Vec<Timestamp> = by_time.keys().copied().filter(|t| *t > started).collect();
    seconds.truncate(10);
    assert_eq!(seconds.len(), 10, "{window:?}");
    for pair in seconds.windows(2) {
        assert_eq!(
            pair[1].duration_since(pair[0]).as_secs(),
            1,
            "a second was skipped: {seconds:?}"
        );
    }
    for t in &seconds {
        let runs = &by_time[t];
        assert_eq!(runs.len(), 1, "{t} ran {} times", runs.len());
        let run = runs[0];
        assert_eq!(run.outcome, RunOutcome::Ok, "{run:?}");
        assert!((0..1000).contains(&run.lag_ms), "{t} started {} ms late", run.lag_ms);
    }
    // The function saw a CloudEvent per firing, with a stable id per time.
    let logs = String::from_utf8_lossy(&flint.cli(&["logs", "tb"]).stdout).into_owned();
    let t = seconds[3];
    let expected = format!(
        "event id={t} type=flint.schedule.tick source=/namespaces/default/triggers/tick time={t} attempt=1 data=tick"
    );
    assert!(logs.lines().any(|l| l == expected), "no `{expected}` in:\n{logs}");
    // And `flint describe` shows the schedule with its next fire times.
    let (out, _) = crate::output_text(&flint.cli(&["describe", "tb"]));
    assert!(out.contains("Schedule tick: * * * * * * in UTC") && out.contains("next: "), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_invokers_run_each_scheduled_time_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(dir.path());
    let a = Invoker::start(&controller, "invoker-a", dir.path());
    let b = Invoker::start(&controller, "invoker-b", dir.path());
    let client = controller.client();
    let ns = Name::default_namespace();
    client.put_function(&ns, &name("tb"), &FunctionSpec::default()).await.unwrap();
    let wasm = std::fs::read(guest("testbed")).unwrap();
    client.upload_version(&ns, &name("tb"), wasm.into()).await.unwrap();
    add_schedule(&client, "tick", "tb", every_second("/event")).await;
    let started = Timestamp::now();

    tokio::time::sleep(Duration::from_secs(31)).await;
    let status = status(&client, "tick").await;
    let by_time = first_attempts(&status.runs);
    let seconds: Vec<Timestamp> = by_time
        .keys()
        .copied()
        .filter(|t| *t > started && t.duration_since(started).as_secs() <= 30)
        .collect();
    assert!(seconds.len() >= 29, "expected ~30 seconds, got {}: {seconds:?}", seconds.len());
    for pair in seconds.windows(2) {
        assert_eq!(
            pair[1].duration_since(pair[0]).as_secs(),
            1,
            "a second was skipped: {seconds:?}"
        );
    }
    for t in &seconds {
        assert_eq!(by_time[t].len(), 1, "{t} ran {} times: {:?}", by_time[t].len(), by_time[t]);
    }
    let invokers: std::collections::BTreeSet<&str> =
        status.runs.iter().map(|r| r.invoker.as_str()).collect();
    assert!(invokers.iter().all(|i| [a.id.as_str(), b.id.as_str()].contains(i)), "{invokers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_runs_follow_the_policy_after_the_invoker_was_down() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(dir.path());
    let mut invoker = Invoker::start(&controller, "only", dir.path());
    let client = controller.client();
    let ns = Name::default_namespace();
    client.put_function(&ns, &name("tb"), &FunctionSpec::default()).await.unwrap();
    client
        .upload_version(&ns, &name("tb"), std::fs::read(guest("testbed")).unwrap().into())
        .await
        .unwrap();
    for (trigger, missed) in
        [("skip", MissedPolicy::Skip), ("once", MissedPolicy::Once), ("all", MissedPolicy::All)]
    {
        add_schedule(&client, trigger, "tb", ScheduleTrigger { missed, ..every_second("/event") })
            .await;
    }
    for trigger in ["skip", "once", "all"] {
        wait_status(&client, trigger, Duration::from_secs(20), |s| {
            s.runs.iter().any(|r| r.outcome == RunOutcome::Ok)
        })
        .await;
    }

    // Down for 5 s: about five fire times pass with nobody to run them.
    assert!(tokio::task::block_in_place(|| invoker.stop()), "the invoker stops on SIGTERM");
    let down = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let _invoker = Invoker::start(&controller, "only", dir.path());
    // A run more than a second after its time is a catch-up run; the newest
    // time at restart may still be on time and runs normally.
    let late = |r: &Run| r.scheduled > down && r.outcome == RunOutcome::Ok && r.lag_ms >= 1000;
    let missed =
        |s: &ScheduleStatus| s.runs.iter().filter(|r| r.outcome == RunOutcome::Missed).count();

    // skip: the missed times are recorded as missed, none is run.
    let skip = wait_status(&client, "skip", Duration::from_secs(20), |s| missed(s) > 0).await;
    assert!(missed(&skip) >= 3, "{:#?}", skip.runs);
    assert_eq!(skip.runs.iter().filter(|r| late(r)).count(), 0, "{:#?}", skip.runs);

    // once: one catch-up run, for the newest missed time; the rest missed.
    // The catch-up and the on-time run start together; wait for both reports.
    let once = wait_status(&client, "once", Duration::from_secs(20), |s| {
        missed(s) > 0 && s.runs.iter().any(late)
    })
    .await;
    let caught_up: Vec<&Run> = once.runs.iter().filter(|r| late(r)).collect();
    assert_eq!(caught_up.len(), 1, "{:#?}", once.runs);
    let newest_missed =
        once.runs.iter().filter(|r| r.outcome == RunOutcome::Missed).map(|r| r.scheduled).max();
    assert!(
        newest_missed < Some(caught_up[0].scheduled),
        "the catch-up is for the newest missed time"
    );
    assert!(missed(&once) >= 2, "{:#?}", once.runs);

    // all: every missed time is run (about 5, within the bound of 10), none missed.
    let all = wait_status(&client, "all", Duration::from_secs(20), |s| {
        s.runs.iter().filter(|r| late(r)).count() >= 3
    })
    .await;
    assert_eq!(missed(&all), 0, "{:#?}", all.runs);
    let by_time = first_attempts(&all.runs);
    assert!(by_time.values().all(|runs| runs.len() == 1), "a time ran twice: {by_time:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_is_retried_with_backoff() {
    let flint = Flint::start();
    flint.deploy("tb", &guest("testbed"), "/tb", &[]);
    http::wait_for(&format!("{}/tb/echo", flint.http), 200).await;
    let client = flint.client();
    let spec = ScheduleTrigger {
        cron: "*/5 * * * * *".into(),
        retry: RetryPolicy {
            attempts: 3,
            initial_backoff_ms: 300,
            multiplier: 2.0,
            max_backoff_ms: 5000,
        },
        ..every_second("/flaky?succeed_at=3")
    };
    add_schedule(&client, "flaky", "tb", spec).await;

    let status = wait_status(&client, "flaky", Duration::from_secs(20), |s| {
        s.runs.iter().any(|r| r.attempt == 3)
    })
    .await;
    let third = status.runs.iter().find(|r| r.attempt == 3).unwrap();
    let mut attempts: Vec<&Run> =
        status.runs.iter().filter(|r| r.scheduled == third.scheduled).collect();
    attempts.sort_by_key(|r| r.attempt);
    let outcomes: Vec<(u32, RunOutcome, Option<u16>)> =
        attempts.iter().map(|r| (r.attempt, r.outcome, r.status)).collect();
    assert_eq!(
        outcomes,
        [
            (1, RunOutcome::Failed, Some(500)),
            (2, RunOutcome::Failed, Some(500)),
            (3, RunOutcome::Ok, Some(200)),
        ]
    );
    // Backoff: 300 ms, then 600 ms.
    let gap = |a: &Run, b: &Run| b.started.unwrap().duration_since(a.started.unwrap()).as_millis();
    assert!(gap(attempts[0], attempts[1]) >= 300, "{attempts:#?}");
    assert!(gap(attempts[1], attempts[2]) >= 600, "{attempts:#?}");
    let retries =
        flint.metric("flint_invoker_schedule_retries_total", &[("trigger", "flaky")]).await;
    assert!(retries >= Some(2.0), "{retries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedules_are_refused_and_nothing_is_stored() {
    let flint = Flint::start();
    flint.deploy("tb", &guest("testbed"), "/tb", &[]);
    let feed = flint.cluster_client();
    let before = feed.watch(0, Duration::ZERO).await.unwrap();
    let admin = flint.admin_token();
    let put = |body: String| {
        let url = format!("{}/v1/namespaces/default/triggers/bad", flint.api);
        let admin = admin.clone();
        async move { http::send_json_as(http::Method::PUT, &url, Some(&admin), &body).await }
    };
    let schedule =
        |fields: &str| format!(r#"{{"function":"tb","spec":{{"schedule":{{{fields}}}}}}}"#);
    let cases = [
        (
            schedule(r#""cron":"61 * * * *""#),
            "invalid `schedule.cron`: `61 * * * *`: minute field `61`: 61 is out of range 0-59",
        ),
        (
            schedule(r#""cron":"every minute""#),
            "invalid `schedule.cron`: `every minute` has 2 fields",
        ),
        (
            schedule(r#""cron":"@daily","timezone":"Europe/Atlantis""#),
            "invalid `schedule.timezone`: `Europe/Atlantis` is not an IANA time zone",
        ),
        (
            schedule(r#""cron":"@every -5s""#),
            "invalid `schedule.cron`: `@every -5s`: the interval must be positive",
        ),
        (
            schedule(r#""cron":"@daily","missed":"sometimes""#),
            "`spec.schedule.missed`: unknown variant `sometimes`, expected one of `skip`, `once`, `all`",
        ),
        (
            schedule(r#""cron":"@daily","retry":{"attempts":0}"#),
            "invalid `schedule.retry.attempts`: 0 is out of range 1..=100",
        ),
    ];
    for (body, expected) in cases {
        let response = put(body.clone()).await;
        assert_eq!(response.status, 400, "{body}: {}", response.text());
        assert!(
            response.text().contains(expected),
            "{body}:\n{}\nexpected: {expected}",
            response.text()
        );
    }
    // The CLI checks the same before sending anything.
    let output = flint.cli(&["schedule", "add", "tb", "--cron", "* * *"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("has 3 fields"));
    assert_eq!(feed.watch(0, Duration::ZERO).await.unwrap(), before, "nothing was stored");
}
