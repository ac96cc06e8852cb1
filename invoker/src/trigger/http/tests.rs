//! The ingress and the admin listener in process, on ephemeral ports, with
//! a controller that is not there: route auth, namespace gates and the
//! cluster credential are all decided before a function's code is needed.

use std::net::SocketAddr;
use std::sync::Arc;

use flint_api::auth::{format_token, hash_secret, parse_token};
use flint_api::{
    Change, Digest, Function as ApiFunction, HttpTrigger, Limits, Name, NamespaceState, Role,
    RouteAuth, Scope, Snapshot, Timestamp, TokenGrant, Trigger, TriggerSpec, Watch,
};
use http::{Request, Response};
use hyper::body::Incoming;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::{Config, Invoker, Runtime};

const CLUSTER: &str = "test-cluster-credential-0123456789abcdef";

struct Harness {
    runtime: Arc<Runtime>,
    http: SocketAddr,
    admin: SocketAddr,
    stop: CancellationToken,
    _invoker: Invoker,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// An invoker serving its two listeners, following nothing: the feed is
/// applied by hand. Its controller (port 1) refuses connections, so a call
/// that gets past every check answers 503 (the code cannot be fetched).
async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let settings = flint_engine::Settings { max_instances: 2, ..Default::default() };
    let engine = flint_engine::engine(&settings).unwrap();
    let linker = flint_engine::linker(&engine).unwrap();
    let mut config = Config::new("http://127.0.0.1:1".into(), dir.path().join("cache"));
    config.cluster_token = CLUSTER.into();
    let invoker = Invoker::new(config, linker, &settings, prometheus::Registry::new()).unwrap();
    let runtime = Arc::clone(invoker.runtime());
    let stop = CancellationToken::new();
    let http = serve(&runtime, &stop, super::ingress).await;
    let admin = serve(&runtime, &stop, super::admin).await;
    Harness { runtime, http, admin, stop, _invoker: invoker, _dir: dir }
}

/// Serves `handler` on an ephemeral port until `stop`.
async fn serve<F, Fut>(runtime: &Arc<Runtime>, stop: &CancellationToken, handler: F) -> SocketAddr
where
    F: Fn(Arc<Runtime>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Response<HyperOutgoingBody>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let runtime = Arc::clone(runtime);
    let service = hyper::service::service_fn(move |request| {
        let runtime = Arc::clone(&runtime);
        async move { Ok::<_, std::convert::Infallible>(handler(runtime, request).await) }
    });
    tokio::spawn(flint_api::server::serve(listener, service, stop.child_token()));
    addr
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn function(ns: &str, fname: &str) -> ApiFunction {
    ApiFunction {
        namespace: name(ns),
        name: name(fname),
        version: Some(Digest::from_sha256(&[7; 32])),
        limits: Limits::default(),
        env: Default::default(),
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
    }
}

fn route(ns: &str, trigger: &str, path: &str, auth: RouteAuth) -> Trigger {
    Trigger {
        namespace: name(ns),
        name: name(trigger),
        function: name("hello"),
        spec: TriggerSpec::Http(HttpTrigger { auth, ..HttpTrigger::new(path) }),
        created_at: Timestamp::now(),
    }
}

fn grant(seed: u8, role: Role, ns: &str) -> (TokenGrant, String) {
    let token = format_token(&[seed; 8], &[seed; 32]);
    let presented = parse_token(&token).unwrap();
    let grant = TokenGrant {
        id: presented.id.into(),
        hash: hash_secret(presented.secret),
        role,
        namespaces: Scope::Only([name(ns)].into()),
        expires_at: None,
    };
    (grant, token)
}

/// Tokens by role: an invoker and a viewer of team-a, an invoker of team-b.
fn feed(h: &Harness) -> [String; 3] {
    let (invoker, invoker_token) = grant(1, Role::Invoker, "team-a");
    let (viewer, viewer_token) = grant(2, Role::Viewer, "team-a");
    let (other, other_token) = grant(3, Role::Invoker, "team-b");
    h.runtime.registry.apply(Watch {
        revision: 1,
        snapshot: Some(Snapshot {
            functions: vec![function("team-a", "hello")],
            triggers: vec![
                route("team-a", "open", "/open", RouteAuth::None),
                route("team-a", "private", "/private", RouteAuth::Token),
            ],
            tokens: vec![invoker, viewer, other],
            namespaces: vec![],
        }),
        changes: vec![],
    });
    [invoker_token, viewer_token, other_token]
}

/// One request over a fresh connection: status, head (lower case), body.
async fn send(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: 0\r\n"
    );
    for (key, value) in headers {
        request += &format!("{key}: {value}\r\n");
    }
    request += "\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head[9..12].parse().unwrap(), head.to_ascii_lowercase(), body.to_owned())
}

fn rejected(h: &Harness, reason: &str) -> u64 {
    let labels = [("namespace", "team-a"), ("function", "hello"), ("reason", reason)];
    h.runtime
        .prometheus
        .gather()
        .iter()
        .filter(|family| family.name() == "invoker_rejected_total")
        .flat_map(|family| family.get_metric())
        .filter(|m| {
            labels
                .iter()
                .all(|(k, v)| m.get_label().iter().any(|l| l.name() == *k && l.value() == *v))
        })
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

#[tokio::test]
async fn token_routes_refuse_before_anything_runs_and_are_not_billed() {
    let h = start().await;
    let [invoker, viewer, other] = feed(&h);

    let (status, head, body) = send(h.http, "/private", &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    assert!(body.contains("needs a token"), "{body}");
    let (status, _, body) = send(h.http, "/private", &[("flint-token", "flint_nope")]).await;
    assert_eq!(status, 401);
    assert!(body.contains("malformed") && !body.contains("flint_nope"), "{body}");
    let (status, _, body) =
        send(h.http, "/private", &[("authorization", &format!("Bearer {viewer}"))]).await;
    assert_eq!(status, 403);
    assert!(body.contains("viewer") && !body.contains(&viewer[6..]), "{body}");
    let (status, _, body) = send(h.http, "/private", &[("flint-token", &other)]).await;
    assert_eq!(status, 403);
    assert!(body.contains("namespace `team-a`"), "{body}");
    assert_eq!((rejected(&h, "unauthorized"), rejected(&h, "forbidden")), (2, 2));
    assert!(h.runtime.meter.take().is_empty(), "refused calls leave no usage");
    assert!(!h.runtime.registry.function(&name("team-a"), &name("hello")).unwrap().is_loaded());

    // The right token gets through to the function (whose code cannot be
    // fetched here); so does anyone on a route without auth.
    let (status, _, body) =
        send(h.http, "/private", &[("authorization", &format!("Bearer {invoker}"))]).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("cannot be loaded"), "{body}");
    let (status, _, _) = send(h.http, "/open", &[]).await;
    assert_eq!(status, 503);

    // Revoked: refused again.
    let id = parse_token(&invoker).unwrap().id.to_owned();
    h.runtime.registry.apply(Watch {
        revision: 2,
        snapshot: None,
        changes: vec![Change::TokenDeleted { id }],
    });
    let (status, _, _) = send(h.http, "/private", &[("flint-token", &invoker)]).await;
    assert_eq!(status, 401);
}

fn namespace_put(h: &Harness, revision: u64, rate: Option<&str>, blocked: Option<&str>) {
    let state = NamespaceState {
        name: name("team-a"),
        rate: rate.map(|r| r.parse().unwrap()),
        blocked: blocked.map(Into::into),
    };
    h.runtime.registry.apply(Watch {
        revision,
        snapshot: None,
        changes: vec![Change::NamespacePut { state }],
    });
}

#[tokio::test]
async fn namespace_budget_and_rate_refuse_every_way_in() {
    let h = start().await;
    feed(&h);
    let by_name = "/v1/invoke/team-a/hello";
    let cluster = format!("Bearer {CLUSTER}");
    let reason = "namespace `team-a` has spent its monthly budget of 1.00";
    namespace_put(&h, 2, None, Some(reason));
    for (addr, path, headers) in
        [(h.http, "/open", vec![]), (h.admin, by_name, vec![("authorization", cluster.as_str())])]
    {
        let (status, head, body) = send(addr, path, &headers).await;
        assert_eq!(status, 402, "{path}: {body}");
        assert_eq!(body.trim(), reason);
        assert!(!head.contains("retry-after"), "{head}");
    }
    assert_eq!(rejected(&h, "budget"), 2);
    // Counted as rejected for the tenant's usage, never as run.
    let usage = h.runtime.meter.take();
    assert_eq!(usage.iter().map(|a| a.sums.counts.rejected).sum::<u64>(), 2);
    assert!(usage.iter().all(|a| a.sums.counts.ran() == 0 && a.sums.billed_us == 0));

    namespace_put(&h, 3, Some("1/m"), None);
    let (status, _, _) = send(h.http, "/open", &[]).await;
    assert_eq!(status, 503, "the one request of the minute passes");
    let (status, head, body) = send(h.http, "/open", &[]).await;
    assert_eq!(status, 429, "{body}");
    assert!(head.contains("retry-after: 60"), "{head}");
    assert!(body.contains("rate limit of 1/m"), "{body}");
    assert_eq!(rejected(&h, "rate_limited"), 1);
}

#[tokio::test]
async fn admin_invoke_needs_the_cluster_credential() {
    let h = start().await;
    feed(&h);
    let path = "/v1/invoke/team-a/hello";

    let (status, head, body) = send(h.admin, path, &[]).await;
    assert_eq!(status, 401);
    assert!(head.contains("application/json") && head.contains("www-authenticate"), "{head}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(error["error"].as_str().unwrap().contains("cluster credential"), "{body}");
    let wrong = format!("Bearer {CLUSTER}x");
    let (status, _, body) = send(h.admin, path, &[("authorization", &wrong)]).await;
    assert_eq!(status, 401);
    assert!(!body.contains(CLUSTER), "{body}");
    let (status, _, _) = send(h.admin, path, &[("flint-token", CLUSTER)]).await;
    assert_eq!(status, 401, "only as a bearer");

    let cluster = format!("Bearer {CLUSTER}");
    let (status, _, body) = send(h.admin, path, &[("authorization", &cluster)]).await;
    assert_eq!(status, 503, "past the check, to the function: {body}");
    let (status, _, _) =
        send(h.admin, "/v1/invoke/team-a/nope", &[("authorization", &cluster)]).await;
    assert_eq!(status, 404);

    // Health, readiness and metrics stay open.
    for open in ["/healthz", "/metrics"] {
        let mut stream = TcpStream::connect(h.admin).await.unwrap();
        let request = format!("GET {open} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{open}: {answer}");
    }
}

#[test]
fn an_invoker_without_a_cluster_credential_does_not_start() {
    let settings = flint_engine::Settings { max_instances: 1, ..Default::default() };
    let engine = flint_engine::engine(&settings).unwrap();
    let linker = flint_engine::linker(&engine).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("http://127.0.0.1:1".into(), dir.path().into());
    for (token, error) in
        [("", "no cluster credential"), ("short", "at least 32"), (&"x ".repeat(20), "printable")]
    {
        config.cluster_token = token.into();
        let refused =
            Invoker::new(config.clone(), linker.clone(), &settings, prometheus::Registry::new());
        assert!(refused.err().unwrap().to_string().contains(error), "{token:?}");
    }
    config.cluster_token = CLUSTER.into();
    assert!(!format!("{config:?}").contains(CLUSTER), "redacted in Debug");
}

#[test]
fn paths_with_dot_segments_are_spotted() {
    use super::has_dot_segment;
    for dotted in ["/a/../b", "/a/./b", "/..", "/a/%2e%2e/b", "/a/%2E/b", "/a/.."] {
        assert!(has_dot_segment(dotted), "{dotted}");
    }
    for plain in ["/", "/a/b", "/a/..b", "/a/.well-known/x", "/a/b.c", "/%2e%2ex"] {
        assert!(!has_dot_segment(plain), "{plain}");
    }
}
