//! The frontend: the shop a person clicks through, and a JSON API for scripts.
//!
//! This is the service every trace starts in. It owns no data: each page is built from calls
//! to the catalog, cart, checkout, recommendation and shipping services (a "backend for
//! frontend"). It also decides who the shopper is: the session id is hashed into a made-up
//! user (tier, region, device, locale, company) that travels to every service as W3C
//! baggage, so any span in the shop can be filtered by customer segment.
//!
//! Files: [`pages`] the HTML pages and forms, [`api`] the JSON API, [`html`] escaping and
//! the layout, [`clients`] one client per service, [`model`] the shapes they answer with,
//! [`session`] the cookie, [`users`] the made-up users, [`input`] the input checks.

mod api;
mod clients;
mod html;
mod input;
mod model;
mod pages;
mod session;
mod users;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use tokio::net::TcpListener;
use tracedojo_kit::server::{self, RunError, ServerOptions};

use crate::clients::Clients;
use crate::users::User;

/// Where the services the frontend calls are, e.g. `http://127.0.0.1:8081`.
#[derive(Debug, Clone)]
pub struct Config {
    pub catalog_url: String,
    pub cart_url: String,
    pub checkout_url: String,
    pub recommendation_url: String,
    pub shipping_url: String,
    /// The explorer's web UI (`http://HOST:PORT`, checked to be http or https): pages link to
    /// it, and an order to its trace. `None`: no links.
    pub explorer_url: Option<String>,
    /// The participant's `service.namespace` (`TRACEDOJO_PARTICIPANT`): links to the explorer
    /// open it narrowed to it.
    pub namespace: Option<String>,
}

/// The service's routes, without telemetry (see [`run`]).
pub fn router(config: Config) -> Router {
    let clients = Arc::new(Clients::new(&config));
    let explorer: Option<Arc<str>> = config
        .explorer_url
        .as_deref()
        .map(|url| Arc::from(html::explorer_page(url, config.namespace.as_deref())));
    pages::router()
        .merge(api::router())
        .fallback(pages::not_found)
        .with_state(clients)
        .layer(middleware::from_fn_with_state(
            explorer,
            html::with_explorer,
        ))
}

/// Serves the shop on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    tracing::info!(
        "frontend calls catalog (at {}), cart, checkout, recommendation and shipping",
        config.catalog_url
    );
    server::serve(listener, app(config, options), shutdown).await?;
    Ok(())
}

/// What [`run`] serves: the routes, traced, behind the session cookie.
fn app(config: Config, options: ServerOptions) -> Router {
    let options = options.with_baggage_defaults(Arc::new(|headers| {
        session::from_headers(headers)
            .map(|id| User::from_session(&id).baggage())
            .unwrap_or_default()
    }));
    // The cookie layer goes outside the tracing layer, so that a first-time visitor already
    // has a session (and so a user in the baggage) when the SERVER span starts.
    server::instrument(router(config), options).layer(middleware::from_fn(session::ensure_session))
}
