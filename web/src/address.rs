//! The address a person opens a page of the kit at: a wildcard listening address (`0.0.0.0`)
//! becomes loopback of its family, and a token rides in the URL's fragment, which a browser
//! never sends to the server (or to any site a link leads to).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `http://HOST:PORT/`, with `#token=TOKEN` when given.
pub fn page_url(bound: SocketAddr, token: Option<&str>) -> String {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let base = format!("http://{}/", SocketAddr::new(ip, bound.port()));
    match token {
        Some(token) => format!("{base}#token={}", fragment_encode(token)),
        None => base,
    }
}

/// Percent-encodes all but unreserved characters, so `+`, `&` or `#` in a token survive a
/// page's `URLSearchParams`.
pub fn fragment_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_becomes_loopback_and_the_token_is_encoded() {
        assert_eq!(
            page_url("0.0.0.0:8097".parse().unwrap(), Some("a+b/c&d#e")),
            "http://127.0.0.1:8097/#token=a%2Bb%2Fc%26d%23e"
        );
        assert_eq!(
            page_url("[::]:8097".parse().unwrap(), None),
            "http://[::1]:8097/"
        );
        assert_eq!(
            page_url("192.0.2.7:80".parse().unwrap(), None),
            "http://192.0.2.7:80/"
        );
    }
}
