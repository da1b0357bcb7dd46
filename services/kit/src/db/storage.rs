//! Whether each database of this process can still be written, for `GET /health`.
//!
//! A full disk must not be silent: the first write that fails for lack of space (or with an
//! I/O error, or on a database made read-only) marks the database's storage as failing, logs
//! one warning, and `/health` answers `degraded` with the reason until writes work again. On
//! PostgreSQL a server that cannot be reached (stopped, restarting, the network gone) is
//! reported the same way, by any statement, until one succeeds. The service itself keeps
//! serving what it can (reads, refusals with a 5xx) and recovers by itself: nothing here needs
//! a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgDatabaseError;

use super::Engine;

/// Below this much free space on its file system, a database that failed for lack of space is
/// still taken to be full (one transaction's pages plus the WAL's growth fit well within it).
const ROOM_TO_RECOVER: u64 = 1 << 20;

/// Why writes to a database fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFailure {
    DiskFull,
    Io,
    ReadOnly,
    /// A database server that does not answer (PostgreSQL only).
    Unreachable,
}

impl StorageFailure {
    /// The failure class of a database error, or `None` for errors that say nothing about the
    /// storage (a constraint, a lock wait, a missing row).
    pub fn of(err: &sqlx::Error, engine: Engine) -> Option<StorageFailure> {
        match err {
            sqlx::Error::Database(db) if db.try_downcast_ref::<PgDatabaseError>().is_some() => {
                // PostgreSQL's SQLSTATE: insufficient resources (disk full), I/O error, a
                // read-only transaction (a standby, or `default_transaction_read_only`), and
                // a server shutting down, starting, or a connection lost (class 08).
                let code = db.code()?;
                match code.as_ref() {
                    "53100" => Some(StorageFailure::DiskFull),
                    "58030" => Some(StorageFailure::Io),
                    "25006" => Some(StorageFailure::ReadOnly),
                    "57P01" | "57P02" | "57P03" => Some(StorageFailure::Unreachable),
                    code if code.starts_with("08") => Some(StorageFailure::Unreachable),
                    _ => None,
                }
            }
            // To a server, an I/O error is the network's, and a pool that cannot hand out a
            // connection cannot make one.
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)
                if engine == Engine::Postgres =>
            {
                Some(StorageFailure::Unreachable)
            }
            sqlx::Error::Database(db) => {
                let code: i32 = db.code()?.parse().ok()?;
                // SQLite's extended result codes carry the primary code in their low byte.
                match code & 0xff {
                    13 => Some(StorageFailure::DiskFull),
                    10 => Some(StorageFailure::Io),
                    8 => Some(StorageFailure::ReadOnly),
                    _ => None,
                }
            }
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                Some(StorageFailure::DiskFull)
            }
            sqlx::Error::Io(_) => Some(StorageFailure::Io),
            _ => None,
        }
    }

    fn advice(self, engine: Engine) -> &'static str {
        match (self, engine) {
            (StorageFailure::DiskFull, Engine::Sqlite) => {
                "the disk holding the data directory is full; free space there and writes resume by themselves"
            }
            (StorageFailure::DiskFull, Engine::Postgres) => {
                "the PostgreSQL server's disk is full; free space there and writes resume by themselves"
            }
            (StorageFailure::Io, Engine::Sqlite) => {
                "the disk holding the data directory reports I/O errors; check the disk and the file system"
            }
            (StorageFailure::Io, Engine::Postgres) => {
                "the PostgreSQL server reports I/O errors on its disk; check the server"
            }
            (StorageFailure::ReadOnly, Engine::Sqlite) => {
                "the database cannot be written; check the permissions and mount of the data directory"
            }
            (StorageFailure::ReadOnly, Engine::Postgres) => {
                "the PostgreSQL server takes no writes (a standby, or read-only by its settings); point the URL at the primary"
            }
            (StorageFailure::Unreachable, _) => {
                "the PostgreSQL server does not answer (or no connection was free for 3 s); check that it runs and can be reached, and the service reconnects by itself"
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            StorageFailure::DiskFull => "disk_full",
            StorageFailure::Io => "io_error",
            StorageFailure::ReadOnly => "read_only",
            StorageFailure::Unreachable => "unreachable",
        }
    }
}

#[derive(Debug, Clone)]
struct Failing {
    failure: StorageFailure,
    message: String,
    since: SystemTime,
}

/// The write health of one database.
#[derive(Debug)]
pub(crate) struct WriteState {
    namespace: String,
    engine: Engine,
    /// Where a SQLite file lives (its disk's free space is watched); none for a server.
    directory: Option<PathBuf>,
    failing: Mutex<Option<Failing>>,
}

fn registry() -> &'static Mutex<Vec<Weak<WriteState>>> {
    static REGISTRY: OnceLock<Mutex<Vec<Weak<WriteState>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

impl WriteState {
    /// A healthy state for the database `namespace` stored in `directory` (a SQLite file's),
    /// listed for [`problems`] for as long as the database is open.
    pub(crate) fn register(
        namespace: &str,
        engine: Engine,
        directory: Option<PathBuf>,
    ) -> Arc<WriteState> {
        let state = Arc::new(WriteState {
            namespace: namespace.to_string(),
            engine,
            directory,
            failing: Mutex::new(None),
        });
        let mut all = registry().lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|weak| weak.strong_count() > 0);
        all.push(Arc::downgrade(&state));
        state
    }

    /// Takes note of a write's outcome. `committed` says the success reached the disk (a
    /// COMMIT, or a statement outside any transaction): only that proves a full disk has room
    /// again.
    pub(crate) fn record(&self, result: Result<(), &sqlx::Error>, committed: bool) {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Err(err) => {
                let Some(failure) = StorageFailure::of(err, self.engine) else {
                    return;
                };
                if failing.as_ref().map(|f| f.failure) != Some(failure) {
                    let message = database_message(err);
                    tracing::warn!(
                        db.namespace = %self.namespace,
                        error.type = failure.name(),
                        exception.message = %message,
                        "database writes fail: {}",
                        failure.advice(self.engine)
                    );
                    *failing = Some(Failing {
                        failure,
                        message,
                        since: SystemTime::now(),
                    });
                }
            }
            Ok(()) => {
                let recovered = match failing.as_ref() {
                    None => return,
                    Some(f) => committed || f.failure != StorageFailure::DiskFull,
                };
                if recovered {
                    *failing = None;
                    tracing::info!(db.namespace = %self.namespace, "database writes work again");
                }
            }
        }
    }

    /// The current problem, after clearing a full disk that has room again. A disk found
    /// full before any write failed (a service restarted on it) is a problem too.
    fn problem(&self) -> Option<StorageProblem> {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        let free = self.directory.as_deref().and_then(free_space);
        let room = free.map(|free| free >= ROOM_TO_RECOVER);
        let current = match (failing.clone(), room) {
            (Some(current), Some(true)) if current.failure == StorageFailure::DiskFull => {
                *failing = None;
                tracing::info!(db.namespace = %self.namespace, "the disk has room again; database writes should work");
                return None;
            }
            (Some(current), _) => current,
            (None, Some(false)) => Failing {
                failure: StorageFailure::DiskFull,
                message: format!("only {} KiB free on its disk", free.unwrap_or(0) / 1024),
                since: SystemTime::now(),
            },
            (None, _) => return None,
        };
        let for_seconds = SystemTime::now()
            .duration_since(current.since)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        Some(StorageProblem {
            database: self.namespace.clone(),
            kind: current.failure.name(),
            error: current.message,
            advice: current.failure.advice(self.engine),
            since_unix_ms: current
                .since
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            for_seconds,
        })
    }
}

/// One database that cannot be written, as `/health` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StorageProblem {
    /// The database (its file's stem: `checkout`, `queue`, ...).
    pub database: String,
    /// `disk_full`, `io_error`, `read_only` or `unreachable`.
    pub kind: &'static str,
    /// What the database answered, e.g. "database or disk is full".
    pub error: String,
    /// What to do about it.
    pub advice: &'static str,
    pub since_unix_ms: u64,
    pub for_seconds: u64,
}

impl std::fmt::Display for StorageProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            "unreachable" => "cannot be reached",
            _ => "cannot be written",
        };
        write!(
            f,
            "database {} {what} ({}) for {} s: {}",
            self.database, self.error, self.for_seconds, self.advice
        )
    }
}

/// Every open database of this process that cannot be written now.
pub fn problems() -> Vec<StorageProblem> {
    let states: Vec<Arc<WriteState>> = registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    states.iter().filter_map(|s| s.problem()).collect()
}

/// The database's own words for a failure ("database or disk is full"), not sqlx's wrapping.
pub fn database_message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// Free bytes for an unprivileged writer on the file system holding `directory`.
#[cfg(unix)]
fn free_space(directory: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(directory.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid NUL-terminated string and `stats` is written by statvfs on
    // success, which is the only case in which it is read.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

/// Without statvfs, a full disk is taken to have room again only once a write commits.
#[cfg(not(unix))]
fn free_space(_directory: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constraint_or_lock_error_is_not_a_storage_failure() {
        let sqlite = Engine::Sqlite;
        assert_eq!(StorageFailure::of(&sqlx::Error::RowNotFound, sqlite), None);
        assert_eq!(StorageFailure::of(&sqlx::Error::PoolTimedOut, sqlite), None);
        let full = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert_eq!(
            StorageFailure::of(&full, sqlite),
            Some(StorageFailure::DiskFull)
        );
    }

    #[test]
    fn a_server_that_does_not_answer_is_unreachable() {
        let postgres = Engine::Postgres;
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        for err in [refused, sqlx::Error::PoolTimedOut] {
            assert_eq!(
                StorageFailure::of(&err, postgres),
                Some(StorageFailure::Unreachable),
                "{err}"
            );
        }
        assert_eq!(
            StorageFailure::of(&sqlx::Error::RowNotFound, postgres),
            None
        );
    }

    #[test]
    fn a_full_disk_stays_reported_until_a_commit() {
        // A directory statvfs cannot read: only the writes' outcomes decide.
        let state = WriteState::register(
            "unit",
            Engine::Sqlite,
            Some(PathBuf::from("/nonexistent-directory")),
        );
        let full = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::StorageFull));
        state.record(Err(&full), false);
        assert_eq!(state.problem().map(|p| p.kind), Some("disk_full"));
        // A statement inside a transaction succeeding proves nothing: its COMMIT may still fail.
        state.record(Ok(()), false);
        assert!(state.problem().is_some());
        state.record(Ok(()), true);
        assert!(state.problem().is_none());
    }
}
