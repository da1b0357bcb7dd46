//! The participant's language, and the few sentences the workshop's code says itself (the
//! lessons' own texts are in their files).

use std::fmt;

/// The languages every lesson is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// `ja` or `en` (also `ja_JP.UTF-8` and the like); anything else is refused.
    pub fn parse(value: &str) -> Option<Lang> {
        let value = value.trim().to_ascii_lowercase();
        if value == "ja" || value.starts_with("ja_") || value.starts_with("ja-") {
            Some(Lang::Ja)
        } else if value == "en" || value.starts_with("en_") || value.starts_with("en-") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The language of the locale (`LC_ALL`, then `LC_MESSAGES`, then `LANG`): Japanese for a
    /// `ja` locale, English otherwise.
    pub fn from_locale() -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|value| !value.is_empty())
            .and_then(|value| Lang::parse(&value))
            .unwrap_or(Lang::En)
    }

    /// Picks the sentence in this language.
    pub fn say(self, en: impl Into<String>, ja: impl Into<String>) -> String {
        match self {
            Lang::En => en.into(),
            Lang::Ja => ja.into(),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        })
    }
}

/// `text` padded with spaces to `width` columns of a terminal, where CJK characters take two.
pub fn pad(text: &str, width: usize) -> String {
    let used: usize = text.chars().map(columns).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

/// Columns a character takes in a terminal: two for East Asian wide and full-width ones.
fn columns(c: char) -> usize {
    let wide = matches!(c as u32,
        0x1100..=0x115f | 0x2e80..=0x303e | 0x3041..=0x33ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xfe30..=0xfe4f | 0xff00..=0xff60
        | 0xffe0..=0xffe6);
    if wide { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_and_flags_map_to_a_language() {
        assert_eq!(Lang::parse("ja_JP.UTF-8"), Some(Lang::Ja));
        assert_eq!(Lang::parse("JA"), Some(Lang::Ja));
        assert_eq!(Lang::parse("en_US.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("C.UTF-8"), None);
        assert_eq!(Lang::parse("fr"), None);
    }

    #[test]
    fn padding_counts_japanese_as_two_columns() {
        assert_eq!(pad("遅い依存先", 12), "遅い依存先  ");
        assert_eq!(pad("slow", 6), "slow  ");
        assert_eq!(pad("too long", 3), "too long");
    }
}
