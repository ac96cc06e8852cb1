//! The HTTP routing table: host and path prefix to function.

use flint_api::{HttpTrigger, Name, RouteAuth};
use http::Method;

/// One route.
#[derive(Debug, Clone)]
struct Route {
    http: HttpTrigger,
    namespace: Name,
    function: Name,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match<'a> {
    /// To this function.
    Function {
        /// Its namespace.
        namespace: &'a Name,
        /// Its name.
        function: &'a Name,
        /// Whether the caller must present a token.
        auth: RouteAuth,
    },
    /// A route matches the path but not the method.
    MethodNotAllowed(&'a [String]),
    /// No route matches.
    NotFound,
}

/// Immutable routing table, rebuilt whenever an HTTP trigger changes.
#[derive(Debug, Default)]
pub struct Routes {
    /// Routes with a host first, then longer prefixes first: the first
    /// match is the most specific.
    routes: Vec<Route>,
}

impl Routes {
    /// A table of `(namespace, function, route)` entries.
    pub fn new(entries: impl IntoIterator<Item = (Name, Name, HttpTrigger)>) -> Self {
        let mut routes: Vec<Route> = entries
            .into_iter()
            .map(|(namespace, function, http)| Route { http, namespace, function })
            .collect();
        routes.sort_by(|a, b| {
            (b.http.host.is_some(), b.http.route.len())
                .cmp(&(a.http.host.is_some(), a.http.route.len()))
        });
        Self { routes }
    }

    /// Finds the function for a request. `host` is the `Host` header
    /// (any port is ignored, case too).
    pub fn find(&self, host: Option<&str>, path: &str, method: &Method) -> Match<'_> {
        let host = host.map(|h| h.rsplit_once(':').map_or(h, |(name, _port)| name));
        let route = self.routes.iter().find(|route| {
            route
                .http
                .host
                .as_ref()
                .is_none_or(|wanted| host.is_some_and(|h| h.eq_ignore_ascii_case(wanted)))
                && route.http.matches_path(path)
        });
        let Some(route) = route else {
            return Match::NotFound;
        };
        let methods = &route.http.methods;
        if !methods.is_empty() && !methods.iter().any(|m| m == method.as_str()) {
            return Match::MethodNotAllowed(methods);
        }
        Match::Function {
            namespace: &route.namespace,
            function: &route.function,
            auth: route.http.auth,
        }
    }

    /// How many routes there are.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        function: &str,
        route: &str,
        host: Option<&str>,
        methods: &[&str],
    ) -> (Name, Name, HttpTrigger) {
        (
            Name::default_namespace(),
            function.parse().unwrap(),
            HttpTrigger {
                route: route.into(),
                host: host.map(Into::into),
                methods: methods.iter().map(|m| m.to_string()).collect(),
                auth: RouteAuth::None,
            },
        )
    }

    fn found(m: Match) -> String {
        match m {
            Match::Function { function, .. } => function.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn most_specific_route_wins() {
        let routes = Routes::new([
            entry("root", "/", None, &[]),
            entry("api", "/api", None, &[]),
            entry("users", "/api/users", None, &[]),
            entry("hosted", "/api", Some("example.com"), &[]),
            entry("posts", "/posts", None, &["GET"]),
        ]);
        let get = Method::GET;
        assert_eq!(found(routes.find(None, "/api/users/7", &get)), "users");
        assert_eq!(found(routes.find(None, "/api/usersx", &get)), "api");
        assert_eq!(found(routes.find(Some("Example.com:8080"), "/api/users", &get)), "hosted");
        assert_eq!(found(routes.find(Some("other.org"), "/api", &get)), "api");
        assert_eq!(found(routes.find(None, "/elsewhere", &get)), "root");
        assert_eq!(
            routes.find(None, "/posts", &Method::POST),
            Match::MethodNotAllowed(&["GET".to_owned()])
        );
        assert_eq!(Routes::new([]).find(None, "/", &get), Match::NotFound);
    }
}
