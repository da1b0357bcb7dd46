//! The shop's services, their default ports, and port parsing with a helpful error.

/// Every service, in the order `up` starts them: a service starts after those it calls.
pub const SERVICES: [(&str, u16); 8] = [
    ("catalog", 1),
    ("payment", 4),
    ("inventory", 3),
    ("recommendation", 7),
    ("cart", 2),
    ("shipping", 6),
    ("checkout", 5),
    ("frontend", 0),
];

/// The port offset of a service from the base port (frontend is the base).
pub fn offset(name: &str) -> Option<u16> {
    SERVICES.iter().find(|(n, _)| *n == name).map(|(_, o)| *o)
}

pub fn names() -> String {
    let mut names: Vec<&str> = SERVICES.iter().map(|(n, _)| *n).collect();
    names.sort_by_key(|n| offset(n));
    names.join(", ")
}

/// clap value parser: a port number with a message that says what is allowed.
pub fn parse_port(value: &str) -> Result<u16, String> {
    value.trim().parse::<u16>().map_err(|_| {
        format!("\"{value}\" is not a port; use a number from 1 to 65535 (0 picks a free port)")
    })
}

/// A port that is free now, for `--base-port 0`. Chosen below the range the system hands
/// out for outgoing connections when it can: a port from that range, free when checked,
/// may be taken by some connection before the service binds it.
pub fn free_port(host: std::net::IpAddr) -> std::io::Result<u16> {
    let (low, _) = ephemeral_range();
    if low > 11_000 {
        for _ in 0..200 {
            let port = 10_000 + (rand::random::<u16>() % (low - 10_000));
            if std::net::TcpListener::bind((host, port)).is_ok() {
                return Ok(port);
            }
        }
    }
    Ok(std::net::TcpListener::bind((host, 0))?.local_addr()?.port())
}

/// The ports the system uses for outgoing connections (Linux tells; elsewhere a common range).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .unwrap_or((49_152, 65_535))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_with_a_clear_error() {
        assert_eq!(parse_port("8080"), Ok(8080));
        assert!(parse_port("70000").unwrap_err().contains("1 to 65535"));
        assert!(parse_port("abc").is_err());
    }

    #[test]
    fn every_service_has_a_distinct_offset() {
        let mut offsets: Vec<u16> = SERVICES.iter().map(|(_, o)| *o).collect();
        offsets.sort();
        offsets.dedup();
        assert_eq!(offsets.len(), SERVICES.len());
    }
}
