//! `flint.toml`: the CLI's real manifest parser (`cli/src/manifest.rs`),
//! compiled in by path. The `flint` crate itself cannot be a dependency:
//! it builds the controller and the invoker (wasmtime) for `flint up`. The
//! module depends on `flint-api`, `toml`, `serde` and `anyhow` only, and
//! says so in its docs; if that changes, this target stops building.
//!
//! Properties: an error names the file; an accepted manifest holds only
//! what the controller would accept (names, routes, schedules, Kafka
//! consumers, limits, env), unique function and trigger names, no route
//! declared twice, relative paths resolved against the manifest's folder,
//! and triggers and specs that survive the trip to JSON and back.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use flint_api::{FunctionSpec, Limits, Name, Timestamp, TriggerSpec};
use libfuzzer_sys::fuzz_target;

#[path = "../../../cli/src/manifest.rs"]
#[allow(dead_code, reason = "the CLI's loading helpers are not fuzzed")]
mod manifest;

use manifest::Manifest;

const DIR: &str = "project";
const PATH: &str = "project/flint.toml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Manifest::parse(text, Path::new(PATH)) {
        Ok(manifest) => check(&manifest),
        Err(err) => {
            let message = format!("{err:#}");
            assert!(message.starts_with(PATH), "the error does not name the file: {message}");
        }
    }
    // Where errors point: any byte offset, on a character boundary or not.
    for offset in [0, text.len() / 2, text.len(), text.len() + 1] {
        let (line, column) = manifest::line_column(text, offset);
        assert!(line >= 1 && column >= 1);
    }
});

fn check(manifest: &Manifest) {
    assert!(!manifest.functions.is_empty());
    let mut functions = HashSet::new();
    let mut triggers = HashSet::new();
    let mut routes = HashSet::new();
    for function in &manifest.functions {
        round_trips(&function.name);
        assert!(functions.insert(function.name.clone()), "function `{}` twice", function.name);
        assert!(!function.source.has_root() && !function.source.as_os_str().is_empty());
        assert_eq!(function.source_path, Path::new(DIR).join(&function.source));
        assert!(function.workdir.starts_with(DIR));
        assert!(function.build.as_ref().is_none_or(|b| !b.trim().is_empty()));

        function.spec.validate().expect("an accepted manifest has a valid spec");
        function.spec.limits.resolve(&Limits::default()).expect("and valid limits");
        let json = serde_json::to_string(&function.spec).expect("a spec serializes");
        let back: FunctionSpec = serde_json::from_str(&json).expect("a spec deserializes");
        assert_eq!(back, function.spec);

        for (_, http) in &function.http {
            http.validate().expect("an accepted route validates");
            assert!(http.matches_path(&http.route));
            assert!(routes.insert((http.host.clone(), http.route.clone())), "{http:?} twice");
        }
        for (_, schedule) in &function.schedules {
            let parsed = schedule.validate().expect("an accepted schedule validates");
            let now = Timestamp::now();
            let next = parsed.next_after(now).expect("an accepted schedule fires");
            assert!(next > now);
        }
        for (_, kafka) in &function.kafka {
            kafka.validate().expect("an accepted consumer validates");
        }

        let all = function.triggers();
        assert_eq!(
            all.len(),
            function.http.len() + function.schedules.len() + function.kafka.len()
        );
        for (name, spec) in all {
            round_trips(&name);
            assert!(name.as_str().starts_with(function.name.as_str()));
            assert!(triggers.insert(name.clone()), "trigger `{name}` twice");
            spec.validate().expect("an accepted trigger validates");
            let json = serde_json::to_string(&spec).expect("a trigger serializes");
            let back: TriggerSpec = serde_json::from_str(&json).expect("a trigger deserializes");
            assert_eq!(back, spec, "{json}");
        }
    }
}

fn round_trips(name: &Name) {
    assert_eq!(name.to_string().parse::<Name>().as_ref(), Ok(name));
}
