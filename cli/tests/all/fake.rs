//! A fake controller: the REST API of `flint_api::Client` over an in-memory
//! store, so the `flint` binary can be tested before the real one exists. It
//! records every request it gets, as `METHOD /path`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use flint_api::{
    Digest, ErrorBody, Function, FunctionSpec, InvokerInfo, InvokerStatus, Limits, LogLine,
    LogPage, Name, Stream, Timestamp, Trigger, TriggerRequest, Version,
};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// What the fake controller holds. Keys are `(namespace, name)`.
#[derive(Default)]
pub struct State {
    pub functions: BTreeMap<(String, String), Function>,
    pub versions: BTreeMap<(String, String), Vec<Version>>,
    pub triggers: BTreeMap<(String, String), Trigger>,
    pub logs: Vec<LogLine>,
    pub invokers: Vec<InvokerStatus>,
    /// `METHOD /path?query`, in order.
    pub requests: Vec<String>,
    /// The `Authorization` header of the last request.
    pub authorization: Option<String>,
}

/// A running fake controller; its thread ends with the test process.
pub struct FakeApi {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let state = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let state = Arc::clone(&state);
                            async move { Ok::<_, Infallible>(handle(&state, req).await) }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        let addr = rx.recv().unwrap();
        Self { url: format!("http://{addr}"), state }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Takes the requests recorded so far.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut self.state().requests)
    }

    /// Runs `flint --url URL ARGS…`.
    pub fn flint(&self, args: &[&str]) -> Output {
        self.flint_in(std::path::Path::new("."), args)
    }

    /// Runs `flint --url URL ARGS…` in `dir`.
    pub fn flint_in(&self, dir: &std::path::Path, args: &[&str]) -> Output {
        flint(dir).arg("--url").arg(&self.url).args(args).output().unwrap()
    }

    pub fn add_invoker(&self, http_url: &str) {
        let info = InvokerInfo {
            id: "inv-1".into(),
            http_url: http_url.into(),
            admin_url: "http://127.0.0.1:1".into(),
            version: "0.1.0".into(),
            revision: 1,
            started_at: Timestamp::now(),
            triggers: Vec::new(),
        };
        self.state().invokers.push(InvokerStatus {
            info,
            last_seen: Timestamp::now(),
            healthy: true,
        });
    }

    pub fn add_log(&self, stream: Stream, line: &str) {
        let mut state = self.state();
        let seq = state.logs.len() as u64 + 1;
        state.logs.push(LogLine { seq, time: Timestamp::UNIX_EPOCH, stream, line: line.into() });
    }
}

/// `flint` with a clean environment for its own variables, in `dir`.
pub fn flint(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flint"));
    command.current_dir(dir);
    for var in ["FLINT_URL", "FLINT_NAMESPACE", "FLINT_TOKEN", "FLINT_SDK_PATH", "FLINT_DATA"] {
        command.env_remove(var);
    }
    command
}

type Answer = Response<Full<Bytes>>;

fn json<T: Serialize>(status: StatusCode, value: &T) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(serde_json::to_vec(value).unwrap())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
    response
}

fn error(status: StatusCode, message: String) -> Answer {
    json(status, &ErrorBody { error: message })
}

fn no_content() -> Answer {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

async fn handle(state: &Mutex<State>, req: Request<hyper::body::Incoming>) -> Answer {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let mut state = state.lock().unwrap();
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    state.requests.push(format!("{} {target}", parts.method));
    state.authorization =
        parts.headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());

    let path = parts.uri.path();
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let method = parts.method.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["invokers"]) => json(StatusCode::OK, &state.invokers),
        ("GET", ["namespaces", ns, "functions"]) => {
            let list: Vec<&Function> =
                state.functions.values().filter(|f| f.namespace.as_str() == *ns).collect();
            json(StatusCode::OK, &list)
        }
        ("PUT", ["namespaces", ns, "functions", name]) => {
            let spec: FunctionSpec = match serde_json::from_slice(&body) {
                Ok(spec) => spec,
                Err(err) => return error(StatusCode::BAD_REQUEST, err.to_string()),
            };
            let limits = match spec.limits.resolve(&Limits::default()) {
                Ok(limits) => limits,
                Err(err) => return error(StatusCode::BAD_REQUEST, err.to_string()),
            };
            let key = (ns.to_string(), name.to_string());
            let now = Timestamp::now();
            let function = state.functions.entry(key).or_insert_with(|| Function {
                namespace: ns.parse().unwrap(),
                name: name.parse().unwrap(),
                version: None,
                limits: limits.clone(),
                env: BTreeMap::new(),
                created_at: now,
                updated_at: now,
            });
            function.limits = limits;
            function.env = spec.env;
            function.updated_at = now;
            json(StatusCode::OK, &function.clone())
        }
        (_, ["namespaces", ns, "functions", name, rest @ ..]) => {
            let key = (ns.to_string(), name.to_string());
            if !state.functions.contains_key(&key) {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("function `{name}` not found in namespace `{ns}`"),
                );
            }
            match (method, rest) {
                ("GET", []) => json(StatusCode::OK, &state.functions[&key]),
                ("DELETE", []) => {
                    state.functions.remove(&key);
                    state.versions.remove(&key);
                    state.triggers.retain(|_, t| {
                        !(t.namespace.as_str() == *ns && t.function.as_str() == *name)
                    });
                    no_content()
                }
                ("POST", ["versions"]) => {
                    let digest = Digest::from_sha256(&Sha256::digest(&body).into());
                    let version = Version {
                        digest: digest.clone(),
                        size: body.len() as u64,
                        created_at: Timestamp::now(),
                    };
                    state.versions.entry(key.clone()).or_default().push(version);
                    let function = state.functions.get_mut(&key).unwrap();
                    function.version = Some(digest);
                    json(StatusCode::OK, &function.clone())
                }
                ("GET", ["versions"]) => {
                    json(StatusCode::OK, &state.versions.get(&key).cloned().unwrap_or_default())
                }
                ("GET", ["logs"]) => {
                    let since: u64 = query(&parts.uri, "since").parse().unwrap();
                    let lines: Vec<LogLine> =
                        state.logs.iter().filter(|l| l.seq > since).cloned().collect();
                    let next = lines.last().map_or(since, |l| l.seq);
                    json(StatusCode::OK, &LogPage { next, lines })
                }
                (_, ["invoke", ..]) => {
                    // Echoes the request; `/status/N` answers with status N.
                    let seen = target.split_once("/invoke").unwrap().1.to_owned();
                    let status =
                        seen.strip_prefix("/status/").and_then(|s| s.parse().ok()).unwrap_or(200);
                    let header = parts.headers.get("x-test").map_or("", |v| v.to_str().unwrap());
                    let text = format!(
                        "{method} {seen} x-test={header} body={}",
                        String::from_utf8_lossy(&body)
                    );
                    let mut response = Response::new(Full::new(Bytes::from(text)));
                    *response.status_mut() = StatusCode::from_u16(status).unwrap();
                    response.headers_mut().insert("x-fake", "yes".parse().unwrap());
                    response
                }
                _ => error(StatusCode::NOT_FOUND, format!("no route {method} {path}")),
            }
        }
        ("GET", ["namespaces", ns, "triggers"]) => {
            let list: Vec<&Trigger> =
                state.triggers.values().filter(|t| t.namespace.as_str() == *ns).collect();
            json(StatusCode::OK, &list)
        }
        ("PUT", ["namespaces", ns, "triggers", name]) => {
            let request: TriggerRequest = match serde_json::from_slice(&body) {
                Ok(request) => request,
                Err(err) => return error(StatusCode::BAD_REQUEST, err.to_string()),
            };
            if !state.functions.contains_key(&(ns.to_string(), request.function.to_string())) {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("function `{}` not found", request.function),
                );
            }
            let trigger = Trigger {
                namespace: ns.parse().unwrap(),
                name: name.parse::<Name>().unwrap(),
                function: request.function,
                spec: request.spec,
                created_at: Timestamp::now(),
            };
            state.triggers.insert((ns.to_string(), name.to_string()), trigger.clone());
            json(StatusCode::OK, &trigger)
        }
        ("DELETE", ["namespaces", ns, "triggers", name]) => {
            match state.triggers.remove(&(ns.to_string(), name.to_string())) {
                Some(_) => no_content(),
                None => error(StatusCode::NOT_FOUND, format!("trigger `{name}` not found")),
            }
        }
        _ => error(StatusCode::NOT_FOUND, format!("no route {method} {path}")),
    }
}

fn query(uri: &hyper::Uri, key: &str) -> String {
    uri.query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
        .unwrap_or("0")
        .to_owned()
}
