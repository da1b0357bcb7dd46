//! Routes that say where their code is: [`get`], [`post`], [`put`] and [`delete`] are axum's,
//! and besides they record on the request's SERVER span which function handles the route and
//! in which file (`code.function.name`, `code.file.path`, the OpenTelemetry code attributes).
//! An APM backend links a slow endpoint to its source with them, and `tracedojo report` turns
//! them into links with `--code-base-url`.
//!
//! A service writes `.route("/products/search", get(search_products))` exactly as with axum;
//! only the `use` line says `tracedojo_kit::routing` instead of `axum::routing`.

use std::panic::Location;

use axum::extract::Request;
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::routing::{self as axum_routing, MethodRouter};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Where a route's handler is: its function's full path and the file it is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerCode {
    pub function: &'static str,
    pub file: &'static str,
}

impl HandlerCode {
    /// The code of handler `H`, routed at `at`. A function item's type name is its path
    /// (`tracedojo_catalog::routes::search_products`); the route is declared next to its
    /// handler, so the declaring file is the handler's. A closure has no name worth
    /// recording, so it gets none.
    fn of<H>(at: &'static Location<'static>) -> HandlerCode {
        let name = std::any::type_name::<H>();
        HandlerCode {
            function: if name.contains("{{closure}}") {
                ""
            } else {
                name
            },
            file: at.file(),
        }
    }

    fn record(self) {
        let span = tracing::Span::current();
        if !self.function.is_empty() {
            span.set_attribute("code.function.name", self.function);
        }
        // The path as the compiler was given it, with Windows' separators made portable.
        span.set_attribute("code.file.path", self.file.replace('\\', "/"));
    }
}

/// `route` with its handler's code recorded before the handler runs.
fn located<S>(route: MethodRouter<S>, code: HandlerCode) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route.layer(middleware::from_fn(move |request: Request, next: Next| {
        code.record();
        next.run(request)
    }))
}

macro_rules! located_method {
    ($($(#[$doc:meta])* $method:ident),*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $method<H, T, S>(handler: H) -> MethodRouter<S>
        where
            H: Handler<T, S>,
            T: 'static,
            S: Clone + Send + Sync + 'static,
        {
            let code = HandlerCode::of::<H>(Location::caller());
            located(axum_routing::$method(handler), code)
        }
    )*};
}

located_method!(
    /// axum's `get`, recording the handler's code on the SERVER span.
    get,
    /// axum's `post`, recording the handler's code on the SERVER span.
    post,
    /// axum's `put`, recording the handler's code on the SERVER span.
    put,
    /// axum's `delete`, recording the handler's code on the SERVER span.
    delete
);

#[cfg(test)]
mod tests {
    use super::*;

    async fn search_products() -> &'static str {
        "found"
    }

    fn code_of<H>(_handler: &H) -> HandlerCode {
        HandlerCode::of::<H>(Location::caller())
    }

    #[test]
    fn a_handler_is_named_by_its_path_and_file() {
        let code = code_of(&search_products);
        assert_eq!(
            code.function,
            "tracedojo_kit::routing::tests::search_products"
        );
        assert_eq!(code.file.replace('\\', "/"), "services/kit/src/routing.rs");
        let closure = code_of(&|| async { "hi" });
        assert_eq!(closure.function, "");
    }
}
