//! `fs` and `net`: try to reach outside the sandbox. 200 `denied: ...` when
//! every attempt fails, 500 naming what got through otherwise.

use std::net::TcpStream;

use flint_sdk::Response;
use flint_sdk::wasip2::http::outgoing_handler;
use flint_sdk::wasip2::http::types::{Fields, OutgoingRequest, Scheme};

/// Port 9 (discard): nothing should listen there, and the host must refuse
/// before trying anyway.
const AUTHORITY: &str = "127.0.0.1:9";

/// Reads a file and lists the root directory.
pub(crate) fn fs() -> Response {
    let read = std::fs::read("/etc/passwd");
    let list = std::fs::read_dir("/");
    match (read, list) {
        (Err(read), Err(list)) => {
            Response::text(200, format!("denied: read /etc/passwd: {read}; list /: {list}"))
        }
        (Ok(bytes), _) => Response::text(500, format!("read {} bytes of /etc/passwd", bytes.len())),
        (_, Ok(entries)) => Response::text(500, format!("listed / ({} entries)", entries.count())),
    }
}

/// Sends an HTTP request through `wasi:http/outgoing-handler` and opens a
/// TCP connection through `wasi:sockets`.
pub(crate) fn net() -> Response {
    let http = outgoing_http();
    let tcp = TcpStream::connect(AUTHORITY);
    match (http, tcp) {
        (Err(http), Err(tcp)) => Response::text(200, format!("denied: http: {http}; tcp: {tcp}")),
        (Ok(status), _) => Response::text(500, format!("http request got status {status}")),
        (_, Ok(_)) => Response::text(500, format!("tcp connected to {AUTHORITY}")),
    }
}

/// `GET http://127.0.0.1:9/`: the response status, or why there is none.
fn outgoing_http() -> Result<u16, String> {
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme refused")?;
    request.set_authority(Some(AUTHORITY)).map_err(|()| "authority refused")?;
    request.set_path_with_query(Some("/")).map_err(|()| "path refused")?;
    let pending = outgoing_handler::handle(request, None).map_err(|code| format!("{code:?}"))?;
    // The host may fail the call itself or, as wasmtime does, the response.
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response.status()),
        Some(Ok(Err(code))) => Err(format!("{code:?}")),
        Some(Err(())) => Err("response already taken".to_owned()),
        None => Err("no response after it was ready".to_owned()),
    }
}
