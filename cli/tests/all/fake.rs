//! A fake controller: the REST API of `flint_api::Client` over an in-memory
//! store, so the `flint` binary can be tested before the real one exists. It
//! records every request it gets, as `METHOD /path`.
//!
//! Tokens: with [`FakeApi::require_token`] every `/v1` call needs that bearer
//! token (401 otherwise), and `whoami` names it `admin`. Without, any call
//! goes through. Each `FakeApi` gives the `flint` it runs its own config
//! file (`FLINT_CONFIG`), so no test reads or writes the real one.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use flint_api::{
    AuditEntry, Digest, ErrorBody, Function, FunctionSpec, InvokerInfo, InvokerStatus, Limits,
    LogLine, LogPage, Name, Namespace, NewToken, Quotas, Role, Scope, Stream, Timestamp, TokenInfo,
    TokenSpec, Trigger, TriggerRequest, Version, Whoami,
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
    /// The only token accepted, when set.
    pub required_token: Option<String>,
    /// Tokens made with `POST /v1/tokens`.
    pub tokens: Vec<TokenInfo>,
    /// The specs they were made from, as sent.
    pub token_specs: Vec<TokenSpec>,
    /// Quotas by namespace.
    pub quotas: BTreeMap<String, Quotas>,
    /// What `GET /v1/audit` answers.
    pub audit: Vec<AuditEntry>,
}

/// A running fake controller; its thread ends with the test process.
pub struct FakeApi {
    pub url: String,
    state: Arc<Mutex<State>>,
    /// Holds the config file of the `flint` runs.
    config_dir: tempfile::TempDir,
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
        let config_dir = tempfile::tempdir().unwrap();
        Self { url: format!("http://{addr}"), state, config_dir }
    }

    /// From now on, every `/v1` call needs `Authorization: Bearer {token}`.
    pub fn require_token(&self, token: &str) {
        self.state().required_token = Some(token.to_owned());
    }

    /// The config file the `flint` runs use (it may not exist yet).
    pub fn config_file(&self) -> std::path::PathBuf {
        self.config_dir.path().join("flint/config.toml")
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
        self.command(dir).args(args).output().unwrap()
    }

    /// `flint --url URL` in `dir`, with this fake's config file, to add to.
    pub fn command(&self, dir: &std::path::Path) -> Command {
        let mut command = flint(dir);
        command.env("FLINT_CONFIG", self.config_file()).arg("--url").arg(&self.url);
        command
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

/// `flint` with a clean environment for its own variables, in `dir`. Its
/// config file is one that does not exist, so a token in the real one
/// cannot change what a test sees.
pub fn flint(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flint"));
    command.current_dir(dir);
    for var in ["FLINT_URL", "FLINT_NAMESPACE", "FLINT_TOKEN", "FLINT_SDK_PATH", "FLINT_DATA"] {
        command.env_remove(var);
    }
    let nowhere = std::env::temp_dir().join("flint-cli-tests-no-such-dir/config.toml");
    command.env("FLINT_CONFIG", nowhere);
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
    let bearer = state.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer "));
    match (&state.required_token, bearer) {
        (Some(_), None) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "missing token: send Authorization: Bearer TOKEN".into(),
            );
        }
        (Some(required), Some(sent)) if required != sent => {
            return error(StatusCode::UNAUTHORIZED, "unknown token".into());
        }
        _ => {}
    }
    match (method, segments.as_slice()) {
        ("GET", ["whoami"]) => match bearer {
            Some(_) => json(
                StatusCode::OK,
                &Whoami {
                    id: "00000000000000aa".into(),
                    name: "admin".into(),
                    role: Role::Admin,
                    namespaces: Scope::All,
                },
            ),
            None => error(StatusCode::UNAUTHORIZED, "missing token".into()),
        },
        ("POST", ["tokens"]) => {
            let spec: TokenSpec = match serde_json::from_slice(&body) {
                Ok(spec) => spec,
                Err(err) => return error(StatusCode::BAD_REQUEST, err.to_string()),
            };
            let id = format!("{:016x}", state.tokens.len() + 1);
            let info = TokenInfo {
                id: id.clone(),
                name: spec.name.clone(),
                role: spec.role,
                namespaces: spec.namespaces.clone(),
                expires_at: spec.expires_at,
                created_at: Timestamp::now(),
                created_by: "admin".into(),
                last_used_at: None,
            };
            state.tokens.push(info.clone());
            state.token_specs.push(spec);
            let token = format!("flint_{id}_{}", "5e".repeat(32));
            json(StatusCode::CREATED, &NewToken { token, info })
        }
        ("GET", ["tokens"]) => json(StatusCode::OK, &state.tokens),
        ("DELETE", ["tokens", name]) => {
            let before = state.tokens.len();
            state.tokens.retain(|t| t.name.as_str() != *name);
            if state.tokens.len() == before {
                return error(StatusCode::NOT_FOUND, format!("token `{name}` not found"));
            }
            no_content()
        }
        ("GET", ["namespaces"]) => {
            let names: Vec<String> = state.quotas.keys().cloned().collect();
            let list: Vec<Namespace> = names.iter().map(|ns| namespace(&state, ns)).collect();
            json(StatusCode::OK, &list)
        }
        ("GET", ["namespaces", ns]) => json(StatusCode::OK, &namespace(&state, ns)),
        ("PUT", ["namespaces", ns]) => {
            let quotas: Quotas = match serde_json::from_slice(&body) {
                Ok(quotas) => quotas,
                Err(err) => return error(StatusCode::BAD_REQUEST, err.to_string()),
            };
            state.quotas.insert(ns.to_string(), quotas);
            json(StatusCode::OK, &namespace(&state, ns))
        }
        ("GET", ["audit"]) => {
            let since = parts.uri.query().and_then(|q| q.strip_prefix("since="));
            let since: Option<Timestamp> = since.map(|s| s.parse().unwrap());
            let list: Vec<&AuditEntry> =
                state.audit.iter().filter(|e| since.is_none_or(|s| e.time >= s)).collect();
            json(StatusCode::OK, &list)
        }
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

/// A namespace with its quotas (none if never set) and what it holds.
fn namespace(state: &State, ns: &str) -> Namespace {
    let functions: Vec<&Function> =
        state.functions.values().filter(|f| f.namespace.as_str() == ns).collect();
    Namespace {
        name: ns.parse().unwrap(),
        quotas: state.quotas.get(ns).cloned().unwrap_or_default(),
        functions: functions.len() as u32,
        memory_mb: functions.iter().map(|f| u64::from(f.limits.memory_mb)).sum(),
        month_cost: 1.25,
        blocked: false,
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
