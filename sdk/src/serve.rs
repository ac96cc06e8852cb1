//! The glue between `wasi:http` resources and [`Request`]/[`Response`].
//!
//! Everything here calls host functions, so it only does something inside a
//! component; on other targets the bindings compile to stubs that panic.

use wasip2::http::types::{
    Fields, HeaderError, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse,
    ResponseOutparam,
};
use wasip2::io::streams::StreamError;

use crate::{Request, Response};

/// Bytes asked for per read of the request body. The host may return fewer.
const READ_CHUNK: u64 = 64 * 1024;

/// Bytes per write of the response body: `blocking-write-and-flush` accepts
/// at most 4096 bytes per call (`wasi:io/streams`).
const WRITE_CHUNK: usize = 4096;

/// Runs `handler` on `request` and sends what it returns to `response_out`.
/// Called by the code [`http_handler!`](crate::http_handler) generates.
pub fn serve(
    request: IncomingRequest,
    response_out: ResponseOutparam,
    handler: impl FnOnce(Request) -> Response,
) {
    let response = match read_request(&request) {
        Ok(request) => handler(request),
        Err(error) => {
            eprintln!("flint-sdk: {error}");
            Response::text(400, format!("{error}\n"))
        }
    };
    send(response, response_out);
}

/// Reads method, path, headers and the whole body.
fn read_request(request: &IncomingRequest) -> Result<Request, String> {
    let method = match request.method() {
        Method::Get => "GET".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Other(other) => other,
    };
    let path_with_query = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    let headers = request
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let body = request.consume().map_err(|()| "the request body was already taken")?;
    let bytes = read_body(&body)?;
    // The trailers are of no use to a handler; finishing only releases the body.
    drop(IncomingBody::finish(body));
    Ok(Request::new(method, path_with_query, headers, bytes))
}

fn read_body(body: &IncomingBody) -> Result<Vec<u8>, String> {
    let stream = body.stream().map_err(|()| "the request body stream was already taken")?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(format!("failed to read the request body: {error}"));
            }
        }
    }
}

/// Sends `response`. A response the host refuses (bad status or header)
/// becomes a 500 naming the problem, so the author sees it while testing.
fn send(response: Response, response_out: ResponseOutparam) {
    let (response, outgoing) = match outgoing_response(&response) {
        Ok(outgoing) => (response, outgoing),
        Err(error) => {
            eprintln!("flint-sdk: {error}");
            let fallback = Response::text(500, format!("{error}\n"));
            match outgoing_response(&fallback) {
                Ok(outgoing) => (fallback, outgoing),
                // Cannot happen with this fixed fallback; and returning
                // without a response still makes the host answer an error.
                Err(_) => return,
            }
        }
    };
    let Ok(body) = outgoing.body() else { return };
    ResponseOutparam::set(response_out, Ok(outgoing));
    // A failed write means the client is gone; there is no one to tell.
    if let Ok(stream) = body.write() {
        for chunk in response.body().chunks(WRITE_CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
        // The stream is a child of the body and must go before `finish`.
        drop(stream);
    }
    // An error here is, again, a client that is gone.
    let _ = OutgoingBody::finish(body, None);
}

fn outgoing_response(response: &Response) -> Result<OutgoingResponse, String> {
    // One host call for all headers; on refusal, find the culprit one by one.
    let list: Vec<(String, Vec<u8>)> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_bytes().to_vec()))
        .collect();
    let headers = match Fields::from_list(&list) {
        Ok(headers) => headers,
        Err(_) => {
            let headers = Fields::new();
            for (name, value) in response.headers() {
                headers.append(name, value.as_bytes()).map_err(|error| {
                    format!("the host refused response header `{name}`: {}", why(&error))
                })?;
            }
            headers
        }
    };
    let outgoing = OutgoingResponse::new(headers);
    outgoing
        .set_status_code(response.status())
        .map_err(|()| format!("the host refused status code {}", response.status()))?;
    Ok(outgoing)
}

fn why(error: &HeaderError) -> &'static str {
    match error {
        HeaderError::InvalidSyntax => "not a valid header name or value",
        HeaderError::Forbidden => "the host sets it itself",
        HeaderError::Immutable => "the headers are immutable",
    }
}
