//! A PostgreSQL server of a test's own, for the tests that stop and start the server under a
//! running shop (the shared test server cannot be stopped: other tests use it).
//!
//! Made with Debian's server binaries (`initdb`, `pg_ctl`) in a temporary directory, on a
//! free port, trusting local TCP connections; run as the `postgres` user when the tests run
//! as root (the server refuses root). Stopped and removed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private PostgreSQL server: made, but not started, by [`PrivatePostgres::create`].
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

impl PrivatePostgres {
    /// A new, stopped cluster, or why none can be made here (no server binaries, not root).
    pub fn create(label: &str) -> Result<PrivatePostgres, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|_| "no PostgreSQL server binaries (Debian's postgresql package)".to_string())?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .ok_or("no initdb under /usr/lib/postgresql")?;
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            return Err("a private server is made as the postgres user, which needs root".into());
        }
        let dir = super::temp_dir(&format!("pg-{label}"));
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let server = PrivatePostgres { bin, dir, port };
        std::fs::create_dir_all(server.data()).map_err(|e| e.to_string())?;
        chown_to_postgres(&server.dir)?;
        let initdb = server.as_postgres(&format!(
            "{} -D {} -U tracedojo --auth=trust --no-sync -E UTF8 --locale=C.UTF-8",
            server.bin.join("initdb").display(),
            server.data().display()
        ));
        if !initdb.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&initdb.stderr)
            ));
        }
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Its `postgres` database, as the shop is given it.
    pub fn url(&self) -> String {
        self.url_at("127.0.0.1")
    }

    /// Its `postgres` database reached at `address` (see [`PrivatePostgres::start_on`]).
    pub fn url_at(&self, address: &str) -> String {
        format!("postgres://tracedojo@{address}:{}/postgres", self.port)
    }

    /// Starts the server on loopback and waits until it takes connections.
    pub fn start(&self) {
        self.start_on("127.0.0.1");
    }

    /// Lets hosts of `network` (e.g. `10.1.2.0/24`) connect without a password too; call
    /// before starting.
    pub fn trust(&self, network: &str) {
        use std::io::Write;
        let mut hba = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data().join("pg_hba.conf"))
            .expect("pg_hba.conf");
        writeln!(hba, "host all all {network} trust").expect("write pg_hba.conf");
    }

    /// Starts the server listening on `addresses` (comma-separated) and waits until it takes
    /// connections.
    pub fn start_on(&self, addresses: &str) {
        let started = self.as_postgres(&format!(
            "{} -D {} -l {} -w -t 60 -o '-p {} -k {} -c listen_addresses={addresses} -c fsync=off -c max_connections=200' start",
            self.bin.join("pg_ctl").display(),
            self.data().display(),
            self.dir.join("log").display(),
            self.port,
            self.dir.display()
        ));
        assert!(
            started.status.success(),
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    /// Stops the server at once, as a crash or a lost host would (no checkpoint, every
    /// connection cut).
    pub fn stop(&self) {
        let stopped = self.as_postgres(&format!(
            "{} -D {} -m immediate -w stop",
            self.bin.join("pg_ctl").display(),
            self.data().display()
        ));
        assert!(
            stopped.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&stopped.stderr)
        );
    }

    fn as_postgres(&self, command: &str) -> Output {
        Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c", command])
            .current_dir(&self.dir)
            .output()
            .expect("run su")
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.as_postgres(&format!(
            "{} -D {} -m immediate stop",
            self.bin.join("pg_ctl").display(),
            self.data().display()
        ));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn chown_to_postgres(dir: &Path) -> Result<(), String> {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("chown postgres {}", dir.display()))
    }
}
