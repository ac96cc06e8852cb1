use super::*;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn digest(byte: u8) -> Digest {
    Digest::from_sha256(&[byte; 32])
}

fn http(function: &str, route: &str) -> TriggerRequest {
    TriggerRequest {
        function: name(function),
        spec: TriggerSpec::Http(HttpTrigger { route: route.into(), host: None, methods: vec![] }),
    }
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
    assert_eq!(err.to_string(), "route `/x` is already used by trigger `t` in namespace `default`");

    // Deleting the function deletes its triggers.
    store.delete_function(&ns, &name("f")).unwrap();
    assert!(store.triggers(&ns).unwrap().is_empty());
}

#[test]
fn feed_gives_changes_then_snapshots() {
    let store = Store::temporary().unwrap();
    let ns = Name::default_namespace();
    assert_eq!(store.revision(), 0);
    assert!(store.changes_since(0).unwrap().is_none(), "a new watcher gets a snapshot");

    store.put_function(&ns, &name("f"), Limits::default(), Default::default()).unwrap();
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
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.revision(), 2);
    assert_eq!(store.function(&ns, &name("f")).unwrap().version, Some(digest(7)));
    assert_eq!(store.blob(&digest(7)).unwrap().as_deref(), Some(&b"wasm"[..]));
}
