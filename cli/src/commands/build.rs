//! `flint build`: runs the build command of each function of a manifest and
//! checks that it produced the wasm file the manifest names.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context as _;
use clap::Args;
use flint_api::human_bytes;

use crate::manifest::{self, Function, Manifest};

/// Options of `flint build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The manifest, or a folder holding flint.toml [default: ./flint.toml]
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
}

/// Builds every function of the manifest.
pub async fn run(args: BuildArgs) -> anyhow::Result<()> {
    let manifest = Manifest::load(&locate(args.file.as_deref(), "")?)?;
    build_all(&manifest).await
}

/// The manifest named by `-f`, or `./flint.toml` if there is one. `hint`
/// ends the message when there is none in the current folder.
pub fn locate(file: Option<&Path>, hint: &str) -> anyhow::Result<PathBuf> {
    if let Some(file) = file {
        return Ok(file.to_owned());
    }
    let path = Path::new(manifest::FILE_NAME);
    if !path.exists() {
        let here =
            std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| ".".into());
        anyhow::bail!("no {} in {here}: pass -f PATH{hint}", manifest::FILE_NAME);
    }
    Ok(path.to_owned())
}

/// Builds each function in turn, reporting progress on stderr.
pub async fn build_all(manifest: &Manifest) -> anyhow::Result<()> {
    let total = manifest.functions.len();
    for (index, function) in manifest.functions.iter().enumerate() {
        build_function(function, index + 1, total).await?;
    }
    Ok(())
}

/// Runs one function's build command (`sh -c`, in its workdir) and checks its
/// source file. The command's output, stdout included, goes to stderr so that
/// stdout keeps only what flint itself prints. Returns the size of the wasm.
pub async fn build_function(
    function: &Function,
    index: usize,
    total: usize,
) -> anyhow::Result<u64> {
    let name = &function.name;
    let mut stderr = std::io::stderr();
    match &function.build {
        Some(command) => {
            let _ = writeln!(stderr, "[{index}/{total}] building {name}: {command}");
            let status = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&function.workdir)
                .stdin(Stdio::null())
                .stdout(stderr_for_child()?)
                .status()
                .await
                .with_context(|| {
                    format!(
                        "cannot run the build of `{name}` (`sh -c` in {})",
                        function.workdir.display()
                    )
                })?;
            if !status.success() {
                let how = match status.code() {
                    Some(code) => format!("exited with status {code}"),
                    None => format!("was stopped ({status})"),
                };
                anyhow::bail!("building `{name}` failed: `{command}` {how}");
            }
        }
        None => {
            let _ = writeln!(stderr, "[{index}/{total}] {name} has no build command");
        }
    }
    let size = match std::fs::metadata(&function.source_path) {
        Ok(meta) if meta.is_file() => meta.len(),
        _ => {
            let after = if function.build.is_some() { " after its build" } else { "" };
            anyhow::bail!(
                "`{name}`: {} does not exist{after}; check `source` in the manifest",
                function.source_path.display()
            )
        }
    };
    let _ = writeln!(stderr, "built {name}: {} ({})", function.source.display(), human_bytes(size));
    Ok(size)
}

/// A handle on our stderr for a child's stdout.
fn stderr_for_child() -> anyhow::Result<Stdio> {
    use std::os::fd::AsFd as _;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().context("cannot duplicate stderr")?;
    Ok(Stdio::from(fd))
}
