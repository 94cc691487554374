//! Starting a server binary fresh on a random loopback port, and stopping it.
//!
//! Both natsd and nats-server take `-a 127.0.0.1 -p -1 --ports_file_dir DIR`
//! and then write `DIR/<name>_<pid>.ports` holding `{"nats":["nats://..."]}`.
//! A scenario that needs a configuration file (accounts, leafnodes) has it
//! written to `DIR/server.conf` and passed with `-c`.

use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server; dropping it kills the process and removes its directory.
pub struct Server {
    child: Child,
    url: String,
    /// The route listener's URL, when clustered.
    cluster_url: Option<String>,
    dir: PathBuf,
}

impl Server {
    /// Starts two servers of `binary` with `extra` arguments in one cluster (the second
    /// routes to the first); the route scenario's probe waits until interest crosses.
    pub fn start_pair(binary: &Path, extra: &[&str]) -> Result<Vec<Server>, String> {
        let mut cluster = vec![
            "--cluster",
            "nats://127.0.0.1:-1",
            "--cluster_name",
            "bench",
        ];
        cluster.extend_from_slice(extra);
        let first = Server::start(binary, &cluster, None)?;
        let seed = first
            .cluster_url
            .clone()
            .ok_or("the first server lists no cluster URL")?;
        let mut args = cluster.clone();
        args.extend(["--routes", &seed]);
        let second = Server::start(binary, &args, None)?;
        Ok(vec![first, second])
    }

    /// Starts a hub of `binary` with `extra` arguments and a leaf of it (same
    /// binary, same arguments), in that order. The hub's leafnode port is not in
    /// the ports file, so it is chosen here: a free loopback port. The leaf
    /// scenarios' probe waits until interest crosses the link.
    pub fn start_leaf_pair(binary: &Path, extra: &[&str]) -> Result<Vec<Server>, String> {
        let port = free_port().map_err(|e| format!("choosing a leafnode port: {e}"))?;
        let hub = Server::start(binary, extra, Some(&hub_config(port)))?;
        let leaf = Server::start(binary, extra, Some(&leaf_config(port)))?;
        Ok(vec![hub, leaf])
    }

    /// Starts `binary` with `extra` arguments, and the configuration file
    /// `config` when given, and waits for its ports file.
    pub fn start(binary: &Path, extra: &[&str], config: Option<&str>) -> Result<Server, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("natsd-bench-{}-{n}", std::process::id()));
        let fail = |e: std::io::Error| format!("starting {}: {e}", binary.display());
        fs::create_dir_all(&dir).map_err(fail)?;
        let log = File::create(dir.join("server.log")).map_err(fail)?;
        let mut command = Command::new(binary);
        command
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(&dir);
        if let Some(config) = config {
            let path = dir.join("server.conf");
            fs::write(&path, config).map_err(fail)?;
            command.arg("-c").arg(path);
        }
        let child = command
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(fail)?)
            .stderr(log)
            .spawn()
            .map_err(fail)?;
        let mut server = Server {
            child,
            url: String::new(),
            cluster_url: None,
            dir,
        };
        let ports = server
            .wait_for_ports()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let first = |key: &str| Some(ports.get(key)?.get(0)?.as_str()?.to_string());
        server.url = first("nats").ok_or("ports file without a client URL")?;
        server.cluster_url = first("cluster");
        Ok(server)
    }

    /// The parsed ports file, once it names the client URL.
    fn wait_for_ports(&mut self) -> Result<serde_json::Value, String> {
        let suffix = format!("_{}.ports", self.child.id());
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited at start ({status}): {}", self.log_tail()));
            }
            let ports = fs::read_dir(&self.dir)
                .into_iter()
                .flatten()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().ends_with(&suffix));
            let parsed = ports
                .and_then(|e| fs::read(e.path()).ok())
                .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok())
                .filter(|v| v.get("nats").is_some());
            if let Some(parsed) = parsed {
                return Ok(parsed);
            }
            sleep(Duration::from_millis(10));
        }
        Err(format!(
            "no ports file after {START_TIMEOUT:?}: {}",
            self.log_tail()
        ))
    }

    /// The last lines the server logged.
    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// Log lines that tell of trouble (errors, warnings, slow consumers),
    /// except the warning about the plain-text passwords of the
    /// configuration written here.
    pub fn log_problems(&self) -> Vec<String> {
        const SIGNS: [&str; 5] = ["[ERR]", "[WRN]", "[FTL]", "panicked", "Slow Consumer"];
        const EXPECTED: &str = "Plaintext passwords detected";
        let log = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        log.lines()
            .filter(|l| SIGNS.iter().any(|s| l.contains(s)) && !l.contains(EXPECTED))
            .map(str::to_string)
            .collect()
    }

    /// How the server ended, if it is no longer running.
    pub fn exit_status(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        Some(format!(
            "server exited during the run ({status}): {}",
            self.log_tail()
        ))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A loopback port that was free a moment ago (bound, read, closed).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The configuration of a hub taking leafnode connections on loopback `port`.
pub fn hub_config(port: u16) -> String {
    format!("# natsd-bench hub\nserver_name: hub\nleafnodes {{ listen: \"127.0.0.1:{port}\" }}\n")
}

/// The configuration of a leaf soliciting the hub whose leafnode port is `port`.
pub fn leaf_config(port: u16) -> String {
    format!(
        "# natsd-bench leaf\nserver_name: leaf\n\
         leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{port}\" }} ] }}\n"
    )
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
