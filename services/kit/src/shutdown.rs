//! Ctrl-C and SIGTERM as one future, so `run(listener, shutdown)` can stop gracefully.

/// Completes when the process is asked to stop: Ctrl-C everywhere, SIGTERM on Unix
/// (what `tracedojo up`, docker and Kubernetes send).
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
