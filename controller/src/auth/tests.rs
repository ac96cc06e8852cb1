use flint_api::{Role, Scope, Timestamp};
use jiff::ToSpan;

use super::*;

const CLUSTER: &str = "0123456789abcdef0123456789abcdef-cluster";

fn setup() -> (Store, Tokens, tempfile::TempDir) {
    let store = Store::temporary().unwrap();
    let tokens = Tokens::load(&store, CLUSTER).unwrap();
    (store, tokens, tempfile::tempdir().unwrap())
}

fn add(
    store: &Store,
    tokens: &Tokens,
    name: &str,
    role: Role,
    expires: Option<Timestamp>,
) -> String {
    let scope = Scope::Only(["team-a".parse().unwrap()].into());
    let (token, record) = mint(name.parse().unwrap(), role, scope, expires, "test").unwrap();
    store.add_token(&record).unwrap();
    tokens.reload(store).unwrap();
    token
}

#[test]
fn bootstrap_writes_an_admin_token_once() {
    let (store, tokens, dir) = setup();
    let path = bootstrap(&store, &tokens, dir.path()).unwrap().expect("written");
    let token = std::fs::read_to_string(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (caller, _) = tokens.authenticate(Some(token.trim()), Timestamp::now()).unwrap();
    assert!(caller.is_admin());
    assert!(bootstrap(&store, &tokens, dir.path()).unwrap().is_none());
}

#[test]
fn tokens_are_checked() {
    let (store, tokens, _dir) = setup();
    let now = Timestamp::now();
    let token = add(&store, &tokens, "ci", Role::Deployer, None);
    let (caller, touch) = tokens.authenticate(Some(&token), now).unwrap();
    assert_eq!(caller.role(), Some(Role::Deployer));
    assert!(caller.sees(&"team-a".parse().unwrap()));
    assert!(!caller.sees(&"team-b".parse().unwrap()));
    assert!(touch.is_some(), "the first use is written back");
    assert!(
        tokens.authenticate(Some(&token), now).unwrap().1.is_none(),
        "not again within a minute"
    );

    // A wrong secret for a known id.
    let wrong =
        format!("{}{}", &token[..token.len() - 1], if token.ends_with('0') { '1' } else { '0' });
    assert_eq!(tokens.authenticate(Some(&wrong), now).unwrap_err(), Refused::Unknown);
    assert_eq!(tokens.authenticate(Some("flint_nonsense"), now).unwrap_err(), Refused::Malformed);
    assert_eq!(tokens.authenticate(Some("something-else"), now).unwrap_err(), Refused::Unknown);
    assert!(matches!(tokens.authenticate(None, now).unwrap().0, Caller::Anonymous));
    assert!(matches!(tokens.authenticate(Some(CLUSTER), now).unwrap().0, Caller::Cluster));

    // Expired and revoked.
    let soon = now.checked_add(1.second()).unwrap();
    let expiring = add(&store, &tokens, "short", Role::Viewer, Some(soon));
    assert!(tokens.authenticate(Some(&expiring), now).is_ok());
    let later = now.checked_add(2.seconds()).unwrap();
    assert!(matches!(
        tokens.authenticate(Some(&expiring), later).unwrap_err(),
        Refused::Expired { .. }
    ));
    store.revoke_token(&"ci".parse().unwrap()).unwrap();
    tokens.reload(&store).unwrap();
    assert_eq!(tokens.authenticate(Some(&token), now).unwrap_err(), Refused::Unknown);
    // No refusal message carries the token.
    for refusal in [Refused::Missing, Refused::Malformed, Refused::Unknown] {
        assert!(!refusal.to_string().contains(&token));
    }
}

#[test]
fn cluster_tokens_are_kept_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let first = cluster_token(None, dir.path()).unwrap();
    assert_eq!(cluster_token(None, dir.path()).unwrap(), first, "kept in the file");
    assert!(matches!(
        cluster_token(Some("short".into()), dir.path()),
        Err(Error::WeakClusterToken)
    ));
    assert_eq!(cluster_token(Some(format!(" {CLUSTER}\n")), dir.path()).unwrap(), CLUSTER);
}

#[test]
fn access_is_checked_by_role_and_namespace() {
    use super::access::{Need, check};
    let (store, tokens, _dir) = setup();
    let viewer = add(&store, &tokens, "viewer", Role::Viewer, None);
    let (viewer, _) = tokens.authenticate(Some(&viewer), Timestamp::now()).unwrap();
    let team_a = Some("team-a".parse().unwrap());
    let team_b = Some("team-b".parse().unwrap());
    assert!(check(&viewer, &Need::User { role: Role::Viewer, namespace: team_a.clone() }).is_ok());
    let (status, message) =
        check(&viewer, &Need::User { role: Role::Deployer, namespace: team_a }).unwrap_err();
    assert_eq!(status, http::StatusCode::FORBIDDEN);
    assert!(message.contains("deployer"), "{message}");
    let (_, message) =
        check(&viewer, &Need::User { role: Role::Viewer, namespace: team_b }).unwrap_err();
    assert!(message.contains("team-b"), "{message}");
    assert_eq!(check(&viewer, &Need::Cluster).unwrap_err().0, http::StatusCode::FORBIDDEN);
    assert_eq!(
        check(&Caller::Anonymous, &Need::Anyone).unwrap_err().0,
        http::StatusCode::UNAUTHORIZED
    );
    assert!(check(&Caller::Cluster, &Need::Cluster).is_ok());
}

#[test]
fn the_config_never_shows_the_cluster_credential() {
    let mut config = crate::Config::new("/tmp/store".into());
    config.cluster_token = Some(CLUSTER.into());
    let shown = format!("{config:?}");
    assert!(!shown.contains(CLUSTER) && shown.contains("<redacted>"), "{shown}");
}
