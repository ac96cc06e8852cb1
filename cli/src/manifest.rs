//! The manifest, `flint.toml`: which functions a project has, how to build
//! them and how they are reached. `flint build` and `flint deploy` read it.
//!
//! ```toml
//! namespace = "default"            # optional; `-n` overrides it
//!
//! [[function]]
//! name = "hello"                   # a flint_api::Name, unique in the manifest
//! source = "target/wasm32-wasip2/release/hello_http.wasm"   # relative to the manifest's folder
//! build = "cargo build --release --target wasm32-wasip2"     # optional, run with `sh -c`
//! workdir = "."                    # optional, where `build` runs; relative to the manifest's folder
//! env = { GREETING = "hi" }        # optional, what the guest sees
//! limits = { memory_mb = 64, timeout_ms = 5000 }            # optional, flint_api::LimitsSpec fields
//!
//! [[function.http]]                # zero or more routes
//! route = "/hello"                 # path prefix
//! host = "example.com"             # optional
//! methods = ["GET", "POST"]        # optional, upper case; none means all
//! auth = "token"                  # optional: "none" (default, anyone) or "token": callers
//!                                  # present a token of role invoker or better for the
//!                                  # namespace (Authorization: Bearer or flint-token header)
//!
//! [[function.schedule]]            # zero or more schedules (flint_api::ScheduleTrigger)
//! cron = "0 9 * * MON-FRI"         # 5 or 6 fields, @hourly, @daily, @weekly, @every 30s
//! timezone = "Europe/Berlin"       # optional, IANA, default UTC
//! payload = '{"report": "daily"}'  # optional body, with content_type
//! content_type = "application/json"
//! path = "/"                       # optional, the path the function sees
//! missed = "once"                  # optional: skip (default), once, all
//! max_catch_up = 10                # optional, with missed = "all"
//! retry = { attempts = 3, initial_backoff_ms = 1000, multiplier = 2.0, max_backoff_ms = 60000 }
//!
//! [[function.kafka]]               # zero or more topic consumers (flint_api::KafkaTrigger)
//! bootstrap_servers = "127.0.0.1:9092"
//! topics = ["orders"]
//! start = "earliest"               # optional: latest (default) or earliest, for a new group
//! reply_topic = "orders-enriched"  # optional: 2xx bodies are produced here
//! dead_letter_topic = "orders-dlq" # optional: records that failed every attempt
//! in_flight_per_partition = 1      # optional: 1 keeps strict order
//! retry = { attempts = 5 }         # optional, as for schedules
//! properties = { "session.timeout.ms" = "10000" }   # optional librdkafka settings
//! ```
//!
//! Every table refuses unknown fields. [`Manifest::parse`] checks what the
//! controller would refuse, so a bad manifest fails before anything is built
//! or sent: names, unique function names, routes, hosts and methods, no two
//! routes on the same host and path, limits in range, environment variable
//! names, and paths relative to the manifest's folder. Each error names the
//! file, line and column, and the field: `flint.toml:9:10: function `hello`:
//! invalid `limits.memory_mb`: 0 is out of range 1..=4096`.
//!
//! Triggers get names derived from their function, so a redeploy replaces
//! them: `{function}-http` for a single route, `{function}-http-1`,
//! `{function}-http-2`… for several, and `{function}-schedule…` likewise
//! ([`trigger_names`]).
//!
//! This module depends on `flint-api` only (and `toml`, `serde`, `anyhow`):
//! the `manifest` fuzz target (`tests/fuzz`) compiles this file on its own,
//! so it must not use the rest of the CLI. A new trigger kind is one more
//! `Vec` in `RawFunction` and [`Function`], checked in [`Manifest::parse`]
//! and listed by [`Function::triggers`]; `flint deploy` needs no change.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use flint_api::{
    FunctionSpec, HttpTrigger, InvalidId, KafkaTrigger, Limits, LimitsSpec, Name, ScheduleTrigger,
    TriggerSpec,
};
use serde::Deserialize;
use toml::Spanned;

#[cfg(test)]
mod tests;

/// The manifest's file name in a project folder.
pub const FILE_NAME: &str = "flint.toml";

/// A parsed and checked manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file, as given; error messages name it like this.
    pub path: PathBuf,
    /// The namespace it asks for, if any.
    pub namespace: Option<Name>,
    /// Its functions, in the order they are written.
    pub functions: Vec<Function>,
}

/// One `[[function]]` of a manifest.
#[derive(Debug, Clone)]
pub struct Function {
    /// The function's name.
    pub name: Name,
    /// The wasm file as written in the manifest, for messages.
    pub source: PathBuf,
    /// The wasm file, resolved against the manifest's folder.
    pub source_path: PathBuf,
    /// The build command, run with `sh -c` in [`Function::workdir`].
    pub build: Option<String>,
    /// Where the build runs, resolved against the manifest's folder.
    pub workdir: PathBuf,
    /// Limits and environment, as sent with `put_function`.
    pub spec: FunctionSpec,
    /// The HTTP routes, each with its trigger name.
    pub http: Vec<(Name, HttpTrigger)>,
    /// The schedules, each with its trigger name.
    pub schedules: Vec<(Name, ScheduleTrigger)>,
    /// The Kafka consumers, each with its trigger name.
    pub kafka: Vec<(Name, KafkaTrigger)>,
}

impl Function {
    /// Every trigger the function declares, by name: what `flint deploy` makes exist.
    pub fn triggers(&self) -> Vec<(Name, TriggerSpec)> {
        let http =
            self.http.iter().map(|(name, http)| (name.clone(), TriggerSpec::Http(http.clone())));
        let schedules = self
            .schedules
            .iter()
            .map(|(name, schedule)| (name.clone(), TriggerSpec::Schedule(schedule.clone())));
        let kafka = self
            .kafka
            .iter()
            .map(|(name, kafka)| (name.clone(), TriggerSpec::Kafka(kafka.clone())));
        http.chain(schedules).chain(kafka).collect()
    }
}

/// Names the `count` triggers of kind `kind` (`http`) of `function`:
/// `{function}-{kind}` for one, `{function}-{kind}-{n}` with n from 1 for several.
pub fn trigger_names(function: &Name, kind: &str, count: usize) -> Result<Vec<Name>, InvalidId> {
    if count == 1 {
        return Ok(vec![format!("{function}-{kind}").parse()?]);
    }
    (1..=count).map(|n| format!("{function}-{kind}-{n}").parse()).collect()
}

/// The manifest file for `path`: `path/flint.toml` when `path` is a folder, else `path`.
pub fn file_in(path: &Path) -> PathBuf {
    if path.is_dir() { path.join(FILE_NAME) } else { path.to_owned() }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    namespace: Option<Name>,
    #[serde(default, rename = "function")]
    functions: Vec<Spanned<RawFunction>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    name: Spanned<Name>,
    source: Spanned<PathBuf>,
    #[serde(default)]
    build: Option<Spanned<String>>,
    #[serde(default)]
    workdir: Option<Spanned<PathBuf>>,
    #[serde(default)]
    env: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    limits: Option<Spanned<LimitsSpec>>,
    #[serde(default)]
    http: Vec<Spanned<HttpTrigger>>,
    #[serde(default)]
    schedule: Vec<Spanned<ScheduleTrigger>>,
    #[serde(default)]
    kafka: Vec<Spanned<KafkaTrigger>>,
}

impl Manifest {
    /// Reads and checks the manifest at `path` (a file, or a folder holding `flint.toml`).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let path = file_in(path);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the manifest {}", path.display()))?;
        Self::parse(&text, &path)
    }

    /// Parses and checks manifest text; `path` is where it came from.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Self> {
        let at = |span: Range<usize>, message: String| -> anyhow::Error {
            let (line, column) = line_column(text, span.start);
            anyhow::anyhow!("{}:{line}:{column}: {message}", path.display())
        };
        let raw: RawManifest = toml::from_str(text).map_err(|err| {
            // One line: toml puts details on lines of their own.
            let mut message = err
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            // What serde says about `[function]` written for `[[function]]`.
            if message == "invalid type: map, expected a sequence" {
                message.push_str(
                    ": write `[[function]]` and `[[function.http]]` with double brackets",
                );
            }
            match err.span() {
                Some(span) => at(span, message),
                None => anyhow::anyhow!("{}: {message}", path.display()),
            }
        })?;
        if raw.functions.is_empty() {
            anyhow::bail!(
                "{}: no functions: declare at least one [[function]] with a `name` and a `source`",
                path.display()
            );
        }
        // Relative paths in the manifest start at its folder (`""` for the
        // current one, so messages say `hello.wasm` rather than `./hello.wasm`).
        let dir = path.parent().unwrap_or(Path::new(""));

        let mut functions = Vec::with_capacity(raw.functions.len());
        let mut names: HashMap<Name, Range<usize>> = HashMap::new();
        // (host, route) → the function that declared it and where.
        let mut routes: HashMap<(Option<String>, String), (Name, Range<usize>)> = HashMap::new();
        let mut trigger_owner: HashMap<Name, Name> = HashMap::new();
        for function in raw.functions {
            let function = function.into_inner();
            let name = function.name.get_ref().clone();
            let fail = |span: Range<usize>, message: String| {
                at(span, format!("function `{name}`: {message}"))
            };
            if let Some(first) = names.insert(name.clone(), function.name.span()) {
                let (line, _) = line_column(text, first.start);
                return Err(fail(
                    function.name.span(),
                    format!("declared twice (first on line {line})"),
                ));
            }

            let source = relative_path(&function.source, "source")
                .map_err(|m| fail(function.source.span(), m))?;
            let workdir = match &function.workdir {
                Some(workdir) => {
                    relative_path(workdir, "workdir").map_err(|m| fail(workdir.span(), m))?
                }
                None => PathBuf::from("."),
            };
            let build = match function.build {
                Some(build) if build.get_ref().trim().is_empty() => {
                    return Err(fail(
                        build.span(),
                        "`build` is empty; leave it out if nothing needs building".into(),
                    ));
                }
                Some(build) => Some(build.into_inner()),
                None => None,
            };

            let mut spec = FunctionSpec::default();
            if let Some(env) = function.env {
                let span = env.span();
                spec.env = env.into_inner();
                spec.validate().map_err(|e| fail(span, e.to_string()))?;
            }
            if let Some(limits) = function.limits {
                let span = limits.span();
                spec.limits = limits.into_inner();
                spec.limits.resolve(&Limits::default()).map_err(|e| fail(span, e.to_string()))?;
            }

            let names = |kind: &str, count: usize| {
                trigger_names(&name, kind, count).map_err(|e| {
                    fail(
                        function.name.span(),
                        format!("its trigger names would be invalid ({e}); use a shorter name"),
                    )
                })
            };
            let http_names = names("http", function.http.len())?;
            let schedule_names = names("schedule", function.schedule.len())?;
            let kafka_names = names("kafka", function.kafka.len())?;
            // Two triggers may not share a name, whatever their kind.
            let mut claim = |trigger_name: &Name, span: Range<usize>| match trigger_owner
                .insert(trigger_name.clone(), name.clone())
            {
                Some(other) => Err(fail(
                    span,
                    format!(
                        "its trigger name `{trigger_name}` is also the name of a trigger of `{other}`"
                    ),
                )),
                None => Ok(()),
            };
            let mut http = Vec::with_capacity(function.http.len());
            for (trigger_name, route) in http_names.into_iter().zip(function.http) {
                let span = route.span();
                let route = route.into_inner();
                route.validate().map_err(|e| fail(span.clone(), e.to_string()))?;
                let key = (route.host.clone(), route.route.clone());
                if let Some((other, first)) = routes.get(&key) {
                    let (line, _) = line_column(text, first.start);
                    let by = if *other == name {
                        "itself".to_owned()
                    } else {
                        format!("function `{other}`")
                    };
                    return Err(fail(
                        span,
                        format!(
                            "route `{}` is already declared by {by} (line {line})",
                            route_text(&route)
                        ),
                    ));
                }
                routes.insert(key, (name.clone(), span.clone()));
                claim(&trigger_name, span)?;
                http.push((trigger_name, route));
            }

            let mut schedules = Vec::with_capacity(function.schedule.len());
            for (trigger_name, schedule) in schedule_names.into_iter().zip(function.schedule) {
                let span = schedule.span();
                let schedule = schedule.into_inner();
                schedule.validate().map_err(|e| fail(span.clone(), e.to_string()))?;
                claim(&trigger_name, span)?;
                schedules.push((trigger_name, schedule));
            }
            let mut kafka = Vec::with_capacity(function.kafka.len());
            for (trigger_name, consumer) in kafka_names.into_iter().zip(function.kafka) {
                let span = consumer.span();
                let consumer = consumer.into_inner();
                consumer.validate().map_err(|e| fail(span.clone(), e.to_string()))?;
                claim(&trigger_name, span)?;
                kafka.push((trigger_name, consumer));
            }

            functions.push(Function {
                source_path: dir.join(&source),
                source,
                build,
                workdir: dir.join(workdir),
                spec,
                http,
                schedules,
                kafka,
                name,
            });
        }
        Ok(Self { path: path.to_owned(), namespace: raw.namespace, functions })
    }
}

/// `host/route` or `route`, as people read it.
fn route_text(http: &HttpTrigger) -> String {
    match &http.host {
        Some(host) => format!("{host}{}", http.route),
        None => http.route.clone(),
    }
}

/// Checks that a path from the manifest is relative and not empty.
fn relative_path(path: &Spanned<PathBuf>, field: &str) -> Result<PathBuf, String> {
    let path = path.get_ref();
    if path.as_os_str().is_empty() {
        return Err(format!("`{field}` is empty"));
    }
    if path.has_root() {
        return Err(format!(
            "`{field}` must be relative to the manifest's folder, not `{}`",
            path.display()
        ));
    }
    Ok(path.clone())
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}
