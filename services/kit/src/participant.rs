//! The workshop participant: the name that tells one person's run apart from the others'
//! when thirty of them export to one shared backend account.
//!
//! `tracedojo up --participant NAME` passes the name to every service it starts through
//! [`ENV`] (`TRACEDOJO_PARTICIPANT`), and each service puts it on its resource as
//! `service.namespace` (see [`crate::resource`]). The name is checked here, by one function,
//! so `up` and each service agree on what is allowed: `up` refuses a bad name before it
//! starts anything, and a service started on its own with a bad one in its environment says
//! so and leaves it out.

use std::fmt;

/// The variable that carries the participant's name to every service.
pub const ENV: &str = "TRACEDOJO_PARTICIPANT";

/// The longest name allowed.
pub const MAX_LEN: usize = 32;

/// What a name may look like, for error messages and help texts.
pub const ALLOWED: &str = "1 to 32 ASCII letters, digits, '-', '_' or '.', starting and ending with a letter or digit (e.g. alice, team-3)";

/// A checked participant name: safe to put, as it is, in a URL query (only unreserved
/// characters of RFC 3986, so nothing to escape), in a vendor's filter box (no spaces,
/// quotes, commas or operators to misparse) and in a Kubernetes label value (at most 63
/// characters of `[A-Za-z0-9._-]`, beginning and ending with an alphanumeric). 32 keeps it
/// readable in a column of a backend's service list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Participant(String);

impl Participant {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Participant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a name was refused: what is wrong with the value, then [`ALLOWED`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParticipantError {
    #[error("the participant name is empty; give {ALLOWED}")]
    Empty,
    #[error("the participant name {shown} is {len} characters long; give {ALLOWED}")]
    TooLong { shown: String, len: usize },
    #[error("the participant name {shown} has {what} at position {position}; give {ALLOWED}")]
    BadCharacter {
        shown: String,
        what: String,
        position: usize,
    },
    #[error("the participant name {shown} {which} with {what}; give {ALLOWED}")]
    BadEdge {
        shown: String,
        which: &'static str,
        what: String,
    },
}

/// Checks a name as given (no trimming: a stray space is a mistake worth showing).
pub fn parse(text: &str) -> Result<Participant, ParticipantError> {
    if text.is_empty() {
        return Err(ParticipantError::Empty);
    }
    let shown = shown(text);
    let len = text.chars().count();
    if len > MAX_LEN {
        return Err(ParticipantError::TooLong { shown, len });
    }
    if let Some((position, c)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(ParticipantError::BadCharacter {
            shown,
            what: describe(c),
            position: position + 1,
        });
    }
    // Every character is ASCII by now, so the first and last bytes are characters.
    for (which, c) in [
        ("starts", text.chars().next()),
        ("ends", text.chars().next_back()),
    ] {
        if let Some(c) = c.filter(|c| !c.is_ascii_alphanumeric()) {
            return Err(ParticipantError::BadEdge {
                shown,
                which,
                what: describe(c),
            });
        }
    }
    Ok(Participant(text.to_owned()))
}

/// The participant named by [`ENV`]; `None` when it is unset. Set but empty is refused, as
/// `up --participant ""` is (clap hands `up` an empty variable as an empty value).
pub fn from_env() -> Result<Option<Participant>, ParticipantError> {
    match std::env::var(ENV) {
        Ok(text) => parse(&text).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => Err(ParticipantError::BadCharacter {
            shown: shown(&raw.to_string_lossy()),
            what: "bytes that are not text".to_owned(),
            position: 1,
        }),
    }
}

/// The value quoted for an error line: escaped (a control character cannot garble the
/// terminal), and cut short when long so the line stays one line.
fn shown(text: &str) -> String {
    const SHOWN: usize = 40;
    let mut cut: String = text.chars().take(SHOWN).collect();
    if text.chars().count() > SHOWN {
        cut.push('…');
    }
    format!("{cut:?}")
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_whitespace() || c.is_control() => format!("the character {c:?}"),
        c if !c.is_ascii() => format!("'{c}' (not ASCII)"),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_taken_as_they_are() {
        for name in [
            "alice",
            "Bob",
            "team-3",
            "a",
            "x.y_z-1",
            "007",
            &"a".repeat(32),
        ] {
            assert_eq!(parse(name).map(|p| p.to_string()), Ok(name.to_owned()));
        }
    }

    #[test]
    fn each_refusal_names_the_problem_and_the_allowed_form() {
        let cases = [
            ("", "is empty"),
            ("alice smith", "a space at position 6"),
            (" alice", "a space at position 1"),
            ("alice\n", "'\\n' at position 6"),
            ("josé", "'é' (not ASCII) at position 4"),
            ("名前", "'名' (not ASCII) at position 1"),
            ("a,b", "',' at position 2"),
            ("a=b", "'=' at position 2"),
            ("-alice", "starts with '-'"),
            ("alice.", "ends with '.'"),
            ("_", "starts with '_'"),
        ];
        for (name, problem) in cases {
            let message = parse(name).expect_err(name).to_string();
            assert!(message.contains(problem), "{name:?}: {message}");
            assert!(message.contains(ALLOWED), "{name:?}: {message}");
            assert!(!message.contains('\n'), "{name:?}: one line: {message}");
        }
    }

    #[test]
    fn a_long_name_is_cut_short_in_the_message() {
        let name = "x".repeat(200);
        let message = parse(&name).expect_err("too long").to_string();
        assert!(message.contains("200 characters long"), "{message}");
        assert!(!message.contains(&"x".repeat(41)), "{message}");
        assert!(message.len() < 300, "{message}");
        assert!(parse(&"a".repeat(33)).is_err());
    }
}
