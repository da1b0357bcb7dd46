//! Hosts made of Linux network namespaces, for running the shop's services as if each were on
//! a machine of its own: every host has its own network stack and address (its own loopback,
//! so nothing reaches another host through 127.0.0.1), joined to the others and to the test
//! by a bridge. Needs root and `ip` (iproute2); removed on drop.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::{Command, Output};

/// A private network of named hosts.
pub struct Network {
    bridge: String,
    /// The test's own address on the bridge (the hosts reach the test's receivers there).
    pub gateway: Ipv4Addr,
    hosts: BTreeMap<String, (String, Ipv4Addr)>,
}

impl Network {
    /// One host per name, each with an address of its own; or why none can be made here.
    pub fn create(names: &[&str]) -> Result<Network, String> {
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            return Err("network namespaces need root".into());
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Err("no `ip` command (iproute2)".into());
        }
        // A subnet and names of this process's own, so parallel runs do not meet.
        let tag = std::process::id() % 10_000;
        let subnet = [10, 123, (std::process::id() % 250) as u8 + 1];
        let at = |last: u8| Ipv4Addr::new(subnet[0], subnet[1], subnet[2], last);
        let mut network = Network {
            bridge: format!("tdbr{tag}"),
            gateway: at(1),
            hosts: BTreeMap::new(),
        };
        ip(&["link", "add", &network.bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", network.gateway),
            "dev",
            &network.bridge,
        ])?;
        ip(&["link", "set", &network.bridge, "up"])?;
        for (i, name) in names.iter().enumerate() {
            let namespace = format!("td{tag}-{i}");
            let veth = format!("tdv{tag}x{i}");
            let address = at(10 + i as u8);
            // Kept before it is complete, so a failure half-way is cleaned up too.
            network
                .hosts
                .insert(name.to_string(), (namespace.clone(), address));
            ip(&["netns", "add", &namespace])?;
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &namespace,
            ])?;
            ip(&["link", "set", &veth, "master", &network.bridge, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", namespace.as_str(), "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&["addr", "add", &format!("{address}/24"), "dev", "eth0"])?;
            inside(&["link", "set", "eth0", "up"])?;
            inside(&["link", "set", "lo", "up"])?;
        }
        Ok(network)
    }

    /// A host's address.
    pub fn address(&self, host: &str) -> Ipv4Addr {
        self.hosts[host].1
    }

    /// `program args...` run on `host` (inside its namespace).
    pub fn command(&self, host: &str, program: &str) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.hosts[host].0])
            .arg(program);
        command
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for (namespace, _) in self.hosts.values() {
            let _ = ip(&["netns", "del", namespace]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

fn ip(args: &[&str]) -> Result<Output, String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|err| format!("ip {}: {err}", args.join(" ")))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
