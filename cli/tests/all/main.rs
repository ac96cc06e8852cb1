//! Tests of the `flint` binary: the verbs that need no controller, and the
//! others against a fake controller that speaks the `flint-api` types.

mod api;
mod auth;
mod cli;
mod fake;

use std::path::Path;
use std::process::Output;

/// The start of a wasm component (`\0asm`, version 0x0d, layer 1), then `tag`.
pub fn component(tag: &str) -> Vec<u8> {
    let mut wasm = b"\0asm\x0d\0\x01\0".to_vec();
    wasm.extend_from_slice(tag.as_bytes());
    wasm
}

/// A `printf` command that writes `component(tag)` to `file`, for `build =`.
pub fn build_command(tag: &str, file: &str) -> String {
    format!(r"printf '\000asm\015\000\001\000{tag}' > {file}")
}

pub fn write(dir: &Path, file: &str, contents: impl AsRef<[u8]>) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success, showing both streams otherwise.
#[track_caller]
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// Asserts exit code 1 and returns stderr.
#[track_caller]
pub fn fails(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    stderr(output)
}
