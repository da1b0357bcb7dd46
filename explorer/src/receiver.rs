//! Runs the OTLP/gRPC and OTLP/HTTP servers over one shared store, on
//! listeners bound up front so tests can use port 0 and read back the real
//! addresses, and so a busy port is reported before anything starts.

use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::http::DEFAULT_MAX_BODY_BYTES;
use crate::store::{DEFAULT_MAX_BYTES, DEFAULT_MAX_SPANS, SpanStore, Transport};
use crate::{grpc, http};

/// How long `shutdown` lets open connections drain before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where to listen and how much to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// OTLP/gRPC listen address; port 0 picks a free port.
    pub grpc_addr: SocketAddr,
    /// OTLP/HTTP listen address; port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// Bound on stored spans (and separately on metrics and logs).
    pub max_spans: usize,
    /// Bound on the memory the stored spans take, in bytes (an estimate kept as spans come
    /// and go: their fixed part, attributes, events, links and index entries).
    pub max_bytes: usize,
    /// Largest accepted request: HTTP body or gRPC message.
    pub max_request_bytes: usize,
}

impl Default for ReceiverConfig {
    /// The standard OTLP ports on loopback: 4317 (gRPC) and 4318 (HTTP).
    fn default() -> Self {
        ReceiverConfig {
            grpc_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 4317)),
            http_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 4318)),
            max_spans: DEFAULT_MAX_SPANS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_request_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl ReceiverConfig {
    /// Both servers on 127.0.0.1 with OS-chosen ports, as tests want.
    pub fn local() -> Self {
        ReceiverConfig {
            grpc_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            http_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ..ReceiverConfig::default()
        }
    }
}

/// Why the receiver could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error(
        "cannot start the OTLP {transport} receiver: port {} on {addr} is already in use; choose another port (port 0 lets the OS pick a free one)",
        .addr.port()
    )]
    PortInUse {
        addr: SocketAddr,
        transport: Transport,
    },
    #[error("cannot listen for OTLP {transport} on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        transport: Transport,
        #[source]
        source: io::Error,
    },
    #[error("the OTLP {transport} server failed: {message}")]
    Server {
        transport: Transport,
        message: String,
    },
}

type ServerTask = JoinHandle<Result<(), String>>;

/// A running receiver. Dropping it stops both servers; [`Receiver::shutdown`]
/// also waits for them to finish.
#[derive(Debug)]
pub struct Receiver {
    store: SpanStore,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    // Never sent on: dropping it (with the Receiver, or in shutdown) is the
    // stop signal, which is what makes a plain drop stop the servers.
    stop: watch::Sender<()>,
    grpc_task: ServerTask,
    http_task: ServerTask,
}

impl Receiver {
    /// Binds both listeners, then serves them on spawned tasks.
    pub async fn start(config: ReceiverConfig) -> Result<Receiver, ReceiverError> {
        let grpc_listener = bind(config.grpc_addr, Transport::Grpc).await?;
        let http_listener = bind(config.http_addr, Transport::Http).await?;
        let grpc_addr = local_addr(&grpc_listener, config.grpc_addr, Transport::Grpc)?;
        let http_addr = local_addr(&http_listener, config.http_addr, Transport::Http)?;

        let store = SpanStore::with_bounds(config.max_spans, config.max_bytes);
        let (stop, stopped) = watch::channel(());

        let routes = grpc::routes(store.clone(), config.max_request_bytes);
        let incoming = TcpIncoming::from(grpc_listener).with_nodelay(Some(true));
        let signal = stop_signal(stopped.clone());
        let grpc_task = tokio::spawn(async move {
            Server::builder()
                .add_routes(routes)
                .serve_with_incoming_shutdown(incoming, signal)
                .await
                .map_err(|e| error_chain(&e))
        });

        let app = http::router(store.clone(), config.max_request_bytes);
        // Without TCP_NODELAY small OTLP responses can sit in Nagle's buffer.
        let listener = http_listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY on an OTLP/HTTP connection");
            }
        });
        let signal = stop_signal(stopped);
        let http_task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
                .map_err(|e| error_chain(&e))
        });

        Ok(Receiver {
            store,
            grpc_addr,
            http_addr,
            stop,
            grpc_task,
            http_task,
        })
    }

    /// Both servers on 127.0.0.1 with OS-chosen ports.
    pub async fn start_local() -> Result<Receiver, ReceiverError> {
        Receiver::start(ReceiverConfig::local()).await
    }

    /// The store the servers write into.
    pub fn store(&self) -> &SpanStore {
        &self.store
    }

    /// The address the gRPC server is bound to.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The address the HTTP server is bound to.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `http://HOST:PORT` for an OTLP/gRPC exporter.
    pub fn grpc_endpoint(&self) -> String {
        endpoint(self.grpc_addr)
    }

    /// `http://HOST:PORT` for an OTLP/HTTP exporter (it appends `/v1/traces` etc.).
    pub fn http_endpoint(&self) -> String {
        endpoint(self.http_addr)
    }

    /// Stops both servers and waits for them. Open connections get a few
    /// seconds to drain and are then cut, so this always returns.
    pub async fn shutdown(self) -> Result<(), ReceiverError> {
        let Receiver {
            stop,
            grpc_task,
            http_task,
            ..
        } = self;
        drop(stop);
        let (grpc, http) = tokio::join!(
            join_server(Transport::Grpc, grpc_task),
            join_server(Transport::Http, http_task)
        );
        grpc.and(http)
    }
}

async fn bind(addr: SocketAddr, transport: Transport) -> Result<TcpListener, ReceiverError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            ReceiverError::PortInUse { addr, transport }
        } else {
            ReceiverError::Bind {
                addr,
                transport,
                source,
            }
        }
    })
}

fn local_addr(
    listener: &TcpListener,
    requested: SocketAddr,
    transport: Transport,
) -> Result<SocketAddr, ReceiverError> {
    listener.local_addr().map_err(|source| ReceiverError::Bind {
        addr: requested,
        transport,
        source,
    })
}

/// Resolves when the receiver's stop sender is dropped.
async fn stop_signal(mut stopped: watch::Receiver<()>) {
    // `changed` fails exactly when the sender is gone, which is the signal.
    let _ = stopped.changed().await;
}

async fn join_server(transport: Transport, mut task: ServerTask) -> Result<(), ReceiverError> {
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(message))) => Err(ReceiverError::Server { transport, message }),
        Ok(Err(join_error)) => Err(ReceiverError::Server {
            transport,
            message: join_error.to_string(),
        }),
        Err(_) => {
            tracing::debug!(%transport, "OTLP server did not drain in time; aborting it");
            task.abort();
            Ok(())
        }
    }
}

/// A wildcard listen address is not something a client can dial; point
/// clients at loopback of the same family instead.
fn endpoint(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// tonic's transport error prints only "transport error"; the cause is in its sources.
fn error_chain(error: &dyn StdError) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_dialable() {
        assert_eq!(
            endpoint("0.0.0.0:4317".parse().expect("addr")),
            "http://127.0.0.1:4317"
        );
        assert_eq!(
            endpoint("[::]:4318".parse().expect("addr")),
            "http://[::1]:4318"
        );
        assert_eq!(
            endpoint("127.0.0.1:9".parse().expect("addr")),
            "http://127.0.0.1:9"
        );
    }
}
