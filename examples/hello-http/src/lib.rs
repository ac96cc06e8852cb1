//! `hello-http`: answers any request with `Hello, NAME!`.
//!
//! NAME is the `name` query parameter, else the request body (trimmed),
//! else `world`. It is the function Flint's benchmarks call, so it does as
//! little as a real handler can and logs nothing. Routing, limits and
//! everything else about running it are the host's.

use flint_sdk::{Request, Response};

fn handle(req: Request) -> Response {
    let name = req
        .query_param("name")
        .filter(|name| !name.is_empty())
        .or_else(|| body_name(&req))
        .unwrap_or_else(|| "world".to_owned());
    Response::text(200, format!("Hello, {name}!\n"))
}

/// The body as a name, if it is UTF-8 and not blank.
fn body_name(req: &Request) -> Option<String> {
    let text = req.text().ok()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

flint_sdk::http_handler!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(path: &str, body: &str) -> String {
        let res = handle(Request::new("POST", path, Vec::new(), body));
        assert_eq!(res.header("content-type"), Some("text/plain; charset=utf-8"));
        String::from_utf8(res.body().to_vec()).unwrap()
    }

    #[test]
    fn greets_query_then_body_then_world() {
        assert_eq!(hello("/?name=Ada+L", "Bob"), "Hello, Ada L!\n");
        assert_eq!(hello("/", "  Bob\n"), "Hello, Bob!\n");
        assert_eq!(hello("/?name=", " \n"), "Hello, world!\n");
    }
}
