//! Identifiers and routes: `Name`, `Digest`, HTTP routes and hosts and how
//! they match and overlap, API tokens, token scopes, rates and quotas.
//!
//! Input: text. Each of the first lines is tried as a name, a digest, a
//! token and a rate; lines 1 and 2 are a route and its host, lines 3 and 4
//! another; the whole text is tried as the JSON of a route, a token spec and
//! a namespace's quotas. The first 40 bytes are also a token's random bytes.
//!
//! Properties: an identifier is accepted exactly when it follows the
//! documented rule, and survives Display and JSON; a valid route matches
//! itself and the paths below it, never a sibling; two routes that do not
//! overlap never match the same request (what keeps namespaces apart);
//! a token that parses is its parts, and a formatted token parses back;
//! accepted JSON survives the trip back.
#![no_main]

use std::fmt::Debug;

use flint_api::auth::{TOKEN_PREFIX, format_token, parse_token, to_hex};
use flint_api::{Digest, HttpTrigger, MAX_NAME_LEN, Name, Quotas, Rate, Scope, TokenSpec};
use flint_fuzz::Bytes;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fuzz_target!(|data: &[u8]| {
    tokens(data);
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(4).copied().chain([text.as_ref()]) {
        name(line);
        digest(line);
        token(line);
        rate(line);
    }
    let line = |i: usize| lines.get(i).copied().unwrap_or("");
    let host = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let a = HttpTrigger { host: host(line(1)), ..HttpTrigger::new(line(0)) };
    let b = HttpTrigger { host: host(line(3)), ..HttpTrigger::new(line(2)) };
    routes(&a, &b);

    if let Some(route) = json::<HttpTrigger>(&text) {
        routes(&route, &a);
    }
    if let Some(quotas) = json::<Quotas>(&text)
        && quotas.validate().is_ok()
    {
        for reservation in &quotas.reserved {
            routes(&reservation.as_route(), &a);
        }
    }
    if let Some(spec) = json::<TokenSpec>(&text)
        && let Scope::Only(list) = &spec.namespaces
    {
        assert_eq!(spec.namespaces.to_string().split(',').count(), list.len().max(1));
    }
});

fn name(s: &str) {
    let rule = !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    match s.parse::<Name>() {
        Ok(name) => {
            assert!(rule, "`{s}` should not be a name");
            assert_eq!(name.to_string(), s);
            round_trips(&name);
        }
        Err(_) => assert!(!rule, "`{s}` should be a name"),
    }
}

fn digest(s: &str) {
    if let Ok(digest) = s.parse::<Digest>() {
        assert_eq!(digest.to_string(), s);
        assert_eq!(digest.hex().len(), 64);
        assert!(digest.hex().starts_with(digest.short()));
        round_trips(&digest);
    }
}

fn token(s: &str) {
    if let Some(presented) = parse_token(s) {
        assert_eq!(format!("{TOKEN_PREFIX}{}_{}", presented.id, presented.secret), s);
        // Debug never shows the secret.
        assert!(!format!("{presented:?}").contains(presented.secret));
    }
}

fn tokens(data: &[u8]) {
    let mut bytes = Bytes(data);
    let id: [u8; 8] = std::array::from_fn(|_| bytes.u8());
    let secret: [u8; 32] = std::array::from_fn(|_| bytes.u8());
    let token = format_token(&id, &secret);
    let presented = parse_token(&token).expect("a formatted token parses");
    assert_eq!((presented.id, presented.secret), (to_hex(&id).as_str(), to_hex(&secret).as_str()));
}

fn rate(s: &str) {
    if let Ok(rate) = s.parse::<Rate>() {
        assert!(rate.requests > 0 && [1, 60].contains(&rate.period_secs));
        assert!(rate.per_second().is_finite() && rate.per_second() > 0.0);
        assert_eq!(rate.to_string().parse::<Rate>(), Ok(rate));
        round_trips(&rate);
    }
}

fn routes(a: &HttpTrigger, b: &HttpTrigger) {
    for route in [a, b] {
        if route.validate().is_err() {
            return;
        }
        let path = route.route.as_str();
        assert!(route.matches_path(path), "{route:?} does not match itself");
        assert!(route.matches_path(&format!("{path}/x")));
        if path != "/" {
            assert!(!route.matches_path(&format!("{path}x")), "{route:?} matches a sibling");
        }
        assert!(route.overlaps(route));
    }
    assert_eq!(a.overlaps(b), b.overlaps(a));
    if !a.overlaps(b) {
        // No request reaches both: not one for either route, not one below it.
        let hosts_meet = a.host.is_none() || b.host.is_none() || a.host == b.host;
        for path in [&a.route, &b.route].map(|p| [p.clone(), format!("{p}/x")]).concat() {
            assert!(
                !(hosts_meet && a.matches_path(&path) && b.matches_path(&path)),
                "{a:?} and {b:?} do not overlap, yet both match `{path}`"
            );
        }
    }
    round_trips(a);
}

fn json<T: DeserializeOwned + Serialize + PartialEq + Debug>(text: &str) -> Option<T> {
    let value = serde_json::from_str::<T>(text).ok()?;
    round_trips(&value);
    Some(value)
}

fn round_trips<T: DeserializeOwned + Serialize + PartialEq + Debug>(value: &T) {
    let json = serde_json::to_string(value).expect("serializes");
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&back, value, "{json}");
}
