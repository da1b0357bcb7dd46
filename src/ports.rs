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
