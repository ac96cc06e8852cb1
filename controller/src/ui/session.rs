//! Signing in to the dashboard: a form that takes a token once and trades it
//! for a cookie (`HttpOnly`, `SameSite=Strict`, scoped to `/ui`), so the
//! token is neither in the page, nor in a URL, nor readable by scripts.

use std::sync::Arc;

use bytes::Bytes;
use flint_api::auth::SESSION_COOKIE;
use flint_api::server::{self, FullResponse};
use flint_api::{Role, Timestamp};
use http::{HeaderValue, Request, StatusCode, header};
use hyper::body::Incoming;

use super::HTML;
use super::html::{escape, page};
use crate::State;
use crate::auth::Caller;

/// Largest sign-in form body: a token is 87 characters.
const MAX_FORM_BYTES: usize = 4096;
/// How long the session cookie lasts: a working day.
const SESSION_SECONDS: u32 = 12 * 3600;

/// The sign-in page, with why it is shown.
pub fn sign_in_page(status: StatusCode, message: &str) -> FullResponse {
    let body = format!(
        r#"<h1>Sign in</h1><p class="empty">{}</p>
<form method="post" action="/ui/login"><label>API token <input type="password" name="token" autocomplete="off" required size="60"></label> <button type="submit">Sign in</button></form>
<p>A viewer token of your namespaces is enough: <code>flint token create dash --role viewer -n NS</code>.</p>"#,
        escape(message)
    );
    server::with_type(status, HTML, page("Sign in", &body).into())
}

/// `POST /ui/login` with `token=…` (a form): checks the token and, if it may
/// read the dashboard, sets the cookie and goes to `/ui`.
pub async fn login(state: &Arc<State>, request: Request<Incoming>) -> FullResponse {
    let body = match server::read_body(request.into_body(), MAX_FORM_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let token = form_value(&body, "token").unwrap_or_default();
    let token = token.trim();
    match state.tokens.authenticate(Some(token), Timestamp::now()) {
        Ok((Caller::User(record), _)) if record.info.role.allows(Role::Viewer) => {
            let mut response = server::with_type(StatusCode::SEE_OTHER, HTML, Bytes::new());
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}"
            );
            if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/ui"));
            response
        }
        Ok((Caller::User(record), _)) => sign_in_page(
            StatusCode::FORBIDDEN,
            &format!(
                "Token `{}` is {}; the dashboard needs viewer, deployer or admin.",
                record.info.name, record.info.role
            ),
        ),
        Ok(_) => sign_in_page(StatusCode::UNAUTHORIZED, "Enter an API token."),
        Err(refused) => sign_in_page(StatusCode::UNAUTHORIZED, &refused.to_string()),
    }
}

/// `GET /ui/logout`: forgets the cookie.
pub fn logout() -> FullResponse {
    let mut response = sign_in_page(StatusCode::OK, "Signed out.");
    let cookie = format!("{SESSION_COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// A value of an `application/x-www-form-urlencoded` body.
fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    crate::usage::param(Some(text), key)
}
