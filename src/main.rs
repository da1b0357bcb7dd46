//! `tracedojo`: a traced demo shop, its supervisor, load, faults and the trace explorer.
//!
//! This crate is only the command line: it parses arguments (see [`cli`]) and hands each
//! subcommand to its own small module. Business logic lives in the service crates.

mod backend;
mod cli;
mod database;
#[cfg(test)]
mod deploy_manifests;
mod doctor;
mod explain;
mod explore;
mod export_watch;
mod fault;
mod health_watch;
mod load;
mod ports;
mod release;
mod report;
mod running;
mod service;
mod showcase;
mod up;
mod workshop;

use clap::Parser;

/// How long the process waits, on its way out, for tasks still holding the async runtime.
pub(crate) const RUNTIME_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    tracedojo_kit::telemetry::install_crypto_provider();
    // Before the runtime: a preset sets environment variables, sound only while this is the
    // one thread.
    let backend = match &cli.command {
        cli::Command::Up(args) => Some(&args.backend),
        cli::Command::Service(args) => Some(&args.backend),
        cli::Command::Doctor(args) => Some(&args.backend),
        _ => None,
    };
    if let Some(name) = backend.and_then(|b| b.to.as_deref())
        && let Err(err) = backend::apply_preset(name)
    {
        eprintln!("error: {err}");
        return std::process::ExitCode::FAILURE;
    }
    let checking_explorer =
        matches!(cli.command, cli::Command::Doctor(_)) && backend::default_to_local_explorer();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let done = |result: anyhow::Result<()>| result.map(|()| std::process::ExitCode::SUCCESS);
        match cli.command {
            cli::Command::Up(args) => done(up::run(args).await),
            cli::Command::Service(args) => done(service::run(*args).await),
            cli::Command::Load(args) => done(load::run(args).await),
            cli::Command::Fault(args) => done(fault::run(args).await),
            cli::Command::Explore(args) => done(explore::run(args).await),
            cli::Command::Doctor(args) => done(
                doctor::run(doctor::DoctorArgs {
                    timeout: std::time::Duration::from_secs(args.timeout),
                    checking_explorer,
                })
                .await,
            ),
            // The workshop says its errors in the participant's language, with its own status.
            cli::Command::Workshop(args) => Ok(workshop::run(args).await),
            cli::Command::Showcase(args) => Ok(showcase::run(*args).await),
            cli::Command::Report(args) => done(report::run(*args).await),
            cli::Command::Explain(args) => done(explain::run(*args).await),
        }
    });
    // Exporter threads may still hold the runtime briefly; do not wait for them forever.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
