use std::time::{Duration, Instant};

use flint_api::auth::{format_token, hash_secret};
use flint_api::{Rate, Scope};
use http::StatusCode;

use super::quota::Bucket;
use super::*;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// A grant for a token made from `seed`, and the token.
fn grant(seed: u8, role: Role, namespaces: Scope) -> (TokenGrant, String) {
    let token = format_token(&[seed; 8], &[seed.wrapping_add(100); 32]);
    let presented = parse_token(&token).unwrap();
    let grant = TokenGrant {
        id: presented.id.to_owned(),
        hash: hash_secret(presented.secret),
        role,
        namespaces,
        expires_at: None,
    };
    (grant, token)
}

fn only(ns: &str) -> Scope {
    Scope::Only([name(ns)].into())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect()
}

#[test]
fn route_auth_decisions() {
    let access = Access::default();
    let team_a = name("team-a");
    let now = Timestamp::now();
    let (invoker, invoker_token) = grant(1, Role::Invoker, only("team-a"));
    let (viewer, viewer_token) = grant(2, Role::Viewer, only("team-a"));
    let (other, other_token) = grant(3, Role::Invoker, only("team-b"));
    let (mut expired, expired_token) = grant(4, Role::Invoker, only("team-a"));
    expired.expires_at = Some(Timestamp::from_second(now.as_second() - 1).unwrap());
    let (deployer, deployer_token) = grant(5, Role::Deployer, only("team-a"));
    let (admin, admin_token) = grant(6, Role::Admin, Scope::All);
    let (revoked, revoked_token) = grant(7, Role::Invoker, only("team-a"));
    access.replace(vec![invoker, viewer, other, expired, deployer, revoked.clone()], vec![]);
    access.put_grant(admin);
    access.put_grant(revoked);
    access.delete_grant(parse_token(&revoked_token).unwrap().id);

    let check = |token: &str| access.check(token, &team_a, now);
    for ok in [&invoker_token, &deployer_token, &admin_token] {
        assert_eq!(check(ok), Ok(()));
    }
    assert_eq!(check("nope"), Err(Denied::Malformed));
    assert_eq!(
        check(&format!("flint_{}_{}", "a".repeat(16), "0".repeat(64))),
        Err(Denied::Unknown)
    );
    let wrong_secret = format!("{}{}", &invoker_token[..invoker_token.len() - 1], "f");
    assert_ne!(wrong_secret, invoker_token);
    assert_eq!(check(&wrong_secret), Err(Denied::Unknown));
    assert_eq!(check(&revoked_token), Err(Denied::Unknown));
    assert!(matches!(check(&expired_token), Err(Denied::Expired(_))));
    assert_eq!(check(&viewer_token), Err(Denied::Role(Role::Viewer)));
    assert_eq!(check(&other_token), Err(Denied::Namespace(team_a.clone())));

    // Statuses, metric reasons, and messages that never echo the token.
    assert_eq!(Denied::Missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(Denied::Expired(now).reason(), UNAUTHORIZED);
    assert_eq!(Denied::Role(Role::Viewer).status(), StatusCode::FORBIDDEN);
    assert_eq!(Denied::Namespace(team_a.clone()).reason(), FORBIDDEN);
    for token in [&viewer_token, &other_token, &expired_token, &wrong_secret] {
        let denied = check(token).unwrap_err().to_string();
        assert!(!denied.contains(&token[20..]), "{denied}");
        assert!(!denied.contains('\n'), "{denied}");
    }
    assert!(Denied::Namespace(team_a.clone()).to_string().contains("team-a"));
    assert!(Denied::Missing.to_string().contains("Authorization: Bearer"));
}

#[test]
fn tokens_are_found_in_the_flint_header_first_then_bearer() {
    let access = Access::default();
    let team_a = name("team-a");
    let (invoker, token) = grant(1, Role::Invoker, only("team-a"));
    access.put_grant(invoker);

    assert_eq!(access.authorize(&headers(&[]), &team_a), Err(Denied::Missing));
    // Another scheme is not a Flint token: the function's own auth.
    let basic = headers(&[("authorization", "Basic dXNlcjpwdw==")]);
    assert_eq!(access.authorize(&basic, &team_a), Err(Denied::Missing));
    let bearer = headers(&[("authorization", &format!("Bearer {token}"))]);
    assert_eq!(access.authorize(&bearer, &team_a), Ok(Carrier::Bearer));
    // The caller's own `Authorization` goes to the function untouched.
    let both = headers(&[("authorization", "Bearer the-functions-own"), (TOKEN_HEADER, &token)]);
    assert_eq!(access.authorize(&both, &team_a), Ok(Carrier::Header));
    // The dashboard's cookie opens no route.
    let cookie = headers(&[("cookie", &format!("{SESSION_COOKIE}={token}"))]);
    assert_eq!(access.authorize(&cookie, &team_a), Err(Denied::Missing));
    let empty = headers(&[(TOKEN_HEADER, "")]);
    assert_eq!(access.authorize(&empty, &team_a), Err(Denied::Malformed));

    let mut stripped = both.clone();
    strip_token(&mut stripped, Carrier::Header);
    assert!(stripped.get(TOKEN_HEADER).is_none());
    assert_eq!(stripped["authorization"], "Bearer the-functions-own");
    let mut stripped = bearer.clone();
    strip_token(&mut stripped, Carrier::Bearer);
    assert!(stripped.get("authorization").is_none());
}

#[test]
fn the_cluster_credential_is_a_bearer_compared_whole() {
    let cluster = "c".repeat(40);
    assert!(cluster_bearer_ok(
        &headers(&[("authorization", &format!("Bearer {cluster}"))]),
        &cluster
    ));
    assert!(cluster_bearer_ok(
        &headers(&[("authorization", &format!("bearer {cluster}"))]),
        &cluster
    ));
    for wrong in
        ["", "Bearer ", "Bearer ccc", &format!("Basic {cluster}"), &format!("Bearer {cluster}c")]
    {
        assert!(!cluster_bearer_ok(&headers(&[("authorization", wrong)]), &cluster), "{wrong}");
    }
    assert!(!cluster_bearer_ok(&headers(&[]), &cluster));
    assert!(!cluster_bearer_ok(&headers(&[(TOKEN_HEADER, &cluster)]), &cluster));
    // No credential configured opens nothing, not even an empty bearer.
    assert!(!cluster_bearer_ok(&headers(&[("authorization", "Bearer ")]), ""));
}

#[test]
fn the_session_cookie_never_reaches_a_guest() {
    let mut h = headers(&[("cookie", "a=1; flint_token=secret; b=2")]);
    h.append("cookie", "flint_token=again".parse().unwrap());
    h.append("cookie", "c=3".parse().unwrap());
    strip_session_cookie(&mut h);
    let left: Vec<&str> = h.get_all("cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(left, ["a=1; b=2", "c=3"]);

    let mut h = headers(&[("cookie", "my_flint_token_pref=1")]);
    strip_session_cookie(&mut h);
    assert_eq!(h["cookie"], "my_flint_token_pref=1", "only that exact name");
    let mut h = headers(&[]);
    strip_session_cookie(&mut h);
    assert!(h.is_empty());
}

fn rate(s: &str) -> Rate {
    s.parse().unwrap()
}

#[test]
fn the_bucket_allows_a_second_of_burst_then_the_rate() {
    let start = Instant::now();
    let bucket = Bucket::new(rate("10/s"), start);
    for _ in 0..10 {
        assert_eq!(bucket.take(start), Ok(()));
    }
    let wait = bucket.take(start).unwrap_err();
    assert!(wait > Duration::from_millis(99) && wait <= Duration::from_millis(100), "{wait:?}");
    // 100 ms later one token is back, and only one.
    let later = start + Duration::from_millis(100);
    assert_eq!(bucket.take(later), Ok(()));
    assert!(bucket.take(later).is_err());
    // Idle for long: refilled to the burst, not past it.
    let much_later = start + Duration::from_secs(60);
    for _ in 0..10 {
        assert_eq!(bucket.take(much_later), Ok(()));
    }
    assert!(bucket.take(much_later).is_err());

    // Per minute: a burst of one second's worth, at least one.
    let slow = Bucket::new(rate("30/m"), start);
    assert_eq!(slow.take(start), Ok(()));
    let wait = slow.take(start).unwrap_err();
    assert!(wait > Duration::from_millis(1999) && wait <= Duration::from_secs(2), "{wait:?}");
    let fast = Bucket::new(rate("6000/m"), start);
    assert_eq!((0..200).filter(|_| fast.take(start).is_ok()).count(), 100);
    // A clock that goes backwards (another thread's older `now`) adds nothing.
    assert!(fast.take(start - Duration::from_secs(1)).is_err());
}

fn state(ns: &str, rate: Option<&str>, blocked: Option<&str>) -> NamespaceState {
    NamespaceState {
        name: name(ns),
        rate: rate.map(|r| r.parse().unwrap()),
        blocked: blocked.map(Into::into),
    }
}

#[test]
fn a_blocked_namespace_is_refused_with_the_controllers_reason() {
    let access = Access::default();
    let (team_a, team_b) = (name("team-a"), name("team-b"));
    assert_eq!(access.admit(&team_a), Ok(()));
    let reason = "namespace `team-a` has spent its monthly budget of 1.00; an admin can raise it \
                  with `flint namespace set team-a --monthly-budget …`";
    access.put_namespace(state("team-a", None, Some(reason)));
    let refused = access.admit(&team_a).unwrap_err();
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(refused.reason(), BUDGET);
    assert_eq!(refused.message(), reason);
    assert_eq!(refused.retry_after(), None);
    assert_eq!(access.admit(&team_b), Ok(()), "another namespace keeps running");

    // Raising the budget clears it.
    access.put_namespace(state("team-a", None, None));
    assert_eq!(access.admit(&team_a), Ok(()));
    // An empty reason still names the namespace.
    access.put_namespace(state("team-a", None, Some("")));
    assert!(access.admit(&team_a).unwrap_err().message().contains("`team-a`"));
    // A snapshot replaces every state.
    access.replace(vec![], vec![state("team-b", None, Some("spent"))]);
    assert_eq!(access.admit(&team_a), Ok(()));
    assert_eq!(access.admit(&team_b).unwrap_err().message(), "spent");
}

#[test]
fn a_rate_limited_namespace_gets_429_with_retry_after() {
    let access = Access::default();
    let team_a = name("team-a");
    access.put_namespace(state("team-a", Some("2/s"), None));
    assert_eq!(access.admit(&team_a), Ok(()));
    assert_eq!(access.admit(&team_a), Ok(()));
    let refused = access.admit(&team_a).unwrap_err();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.reason(), RATE_LIMITED);
    assert_eq!(refused.retry_after(), Some(1), "at least a second");
    assert!(refused.message().contains("2/s"), "{}", refused.message());

    // A budget change with the same rate keeps the bucket (still empty); a
    // blocked namespace says budget, not rate.
    access.put_namespace(state("team-a", Some("2/s"), Some("spent")));
    assert_eq!(access.admit(&team_a).unwrap_err().reason(), BUDGET);
    access.put_namespace(state("team-a", Some("2/s"), None));
    assert_eq!(access.admit(&team_a).unwrap_err().reason(), RATE_LIMITED);
    // So does a snapshot; a new rate starts a full bucket.
    access.replace(vec![], vec![state("team-a", Some("2/s"), None)]);
    assert_eq!(access.admit(&team_a).unwrap_err().reason(), RATE_LIMITED);
    access.put_namespace(state("team-a", Some("3/s"), None));
    assert_eq!(access.admit(&team_a), Ok(()));

    let slow =
        Quota::Rate { namespace: team_a, rate: rate("1/m"), wait: Duration::from_millis(59_001) };
    assert_eq!(slow.retry_after(), Some(60), "rounded up");
}
