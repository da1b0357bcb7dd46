//! Ctrl-C, SIGTERM and SIGHUP as one future, so `run(listener, shutdown)` can stop gracefully.

/// Completes when the process is asked to stop: Ctrl-C everywhere; on Unix also SIGTERM (what
/// `tracedojo up`, docker and Kubernetes send) and SIGHUP (the terminal was closed).
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut hangup)) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                    _ = hangup.recv() => {}
                }
            }
            _ => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
