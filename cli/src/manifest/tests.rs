use std::path::Path;

use super::*;

const FULL: &str = r#"
namespace = "team-a"

[[function]]
name = "hello"
source = "target/wasm32-wasip2/release/hello_http.wasm"
build = "cargo build --release --target wasm32-wasip2 -p hello-http"
workdir = ".."
env = { GREETING = "hi" }
limits = { memory_mb = 64, timeout_ms = 5000 }

[[function.http]]
route = "/hello"
host = "example.com"
methods = ["GET", "POST"]

[[function.http]]
route = "/hi"
auth = "token"

[[function]]
name = "bare"
source = "bare.wasm"
"#;

#[test]
fn a_full_manifest() {
    let manifest = Manifest::parse(FULL, Path::new("project/flint.toml")).unwrap();
    assert_eq!(manifest.namespace.as_ref().map(Name::as_str), Some("team-a"));
    let [hello, bare] = &manifest.functions[..] else { panic!("two functions") };

    assert_eq!(hello.source, Path::new("target/wasm32-wasip2/release/hello_http.wasm"));
    assert_eq!(
        hello.source_path,
        Path::new("project/target/wasm32-wasip2/release/hello_http.wasm")
    );
    assert_eq!(hello.workdir, Path::new("project/.."));
    assert_eq!(hello.spec.env["GREETING"], "hi");
    assert_eq!(hello.spec.limits.memory_mb, Some(64));
    assert_eq!(hello.spec.limits.concurrency, None);
    let names: Vec<String> = hello.triggers().into_iter().map(|(n, _)| n.into()).collect();
    assert_eq!(names, ["hello-http-1", "hello-http-2"]);
    assert_eq!(hello.http[0].1.host.as_deref(), Some("example.com"));
    assert_eq!(hello.http[0].1.methods, ["GET", "POST"]);
    assert_eq!(hello.http[0].1.auth, flint_api::RouteAuth::None);
    assert_eq!(hello.http[1].1.auth, flint_api::RouteAuth::Token);

    assert_eq!(bare.build, None);
    assert_eq!(bare.workdir, Path::new("project/."));
    assert!(bare.triggers().is_empty());
    assert_eq!(bare.spec, FunctionSpec::default());
}

#[test]
fn a_manifest_in_the_current_folder_resolves_against_it() {
    let text = "[[function]]\nname = \"a\"\nsource = \"a.wasm\"\n";
    let manifest = Manifest::parse(text, Path::new("flint.toml")).unwrap();
    assert_eq!(manifest.functions[0].source_path, Path::new("a.wasm"));
    assert_eq!(manifest.functions[0].workdir, Path::new("."));
    assert_eq!(manifest.namespace, None);
}

#[test]
fn trigger_naming() {
    let f: Name = "hello".parse().unwrap();
    let names = |count| {
        trigger_names(&f, "http", count).unwrap().iter().map(Name::to_string).collect::<Vec<_>>()
    };
    assert_eq!(names(0), Vec::<String>::new());
    assert_eq!(names(1), ["hello-http"]);
    assert_eq!(names(3), ["hello-http-1", "hello-http-2", "hello-http-3"]);
    assert_eq!(trigger_names(&f, "schedule", 1).unwrap()[0].as_str(), "hello-schedule");

    // 58 characters: `-http` fits in 63, `-http-1` does not.
    let long: Name = "a".repeat(58).parse().unwrap();
    assert!(trigger_names(&long, "http", 1).is_ok());
    assert!(trigger_names(&long, "http", 2).is_err());
}

#[test]
fn line_and_column_count_characters() {
    let text = "ab\nçd\nx";
    assert_eq!(line_column(text, 0), (1, 1));
    assert_eq!(line_column(text, 3), (2, 1));
    assert_eq!(line_column(text, 5), (2, 2));
    assert_eq!(line_column(text, text.len()), (3, 2));
}

/// Each `tests/ui/invalid/<case>.toml` must fail with the text of `<case>.err`.
/// `FLINT_BLESS=1 cargo test -p flint` rewrites the `.err` files.
#[test]
fn invalid_manifests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/invalid");
    let bless = std::env::var_os("FLINT_BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "only {} cases in {}", cases.len(), dir.display());
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).unwrap();
        let file_name = Path::new(case.file_name().unwrap());
        let actual = match Manifest::parse(&text, file_name) {
            Ok(_) => "<no error>".to_owned(),
            Err(err) => format!("{err:#}"),
        };
        let expected_path = case.with_extension("err");
        if bless {
            std::fs::write(&expected_path, format!("{actual}\n")).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected.trim_end() != actual {
            failures.push(format!(
                "{}:\n  expected: {}\n  actual:   {actual}",
                case.display(),
                expected.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The repository's example manifests are valid, with every trigger kind.
#[test]
fn the_example_manifests_parse() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let all = Manifest::load(&examples.join(FILE_NAME)).unwrap();
    let names: Vec<&str> = all.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["hello", "report"]);
    assert_eq!(all.functions[1].schedules.len(), 1);
    let enricher = Manifest::load(&examples.join("kafka-enricher").join(FILE_NAME)).unwrap();
    let kinds: Vec<&str> =
        enricher.functions[0].triggers().iter().map(|(_, spec)| spec.kind()).collect();
    assert_eq!(kinds, ["kafka"]);
}
