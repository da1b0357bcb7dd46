//! Input checks shared by the HTML pages and the JSON API.
//!
//! The services behind the frontend check their input too; checking here as well gives a
//! shopper a message that names the field, and spares the shop a pointless downstream call.

use tracedojo_kit::ApiError;

use crate::model::{AddItem, CheckoutRequest};
use crate::session::Session;
use crate::users::REGIONS;

pub const MAX_QUANTITY: i64 = 99;
pub const MAX_QUERY_CHARS: usize = 100;

/// A positive id from a path or form field, e.g. `parse_id("product_id", "42")`.
pub fn parse_id(field: &str, raw: &str) -> Result<i64, ApiError> {
    match raw.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::BadRequest(format!(
            "{field} must be a positive whole number, got {raw:?}"
        ))),
    }
}

/// A category slug as the catalog makes them: lower-case letters, digits and dashes.
pub fn is_valid_slug(slug: &str) -> bool {
    (1..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn search_query(raw: Option<&str>) -> Result<String, ApiError> {
    let query = raw.unwrap_or_default().trim();
    let chars = query.chars().count();
    if chars == 0 || chars > MAX_QUERY_CHARS {
        return Err(ApiError::BadRequest(format!(
            "q must be 1 to {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(query.to_string())
}

pub fn add_item(product_id: i64, quantity: i64) -> Result<AddItem, ApiError> {
    if product_id <= 0 {
        return Err(ApiError::BadRequest(
            "product_id must be a positive whole number".into(),
        ));
    }
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(ApiError::BadRequest(format!(
            "quantity must be between 1 and {MAX_QUANTITY}"
        )));
    }
    Ok(AddItem {
        product_id,
        quantity,
    })
}

/// The checkout fields, as the JSON API and the HTML form both send them.
#[derive(Debug, serde::Deserialize)]
pub struct CheckoutFields {
    pub card_number: String,
    pub email: String,
    pub region: Option<String>,
}

/// The checkout request for `session`; the region defaults to the user's own.
pub fn checkout_request(
    session: &Session,
    card_number: &str,
    email: &str,
    region: Option<&str>,
) -> Result<CheckoutRequest, ApiError> {
    let card_number = card_number.trim();
    let digits = card_number.chars().filter(char::is_ascii_digit).count();
    let only_card_characters = card_number
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    if !(12..=19).contains(&digits) || !only_card_characters {
        return Err(ApiError::BadRequest(
            "card_number must be 12 to 19 digits, e.g. 4242 4242 4242 4242".into(),
        ));
    }
    let email = email.trim();
    if email.len() > 254 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::BadRequest(
            "email must be an address such as shopper@example.com".into(),
        ));
    }
    let region = match region.map(str::trim).filter(|r| !r.is_empty()) {
        None => session.user.region,
        Some(region) => REGIONS
            .iter()
            .copied()
            .find(|known| *known == region)
            .ok_or_else(|| {
                ApiError::BadRequest(format!("region must be one of {}", REGIONS.join(", ")))
            })?,
    };
    Ok(CheckoutRequest {
        session_id: session.id.clone(),
        card_number: card_number.to_string(),
        email: email.to_string(),
        region: region.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_input_is_checked_field_by_field() {
        let session = Session::new("abc".into());
        let ok = checkout_request(&session, "4242 4242 4242 4242", "a@b.c", None);
        assert_eq!(
            ok.map(|r| r.region).ok().as_deref(),
            Some(session.user.region)
        );
        let bad_card = checkout_request(&session, "42", "a@b.c", None);
        assert!(bad_card.is_err_and(|e| e.to_string().contains("card_number")));
        let bad_region = checkout_request(&session, "4242424242424242", "a@b.c", Some("mars-1"));
        assert!(bad_region.is_err_and(|e| e.to_string().contains("region")));
    }

    #[test]
    fn ids_and_quantities_must_be_in_range() {
        assert_eq!(parse_id("product_id", "7").ok(), Some(7));
        assert!(parse_id("product_id", "-1").is_err());
        assert!(add_item(1, 100).is_err());
        assert!(add_item(1, 99).is_ok());
    }
}
