//! What `up` leaves in its data directory while it runs (`running.json`): where the shop,
//! the explorer and the fault control API are, and the participant's name, so other commands
//! (the workshop) find the running shop without being told its ports again.

use std::path::Path;

use serde_json::{Value, json};

const FILE: &str = "running.json";

/// Where a running shop is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Running {
    pub shop: Option<String>,
    pub explorer: Option<String>,
    pub control: Option<String>,
    pub participant: Option<String>,
}

/// Writes `running` to `data_dir`; a failure is one warning, since nothing depends on it.
pub fn write(data_dir: &Path, running: &Running) {
    let value = json!({
        "shop": running.shop,
        "explorer": running.explorer,
        "control": running.control,
        "participant": running.participant,
        "pid": std::process::id(),
    });
    let path = data_dir.join(FILE);
    if let Err(err) = std::fs::write(&path, format!("{value:#}\n")) {
        eprintln!(
            "warning: cannot write {}: {err} (`tracedojo workshop` will need --explorer and the like)",
            path.display()
        );
    }
}

/// Removes it when `up` stops.
pub fn remove(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(FILE));
}

/// What a running `up` wrote to `data_dir`, if anything.
pub fn read(data_dir: &Path) -> Running {
    let Ok(text) = std::fs::read_to_string(data_dir.join(FILE)) else {
        return Running::default();
    };
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let field = |name: &str| value[name].as_str().map(str::to_string);
    Running {
        shop: field("shop"),
        explorer: field("explorer"),
        control: field("control"),
        participant: field("participant"),
    }
}

/// The process id of the `up` that wrote `data_dir`'s file, if any.
pub fn read_pid(data_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data_dir.join(FILE)).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
}

/// Whether a process with this id runs. Where that cannot be asked (Windows), it is assumed
/// to, and the caller's message says how to go on.
pub fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else if cfg!(unix) {
        std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_up_writes_is_read_back_and_gone_after_stop() {
        let dir = std::env::temp_dir().join(format!("tracedojo-running-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let running = Running {
            shop: Some("http://127.0.0.1:18080".into()),
            explorer: Some("http://127.0.0.1:18090".into()),
            control: None,
            participant: Some("alice".into()),
        };
        write(&dir, &running);
        assert_eq!(read(&dir), running);
        remove(&dir);
        assert_eq!(read(&dir), Running::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
