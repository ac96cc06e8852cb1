//! Bad input is refused with a message naming the problem, and changes nothing.

use bytes::Bytes;
use flint_api::{FunctionSpec, HttpTrigger, LimitsSpec, Name, TriggerRequest, TriggerSpec};
use flint_tests::{
    Flint, component_with_empty_handler, component_with_unknown_import, component_without_handler,
    core_module, guest, http,
};

/// Everything the store holds, as the change feed sees it (with the
/// cluster credential: the feed is the invokers').
async fn state(flint: &Flint) -> flint_api::Watch {
    flint.cluster_client().watch(0, std::time::Duration::ZERO).await.expect("snapshot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_and_the_store_is_unchanged() {
    let flint = Flint::start();
    flint.deploy("f", &guest("hello-http"), "/f", &[]);
    let client = flint.client();
    let (ns, f) = (Name::default_namespace(), "f".parse::<Name>().unwrap());
    let before = state(&flint).await;
    let versions_before = client.list_versions(&ns, &f).await.unwrap();

    let random: Vec<u8> =
        (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("random bytes", random, "not a WebAssembly binary"),
        ("an empty file", Vec::new(), "the upload is empty"),
        ("a core module", core_module(), "core WebAssembly module, not a component"),
        (
            "a component without the HTTP export",
            component_without_handler(),
            "does not export `wasi:http/incoming-handler",
        ),
        (
            "an unknown import",
            component_with_unknown_import(),
            "imports `wasi:keyvalue/store@0.2.0-draft`, which Flint does not provide",
        ),
        (
            "a handler export without `handle`",
            component_with_empty_handler(),
            "`wasi:http/incoming-handler` export does not match",
        ),
    ];
    for (what, wasm, expected) in cases {
        let err = client.upload_version(&ns, &f, Bytes::from(wasm)).await.expect_err(what);
        assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{what}: {err}");
        assert!(err.to_string().contains(expected), "{what}: {err}");
    }
    assert_eq!(state(&flint).await, before, "the store changed");
    assert_eq!(client.list_versions(&ns, &f).await.unwrap(), versions_before);
    // And the function still runs its good version.
    assert_eq!(http::get(&format!("{}/f", flint.http)).await.text(), "Hello, world!\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_and_triggers_are_refused_and_the_store_is_unchanged() {
    let flint = Flint::start();
    flint.deploy("f", &guest("hello-http"), "/f", &[]);
    let client = flint.client();
    let ns = Name::default_namespace();
    let before = state(&flint).await;

    let spec = FunctionSpec {
        limits: LimitsSpec { memory_mb: Some(0), ..LimitsSpec::default() },
        ..FunctionSpec::default()
    };
    let err = client.put_function(&ns, &"g".parse().unwrap(), &spec).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `limits.memory_mb`: 0 is out of range 1..=4096 (HTTP 400 Bad Request)"
    );

    let admin = flint.admin_token();
    let raw = |method, path: &str, body: &str| {
        let url = format!("{}{path}", flint.api);
        let (body, admin) = (body.to_owned(), admin.clone());
        async move { http::send_json_as(method, &url, Some(&admin), &body).await }
    };
    let unknown =
        raw(http::Method::PUT, "/v1/namespaces/default/functions/g", r#"{"limits":{"memory":1}}"#)
            .await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.text().contains("unknown field `memory`"), "{}", unknown.text());
    let bad_name = raw(http::Method::PUT, "/v1/namespaces/default/functions/Bad_Name", "{}").await;
    assert_eq!(bad_name.status, 400);
    assert!(bad_name.text().contains("invalid name `Bad_Name`"), "{}", bad_name.text());

    let http_trigger = |function: &str, route: &str| TriggerRequest {
        function: function.parse().unwrap(),
        spec: TriggerSpec::Http(HttpTrigger::new(route)),
    };
    let t: Name = "t".parse().unwrap();
    let err = client.put_trigger(&ns, &t, &http_trigger("f", "no-slash")).await.unwrap_err();
    assert!(
        err.to_string().contains("invalid `http.route`: `no-slash` must start with `/`"),
        "{err}"
    );
    let err = client.put_trigger(&ns, &t, &http_trigger("missing", "/m")).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err}");
    assert!(err.to_string().contains("function `missing` does not exist"), "{err}");
    let err = client.put_trigger(&ns, &t, &http_trigger("f", "/f")).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{err}");
    assert!(err.to_string().contains("route `/f` is already used by trigger `f-http`"), "{err}");
    let err = client
        .upload_version(&ns, &"missing".parse().unwrap(), Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404), "{err}");

    assert_eq!(state(&flint).await, before, "the store changed");
}
