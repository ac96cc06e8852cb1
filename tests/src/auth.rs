//! Credentials in the tests: the token files the controller writes on first
//! start, and tokens of a role made through the API.

use std::path::Path;
use std::time::{Duration, Instant};

use flint_api::{Client, Name, NewToken, Role, Scope, Timestamp, TokenSpec};

/// The admin token the controller writes into its secrets folder on first start.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The cluster credential the controller generates there when it is given none.
pub const CLUSTER_TOKEN_FILE: &str = "cluster.token";
/// How long a token file may take to appear after the process listens.
const FILE_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads a token file (the token and a newline), waiting for it to be
/// written; panics naming the file if it does not appear or is empty.
pub fn read_token(path: &Path) -> String {
    let deadline = Instant::now() + FILE_TIMEOUT;
    loop {
        let token = std::fs::read_to_string(path).unwrap_or_default().trim().to_owned();
        if !token.is_empty() {
            return token;
        }
        assert!(
            Instant::now() < deadline,
            "{} was not written within {FILE_TIMEOUT:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `Authorization` header value for `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The scope of a token: `["*"]` is every namespace.
pub fn scope(namespaces: &[&str]) -> Scope {
    if namespaces == ["*"] {
        return Scope::All;
    }
    Scope::Only(namespaces.iter().map(|ns| ns.parse().expect("valid namespace")).collect())
}

/// A new token of `role` for `namespaces` (`["*"]` for all), made by
/// `admin`; panics with the API's answer if it is refused.
pub async fn make_token(
    admin: &Client,
    name: &str,
    role: Role,
    namespaces: &[&str],
    expires_at: Option<Timestamp>,
) -> NewToken {
    let spec = TokenSpec {
        name: name.parse::<Name>().expect("valid token name"),
        role,
        namespaces: scope(namespaces),
        expires_at,
    };
    admin.create_token(&spec).await.unwrap_or_else(|e| panic!("token {name}: {e}"))
}
