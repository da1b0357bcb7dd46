//! The checks of endpoints that answer only this machine, or only the holder of a token.
//!
//! Loopback only: a web page on another site can point a domain of its own at 127.0.0.1 (DNS
//! rebinding) and then talk to a loopback endpoint as "same origin". Its requests still carry
//! that domain in `Host`, so answering only `localhost`, `127.0.0.1` (or any 127/8 address)
//! and `[::1]`, at any port (a tunnel may bring the endpoint to another one), shuts that door.
//!
//! Token: `Authorization: Bearer TOKEN`, compared without stopping at the first difference.
//!
//! Before it listens, [`check_exposure`] says whether an address and a token may be served at
//! all: beyond loopback only with a token, and only a token that is long enough and survives a
//! header and a URL unchanged.
//!
//! Each caller words its own refusal (status, message, field): these functions only answer
//! whether a request passes.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderValue, header};

/// The fewest characters of a token that opens an endpoint beyond loopback.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Why an endpoint may not listen where it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// No token, on an address other machines reach.
    OpenToTheNetwork,
    /// A token shorter than [`MIN_TOKEN_CHARS`], or holding characters other than visible
    /// ASCII (a space, a control character, a non-ASCII letter), which a header or a URL
    /// fragment would mangle.
    WeakToken,
}

/// Whether an endpoint may listen on `address` with `token`: loopback needs none, anything
/// else a strong one, and a token given is checked wherever it listens.
pub fn check_exposure(address: SocketAddr, token: Option<&str>) -> Result<(), Exposure> {
    match token {
        Some(token)
            if token.chars().count() < MIN_TOKEN_CHARS
                || !token.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Err(Exposure::WeakToken)
        }
        Some(_) => Ok(()),
        None if address.ip().is_loopback() => Ok(()),
        None => Err(Exposure::OpenToTheNetwork),
    }
}

/// Whether a `Host` value (`localhost:8090`, `127.0.0.1`, `[::1]:8090`) names this machine's
/// loopback, at any port. Anything malformed is refused, a port that is not digits included:
/// `localhost:8090.evil.example` is another site's name, not localhost.
pub fn names_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((name, port))
                if port.is_empty() || port.strip_prefix(':').is_some_and(is_port) =>
            {
                name
            }
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// [`names_loopback`] for a request's `Host` header; a missing or non-text header names
/// nothing.
pub fn host_header_names_loopback(host: Option<&HeaderValue>) -> bool {
    host.and_then(|host| host.to_str().ok())
        .is_some_and(names_loopback)
}

/// Whether the request carries `Authorization: Bearer TOKEN` with exactly this token.
pub fn bearer_token_matches(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    same_secret(given, token)
}

/// Compares without stopping at the first difference, so the time an answer takes does not
/// reveal how much of a secret was guessed right. (Only its length shows, which a token's
/// or a code's required length says anyway.)
pub fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |differences, (a, b)| differences | (a ^ b))
            == 0
}

/// Digits only, at least one.
fn is_port(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_goes_without_a_token_and_a_token_must_be_strong() {
        let loopback: SocketAddr = "127.0.0.1:8097".parse().unwrap();
        let anywhere: SocketAddr = "0.0.0.0:8097".parse().unwrap();
        let strong = "0123456789abcdef";
        assert_eq!(check_exposure(loopback, None), Ok(()));
        assert_eq!(
            check_exposure(anywhere, None),
            Err(Exposure::OpenToTheNetwork)
        );
        assert_eq!(check_exposure(anywhere, Some(strong)), Ok(()));
        for weak in [
            "0123456789abcde",
            "0123456789 abcdef",
            "0123456789abcdé!",
            "0123456789abcde\t",
        ] {
            assert_eq!(
                check_exposure(anywhere, Some(weak)),
                Err(Exposure::WeakToken),
                "{weak:?}"
            );
            // A token given is checked on loopback too: it is meant for the network next time.
            assert_eq!(
                check_exposure(loopback, Some(weak)),
                Err(Exposure::WeakToken),
                "{weak:?}"
            );
        }
    }

    #[test]
    fn loopback_names_pass_at_any_port_and_others_do_not() {
        for loopback in [
            "localhost:8090",
            "LOCALHOST:8090",
            "localhost",
            "127.0.0.1:9000",
            "127.0.0.2:8090",
            "[::1]:8090",
            "[::1]",
            "localhost:5",
        ] {
            assert!(names_loopback(loopback), "{loopback}");
        }
        for other in [
            "",
            "evil.example:8090",
            "127.0.0.1.evil.example:8090",
            "localhost.evil.example",
            "localhost:8090.evil.example",
            "localhost:",
            "[::1]x",
            "[::1]:",
            "localhost:80a",
            "[::1",
            "::1",
            "0.0.0.0:8090",
        ] {
            assert!(!names_loopback(other), "{other}");
        }
    }

    #[test]
    fn a_missing_or_unreadable_host_header_names_nothing() {
        assert!(host_header_names_loopback(Some(&HeaderValue::from_static(
            "127.0.0.1:8089"
        ))));
        assert!(!host_header_names_loopback(Some(
            &HeaderValue::from_static("evil.example:8089")
        )));
        assert!(!host_header_names_loopback(None));
        let not_text = HeaderValue::from_bytes(b"localhost\xff").unwrap();
        assert!(!host_header_names_loopback(Some(&not_text)));
    }

    #[test]
    fn a_bearer_token_passes_only_whole_and_exact() {
        let token = "0123456789abcdef0123";
        let with = |authorization: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_static(authorization),
            );
            headers
        };
        assert!(bearer_token_matches(
            &with("Bearer 0123456789abcdef0123"),
            token
        ));
        for refused in [
            "Bearer 0123456789abcdef012",
            "Bearer 0123456789abcdef01234",
            "Bearer 0123456789abcdef0124",
            "bearer 0123456789abcdef0123",
            "Basic 0123456789abcdef0123",
            "0123456789abcdef0123",
            "Bearer ",
        ] {
            assert!(!bearer_token_matches(&with(refused), token), "{refused}");
        }
        assert!(!bearer_token_matches(&HeaderMap::new(), token));
    }

    #[test]
    fn secrets_are_the_same_only_when_every_byte_is() {
        assert!(same_secret("K7QX3M", "K7QX3M"));
        assert!(same_secret("", ""));
        assert!(!same_secret("K7QX3N", "K7QX3M"));
        assert!(!same_secret("K7QX3", "K7QX3M"));
        assert!(!same_secret("K7QX3MM", "K7QX3M"));
        assert!(!same_secret("", "K7QX3M"));
    }
}
