//! The session: which shopper a request belongs to.
//!
//! A browser carries the `td_session` cookie (16 random hex characters). A JSON API caller
//! such as the load generator may send an `x-session-id` header instead, which wins over the
//! cookie. [`ensure_session`] hands out a cookie on the first visit; [`Session`] is the
//! extractor handlers use; [`from_headers`] is also what the baggage defaults call, so the
//! user named in the baggage and the user a handler sees are always the same.

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracedojo_kit::ApiError;

use crate::users::User;

pub const SESSION_COOKIE: &str = "td_session";
pub const SESSION_HEADER: &str = "x-session-id";

/// A month: long enough that a workshop participant stays the same user all day.
const COOKIE_MAX_AGE_SECONDS: u32 = 30 * 24 * 3600;

/// The session id of a request and the user it stands for.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user: User,
}

impl Session {
    pub fn new(id: String) -> Session {
        let user = User::from_session(&id);
        Session { id, user }
    }
}

/// The same rule the cart service applies: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub fn is_valid_session_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn new_session_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The session id named by the request, if any: a valid `x-session-id` header, else a valid
/// `td_session` cookie.
pub fn from_headers(headers: &HeaderMap) -> Option<String> {
    let header = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| is_valid_session_id(id));
    header.map(str::to_string).or_else(|| cookie(headers))
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && is_valid_session_id(value))
        .map(|(_, value)| value.to_string())
}

/// Middleware: gives a new visitor a session cookie.
///
/// It runs *outside* the tracing layer and adds the new cookie to the request as if the browser
/// had sent it, so even the very first page view is traced with its user's baggage.
pub async fn ensure_session(mut request: Request, next: Next) -> Response {
    if from_headers(request.headers()).is_some() {
        return next.run(request).await;
    }
    let id = new_session_id();
    if let Ok(value) = HeaderValue::from_str(&format!("{SESSION_COOKIE}={id}")) {
        request.headers_mut().append(COOKIE, value);
    }
    let mut response = next.run(request).await;
    let set_cookie = format!(
        "{SESSION_COOKIE}={id}; Path=/; Max-Age={COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax"
    );
    if let Ok(value) = HeaderValue::from_str(&set_cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(raw) = parts.headers.get(SESSION_HEADER) {
            let valid = raw.to_str().is_ok_and(|id| is_valid_session_id(id.trim()));
            if !valid {
                return Err(ApiError::BadRequest(format!(
                    "{SESSION_HEADER} must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -"
                )));
            }
        }
        // Without [`ensure_session`] in front (a bare router in a test) a request may have no
        // session at all; it then gets a one-off one.
        let id = from_headers(&parts.headers).unwrap_or_else(new_session_id);
        Ok(Session::new(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_wins_over_cookie_and_bad_values_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; td_session=aaaa1111"),
        );
        assert_eq!(from_headers(&headers).as_deref(), Some("aaaa1111"));
        headers.insert(SESSION_HEADER, HeaderValue::from_static("loadgen-7"));
        assert_eq!(from_headers(&headers).as_deref(), Some("loadgen-7"));
        headers.insert(SESSION_HEADER, HeaderValue::from_static("no spaces"));
        assert_eq!(from_headers(&headers).as_deref(), Some("aaaa1111"));
        headers.insert(COOKIE, HeaderValue::from_static("td_session=<x>"));
        assert_eq!(from_headers(&headers), None);
    }

    #[test]
    fn new_ids_are_sixteen_hex_characters() {
        let id = new_session_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
