//! `flint deploy NAME --wasm FILE …`: one function described by flags
//! instead of a manifest, checked the same way.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use flint_api::{FunctionSpec, HttpTrigger, Limits, LimitsSpec, Name, RouteAuth, TriggerSpec};

use super::{Plan, read_wasm};
use crate::manifest::trigger_names;

/// The flags that describe one function when there is no manifest.
#[derive(Debug, Args)]
#[command(next_help_heading = "Without a manifest (flint deploy NAME --wasm FILE)")]
pub struct SingleArgs {
    /// The wasm component to deploy as NAME
    #[arg(long, value_name = "FILE", requires = "name")]
    pub wasm: Option<PathBuf>,

    /// Route requests whose path starts with PREFIX to the function; repeat for more
    #[arg(long = "route", value_name = "PREFIX", requires = "name")]
    pub routes: Vec<String>,

    /// Only route requests for this host (all the --route flags)
    #[arg(long, value_name = "HOST", requires = "routes")]
    pub host: Option<String>,

    /// Only route these methods; repeat for more [default: all]
    #[arg(long = "method", value_name = "METHOD", requires = "routes")]
    pub methods: Vec<String>,

    /// Who may call the --route flags: none (anyone) or token (callers present a token
    /// of role invoker or better) [default: none]
    #[arg(long, value_name = "AUTH", value_parser = parse_route_auth, requires = "routes")]
    pub route_auth: Option<RouteAuth>,

    /// Memory one instance may use, in MiB [default: 128]
    #[arg(long, value_name = "N", requires = "name")]
    pub memory_mb: Option<u32>,

    /// Time one invocation may take, e.g. 5s or 1m 30s [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "name")]
    pub timeout: Option<Duration>,

    /// Instances that may run at once on one invoker [default: 100]
    #[arg(long, value_name = "N", requires = "name")]
    pub concurrency: Option<u32>,

    /// Invocations that may wait for an instance on one invoker [default: 100]
    #[arg(long, value_name = "N", requires = "name")]
    pub queue: Option<u32>,

    /// Unload the function after this long without a call [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "name")]
    pub idle_timeout: Option<Duration>,

    /// An environment variable the function sees; repeat for more
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env, requires = "name")]
    pub env: Vec<(String, String)>,
}

impl SingleArgs {
    /// The function's settings, checked like a manifest's.
    pub fn spec(&self) -> anyhow::Result<FunctionSpec> {
        let limits = LimitsSpec {
            memory_mb: self.memory_mb,
            timeout_ms: self.timeout.map(|d| millis(d, "--timeout")).transpose()?,
            concurrency: self.concurrency,
            queue: self.queue,
            idle_timeout_ms: self.idle_timeout.map(|d| millis(d, "--idle-timeout")).transpose()?,
        };
        let spec =
            FunctionSpec { limits, env: self.env.iter().cloned().collect::<BTreeMap<_, _>>() };
        spec.limits.resolve(&Limits::default())?;
        spec.validate()?;
        Ok(spec)
    }

    /// The triggers the flags declare, or `None` without `--route`.
    pub fn triggers(&self, name: &Name) -> anyhow::Result<Option<Vec<(Name, TriggerSpec)>>> {
        if self.routes.is_empty() {
            return Ok(None);
        }
        let names = trigger_names(name, "http", self.routes.len()).with_context(|| {
            format!("the trigger names of `{name}` would be invalid; use a shorter name")
        })?;
        let mut triggers = Vec::with_capacity(self.routes.len());
        for (trigger, route) in names.into_iter().zip(&self.routes) {
            if self.routes.iter().filter(|r| *r == route).count() > 1 {
                anyhow::bail!("--route `{route}` is given twice");
            }
            let http = HttpTrigger {
                route: route.clone(),
                host: self.host.clone(),
                methods: self.methods.clone(),
                auth: self.route_auth.unwrap_or_default(),
            };
            http.validate()?;
            triggers.push((trigger, TriggerSpec::Http(http)));
        }
        Ok(Some(triggers))
    }

    /// Checks everything and reads the wasm file.
    pub fn plan(&self, name: Name) -> anyhow::Result<Plan> {
        let spec = self.spec()?;
        let triggers = self.triggers(&name)?;
        // `requires` on NAME makes clap refuse NAME without --wasm.
        let path = self.wasm.as_deref().context("--wasm FILE is needed with NAME")?;
        let (wasm, digest) = read_wasm(path)?;
        Ok(Plan { name, wasm, digest, spec, triggers, kind: Some("http") })
    }
}

/// A duration flag in whole milliseconds, as the API wants it.
fn millis(duration: Duration, flag: &str) -> anyhow::Result<u64> {
    u64::try_from(duration.as_millis()).ok().with_context(|| format!("{flag} is too long"))
}

/// Parses `--route-auth`: the manifest's `auth` values.
fn parse_route_auth(s: &str) -> Result<RouteAuth, String> {
    match s {
        "none" => Ok(RouteAuth::None),
        "token" => Ok(RouteAuth::Token),
        _ => Err(format!("`{s}` is not a route auth: use none or token")),
    }
}

/// Parses `KEY=VALUE`; the value may be empty and may hold `=`.
pub fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some(("", _)) => Err(format!("`{s}` has no variable name before `=`")),
        Some((key, value)) => Ok((key.to_owned(), value.to_owned())),
        None => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::Cli;
    use crate::commands::Command;

    fn deploy(args: &[&str]) -> Result<super::super::DeployArgs, clap::Error> {
        let argv = ["flint", "deploy"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Deploy(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn env_pairs() {
        assert_eq!(parse_env("A=b"), Ok(("A".into(), "b".into())));
        assert_eq!(parse_env("A="), Ok(("A".into(), String::new())));
        assert_eq!(parse_env("URL=a=b"), Ok(("URL".into(), "a=b".into())));
        assert!(parse_env("A").unwrap_err().contains("not KEY=VALUE"));
        assert!(parse_env("=b").unwrap_err().contains("no variable name"));
    }

    #[test]
    fn durations_become_milliseconds() {
        let args =
            deploy(&["f", "--wasm", "f.wasm", "--timeout", "5s", "--idle-timeout", "1m 30s"])
                .unwrap();
        let spec = args.single.spec().unwrap();
        assert_eq!(spec.limits.timeout_ms, Some(5000));
        assert_eq!(spec.limits.idle_timeout_ms, Some(90_000));
        assert_eq!(spec.limits.memory_mb, None);

        let args = deploy(&["f", "--wasm", "f.wasm", "--timeout", "250ms"]).unwrap();
        assert_eq!(args.single.spec().unwrap().limits.timeout_ms, Some(250));

        let err = deploy(&["f", "--wasm", "f.wasm", "--timeout", "5 parsecs"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        let args = deploy(&["f", "--wasm", "f.wasm", "--timeout", "1h"]).unwrap();
        let err = args.single.spec().unwrap_err().to_string();
        assert_eq!(err, "invalid `limits.timeout_ms`: 3600000 is out of range 1..=900000");
    }

    #[test]
    fn flags_become_a_spec_and_triggers() {
        let args = deploy(&[
            "hello",
            "--wasm",
            "h.wasm",
            "--route",
            "/a",
            "--route",
            "/b",
            "--method",
            "GET",
            "--host",
            "example.com",
            "--env",
            "A=1",
            "--env",
            "B=2",
            "--memory-mb",
            "64",
        ])
        .unwrap();
        let spec = args.single.spec().unwrap();
        assert_eq!(spec.limits.memory_mb, Some(64));
        assert_eq!(spec.env.len(), 2);
        let triggers = args.single.triggers(&"hello".parse().unwrap()).unwrap().unwrap();
        let names: Vec<&str> = triggers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["hello-http-1", "hello-http-2"]);
        let TriggerSpec::Http(http) = &triggers[1].1 else { panic!() };
        assert_eq!((http.route.as_str(), http.host.as_deref()), ("/b", Some("example.com")));
        assert_eq!(http.auth, RouteAuth::None);

        let args = deploy(&["hello", "--wasm", "h.wasm", "--route", "/a", "--route-auth", "token"])
            .unwrap();
        let triggers = args.single.triggers(&"hello".parse().unwrap()).unwrap().unwrap();
        let TriggerSpec::Http(http) = &triggers[0].1 else { panic!() };
        assert_eq!(http.auth, RouteAuth::Token);

        let args = deploy(&["hello", "--wasm", "h.wasm"]).unwrap();
        assert!(args.single.triggers(&"hello".parse().unwrap()).unwrap().is_none());
    }

    #[test]
    fn bad_flags_are_refused_before_anything_is_read() {
        let args = deploy(&["f", "--wasm", "missing.wasm", "--route", "nope"]).unwrap();
        let err = args.single.plan("f".parse().unwrap()).unwrap_err().to_string();
        assert_eq!(err, "invalid `http.route`: `nope` must start with `/`");
        let args = deploy(&["f", "--wasm", "missing.wasm", "--env", "1X=2"]).unwrap();
        assert!(args.single.plan("f".parse().unwrap()).unwrap_err().to_string().contains("`1X`"));
        let args = deploy(&["f", "--wasm", "m.wasm", "--route", "/a", "--route", "/a"]).unwrap();
        assert!(
            args.single.plan("f".parse().unwrap()).unwrap_err().to_string().contains("given twice")
        );
    }

    #[test]
    fn usage_mistakes_are_clap_errors() {
        use clap::error::ErrorKind;
        assert_eq!(deploy(&["f"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            deploy(&["--route", "/a"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            deploy(&["f", "--wasm", "x", "-f", "m.toml"]).unwrap_err().kind(),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            deploy(&["f", "--wasm", "x", "--host", "h"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(deploy(&["Bad", "--wasm", "x"]).unwrap_err().kind(), ErrorKind::ValueValidation);
        deploy(&["--no-build", "-f", "x.toml"]).unwrap();
        assert_eq!(
            deploy(&["f", "--wasm", "x", "--route-auth", "token"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            deploy(&["f", "--wasm", "x", "--route", "/f", "--route-auth", "basic"])
                .unwrap_err()
                .kind(),
            ErrorKind::ValueValidation
        );
    }
}
