use std::collections::HashMap;

use super::*;

/// An environment lookup over a fixed map.
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
    let vars: HashMap<String, OsString> =
        vars.iter().map(|(k, v)| ((*k).to_owned(), OsString::from(v))).collect();
    move |name| vars.get(name).cloned()
}

const TOKEN_A: &str = "flint_0123456789abcdef_aaaa";

#[test]
fn the_path_follows_flint_config_then_xdg_then_home() {
    let located = |vars: &[(&str, &str)]| path(&env(vars));
    assert_eq!(
        located(&[("FLINT_CONFIG", "/etc/f.toml"), ("HOME", "/home/me")]).unwrap(),
        Path::new("/etc/f.toml")
    );
    assert_eq!(
        located(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/home/me")]).unwrap(),
        Path::new("/x/flint/config.toml")
    );
    // Empty counts as unset; a relative XDG_CONFIG_HOME is ignored (XDG spec).
    assert_eq!(
        located(&[("FLINT_CONFIG", ""), ("XDG_CONFIG_HOME", "rel"), ("HOME", "/home/me")]).unwrap(),
        Path::new("/home/me/.config/flint/config.toml")
    );
    let err = located(&[]).unwrap_err().to_string();
    assert!(err.contains("FLINT_CONFIG") && err.contains("HOME"), "{err}");
}

#[test]
fn urls_are_compared_normalised() {
    assert_eq!(normalize_url("http://127.0.0.1:7070/"), "http://127.0.0.1:7070");
    assert_eq!(normalize_url(" HTTP://LocalHost:80/ "), "http://localhost");
    assert_eq!(normalize_url("http://h:1/api/"), "http://h:1/api");
    assert_eq!(normalize_url("not a url/"), "not a url");
}

#[test]
fn save_then_load_keeps_tokens_and_unknown_keys_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    // The folders do not exist yet: save creates them.
    let path = dir.path().join("a/b/config.toml");
    let mut config = Config::load(&path).unwrap();
    assert_eq!(config.token("http://127.0.0.1:7070"), None);
    config.set_token("http://127.0.0.1:7070/", TOKEN_A);
    config.save().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# flint's config"), "{text}");
    assert!(text.contains("[servers.\"http://127.0.0.1:7070\"]\ntoken = \""), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

    // Keys a newer flint may write survive a rewrite.
    let edited = format!(
        "{text}\ncolor = \"never\"\n[servers.\"http://127.0.0.1:7070\".tls]\nca = \"x.pem\"\n"
    );
    std::fs::write(&path, edited).unwrap();
    let mut config = Config::load(&path).unwrap();
    assert_eq!(config.token("http://127.0.0.1:7070"), Some(TOKEN_A));
    config.set_token("http://other:7070", "flint_other");
    config.save().unwrap();
    let config = Config::load(&path).unwrap();
    assert_eq!(config.token("http://other:7070/"), Some("flint_other"));
    assert_eq!(config.token("http://127.0.0.1:7070"), Some(TOKEN_A));
    let text = config.to_text().unwrap();
    assert!(text.contains("color = \"never\"") && text.contains("ca = \"x.pem\""), "{text}");
    assert_eq!(config.urls(), ["http://127.0.0.1:7070", "http://other:7070"]);
    assert!(!format!("{config:?}").contains(TOKEN_A), "Debug never shows tokens");
}

#[test]
fn another_spelling_of_the_url_is_found_and_replaced() {
    let path = Path::new("config.toml");
    let text = "[servers.\"http://LOCALHOST:7070/\"]\ntoken = \"old\"\nnote = \"mine\"\n";
    let mut config = Config::parse(text, path).unwrap();
    assert_eq!(config.token("http://localhost:7070"), Some("old"));
    config.set_token("http://localhost:7070", "new");
    assert_eq!(config.token("http://localhost:7070/"), Some("new"));
    let text = config.to_text().unwrap();
    assert!(!text.contains("LOCALHOST") && text.contains("note = \"mine\""), "{text}");
}

#[test]
fn wrong_types_are_refused_with_the_file_and_line() {
    let path = Path::new("/home/me/.config/flint/config.toml");
    let err = Config::parse("[servers.\"http://h\"]\ntoken = 3\n", path).unwrap_err().to_string();
    assert!(err.starts_with("/home/me/.config/flint/config.toml:2:9: "), "{err}");
    assert!(err.contains("expected a string"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    let err = Config::parse("servers = 1\n", path).unwrap_err().to_string();
    assert!(err.contains(":1:11: ") && err.contains("expected a map"), "{err}");
    let err = Config::parse("[servers\n", path).unwrap_err().to_string();
    assert!(err.starts_with("/home/me/.config/flint/config.toml:1:"), "{err}");
}

#[test]
fn the_flag_wins_then_the_config_entry_for_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut config = Config::load(&path).unwrap();
    config.set_token("http://127.0.0.1:7070", TOKEN_A);
    config.save().unwrap();
    let lookup = env(&[("FLINT_CONFIG", path.to_str().unwrap())]);

    let token = resolve(Some("flag-token"), "http://127.0.0.1:7070", &lookup).unwrap().unwrap();
    assert_eq!((token.secret.as_str(), &token.source), ("flag-token", &Source::Flag));
    let token = resolve(None, "http://127.0.0.1:7070/", &lookup).unwrap().unwrap();
    assert_eq!(token.secret, TOKEN_A);
    assert_eq!(token.source, Source::Config(path.clone()));
    assert!(!format!("{token:?}").contains(TOKEN_A));
    // Another server, an empty flag, no way to find a config: no token.
    assert_eq!(resolve(None, "http://127.0.0.1:7071", &lookup).unwrap(), None);
    assert_eq!(resolve(Some(""), "http://127.0.0.1:7071", &lookup).unwrap(), None);
    assert_eq!(resolve(None, "http://127.0.0.1:7070", &env(&[])).unwrap(), None);

    // A broken file is an error, not a silent "no token".
    std::fs::write(&path, "servers = [").unwrap();
    let err = resolve(None, "http://127.0.0.1:7070", &lookup).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    // Unless the flag makes the file irrelevant.
    assert!(resolve(Some("t"), "http://127.0.0.1:7070", &lookup).unwrap().is_some());
}
