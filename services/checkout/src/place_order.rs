//! Placing an order: the seven steps of `POST /checkout`, in the order they happen.
//!
//! This is the trace the demo is built around, so this file reads like its waterfall. Each
//! step is one function, and each makes one call to another service (one CLIENT span) or one
//! write of our own:
//!
//! ```text
//! POST /checkout (SERVER span)
//!  ├─ 1 GET  cart       /carts/{session_id}   what is being bought
//!  ├─ 2 GET  catalog    /products?ids=..      at today's prices
//!  ├─ 3 POST inventory  /reservations         hold the stock
//!  ├─ 4 POST shipping   /quotes               price the delivery
//!  ├─ 5 POST payment    /payments             charge the card for the goods
//!  ├─ 6 save order      one transaction: orders + order_items, and
//!  │   └─ send order.created   the message for the shipping worker, in the outbox
//!  └─ 7 DELETE cart     /carts/{session_id}   start the next cart empty
//! ```
//!
//! If step 4, 5 or 6 fails, the stock held in step 3 is released. The order and its message
//! commit together (a transactional outbox, see `tracedojo_kit::outbox`): a stored order always
//! ships, and the answer says "placed" only once the commit succeeded. Step 7 comes after the
//! order is paid and saved: a failure there is logged, not answered, because an error answer
//! would invite the customer to pay a second time.

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::IgnoredAny;
use tracedojo_kit::ApiError;
use tracedojo_kit::server::annotate;

use crate::CheckoutState;
use crate::clients::{
    Cart, Clients, ItemQuantity, Payment, PaymentRequest, ProductList, Quote, QuoteRequest,
    Reservation, ReservationRequest,
};
use crate::orders::{self, NewOrder, OrderLine, STATUS_PLACED, SavedOrder};
use crate::request::ValidCheckout;

/// The answer to a successful checkout.
#[derive(Debug, Serialize)]
pub struct PlacedOrder {
    pub order_id: i64,
    pub status: &'static str,
    pub total_cents: i64,
    pub shipping_cents: i64,
    pub payment_id: String,
    pub items: Vec<OrderLine>,
}

/// Why a checkout did not go through.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// Nothing to buy. A 400 with its own code, so the frontend can say so in plain words
    /// (the kit's `ApiError::BadRequest` always answers `bad_request`).
    #[error("the cart of session {session_id} is empty")]
    CartEmpty { session_id: String },
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl IntoResponse for CheckoutError {
    fn into_response(self) -> Response {
        match self {
            CheckoutError::CartEmpty { .. } => {
                let body =
                    serde_json::json!({ "error": "cart_empty", "message": self.to_string() });
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
            CheckoutError::Api(err) => err.into_response(),
        }
    }
}

/// Runs the seven steps for one validated request, in the request's SERVER span.
pub async fn place_order(
    state: &CheckoutState,
    checkout: ValidCheckout,
) -> Result<PlacedOrder, CheckoutError> {
    let clients = &state.clients;
    let order_ref = new_order_ref();
    annotate("tracedojo.order.ref", order_ref.clone());
    annotate("tracedojo.order.region", checkout.region);

    // 1 and 2: what is being bought, at today's prices.
    let cart = fetch_cart(clients, &checkout.session_id).await?;
    if cart.items.is_empty() {
        return Err(CheckoutError::CartEmpty {
            session_id: checkout.session_id,
        });
    }
    let lines = price_items(clients, &cart).await?;
    let total_cents: i64 = lines.iter().map(|l| l.quantity * l.unit_price_cents).sum();
    annotate("tracedojo.order.total_cents", total_cents);
    // Your own attribute goes here (workshop lesson 10). The order is known from this point
    // (`lines`, `total_cents`, `checkout.region`), and this code runs in the request's SERVER
    // span, so `annotate(key, value)` puts the key on checkout's `POST /checkout` span, as the
    // lines above do. Name it under `tracedojo.order.` (semconv/README.md says why).

    let items: Vec<ItemQuantity> = lines
        .iter()
        .map(|l| ItemQuantity {
            product_id: l.product_id,
            quantity: l.quantity,
        })
        .collect();
    // 3: hold the stock.
    let reservation = reserve_stock(clients, &order_ref, &items).await?;

    // 4, 5 and 6: price the delivery, pay, save. They run while the stock is held for this
    // order; if one of them fails, the stock goes back.
    let held = async {
        // The quote comes first: once the card is charged, only our own write can still fail.
        let quote = quote_shipping(clients, checkout.region, &items).await?;
        let payment = charge_card(clients, &order_ref, total_cents, &checkout.card_number).await?;
        let new_order = NewOrder {
            order_ref: &order_ref,
            session_id: &checkout.session_id,
            email: &checkout.email,
            region: checkout.region,
            total_cents,
            shipping_cents: quote.cost_cents,
            payment_id: &payment.payment_id,
            lines: &lines,
        };
        let saved = orders::save_order(&state.db, &state.outbox, &new_order, |saved| {
            order_created(saved, &checkout, &items, total_cents)
        })
        .await?;
        Ok::<_, ApiError>((payment, quote, saved))
    }
    .await;
    let (payment, quote, saved) = match held {
        Ok(done) => done,
        Err(err) => {
            release_stock(clients, &reservation, &err).await;
            return Err(err.into());
        }
    };

    // 7: the order is paid and saved, and will ship; from here on nothing can undo it.
    clear_cart(clients, &checkout.session_id).await;

    tracing::info!(
        tracedojo.order.id = saved.id,
        tracedojo.order.ref = %order_ref,
        tracedojo.order.total_cents = total_cents,
        tracedojo.shipping.carrier = %quote.carrier,
        "order placed"
    );
    Ok(PlacedOrder {
        order_id: saved.id,
        status: STATUS_PLACED,
        total_cents,
        shipping_cents: quote.cost_cents,
        payment_id: payment.payment_id,
        items: lines,
    })
}

/// A reference every service can log before the order has an id.
fn new_order_ref() -> String {
    format!("ord_{:016x}", rand::random::<u64>())
}

/// Step 1: what the customer is buying.
async fn fetch_cart(clients: &Clients, session_id: &str) -> Result<Cart, ApiError> {
    clients
        .cart
        .get("/carts/{session_id}", &format!("/carts/{session_id}"))
        .await
        .map_err(|source| ApiError::Downstream {
            service: "cart",
            source,
        })
}

/// Step 2: the cart remembers the price when the item was added; the order uses today's.
async fn price_items(clients: &Clients, cart: &Cart) -> Result<Vec<OrderLine>, ApiError> {
    let ids: Vec<String> = cart
        .items
        .iter()
        .map(|i| i.product_id.to_string())
        .collect();
    let catalog: ProductList = clients
        .catalog
        .get("/products", &format!("/products?ids={}", ids.join(",")))
        .await
        .map_err(|source| ApiError::Downstream {
            service: "catalog",
            source,
        })?;
    let mut lines = Vec::with_capacity(cart.items.len());
    for item in &cart.items {
        let Some(product) = catalog.products.iter().find(|p| p.id == item.product_id) else {
            return Err(ApiError::Conflict {
                code: "product_unavailable",
                message: format!("product {} in the cart is no longer sold", item.product_id),
            });
        };
        if product.price_cents != item.unit_price_cents {
            tracing::info!(
                tracedojo.product.id = product.id,
                tracedojo.cart.price_cents = item.unit_price_cents,
                tracedojo.product.price_cents = product.price_cents,
                "price changed since the item was added to the cart"
            );
        }
        lines.push(OrderLine {
            product_id: product.id,
            name: product.name.clone(),
            quantity: item.quantity,
            unit_price_cents: product.price_cents,
        });
    }
    Ok(lines)
}

/// Step 3: hold the stock; a 409 `out_of_stock` passes through to the customer.
async fn reserve_stock(
    clients: &Clients,
    order_ref: &str,
    items: &[ItemQuantity],
) -> Result<Reservation, ApiError> {
    let request = ReservationRequest { order_ref, items };
    clients
        .inventory
        .post("/reservations", "/reservations", &request)
        .await
        .map_err(|source| ApiError::Downstream {
            service: "inventory",
            source,
        })
}

/// Step 4: the delivery price for this region and this many items.
async fn quote_shipping(
    clients: &Clients,
    region: &str,
    items: &[ItemQuantity],
) -> Result<Quote, ApiError> {
    let request = QuoteRequest { region, items };
    clients
        .shipping
        .post("/quotes", "/quotes", &request)
        .await
        .map_err(|source| ApiError::Downstream {
            service: "shipping",
            source,
        })
}

/// Step 5: charge the goods; a 402 decline passes through to the customer.
async fn charge_card(
    clients: &Clients,
    order_ref: &str,
    amount_cents: i64,
    card_number: &str,
) -> Result<Payment, ApiError> {
    let request = PaymentRequest {
        order_ref,
        amount_cents,
        currency: "USD",
        card_number,
    };
    clients
        .payment
        .post("/payments", "/payments", &request)
        .await
        .map_err(|source| ApiError::Downstream {
            service: "payment",
            source,
        })
}

/// The `order.created` message of step 6: what the shipping worker needs.
fn order_created(
    saved: &SavedOrder,
    checkout: &ValidCheckout,
    items: &[ItemQuantity],
    total_cents: i64,
) -> serde_json::Value {
    serde_json::json!({
        "order_id": saved.id,
        "session_id": checkout.session_id,
        "region": checkout.region,
        "items": items,
        "total_cents": total_cents,
    })
}

/// Step 7: empty the cart so the next visit starts afresh.
async fn clear_cart(clients: &Clients, session_id: &str) {
    let path = format!("/carts/{session_id}");
    if let Err(err) = clients
        .cart
        .delete::<IgnoredAny>("/carts/{session_id}", &path)
        .await
    {
        tracing::warn!(exception.message = %err, "order placed but the cart could not be emptied");
    }
}

/// Gives back the stock held in step 3 when a later step failed.
async fn release_stock(clients: &Clients, reservation: &Reservation, reason: &ApiError) {
    let path = format!("/reservations/{}/release", reservation.reservation_id);
    let released = clients
        .inventory
        .call::<(), IgnoredAny>(
            Method::POST,
            "/reservations/{reservation_id}/release",
            &path,
            None,
        )
        .await;
    match released {
        Ok(_) => tracing::info!(
            tracedojo.reservation.id = %reservation.reservation_id,
            tracedojo.order.failure_reason = %reason,
            "order not placed; stock released"
        ),
        Err(err) => tracing::warn!(
            tracedojo.reservation.id = %reservation.reservation_id,
            exception.message = %err,
            "order not placed and its stock could not be released"
        ),
    }
}
