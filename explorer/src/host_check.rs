//! Refuses UI and API requests addressed to another name than this machine's loopback while
//! the explorer listens on loopback only.
//!
//! Why: a web page on some other site can point a domain of its own at 127.0.0.1 (DNS
//! rebinding) and then read this explorer's JSON API as "same origin", traces of whatever
//! application sends here included. Its requests still carry the page's domain in `Host`, so
//! answering only `localhost`, `127.0.0.1` and `[::1]` at the explorer's own port shuts that
//! door (at any port: a tunnel may bring the explorer to another one). An explorer told to
//! listen beyond loopback has chosen to be reached by other names, and is left alone.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracedojo_web::guard::host_header_names_loopback;

/// The check of a loopback explorer: the loopback names pass, at any port (an SSH tunnel or a
/// port forward reaches the explorer through another port, under the same names).
#[derive(Debug, Clone)]
pub struct LoopbackHosts {
    port: u16,
}

impl LoopbackHosts {
    /// `None` when `addr` is not a loopback address: nothing to check then.
    pub fn for_listener(addr: SocketAddr) -> Option<LoopbackHosts> {
        addr.ip()
            .is_loopback()
            .then_some(LoopbackHosts { port: addr.port() })
    }
}

/// The middleware: passes requests whose `Host` names loopback, answers 403 otherwise.
pub async fn only_loopback_hosts(
    State(hosts): State<LoopbackHosts>,
    request: Request,
    next: Next,
) -> Response {
    if host_header_names_loopback(request.headers().get(header::HOST)) {
        return next.run(request).await;
    }
    let message = format!(
        "this explorer (port {}) listens on loopback and answers only requests to localhost, 127.0.0.1 or [::1]; \
         to reach it under another name, listen on that address (--ui-address)",
        hosts.port
    );
    (
        StatusCode::FORBIDDEN,
        axum::Json(json!({ "error": message })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_listener_checks_hosts() {
        assert!(LoopbackHosts::for_listener("127.0.0.1:8090".parse().unwrap()).is_some());
        assert!(LoopbackHosts::for_listener("[::1]:80".parse().unwrap()).is_some());
        assert!(LoopbackHosts::for_listener("0.0.0.0:8090".parse().unwrap()).is_none());
        assert!(LoopbackHosts::for_listener("192.168.1.5:8090".parse().unwrap()).is_none());
    }
}
