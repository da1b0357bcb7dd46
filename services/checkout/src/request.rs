//! What `POST /checkout` accepts, and the checks it passes before any other service is called.

use serde::Deserialize;
use tracedojo_kit::ApiError;

pub use tracedojo_kit::baggage::REGIONS;

/// The region an order ships to when the request names none.
pub const DEFAULT_REGION: &str = "eu-west-1";

/// The body as sent. Every field is optional here so that a missing one gets a 400 naming it,
/// not a generic deserialisation error.
#[derive(Debug, Default, Deserialize)]
pub struct CheckoutRequest {
    pub session_id: Option<String>,
    pub card_number: Option<String>,
    pub email: Option<String>,
    pub region: Option<String>,
}

/// A request that passed [`CheckoutRequest::validate`].
pub struct ValidCheckout {
    pub session_id: String,
    pub card_number: String,
    pub email: String,
    pub region: &'static str,
}

// Written by hand so that a card number can never reach a log line through `{:?}`.
impl std::fmt::Debug for ValidCheckout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidCheckout")
            .field("session_id", &self.session_id)
            .field("card_number", &"<redacted>")
            .field("email", &self.email)
            .field("region", &self.region)
            .finish()
    }
}

impl CheckoutRequest {
    pub fn validate(self) -> Result<ValidCheckout, ApiError> {
        let session_id = self.session_id.unwrap_or_default();
        if !is_session_id(&session_id) {
            return Err(bad_request(
                "session_id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'",
            ));
        }
        let card_number = self.card_number.unwrap_or_default().trim().to_string();
        if card_number.is_empty() {
            return Err(bad_request("card_number is required"));
        }
        let email = self.email.unwrap_or_default().trim().to_string();
        if !email.contains('@') {
            return Err(bad_request("email must be an address containing '@'"));
        }
        let region = match self.region.as_deref() {
            None => DEFAULT_REGION,
            Some(name) => REGIONS
                .iter()
                .copied()
                .find(|known| *known == name)
                .ok_or_else(|| {
                    bad_request(&format!("region must be one of {}", REGIONS.join(", ")))
                })?,
        };
        Ok(ValidCheckout {
            session_id,
            card_number,
            email,
            region,
        })
    }
}

fn is_session_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn bad_request(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> CheckoutRequest {
        CheckoutRequest {
            session_id: Some("sess_1".into()),
            card_number: Some("4242424242424242".into()),
            email: Some("a@b.c".into()),
            region: None,
        }
    }

    fn message_of(request: CheckoutRequest) -> String {
        match request.validate() {
            Ok(_) => String::from("accepted"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn region_defaults_to_eu_west_1() {
        let checkout = valid().validate().map(|c| c.region);
        assert_eq!(checkout.ok(), Some("eu-west-1"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (
                CheckoutRequest {
                    session_id: Some("has space".into()),
                    ..valid()
                },
                "session_id",
            ),
            (
                CheckoutRequest {
                    session_id: None,
                    ..valid()
                },
                "session_id",
            ),
            (
                CheckoutRequest {
                    card_number: Some("  ".into()),
                    ..valid()
                },
                "card_number",
            ),
            (
                CheckoutRequest {
                    email: Some("nobody".into()),
                    ..valid()
                },
                "email",
            ),
            (
                CheckoutRequest {
                    region: Some("moon-1".into()),
                    ..valid()
                },
                "region",
            ),
        ];
        for (request, field) in cases {
            let message = message_of(request);
            assert!(message.starts_with(field), "{field}: {message}");
        }
    }

    #[test]
    fn the_card_number_is_not_in_debug_output() {
        let checkout = valid().validate().map(|c| format!("{c:?}"));
        let shown = checkout.unwrap_or_default();
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("4242"));
    }
}
