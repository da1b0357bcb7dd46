//! `tracedojo service NAME`: run one service of the shop in this process.
//!
//! Starts telemetry under the service's own name, binds its port, opens its database and
//! serves until Ctrl-C or SIGTERM, then flushes the spans still buffered. The stop is bounded
//! whatever the requests in flight and the backend do (see [`DRAIN_LIMIT`] and
//! [`STOP_FLUSH_TIMEOUT`]), and says how many spans never reached their destination.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use tracedojo_faults::Faults;
use tracedojo_kit::db::Engine;
use tracedojo_kit::db::retention::Retention;
use tracedojo_kit::server::{RunError, ServerOptions};
use tracedojo_kit::telemetry::{STOP_FLUSH_TIMEOUT, ServiceIdentity, Telemetry};

use crate::cli::ServiceArgs;
use crate::ports;

/// How long requests still in flight at the stop may take to finish. `tracedojo up` allows
/// each service a few seconds for its whole stop: this, then the flush, must fit in them.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// The services that keep tables, and those of them that also use the order queue.
const WITH_TABLES: [&str; 5] = ["catalog", "cart", "inventory", "checkout", "shipping"];
const WITH_QUEUE: [&str; 2] = ["checkout", "shipping"];

/// How long a service started with `--faults-url` waits for the plan before serving: long
/// enough for a control API on the same machine, short enough that a missing one costs little.
const FIRST_PLAN_LIMIT: Duration = Duration::from_secs(3);

pub async fn run(args: ServiceArgs) -> anyhow::Result<()> {
    let name = args.name.trim().to_ascii_lowercase();
    let Some(offset) = ports::offset(&name) else {
        bail!(
            "unknown service \"{}\"; choose one of: {}",
            args.name,
            ports::names()
        );
    };
    let port = args.port.unwrap_or(8080 + offset);
    let (database_url, queue_url) = database_urls(&args, &name)?;
    let mut used = Vec::new();
    if WITH_TABLES.contains(&name.as_str()) {
        used.push(&database_url);
    }
    if WITH_QUEUE.contains(&name.as_str()) && queue_url != database_url {
        used.push(&queue_url);
    }
    for url in used {
        if Engine::of_url(url)? == Engine::Postgres {
            // Started beside its database (compose, a pod), a service may come up first.
            crate::database::wait_for_postgres(url, crate::database::PATIENCE, |line| {
                eprintln!("{name}: {line}")
            })
            .await?;
        }
    }

    // Checked here, not where the page is built: a link with another scheme (javascript:)
    // would run in the shopper's page.
    let explorer_url = match args.explorer_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url.trim_end_matches('/').to_string())
        }
        Some(url) => bail!(
            "--explorer-url {url:?} must start with http:// or https://, e.g. http://127.0.0.1:8090"
        ),
    };

    let telemetry = Telemetry::init(ServiceIdentity {
        name: name.clone(),
        version: args.service_version.clone(),
    })?;
    let faults = Faults::new(name.clone(), args.service_version.clone());
    tracedojo_faults::follower::install(faults.clone());
    if let Some(url) = &args.faults_url {
        // The token comes only from the environment, never from the command line (where
        // any user of the machine could read it).
        let token = std::env::var("TRACEDOJO_CONTROL_TOKEN").ok();
        faults.follow(url.clone(), token);
        if !faults.first_plan(FIRST_PLAN_LIMIT).await {
            tracing::warn!(
                "no fault plan from {url} within {}s; starting without one",
                FIRST_PLAN_LIMIT.as_secs()
            );
        }
    }

    let address = SocketAddr::new(args.host, port);
    let listener = tracedojo_kit::server::listen(address, args.share_port).map_err(|err| {
        if err.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "port {port} is already in use, so {name} cannot listen on {address}; choose another with --port"
            )
        } else {
            anyhow::anyhow!("cannot listen on {address}: {err}")
        }
    })?;
    let bound = listener.local_addr()?;
    tracing::info!(
        "{name} listening on http://{bound}; traces go to {}",
        telemetry.destination()
    );

    let options = ServerOptions::new(telemetry.service_name()).with_export_stats(telemetry.stats());
    // One signal, watched twice: the service drains on it, and the drain is cut off after
    // DRAIN_LIMIT so a request that hangs (a latency fault, a stuck peer) cannot hold the stop.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tracedojo_kit::shutdown::signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
        // An error means the sender is gone without a signal: then never.
        if stop.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let shutdown = stopped(stop_rx.clone());
    let drain_cut_off = async {
        stopped(stop_rx).await;
        tokio::time::sleep(DRAIN_LIMIT).await;
    };
    let peers = args.peers;
    let retention = Retention::new(args.keep_rows, Duration::from_millis(args.prune_every_ms));
    let serve = async {
        match name.as_str() {
            "catalog" => {
                tracedojo_catalog::run(
                    tracedojo_catalog::Config { database_url },
                    listener,
                    options,
                    shutdown,
                )
                .await
            }
            "cart" => {
                tracedojo_cart::run(
                    tracedojo_cart::Config {
                        database_url,
                        catalog_url: peers.catalog_url,
                        retention,
                    },
                    listener,
                    options,
                    shutdown,
                )
                .await
            }
            "inventory" => {
                tracedojo_inventory::run(
                    tracedojo_inventory::Config {
                        database_url,
                        restock_interval: Duration::from_millis(args.restock_interval_ms),
                        retention,
                    },
                    listener,
                    options,
                    shutdown,
                )
                .await
            }
            "payment" => {
                let gateway = tracedojo_payment::GatewayConfig {
                    median_latency: Duration::from_millis(args.payment_median_latency_ms),
                    ..Default::default()
                };
                tracedojo_payment::run(
                    tracedojo_payment::Config { gateway },
                    listener,
                    options,
                    shutdown,
                )
                .await
            }
            "checkout" => {
                tracedojo_checkout::run(
                    tracedojo_checkout::Config {
                        database_url,
                        queue_url,
                        cart_url: peers.cart_url,
                        catalog_url: peers.catalog_url,
                        inventory_url: peers.inventory_url,
                        payment_url: peers.payment_url,
                        shipping_url: peers.shipping_url,
                        retention,
                    },
                    listener,
                    options,
                    shutdown,
                )
                .await
            }
            "shipping" => {
                tracedojo_shipping::run(
                    tracedojo_shipping::Config {
                        database_url,
                        queue_url,
                        retention,
                    },
                    listener,
                    options,
                    shutdown,
                )
                .await
            }
            "recommendation" => {
                tracedojo_recommendation::run(
                    tracedojo_recommendation::Config {
                        catalog_url: peers.catalog_url,
                        cache_ttl: Duration::from_secs(30),
                    },
                    listener,
                    options,
                    shutdown,
                )
                .await
            }
            "frontend" => {
                tracedojo_frontend::run(
                    tracedojo_frontend::Config {
                        catalog_url: peers.catalog_url,
                        cart_url: peers.cart_url,
                        checkout_url: peers.checkout_url,
                        recommendation_url: peers.recommendation_url,
                        shipping_url: peers.shipping_url,
                        explorer_url,
                        namespace: tracedojo_kit::participant::from_env()
                            .ok()
                            .flatten()
                            .map(|p| p.as_str().to_string()),
                    },
                    listener,
                    options,
                    shutdown,
                )
                .await
            }
            _ => Err(RunError::Config(format!("unknown service {name}"))),
        }
    };
    let result: Result<(), RunError> = tokio::select! {
        result = serve => result,
        _ = drain_cut_off => {
            tracing::warn!(
                "{name}: requests still running {}s after the stop were cut off",
                DRAIN_LIMIT.as_secs()
            );
            Ok(())
        }
    };
    tracing::info!("{name} stopped; flushing telemetry");
    // It says on stderr how many spans could not be sent (`tracedojo up` sums those lines).
    telemetry.shutdown(STOP_FLUSH_TIMEOUT);
    result.with_context(|| format!("{name} failed"))
}

/// Creates the data directory and proves it is writable, with an error that says how to fix it.
/// The service's database and the queue's: given, or SQLite files in the data directory
/// (created if missing). On PostgreSQL the queue defaults to the service's own database (its
/// tables in schema `queue`), so checkout and shipping given one URL share it.
fn database_urls(args: &ServiceArgs, name: &str) -> anyhow::Result<(String, String)> {
    for url in [&args.database_url, &args.queue_url].into_iter().flatten() {
        Engine::of_url(url)?;
    }
    let database_url = args.database_url.clone();
    let queue_url = args.queue_url.clone().or_else(|| {
        database_url
            .clone()
            .filter(|url| Engine::of_url(url).ok() == Some(Engine::Postgres))
    });
    // The data directory is needed only for the SQLite files this service keeps there (none
    // for frontend, payment and recommendation).
    let keeps_files = (WITH_TABLES.contains(&name) && database_url.is_none())
        || (WITH_QUEUE.contains(&name) && queue_url.is_none());
    if keeps_files {
        prepare_data_dir(&args.data_dir)?;
    }
    Ok((
        database_url.unwrap_or_else(|| sqlite_url(&args.data_dir, name)),
        queue_url.unwrap_or_else(|| sqlite_url(&args.data_dir, "queue")),
    ))
}

pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    let hint = "choose another with --data-dir or fix its permissions";
    std::fs::create_dir_all(dir).map_err(|err| {
        anyhow::anyhow!(
            "cannot create data directory {}: {err}; {hint}",
            dir.display()
        )
    })?;
    let probe = dir.join(".tracedojo-write-test");
    std::fs::write(&probe, b"ok").map_err(|err| {
        anyhow::anyhow!(
            "cannot write to data directory {}: {err}; {hint}",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

pub fn sqlite_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(format!("{name}.db")).display())
}
