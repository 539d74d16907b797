//! One `gregor broker` child process on a free loopback port with a private
//! temporary data directory that survives restarts of the process.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::raw::{api_versions_v0_request, RawConn, ReadOutcome};

/// How long `start`/`restart` wait for the broker to answer ApiVersions.
pub const READY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// How long `terminate` waits for a clean exit after SIGTERM.
pub const TERMINATE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// How many lines of the broker log are printed on failure.
const LOG_TAIL_LINES: usize = 80;
/// Bytes read from the end of the log to find those lines.
const LOG_TAIL_BYTES_MAX: u64 = 64 * 1024;
/// Pause between readiness probes and exit checks.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How to start a broker. `Default` gives a single-node broker with only the
/// listener and data directory overridden.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Extra `--override key=value` pairs, applied after the kit's own
    /// (listeners, advertised.listeners, log.dirs), so they win.
    pub overrides: Vec<(String, String)>,
    /// Optional `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// Extra environment for the child (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
    pub ready_timeout: Duration,
    pub terminate_timeout: Duration,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            overrides: Vec::new(),
            config_file: None,
            env: Vec::new(),
            ready_timeout: READY_TIMEOUT_DEFAULT,
            terminate_timeout: TERMINATE_TIMEOUT_DEFAULT,
        }
    }
}

impl BrokerOptions {
    /// Adds one `--override key=value`.
    pub fn with_override(mut self, key: &str, value: &str) -> Self {
        self.overrides.push((key.to_string(), value.to_string()));
        self
    }
}

/// A running (or stopped, between `kill9`/`terminate` and `restart`) broker
/// process. Owned by one test; dropping it kills the process and deletes the
/// temporary directory, printing the log tail first if the test panicked.
pub struct BrokerProcess {
    bin: PathBuf,
    opts: BrokerOptions,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    starts: u32,
}

/// Picks a loopback port that was free a moment ago (bind port 0, release).
pub fn free_port() -> io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl BrokerProcess {
    /// Starts `bin broker` on a free port and waits until it answers an
    /// ApiVersions v0 request.
    pub fn start(bin: &Path, opts: BrokerOptions) -> io::Result<BrokerProcess> {
        let dir = tempfile::Builder::new().prefix("gregor-test-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        let mut b = BrokerProcess {
            bin: bin.to_path_buf(),
            opts,
            port: free_port()?,
            dir,
            child: None,
            starts: 0,
        };
        b.spawn_and_wait()?;
        Ok(b)
    }

    /// "127.0.0.1:PORT", for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's `log.dirs`, kept across restarts.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The file that collects the broker's stdout and stderr of every start.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("broker.log")
    }

    /// The process id of the running broker, if one is running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True if the process has been started and has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILLs the broker and reaps it.
    pub fn kill9(&mut self) -> io::Result<()> {
        if let Some(mut c) = self.child.take() {
            match c.kill() {
                Ok(()) => {}
                // Already exited: nothing to kill, just reap.
                Err(e) if e.kind() == ErrorKind::InvalidInput => {}
                Err(e) => return Err(e),
            }
            c.wait()?;
        }
        Ok(())
    }

    /// Sends SIGTERM and waits (up to the terminate timeout) for the process
    /// to exit. On timeout the process is SIGKILLed and an error returned.
    pub fn terminate(&mut self) -> io::Result<ExitStatus> {
        let Some(mut c) = self.child.take() else {
            return Err(io::Error::other("broker is not running"));
        };
        if let Ok(Some(status)) = c.try_wait() {
            return Ok(status);
        }
        let pid = c.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet, so
        // the pid cannot have been reused.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let deadline = Instant::now() + self.opts.terminate_timeout;
        loop {
            if let Some(status) = c.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = c.kill();
                let _ = c.wait();
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "broker did not exit within {:?} of SIGTERM; killed\n{}",
                        self.opts.terminate_timeout,
                        self.log_tail()
                    ),
                ));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Starts the broker again on the same port and data directory (after
    /// `kill9` or `terminate`; a still-running broker is terminated first).
    pub fn restart(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            self.terminate()?;
        }
        self.spawn_and_wait()
    }

    /// The last lines of the broker log, framed for printing.
    pub fn log_tail(&self) -> String {
        let tail = read_tail(&self.log_path()).unwrap_or_else(|e| format!("(no log: {e})"));
        format!(
            "---- gregor broker log tail ({}) ----\n{}\n---- end of broker log ----",
            self.log_path().display(),
            tail
        )
    }

    fn spawn_and_wait(&mut self) -> io::Result<()> {
        self.starts += 1;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        {
            use std::io::Write;
            let mut l = &log;
            writeln!(
                l,
                "==== gregor-testkit: start #{} on port {} ====",
                self.starts, self.port
            )?;
        }
        let mut cmd = Command::new(&self.bin);
        cmd.arg("broker");
        if let Some(cfg) = &self.opts.config_file {
            cmd.arg("--config").arg(cfg);
        }
        let listener = format!("PLAINTEXT://127.0.0.1:{}", self.port);
        let mut overrides = vec![
            ("listeners".to_string(), listener.clone()),
            ("advertised.listeners".to_string(), listener),
            (
                "log.dirs".to_string(),
                self.data_dir().display().to_string(),
            ),
        ];
        overrides.extend(self.opts.overrides.iter().cloned());
        for (k, v) in &overrides {
            cmd.arg("--override").arg(format!("{k}={v}"));
        }
        // Plain log lines: tracing honours NO_COLOR, and the log is a file.
        cmd.env("NO_COLOR", "1")
            .envs(self.opts.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawn {}: {e}", self.bin.display())))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.opts.ready_timeout;
        let addr = self.bootstrap();
        let mut last_err;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    self.child = None;
                    return Err(io::Error::other(format!(
                        "broker exited during startup with {status}\n{}",
                        self.log_tail()
                    )));
                }
            }
            match probe_api_versions(&addr) {
                Ok(()) => return Ok(()),
                Err(e) => last_err = e.to_string(),
            }
            if Instant::now() >= deadline {
                let _ = self.kill9();
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "broker on {addr} not ready within {:?} (last: {last_err})\n{}",
                        self.opts.ready_timeout,
                        self.log_tail()
                    ),
                ));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
}

/// Connects, sends ApiVersions v0 and checks that a frame with the same
/// correlation id comes back.
fn probe_api_versions(addr: &str) -> io::Result<()> {
    const CORRELATION_ID: i32 = 0x6772_6567;
    let mut c = RawConn::connect(addr, Duration::from_secs(1))?;
    c.send(&api_versions_v0_request(CORRELATION_ID))?;
    match c.read_frame(Duration::from_secs(2))? {
        ReadOutcome::Frame(f) if f.get(..4) == Some(&CORRELATION_ID.to_be_bytes()[..]) => Ok(()),
        other => Err(io::Error::other(format!("ApiVersions probe: {other:?}"))),
    }
}

fn read_tail(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES_MAX)))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(LOG_TAIL_LINES);
    Ok(lines[from..].join("\n"))
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
        let _ = self.kill9();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let p = free_port().unwrap();
        assert_ne!(p, 0);
        TcpListener::bind(("127.0.0.1", p)).unwrap();
    }

    #[test]
    fn start_reports_a_binary_that_exits_with_its_log() {
        // `false` exits at once with status 1: start must fail fast, not
        // wait the whole ready timeout, and must say why.
        let t0 = Instant::now();
        let err = match BrokerProcess::start(Path::new("/bin/false"), BrokerOptions::default()) {
            Ok(_) => panic!("start of /bin/false succeeded"),
            Err(e) => e,
        };
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "took {:?}",
            t0.elapsed()
        );
        assert!(err.to_string().contains("exited during startup"), "{err}");
    }

    #[test]
    fn start_times_out_on_a_process_that_never_listens() {
        let script = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(script.path(), "#!/bin/sh\nexec sleep 60\n").unwrap();
        let path = script.into_temp_path();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let opts = BrokerOptions {
            ready_timeout: Duration::from_millis(500),
            ..BrokerOptions::default()
        };
        let err = match BrokerProcess::start(&path, opts) {
            Ok(_) => panic!("start succeeded without a listener"),
            Err(e) => e,
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    }
}
