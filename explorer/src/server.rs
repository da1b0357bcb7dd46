//! The whole explorer as one running thing: the OTLP receiver plus the web UI and JSON API
//! over the same store. `tracedojo explore` runs it on its own; `tracedojo up` runs it inside
//! the supervisor so a newcomer sees traces with nothing else installed.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, ApiSettings};
use crate::host_check::{LoopbackHosts, only_loopback_hosts};
use crate::query::explain::LatencyObjective;
use crate::receiver::{Receiver, ReceiverConfig, ReceiverError};
use crate::store::SpanStore;
use crate::ui;

/// The smallest span bound accepted: a single trace of a real application can hold hundreds
/// of spans, and a store that cannot keep one whole trace shows nothing useful.
pub const MIN_SPANS: usize = 1_000;
/// The smallest byte bound accepted, for the same reason.
pub const MIN_BYTES: usize = 1024 * 1024;
/// The web UI and JSON API's default port.
pub const DEFAULT_UI_PORT: u16 = 8090;
/// The attribute that names a request's customer unless the explorer is told another.
pub const DEFAULT_CUSTOMER_ATTRIBUTE: &str = crate::query::customers::DEFAULT_ATTRIBUTE;

/// A page the UI's header links to, e.g. the application being observed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub name: String,
    pub url: String,
}

impl std::str::FromStr for Link {
    type Err = String;

    /// `NAME=URL`, with an `http://` or `https://` URL.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, url) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not NAME=URL, e.g. Shop=http://127.0.0.1:8080"))?;
        let name = name.trim();
        let url = url.trim();
        if name.is_empty() {
            return Err(format!("{text:?} has an empty NAME; write NAME=URL"));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "{text:?}: the URL must start with http:// or https://"
            ));
        }
        Ok(Link {
            name: name.to_owned(),
            url: url.to_owned(),
        })
    }
}

/// Where the explorer listens and how much it keeps.
#[derive(Debug, Clone)]
pub struct ExplorerConfig {
    /// The OTLP listeners and the store's bounds.
    pub receiver: ReceiverConfig,
    /// The web UI and JSON API; port 0 picks a free port.
    pub ui_addr: SocketAddr,
    /// Pages the UI links to.
    pub links: Vec<Link>,
    /// Other destinations of the applications' telemetry, as their runner reports them.
    pub exports: crate::ExportHealth,
    /// The attribute that names a request's customer; set it for your own application (the
    /// customers view, `/api/customers`, groups requests by its value).
    pub customer_attribute: String,
    /// How long endpoints' requests should take: an explanation compares a request with its
    /// endpoint's.
    pub latency_objectives: Vec<LatencyObjective>,
}

impl Default for ExplorerConfig {
    fn default() -> Self {
        ExplorerConfig {
            receiver: ReceiverConfig::default(),
            ui_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_UI_PORT)),
            links: Vec::new(),
            exports: crate::ExportHealth::default(),
            customer_attribute: DEFAULT_CUSTOMER_ATTRIBUTE.to_owned(),
            latency_objectives: Vec::new(),
        }
    }
}

impl ExplorerConfig {
    /// Everything on 127.0.0.1 with OS-chosen ports, as tests want.
    pub fn local() -> Self {
        ExplorerConfig {
            receiver: ReceiverConfig::local(),
            ui_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            links: Vec::new(),
            exports: crate::ExportHealth::default(),
            customer_attribute: DEFAULT_CUSTOMER_ATTRIBUTE.to_owned(),
            latency_objectives: Vec::new(),
        }
    }
}

/// Why the explorer could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExplorerError {
    #[error(transparent)]
    Receiver(#[from] ReceiverError),
    #[error("the span bound {given} is too small to hold one trace; give at least {MIN_SPANS}")]
    TooFewSpans { given: usize },
    #[error(
        "the memory bound of {given} bytes is too small to hold one trace; give at least {} MiB",
        MIN_BYTES / (1024 * 1024)
    )]
    TooFewBytes { given: usize },
    #[error(
        "cannot start the explorer's web UI: port {} on {addr} is already in use; choose another port (port 0 lets the OS pick a free one)",
        .addr.port()
    )]
    UiPortInUse { addr: SocketAddr },
    #[error("cannot listen for the explorer's web UI on {addr}: {source}")]
    UiBind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

/// A running explorer. Dropping it stops everything.
#[derive(Debug)]
pub struct Explorer {
    receiver: Receiver,
    ui_addr: SocketAddr,
    stop: watch::Sender<()>,
    ui_task: JoinHandle<io::Result<()>>,
}

impl Explorer {
    /// Checks the bounds, binds every listener (so a busy port is reported before anything
    /// runs), then serves.
    pub async fn start(config: ExplorerConfig) -> Result<Explorer, ExplorerError> {
        if config.receiver.max_spans < MIN_SPANS {
            return Err(ExplorerError::TooFewSpans {
                given: config.receiver.max_spans,
            });
        }
        if config.receiver.max_bytes < MIN_BYTES {
            return Err(ExplorerError::TooFewBytes {
                given: config.receiver.max_bytes,
            });
        }
        let ui_listener = TcpListener::bind(config.ui_addr).await.map_err(|source| {
            if source.kind() == io::ErrorKind::AddrInUse {
                ExplorerError::UiPortInUse {
                    addr: config.ui_addr,
                }
            } else {
                ExplorerError::UiBind {
                    addr: config.ui_addr,
                    source,
                }
            }
        })?;
        let ui_addr = ui_listener
            .local_addr()
            .map_err(|source| ExplorerError::UiBind {
                addr: config.ui_addr,
                source,
            })?;
        let receiver = Receiver::start(config.receiver).await?;
        let mut app = app_with_settings(
            receiver.store().clone(),
            ApiSettings {
                links: config.links,
                exports: config.exports,
                customer_attribute: config.customer_attribute,
                latency_objectives: config.latency_objectives,
            },
        );
        if let Some(hosts) = LoopbackHosts::for_listener(ui_addr) {
            app = app.layer(axum::middleware::from_fn_with_state(
                hosts,
                only_loopback_hosts,
            ));
        }
        let (stop, mut stopped) = watch::channel(());
        let ui_task = tokio::spawn(async move {
            axum::serve(ui_listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.changed().await;
                })
                .await
        });
        Ok(Explorer {
            receiver,
            ui_addr,
            stop,
            ui_task,
        })
    }

    /// The store the receiver writes into and the API reads.
    pub fn store(&self) -> &SpanStore {
        self.receiver.store()
    }

    /// The OTLP receiver (its endpoints).
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// The address the web UI and API are bound to.
    pub fn ui_addr(&self) -> SocketAddr {
        self.ui_addr
    }

    /// `http://HOST:PORT` of the web UI, dialable even when bound to a wildcard address.
    pub fn ui_url(&self) -> String {
        let ip = match self.ui_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.ui_addr.port()))
    }

    /// Stops the UI and the receiver and waits for them.
    pub async fn shutdown(self) -> Result<(), ReceiverError> {
        let Explorer {
            receiver,
            stop,
            ui_task,
            ..
        } = self;
        drop(stop);
        let _ = ui_task.await;
        receiver.shutdown().await
    }
}

/// The web UI and the JSON API over one store, as one router (tests serve it on their own).
pub fn app(store: SpanStore, links: Vec<Link>) -> Router {
    app_with_settings(
        store,
        ApiSettings {
            links,
            customer_attribute: DEFAULT_CUSTOMER_ATTRIBUTE.to_owned(),
            ..ApiSettings::default()
        },
    )
}

/// The same, with everything the API answers with besides the store.
pub fn app_with_settings(store: SpanStore, settings: ApiSettings) -> Router {
    Router::new()
        .merge(api::router(store, settings))
        .merge(ui::router())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse_and_refuse_bad_forms() {
        let link: Link = "Shop=http://127.0.0.1:8080".parse().expect("valid");
        assert_eq!(link.name, "Shop");
        assert_eq!(link.url, "http://127.0.0.1:8080");
        assert!("Shop".parse::<Link>().is_err());
        assert!("=http://x".parse::<Link>().is_err());
        assert!("Shop=javascript:alert(1)".parse::<Link>().is_err());
    }
}
