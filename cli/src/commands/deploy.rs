//! `flint deploy`: builds the functions of a manifest, uploads their code and
//! makes their triggers exactly those declared, like `kubectl apply`. Or,
//! with `NAME --wasm FILE`, deploys one wasm file described by flags.
//!
//! Everything is checked locally first (the manifest, the flags, the wasm
//! files), so bad input fails before anything is sent. Then, per function:
//! `put_function` with its limits and environment, `upload_version` unless
//! the controller already runs the same sha256, and the trigger sync.

mod flags;
mod sync;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;
use flint_api::{
    Client, Digest, FunctionSpec, HttpTrigger, Name, RouteAuth, TriggerSpec, human_bytes,
};
use sha2::{Digest as _, Sha256};

pub use self::flags::SingleArgs;
use super::{ApiResultExt as _, Global};
use crate::commands::build;
use crate::manifest::Manifest;
use crate::output::{self, Table};

/// Options of `flint deploy`.
#[derive(Debug, Args)]
#[command(after_help = "\
With a manifest (./flint.toml or -f), deploys every function it declares and makes each
one's triggers exactly those declared: triggers of these functions that the manifest no
longer declares are deleted. See cli/README.md for the manifest format.

With NAME --wasm FILE, deploys one function without a manifest. Its triggers become the
--route flags given; without any --route they are left as they are.")]
pub struct DeployArgs {
    /// Deploy one wasm file as function NAME, without a manifest (needs --wasm)
    #[arg(value_name = "NAME", requires = "wasm", conflicts_with_all = ["file", "no_build"])]
    pub name: Option<Name>,

    /// The manifest, or a folder holding flint.toml [default: ./flint.toml]
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Deploy the manifest's wasm files as they are, without running the builds
    #[arg(long)]
    pub no_build: bool,

    #[command(flatten)]
    pub single: SingleArgs,
}

/// What to deploy for one function, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The function.
    pub name: Name,
    /// Its wasm component, as read.
    pub wasm: Bytes,
    /// The sha256 of `wasm`.
    pub digest: Digest,
    /// Limits and environment.
    pub spec: FunctionSpec,
    /// The triggers it must have, or `None` to leave its triggers as they are.
    pub triggers: Option<Vec<(Name, TriggerSpec)>>,
    /// The trigger kind `triggers` covers (`Some("http")` for `--route`),
    /// or `None` for all kinds (a manifest declares them all).
    pub kind: Option<&'static str>,
}

/// What a deploy did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The namespace deployed to.
    pub namespace: Name,
    /// One entry per function, in order.
    pub functions: Vec<Deployed>,
}

/// What a deploy did to one function.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The function.
    pub name: Name,
    /// The version that runs now.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it was uploaded, or the controller already ran it.
    pub uploaded: bool,
    /// Its HTTP routes after the deploy.
    pub http: Vec<HttpTrigger>,
}

/// Deploys a manifest or one wasm file, then says how to call what was deployed.
pub async fn run(args: DeployArgs, global: &Global) -> anyhow::Result<()> {
    let client = global.client()?;
    let mut out = std::io::stdout();
    let summary = match args.name {
        Some(name) => {
            let plan = args.single.plan(name)?;
            let namespace = global.namespace();
            let summary = apply(&client, &namespace, vec![plan]).await?;
            print_summary(&summary, &mut out)?;
            summary
        }
        None => {
            let hint = ", or deploy one wasm file with `flint deploy NAME --wasm FILE`";
            let path = build::locate(args.file.as_deref(), hint)?;
            deploy_manifest(&client, global.namespace_flag(), &path, !args.no_build, &mut out)
                .await?
        }
    };
    print_call_hints(&client, &summary, &mut out).await
}

/// Loads the manifest at `manifest` (a file, or a folder holding
/// `flint.toml`), builds it if `build`, deploys it to `namespace` (else the
/// manifest's namespace, else `default`) and prints one line per function to
/// `out`. Build progress goes to stderr. `flint up --deploy` calls this.
pub async fn deploy_manifest(
    client: &Client,
    namespace: Option<&Name>,
    manifest: &Path,
    build: bool,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<Summary> {
    let manifest = Manifest::load(manifest)?;
    if build {
        build::build_all(&manifest).await?;
    }
    let mut plans = Vec::with_capacity(manifest.functions.len());
    for function in &manifest.functions {
        let (wasm, digest) = read_wasm(&function.source_path).with_context(|| {
            format!("function `{}` in {}", function.name, manifest.path.display())
        })?;
        let triggers = Some(function.triggers());
        plans.push(Plan {
            name: function.name.clone(),
            wasm,
            digest,
            spec: function.spec.clone(),
            triggers,
            kind: None,
        });
    }
    let namespace =
        namespace.or(manifest.namespace.as_ref()).cloned().unwrap_or_else(Name::default_namespace);
    let summary = apply(client, &namespace, plans).await?;
    print_summary(&summary, out)?;
    Ok(summary)
}

/// Reads a wasm component and computes its digest, refusing anything that is
/// not a component so the mistake shows before an upload.
pub fn read_wasm(path: &Path) -> anyhow::Result<(Bytes, Digest)> {
    let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Every wasm binary starts with `\0asm` and a 4-byte version; its last two
    // bytes, the layer, are 0 for a core module and 1 for a component.
    match wasm.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => {}
        Some([0, b'a', b's', b'm', _, _, 0, 0]) => anyhow::bail!(
            "{} is a core wasm module, not a component: build for wasm32-wasip2, or wrap it with `wasm-tools component new`",
            path.display()
        ),
        _ => anyhow::bail!("{} is not a WebAssembly file", path.display()),
    }
    let digest = Digest::from_sha256(&Sha256::digest(&wasm).into());
    Ok((Bytes::from(wasm), digest))
}

/// Sends checked plans: functions and their code first, then the triggers.
pub async fn apply(client: &Client, namespace: &Name, plans: Vec<Plan>) -> anyhow::Result<Summary> {
    let mut functions = Vec::with_capacity(plans.len());
    for plan in &plans {
        let name = &plan.name;
        let function = client
            .put_function(namespace, name, &plan.spec)
            .await
            .api(client)
            .with_context(|| format!("cannot deploy `{name}` to namespace `{namespace}`"))?;
        let uploaded = function.version.as_ref() != Some(&plan.digest);
        if uploaded {
            client
                .upload_version(namespace, name, plan.wasm.clone())
                .await
                .api(client)
                .with_context(|| format!("cannot upload the code of `{name}`"))?;
        }
        functions.push(Deployed {
            name: name.clone(),
            digest: plan.digest.clone(),
            size: plan.wasm.len() as u64,
            uploaded,
            http: Vec::new(),
        });
    }
    let routes = sync::triggers(client, namespace, &plans).await?;
    for deployed in &mut functions {
        deployed.http = routes.get(&deployed.name).cloned().unwrap_or_default();
    }
    // Return once the invokers run what was deployed, so a call right after
    // `flint deploy` reaches the new version.
    let behind = client.wait_for_invokers(INVOKER_WAIT).await.unwrap_or_default();
    for invoker in behind {
        eprintln!(
            "warning: invoker {} has not applied this deploy yet; it will shortly",
            invoker.info.id
        );
    }
    Ok(Summary { namespace: namespace.clone(), functions })
}

/// How long `deploy` waits for invokers to apply what it changed.
const INVOKER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One line per function: name, short digest, whether it was uploaded, routes.
pub fn print_summary(summary: &Summary, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let mut table = Table::plain();
    for f in &summary.functions {
        let version = if f.uploaded {
            format!("{} (uploaded {})", f.digest.short(), human_bytes(f.size))
        } else {
            format!("{} (unchanged)", f.digest.short())
        };
        let routes: Vec<String> = f.http.iter().map(output::route_label).collect();
        table.row(vec![
            format!("deployed {}", f.name),
            version,
            format!("routes: {}", output::joined(&routes)),
        ]);
    }
    out.write_all(table.render(0).as_bytes()).context("writing to stdout")
}

/// Says how to call the deployed functions: `curl` lines for a healthy
/// invoker's HTTP address, or `flint invoke` for functions without a route.
pub async fn print_call_hints(
    client: &Client,
    summary: &Summary,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    // Only a hint: a controller that cannot list invokers still deployed fine.
    let invokers = client.list_invokers().await.unwrap_or_default();
    let invoker = invokers.iter().find(|i| i.healthy);
    let mut lines = Vec::new();
    let ns = if summary.namespace.as_str() == flint_api::DEFAULT_NAMESPACE {
        String::new()
    } else {
        format!(" -n {}", summary.namespace)
    };
    for f in &summary.functions {
        match invoker {
            Some(invoker) if !f.http.is_empty() => {
                let base = invoker.info.http_url.trim_end_matches('/');
                let base =
                    if base.contains("://") { base.to_owned() } else { format!("http://{base}") };
                for http in &f.http {
                    lines.push(curl(&base, http));
                }
            }
            _ => lines.push(format!("flint invoke{ns} {}", f.name)),
        }
    }
    let mut text = String::from("\ncall it:\n");
    for line in lines {
        text.push_str(&format!("  {line}\n"));
    }
    let token_routes =
        summary.functions.iter().flat_map(|f| &f.http).any(|h| h.auth == RouteAuth::Token);
    if invoker.is_some() && token_routes {
        text.push_str(
            "routes marked (token) need a token of role invoker or better for the namespace: \
             `TOKEN=$(flint token create NAME --role invoker)`\n",
        );
    }
    if invoker.is_none() && summary.functions.iter().any(|f| !f.http.is_empty()) {
        text.push_str(
            "no invoker is running yet: the routes answer once one is (`flint up` runs one)\n",
        );
    }
    out.write_all(text.as_bytes()).context("writing to stdout")
}

/// A `curl` command line for one route.
fn curl(base: &str, http: &HttpTrigger) -> String {
    let mut line = String::from("curl");
    if !http.methods.is_empty() && !http.methods.iter().any(|m| m == "GET") {
        line.push_str(&format!(" -X {}", http.methods[0]));
    }
    if let Some(host) = &http.host {
        line.push_str(&format!(" -H 'Host: {host}'"));
    }
    if http.auth == RouteAuth::Token {
        // Double quotes: the shell fills in $TOKEN.
        line.push_str(" -H \"Authorization: Bearer $TOKEN\"");
    }
    line.push_str(&format!(" {base}{}", http.route));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_components_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.wasm");
        std::fs::write(&path, b"\0asm\x0d\0\x01\0rest").unwrap();
        let (wasm, digest) = read_wasm(&path).unwrap();
        assert_eq!(wasm.len(), 12);
        assert_eq!(digest, Digest::from_sha256(&Sha256::digest(&wasm).into()));
        std::fs::write(&path, b"\0asm\x01\0\0\0").unwrap();
        assert!(read_wasm(&path).unwrap_err().to_string().contains("core wasm module"));
        std::fs::write(&path, b"hello").unwrap();
        assert!(read_wasm(&path).unwrap_err().to_string().contains("not a WebAssembly file"));
        let err = format!("{:#}", read_wasm(&dir.path().join("missing.wasm")).unwrap_err());
        assert!(err.starts_with("cannot read") && err.contains("missing.wasm"), "{err}");
    }

    #[test]
    fn curl_lines() {
        let mut http = HttpTrigger::new("/hello");
        assert_eq!(curl("http://127.0.0.1:8080", &http), "curl http://127.0.0.1:8080/hello");
        http.host = Some("example.com".into());
        http.methods = vec!["POST".into()];
        assert_eq!(
            curl("http://h:1", &http),
            "curl -X POST -H 'Host: example.com' http://h:1/hello"
        );
        http.auth = RouteAuth::Token;
        assert_eq!(
            curl("http://h:1", &http),
            "curl -X POST -H 'Host: example.com' -H \"Authorization: Bearer $TOKEN\" http://h:1/hello"
        );
    }
}
