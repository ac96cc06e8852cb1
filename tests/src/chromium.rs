//! Headless Chromium (Debian's `chromium`) for tests that look at a page:
//! the DOM after it rendered, and a screenshot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The browser: `$CHROMIUM`, else `/usr/bin/chromium`.
pub fn binary() -> PathBuf {
    let bin: PathBuf =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), Into::into);
    assert!(
        bin.exists(),
        "{} is missing: install Debian's chromium (apt-get install chromium), or run tests/run as root",
        bin.display()
    );
    bin
}

fn run(url: &str, mode: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(binary());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(mode)
        .arg(url);
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let pid = child.id();
    // A hung browser must not hang the suite.
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    });
    let output = child.wait_with_output().expect("chromium runs");
    drop(watchdog);
    assert!(
        output.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The DOM of `url` after loading it.
pub fn dump_dom(url: &str) -> String {
    String::from_utf8_lossy(&run(url, &["--dump-dom"]).stdout).into_owned()
}

/// Saves a screenshot of `url` (a PNG, `width` × `height`) to `path`.
pub fn screenshot(url: &str, path: &Path, width: u32, height: u32) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("artifact folder");
    }
    run(
        url,
        &[&format!("--screenshot={}", path.display()), &format!("--window-size={width},{height}")],
    );
    assert!(path.exists(), "no screenshot at {}", path.display());
}

/// Where tests put what a person may want to look at: `target/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    crate::repo_root().join("target/test-artifacts")
}

/// The `data-value` of the element with `id` in a DOM dump.
pub fn data_value(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let tag_end = at + dom[at..].find('>')?;
    let tag_start = dom[..at].rfind('<')?;
    let tag = &dom[tag_start..tag_end];
    let value = tag.split("data-value=\"").nth(1)?;
    Some(value[..value.find('"')?].to_owned())
}
