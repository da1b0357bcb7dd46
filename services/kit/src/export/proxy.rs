//! Which proxy, if any, an OTLP/HTTP export goes through: `HTTPS_PROXY` / `HTTP_PROXY` /
//! `ALL_PROXY` (either case) unless `NO_PROXY` lists the host, the rules the HTTP client
//! itself follows. Worked out here too so that `doctor` can show it and a connection failure
//! can be blamed on the proxy rather than on the backend.

/// The proxy URL for `url`, or `None` when it goes direct.
pub fn proxy_for(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_of(host_port);
    let candidates: &[&str] = if scheme.eq_ignore_ascii_case("https") {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    let proxy = candidates.iter().find_map(|name| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })?;
    let no_proxy = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    if bypassed(host, &no_proxy) {
        return None;
    }
    Some(proxy)
}

fn host_of(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

/// Whether `NO_PROXY` (comma-separated: `*`, host names, `.domain` or `domain` suffixes, IP
/// addresses) lets `host` go direct.
fn bypassed(host: &str, no_proxy: &str) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = host_of(&entry).to_string();
            let domain = entry.trim_start_matches('.');
            host == domain || host.ends_with(&format!(".{domain}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_hosts_domains_and_star() {
        assert!(bypassed("otlp.example.com", "example.com"));
        assert!(bypassed("otlp.example.com", ".example.com"));
        assert!(bypassed("127.0.0.1", "localhost,127.0.0.1"));
        assert!(bypassed("anything", "*"));
        assert!(!bypassed("example.org", "example.com"));
        assert!(!bypassed("badexample.com", "example.com"));
        assert!(bypassed("::1", "[::1]"));
    }

    #[test]
    fn hosts_come_out_of_urls_with_ports_and_credentials() {
        assert_eq!(host_of("example.com:4318"), "example.com");
        assert_eq!(host_of("[::1]:4318"), "::1");
        assert_eq!(host_of("example.com"), "example.com");
    }
}
