//! What each API route needs, in one table ([`need`]), and the check of a
//! caller against it ([`check`]). `api::handle` applies both before routing,
//! so no handler can forget them; handlers that list across namespaces
//! filter by [`Caller::sees`].

use flint_api::{Name, Role};
use http::{Method, StatusCode};

use super::Caller;

/// What a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Anyone: health probes, the API's OpenAPI description.
    Open,
    /// Any valid credential (user or cluster); the handler filters.
    Anyone,
    /// The invokers' cluster credential.
    Cluster,
    /// A user token with `role` (or one that includes it); in `namespace`
    /// if given, else the handler filters by the token's namespaces.
    User {
        /// The least role.
        role: Role,
        /// The namespace the call touches.
        namespace: Option<Name>,
    },
    /// An admin token, or the cluster credential (`/metrics`).
    AdminOrCluster,
}

impl Need {
    /// The namespace the call touches, for the audit log.
    pub fn namespace(&self) -> Option<&Name> {
        match self {
            Need::User { namespace, .. } => namespace.as_ref(),
            _ => None,
        }
    }
}

/// What `method` on the path `segments` needs. `metrics_open`: whether
/// `/metrics` is served to anyone.
pub fn need(method: &Method, segments: &[&str], metrics_open: bool) -> Need {
    let read = *method == Method::GET || *method == Method::HEAD;
    let user = |role: Role, ns: Option<&str>| Need::User {
        role,
        namespace: ns.and_then(|ns| ns.parse().ok()),
    };
    match segments {
        ["healthz"] | ["readyz"] => Need::Open,
        // The API's description says what exists, not what anyone has.
        ["v1", "openapi.json"] => Need::Open,
        ["metrics"] if metrics_open => Need::Open,
        ["metrics"] => Need::AdminOrCluster,
        ["v1", "whoami"] => Need::Anyone,
        ["v1", "tokens", ..] | ["v1", "audit"] => user(Role::Admin, None),
        ["v1", "namespaces"] => Need::Anyone,
        ["v1", "namespaces", ns] if read => user(Role::Viewer, Some(ns)),
        ["v1", "namespaces", _] => user(Role::Admin, None),
        ["v1", "namespaces", ns, "functions", _, "invoke", ..] => user(Role::Invoker, Some(ns)),
        ["v1", "namespaces", ns, ..] if read => user(Role::Viewer, Some(ns)),
        ["v1", "namespaces", ns, ..] => user(Role::Deployer, Some(ns)),
        ["v1", "invokers"] => Need::Anyone,
        ["v1", "watch" | "blobs" | "invokers" | "scheduler" | "logs", ..] => Need::Cluster,
        ["v1", "usage", "batches"] => Need::Cluster,
        ["v1", "usage", "plan"] if !read => user(Role::Admin, None),
        // Invokers read the plan to meter with its granularity.
        ["v1", "usage", "plan"] => Need::Anyone,
        ["v1", "usage", ..] => user(Role::Viewer, None),
        // The sign-in form checks the token it is given itself.
        ["ui", "login"] => Need::Open,
        ["ui", ..] => user(Role::Viewer, None),
        // Unknown paths answer 404, but only to callers with a credential:
        // the API's shape is not for anonymous probing.
        _ => Need::Anyone,
    }
}

/// A refusal: the status (`401` or `403`) and a one-line reason.
pub type Refusal = (StatusCode, String);

/// Checks `caller` against `need`.
pub fn check(caller: &Caller, need: &Need) -> Result<(), Refusal> {
    let forbidden = |message: String| Err((StatusCode::FORBIDDEN, message));
    match (need, caller) {
        (Need::Open, _) => Ok(()),
        (_, Caller::Anonymous) => {
            Err((StatusCode::UNAUTHORIZED, super::Refused::Missing.to_string()))
        }
        (Need::Anyone, _) => Ok(()),
        (Need::Cluster, Caller::Cluster) => Ok(()),
        (Need::Cluster, Caller::User(token)) => forbidden(format!(
            "this is for invokers (the cluster credential), not for token `{}`",
            token.info.name
        )),
        (Need::AdminOrCluster, Caller::Cluster) => Ok(()),
        (Need::AdminOrCluster, Caller::User(token)) if token.info.role == Role::Admin => Ok(()),
        (Need::AdminOrCluster, Caller::User(token)) => forbidden(format!(
            "this needs the admin role; token `{}` is {}",
            token.info.name, token.info.role
        )),
        (Need::User { .. }, Caller::Cluster) => {
            forbidden("this needs a user token; the cluster credential is for invokers".into())
        }
        (Need::User { role, namespace }, Caller::User(token)) => {
            let info = &token.info;
            if !info.role.allows(*role) {
                return forbidden(format!(
                    "this needs the {} role{}; token `{}` is {}",
                    needed_roles(*role),
                    namespace
                        .as_ref()
                        .map(|ns| format!(" in namespace `{ns}`"))
                        .unwrap_or_default(),
                    info.name,
                    info.role
                ));
            }
            if let Some(ns) = namespace
                && !info.namespaces.contains(ns)
            {
                return forbidden(format!(
                    "token `{}` may not touch namespace `{ns}`; it may touch: {}",
                    info.name, info.namespaces
                ));
            }
            Ok(())
        }
    }
}

/// `deployer or admin`: the roles that include `role`.
fn needed_roles(role: Role) -> String {
    let roles: Vec<&str> =
        Role::USER_ROLES.iter().filter(|r| r.allows(role)).map(|r| r.as_str()).collect();
    roles.join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need_of(method: Method, path: &str) -> Need {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        need(&method, &segments, false)
    }

    #[test]
    fn the_table() {
        let ns = |role, ns: &str| Need::User { role, namespace: Some(ns.parse().unwrap()) };
        assert_eq!(need_of(Method::GET, "/healthz"), Need::Open);
        assert_eq!(need_of(Method::GET, "/v1/openapi.json"), Need::Open);
        assert_eq!(need_of(Method::GET, "/metrics"), Need::AdminOrCluster);
        assert_eq!(need_of(Method::GET, "/v1/namespaces/a/functions"), ns(Role::Viewer, "a"));
        assert_eq!(need_of(Method::PUT, "/v1/namespaces/a/functions/f"), ns(Role::Deployer, "a"));
        assert_eq!(
            need_of(Method::POST, "/v1/namespaces/a/functions/f/invoke/x"),
            ns(Role::Invoker, "a")
        );
        assert_eq!(need_of(Method::GET, "/v1/namespaces/a"), ns(Role::Viewer, "a"));
        assert_eq!(
            need_of(Method::PUT, "/v1/namespaces/a"),
            Need::User { role: Role::Admin, namespace: None }
        );
        for cluster in ["/v1/watch", "/v1/blobs/x", "/v1/scheduler/lease", "/v1/logs"] {
            assert_eq!(need_of(Method::POST, cluster), Need::Cluster, "{cluster}");
        }
        assert_eq!(need_of(Method::PUT, "/v1/invokers/x"), Need::Cluster);
        assert_eq!(need_of(Method::GET, "/v1/invokers"), Need::Anyone);
        assert_eq!(need_of(Method::POST, "/v1/usage/batches"), Need::Cluster);
        assert_eq!(
            need_of(Method::PUT, "/v1/usage/plan"),
            Need::User { role: Role::Admin, namespace: None }
        );
        assert_eq!(need_of(Method::GET, "/v1/usage/plan"), Need::Anyone);
        assert_eq!(need_of(Method::GET, "/nope"), Need::Anyone);
    }

    #[test]
    fn messages_name_what_is_missing() {
        assert_eq!(needed_roles(Role::Deployer), "admin or deployer");
        assert_eq!(needed_roles(Role::Invoker), "admin or deployer or invoker");
    }
}
