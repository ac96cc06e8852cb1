use super::*;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn digest(byte: u8) -> Digest {
    Digest::from_sha256(&[byte; 32])
}

fn http(function: &str, route: &str) -> TriggerRequest {
    TriggerRequest { function: name(function), spec: TriggerSpec::Http(HttpTrigger::new(route)) }
}

#[test]
fn functions_versions_and_blobs() {
    let store = Store::temporary().unwrap();
    let ns = Name::default_namespace();
    let (f, created) =
        store.put_function(&ns, &name("a"), Limits::default(), Default::default()).unwrap();
    assert!(created && f.version.is_none());
    let (_, created) =
        store.put_function(&ns, &name("a"), Limits::default(), Default::default()).unwrap();
    assert!(!created);
    store.put_function(&ns, &name("b"), Limits::default(), Default::default()).unwrap();

    // The same wasm in two functions is stored once and survives one deletion.
    let f = store.add_version(&ns, &name("a"), &digest(1), b"wasm-1").unwrap();
    assert_eq!(f.version, Some(digest(1)));
    store.add_version(&ns, &name("b"), &digest(1), b"wasm-1").unwrap();
    store.add_version(&ns, &name("a"), &digest(2), b"wasm-2").unwrap();
    assert_eq!(store.versions(&ns, &name("a")).unwrap().len(), 2);
    store.delete_function(&ns, &name("a")).unwrap();
    assert_eq!(store.blob(&digest(1)).unwrap().as_deref(), Some(&b"wasm-1"[..]));
    assert!(store.blob(&digest(2)).unwrap().is_none());
    store.delete_function(&ns, &name("b")).unwrap();
    assert!(store.blob(&digest(1)).unwrap().is_none());
    assert!(matches!(store.function(&ns, &name("a")), Err(Error::FunctionNotFound { .. })));
}

#[test]
fn triggers_need_their_function_and_a_free_route() {
    let store = Store::temporary().unwrap();
    let ns = Name::default_namespace();
    let err = store.put_trigger(&ns, &name("t"), http("missing", "/x")).unwrap_err();
    assert!(matches!(err, Error::FunctionNotFound { .. }), "{err}");

    store.put_function(&ns, &name("f"), Limits::default(), Default::default()).unwrap();
    store.put_trigger(&ns, &name("t"), http("f", "/x")).unwrap();
    // Replacing the same trigger with the same route is fine.
    let (_, created) = store.put_trigger(&ns, &name("t"), http("f", "/x")).unwrap();
    assert!(!created);
    // Another trigger, even in another namespace, cannot take the route.
    let other_ns = name("other");
    store.put_function(&other_ns, &name("f"), Limits::default(), Default::default()).unwrap();
    let err = store.put_trigger(&other_ns, &name("u"), http("f", "/x")).unwrap_err();
    assert_eq!(err.to_string(), "route `/x` overlaps `/x`, which namespace `default` serves");
    // Nor a nested prefix, nor the same path on one host (both would take
    // part of its traffic); a route beside it is fine.
    let err = store.put_trigger(&other_ns, &name("u"), http("f", "/x/admin")).unwrap_err();
    assert!(matches!(err, Error::RouteTaken { .. }), "{err}");
    let mut on_host = http("f", "/x");
    if let TriggerSpec::Http(route) = &mut on_host.spec {
        route.host = Some("127.0.0.1".into());
    }
    let err = store.put_trigger(&other_ns, &name("u"), on_host).unwrap_err();
    assert!(matches!(err, Error::RouteTaken { .. }), "{err}");
    store.put_trigger(&other_ns, &name("u"), http("f", "/xy")).unwrap();
    // Within a namespace, nested routes are its own business.
    store.put_trigger(&ns, &name("t2"), http("f", "/x/admin")).unwrap();
    let err = store.put_trigger(&ns, &name("t3"), http("f", "/x")).unwrap_err();
    assert_eq!(err.to_string(), "route `/x` is already used by trigger `t`");
    assert_eq!(store.triggers(&other_ns).unwrap().len(), 1, "nothing refused was stored");

    // Deleting the function deletes its triggers.
    store.delete_function(&ns, &name("f")).unwrap();
    assert!(store.triggers(&ns).unwrap().is_empty());
}

#[test]
fn feed_gives_changes_then_snapshots() {
    let store = Store::temporary().unwrap();
    let ns = Name::default_namespace();
    assert_eq!(store.revision(), 0);
    assert_eq!(
        store.changes_since(0).unwrap(),
        Some((0, vec![])),
        "an empty store: nothing to wait for"
    );

    store.put_function(&ns, &name("f"), Limits::default(), Default::default()).unwrap();
    assert!(store.changes_since(0).unwrap().is_none(), "a new watcher gets a snapshot");

    store.put_trigger(&ns, &name("t"), http("f", "/x")).unwrap();
    assert_eq!(store.revision(), 2);
    let (revision, changes) = store.changes_since(1).unwrap().unwrap();
    assert_eq!(revision, 2);
    assert!(matches!(&changes[..], [Change::TriggerPut { .. }]));
    assert_eq!(store.changes_since(2).unwrap().unwrap().1.len(), 0);
    assert!(store.changes_since(3).unwrap().is_none(), "a watcher ahead of the store starts over");

    store.delete_function(&ns, &name("f")).unwrap();
    let (revision, changes) = store.changes_since(2).unwrap().unwrap();
    assert_eq!(revision, 4);
    assert!(matches!(
        &changes[..],
        [Change::TriggerDeleted { .. }, Change::FunctionDeleted { .. }]
    ));

    let (revision, snapshot) = store.snapshot().unwrap();
    assert_eq!((revision, snapshot.functions.len(), snapshot.triggers.len()), (4, 0, 0));
}

#[test]
fn state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let ns = Name::default_namespace();
    {
        let store = Store::open(dir.path()).unwrap();
        store.put_function(&ns, &name("f"), Limits::default(), Default::default()).unwrap();
        store.add_version(&ns, &name("f"), &digest(7), b"wasm").unwrap();
    }
    // sled's flusher thread lets go of the file lock a moment after the
    // drop; a busy machine can see it still held. Bounded retry.
    let mut attempts = 0;
    let store = loop {
        match Store::open(dir.path()) {
            Ok(store) => break store,
            Err(Error::Sled(sled::Error::Io(e))) if attempts < 100 => {
                assert_eq!(e.kind(), std::io::ErrorKind::Other, "{e}");
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("reopening failed: {e:?}"),
        }
    };
    assert_eq!(store.revision(), 2);
    assert_eq!(store.function(&ns, &name("f")).unwrap().version, Some(digest(7)));
    assert_eq!(store.blob(&digest(7)).unwrap().as_deref(), Some(&b"wasm"[..]));
}

fn schedule(cron: &str) -> TriggerRequest {
    TriggerRequest {
        function: name("f"),
        spec: TriggerSpec::Schedule(flint_api::ScheduleTrigger {
            cron: cron.into(),
            timezone: "UTC".into(),
            payload: None,
            content_type: None,
            path: "/".into(),
            missed: flint_api::MissedPolicy::Skip,
            max_catch_up: 10,
            retry: flint_api::RetryPolicy::default(),
        }),
    }
}

#[test]
fn the_scheduler_lease_changes_hands_only_when_free() {
    use flint_api::scheduler::LeaseRequest;
    let store = Store::temporary().unwrap();
    let ask = |who: &str, release| LeaseRequest { invoker: who.into(), ttl_ms: 60_000, release };
    let a = store.scheduler_lease(&ask("a", false)).unwrap();
    assert_eq!((a.holder.as_deref(), a.epoch), (Some("a"), 1));
    // b cannot take it while a holds it; a renews without a new epoch.
    assert_eq!(store.scheduler_lease(&ask("b", false)).unwrap().holder.as_deref(), Some("a"));
    assert_eq!(store.scheduler_lease(&ask("a", false)).unwrap().epoch, 1);
    // b cannot release a's lease; a can, and then b gets a new epoch.
    assert_eq!(store.scheduler_lease(&ask("b", true)).unwrap().holder.as_deref(), Some("a"));
    assert_eq!(store.scheduler_lease(&ask("a", true)).unwrap().holder, None);
    let b = store.scheduler_lease(&ask("b", false)).unwrap();
    assert_eq!((b.holder.as_deref(), b.epoch), (Some("b"), 2));
    // An expired lease goes to whoever asks.
    let short = LeaseRequest { invoker: "b".into(), ttl_ms: 1, release: false };
    store.scheduler_lease(&short).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(store.scheduler_lease(&ask("c", false)).unwrap().epoch, 3);
}

#[test]
fn fire_times_are_recorded_once_and_only_by_the_leader() {
    use flint_api::scheduler::{Fire, LeaseRequest, RunOutcome};
    let store = Store::temporary().unwrap();
    let ns = Name::default_namespace();
    store.put_function(&ns, &name("f"), Limits::default(), Default::default()).unwrap();
    store.put_trigger(&ns, &name("s"), schedule("@every 1s")).unwrap();
    store.put_trigger(&ns, &name("h"), http("f", "/f")).unwrap();
    let start = store.cursors().unwrap()[0].last_scheduled;
    let epoch = store
        .scheduler_lease(&LeaseRequest { invoker: "a".into(), ttl_ms: 60_000, release: false })
        .unwrap()
        .epoch;
    let at = |secs: i64| start.checked_add(jiff::SignedDuration::from_secs(secs)).unwrap();
    let fire = |trigger: &str, secs, epoch, missed: Vec<Timestamp>| Fire {
        epoch,
        namespace: ns.clone(),
        trigger: name(trigger),
        scheduled: at(secs),
        missed,
    };

    store.record_fire(&fire("s", 3, epoch, vec![at(1), at(2)])).unwrap();
    assert!(
        matches!(store.record_fire(&fire("s", 3, epoch, vec![])), Err(Error::Conflict(_))),
        "no time twice"
    );
    assert!(
        matches!(store.record_fire(&fire("s", 2, epoch, vec![])), Err(Error::Conflict(_))),
        "no going back"
    );
    assert!(matches!(
        store.record_fire(&fire("s", 4, epoch + 1, vec![])),
        Err(Error::NotLeader(_))
    ));
    assert!(
        matches!(store.record_fire(&fire("h", 4, epoch, vec![])), Err(Error::Conflict(_))),
        "not a schedule"
    );
    assert_eq!(store.cursors().unwrap()[0].last_scheduled, at(3));
    // The missed times are in the history.
    let status = store.schedule_status(&ns, &name("s")).unwrap();
    let missed: Vec<Timestamp> = status
        .runs
        .iter()
        .filter(|r| r.outcome == RunOutcome::Missed)
        .map(|r| r.scheduled)
        .collect();
    assert_eq!(missed, [at(2), at(1)]);

    // Changing the schedule restarts its cursor; deleting it forgets everything.
    store.put_trigger(&ns, &name("s"), schedule("@every 2s")).unwrap();
    assert!(store.cursors().unwrap()[0].last_scheduled > at(0));
    store.delete_trigger(&ns, &name("s")).unwrap();
    assert!(store.cursors().unwrap().is_empty());
    assert!(store.runs.iter().next().is_none());
}

#[test]
fn reservations_and_quotas_hold() {
    use flint_api::{Quotas, Reservation};
    let store = Store::temporary().unwrap();
    let (a, b) = (name("team-a"), name("team-b"));
    let quotas = Quotas {
        reserved: vec![Reservation { host: None, prefix: "/a".into() }],
        max_functions: Some(1),
        max_memory_mb: Some(200),
        ..Quotas::default()
    };
    store.put_quotas(&a, quotas, None).unwrap();
    store.put_function(&b, &name("f"), Limits::default(), Default::default()).unwrap();
    let err = store.put_trigger(&b, &name("t"), http("f", "/a/x")).unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");

    let big = Limits { memory_mb: 256, ..Limits::default() };
    let err = store.put_function(&a, &name("f"), big, Default::default()).unwrap_err();
    assert!(err.to_string().contains("max_memory_mb"), "{err}");
    store.put_function(&a, &name("f"), Limits::default(), Default::default()).unwrap();
    store.put_trigger(&a, &name("t"), http("f", "/a/x")).unwrap();
    let err =
        store.put_function(&a, &name("g"), Limits::default(), Default::default()).unwrap_err();
    assert!(err.to_string().contains("max_functions"), "{err}");
    // Changing the one function within the quota is fine.
    store.put_function(&a, &name("f"), Limits::default(), Default::default()).unwrap();
    assert_eq!(store.functions(&a).unwrap().len(), 1);

    // The snapshot carries namespace states only where invokers need them.
    store.set_blocked(&a, Some("spent".into())).unwrap();
    let (_, snapshot) = store.snapshot().unwrap();
    assert_eq!(snapshot.namespaces.len(), 1);
    assert_eq!(snapshot.namespaces[0].blocked.as_deref(), Some("spent"));
    assert!(!store.set_blocked(&a, Some("spent".into())).unwrap(), "no change, no write");
}
