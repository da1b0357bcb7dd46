//! Trace and span ids as text: lower-case hex out, either case in.
//!
//! One home for both directions, so the ingest code, the store and the API cannot drift apart
//! on what an id looks like, and none of them has to reach into another for it.

/// Lower-case hex of an id. Ids of unexpected length are kept as sent rather
/// than rejected: a test receiver should show what the exporter did.
pub fn hex_id(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses lower- or upper-case hex of exactly N bytes.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lower_hex() {
        assert_eq!(hex_id(&[0x00, 0xAB, 0x0f, 0xf0]), "00ab0ff0");
        assert_eq!(hex_id(&[]), "");
    }

    #[test]
    fn hex_reads_back_in_either_case_at_exactly_its_length() {
        let id = [0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6];
        assert_eq!(unhex::<8>(&hex_id(&id)), Some(id));
        assert_eq!(unhex::<8>("4BF92F3577B34DA6"), Some(id));
        assert_eq!(unhex::<8>("4bf92f3577b34da"), None);
        assert_eq!(unhex::<8>("4bf92f3577b34da6ff"), None);
        assert_eq!(unhex::<2>("zz00"), None);
        assert_eq!(unhex::<2>("+1ab"), None);
        // Multi-byte characters never split into a valid pair.
        assert_eq!(unhex::<2>("é00"), None);
    }
}
