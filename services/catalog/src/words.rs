//! How text becomes search terms. Products are indexed and queries are read by the same
//! rules, so a word a customer types always meets the term it was stored as.
//!
//! A word is a run of letters and digits, lower-cased: "No-Knead" is `no` and `knead`,
//! "Chef's" is `chef` and `s`. A product is stored under each of its words and under every
//! prefix of two characters or more of each word, so "cof" already finds the coffee.

use std::collections::BTreeSet;

/// The distinct lower-cased words of `text`, in the order they first appear.
pub fn words(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .filter(|word| seen.insert(word.clone()))
        .collect()
}

/// Every term a product with these texts is found by: each word and each of its prefixes of
/// two characters or more, without repeats.
pub fn terms<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut terms = BTreeSet::new();
    for text in texts {
        for word in words(text) {
            // Prefixes end on character boundaries: "tarrazú" gives "tarraz", not half a "ú".
            let ends = word.char_indices().map(|(at, _)| at).skip(2);
            for end in ends {
                terms.insert(word[..end].to_string());
            }
            terms.insert(word);
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_runs_of_letters_and_digits() {
        assert_eq!(words("Dutch Oven"), ["dutch", "oven"]);
        assert_eq!(words("NO-KNEAD, no-knead!"), ["no", "knead"]);
        assert_eq!(words("Chef's 10-inch"), ["chef", "s", "10", "inch"]);
        assert_eq!(words("Costa Rica Tarrazú"), ["costa", "rica", "tarrazú"]);
        assert!(words("%_ -- !").is_empty());
    }

    #[test]
    fn terms_are_words_and_their_prefixes_of_two_characters_or_more() {
        let terms = terms(["Wok", "A wok; café"]);
        let expected = ["a", "ca", "caf", "café", "wo", "wok"];
        assert_eq!(
            terms.iter().map(String::as_str).collect::<Vec<_>>(),
            expected
        );
    }
}
