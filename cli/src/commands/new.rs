//! `flint new NAME`: a Rust function crate, ready for `flint deploy`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use flint_api::Name;

use super::{ENV_SDK_PATH, print_line};
use crate::manifest;

/// Where `flint-sdk` is in the checkout this `flint` was built from.
const BUILT_IN_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

/// Names cargo refuses as a package name, or that make an unusable library
/// name (Rust keywords, the standard crates).
#[rustfmt::skip]
const RESERVED: &[&str] = &[
    "abstract", "alloc", "as", "async", "await", "become", "box", "break", "const", "continue",
    "core", "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen",
    "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv",
    "proc-macro", "pub", "ref", "return", "self", "static", "std", "struct", "super", "test",
    "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where",
    "while", "yield",
];

/// Options of `flint new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The function's name: lowercase letters, digits and `-`, starting with a letter
    #[arg(value_name = "NAME")]
    pub name: Name,

    /// Folder to create the function in [default: ./NAME]
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,

    /// The flint-sdk crate to depend on [default: the sdk/ of the Flint checkout flint was built from]
    #[arg(long, env = ENV_SDK_PATH, value_name = "PATH")]
    pub sdk_path: Option<PathBuf>,
}

/// Writes the new function's files.
pub fn run(args: NewArgs) -> anyhow::Result<()> {
    let name = &args.name;
    if RESERVED.contains(&name.as_str()) {
        anyhow::bail!(
            "`{name}` is a Rust keyword or a standard crate name, so cargo cannot build it; choose another name"
        );
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name.as_str()));
    let sdk = sdk_path(args.sdk_path.as_deref())?;
    check_empty(&dir)?;

    let files = files(name, &sdk);
    fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, contents) in &files {
        let path = dir.join(file);
        fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    }

    print_line(format_args!("created function `{name}` in {}", dir.display()))?;
    print_line("next:")?;
    print_line(format_args!("  cd {}", dir.display()))?;
    print_line("  flint deploy          # builds it and deploys it to the Flint API")?;
    print_line(format_args!("  flint invoke {name}"))?;
    Ok(())
}

/// The SDK folder, absolute: `--sdk-path`/`FLINT_SDK_PATH`, else the built-in one.
fn sdk_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let (path, from_flag) = match given {
        Some(path) => (path, true),
        None => (Path::new(BUILT_IN_SDK), false),
    };
    match path.canonicalize() {
        Ok(path) if path.join("Cargo.toml").is_file() => Ok(path),
        _ if from_flag => anyhow::bail!(
            "no flint-sdk crate at {} (--sdk-path or {ENV_SDK_PATH} must name the sdk/ folder of a Flint checkout)",
            path.display()
        ),
        _ => anyhow::bail!(
            "cannot find the Flint SDK at {}, where this flint was built; pass --sdk-path PATH (or set {ENV_SDK_PATH}) to the sdk/ folder of a Flint checkout",
            path.display()
        ),
    }
}

/// Refuses a folder that exists and holds anything, or a file in the way.
fn check_empty(dir: &Path) -> anyhow::Result<()> {
    if dir.is_file() {
        anyhow::bail!("{} already exists and is a file", dir.display());
    }
    if let Ok(mut entries) = fs::read_dir(dir)
        && entries.next().is_some()
    {
        anyhow::bail!(
            "{} already exists and is not empty; choose another name or --dir",
            dir.display()
        );
    }
    Ok(())
}

/// The files of a new function: path relative to its folder, and contents.
fn files(name: &Name, sdk: &Path) -> Vec<(&'static str, String)> {
    // A TOML string: the path may hold quotes or backslashes.
    let sdk = toml::Value::String(sdk.display().to_string()).to_string();
    let cargo_toml = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# An empty workspace: this function builds on its own, even inside another workspace.
[workspace]

[lib]
# A wasm component is a dynamic library.
crate-type = ["cdylib"]

[dependencies]
flint-sdk = {{ path = {sdk} }}

# Small components upload, compile and instantiate faster.
[profile.release]
opt-level = "s"
lto = true
strip = true
codegen-units = 1
"#
    );
    let lib_rs = format!(
        r#"//! The `{name}` function: answers every request with a greeting.

use flint_sdk::{{Request, Response}};

fn handle(req: Request) -> Response {{
    let name = req.query_param("name").unwrap_or_else(|| "world".into());
    Response::text(200, format!("Hello from {name}, {{name}}!\n"))
}}

flint_sdk::http_handler!(handle);
"#
    );
    let wasm = name.as_str().replace('-', "_");
    let flint_toml = format!(
        r#"# How to build and deploy this function: see `flint deploy --help`.

[[function]]
name = "{name}"
source = "target/wasm32-wasip2/release/{wasm}.wasm"
build = "cargo build --release --target wasm32-wasip2"

[[function.http]]
route = "/{name}"
"#
    );
    vec![
        ("Cargo.toml", cargo_toml),
        ("src/lib.rs", lib_rs),
        (manifest::FILE_NAME, flint_toml),
        (".gitignore", "target/\n".to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_it_writes_is_valid() {
        let name: Name = "my-fn".parse().unwrap();
        let files = files(&name, Path::new("/opt/flint/sdk"));
        let (_, text) = files.iter().find(|(f, _)| *f == manifest::FILE_NAME).unwrap();
        let manifest = manifest::Manifest::parse(text, Path::new("my-fn/flint.toml")).unwrap();
        let function = &manifest.functions[0];
        assert_eq!(function.name, name);
        assert_eq!(
            function.source_path,
            Path::new("my-fn/target/wasm32-wasip2/release/my_fn.wasm")
        );
        assert_eq!(function.http[0].1.route, "/my-fn");

        let (_, cargo) = files.iter().find(|(f, _)| *f == "Cargo.toml").unwrap();
        let cargo: toml::Table = cargo.parse().unwrap();
        assert_eq!(cargo["dependencies"]["flint-sdk"]["path"].as_str(), Some("/opt/flint/sdk"));
        assert!(cargo["workspace"].as_table().unwrap().is_empty());
        assert_eq!(cargo["lib"]["crate-type"][0].as_str(), Some("cdylib"));
    }

    #[test]
    fn it_refuses_a_folder_in_use() {
        let dir = tempfile::tempdir().unwrap();
        check_empty(dir.path()).unwrap();
        check_empty(&dir.path().join("missing")).unwrap();
        fs::write(dir.path().join("x"), "").unwrap();
        let err = check_empty(dir.path()).unwrap_err().to_string();
        assert!(err.contains("already exists and is not empty"), "{err}");
        let err = check_empty(&dir.path().join("x")).unwrap_err().to_string();
        assert!(err.contains("is a file"), "{err}");
    }
}
