//! Reading what a participant typed: full-width characters from a Japanese input method are
//! taken as their ASCII twins, case and extra spaces do not matter.

use crate::error::WorkshopError;

/// The answer with full-width ASCII (`ｐａｙｍｅｎｔ　４８０`) folded to ASCII, lower-cased, and
/// split into words.
pub fn words(answer: &str) -> Vec<String> {
    let folded: String = answer
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            _ => c,
        })
        .collect();
    folded
        .split(|c: char| c.is_whitespace() || c == ',' || c == '、')
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The refusal for an answer that does not have the lesson's form.
pub fn wrong_form(format_en: &str, format_ja: &str, got: &str) -> WorkshopError {
    WorkshopError::AnswerForm {
        en: format!("the answer {got:?} is not in the form this lesson asks for: {format_en}"),
        ja: format!("回答 {got:?} はこのレッスンで求める形式になっていません。形式: {format_ja}"),
    }
}

/// A whole number of milliseconds or units (`480`, `480ms`, `480.5`).
pub fn number(word: &str) -> Option<f64> {
    let digits = word.trim_end_matches("ms");
    digits
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
}

/// A trace id: 32 hexadecimal characters.
pub fn trace_id(word: &str) -> Option<String> {
    (word.len() == 32 && word.chars().all(|c| c.is_ascii_hexdigit())).then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_input_reads_as_ascii() {
        assert_eq!(words("ｐａｙｍｅｎｔ　４８０"), vec!["payment", "480"]);
        assert_eq!(words("  Payment,  480ms "), vec!["payment", "480ms"]);
        assert_eq!(number("480ms"), Some(480.0));
        assert_eq!(number("-3"), None);
        assert_eq!(number("fast"), None);
        assert!(trace_id("4bf92f3577b34da6a3ce929d0e0e4736").is_some());
        assert!(trace_id("4bf92f3577b34da6").is_none());
    }
}
