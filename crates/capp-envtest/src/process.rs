//! A child process whose output goes to a log file; killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::workdir::io;
use crate::{Error, Result};

/// Lines of a log shown in errors and after a failed test.
const TAIL_LINES: usize = 20;

/// A running upstream process.
#[derive(Debug)]
pub(crate) struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `program` with `args`, stdout and stderr appended to `<log_dir>/<name>.log`.
    pub(crate) fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log_dir: &Path,
    ) -> Result<Self> {
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).map_err(|source| io(&log, source))?;
        let stderr = file.try_clone().map_err(|source| io(&log, source))?;
        tracing::debug!(name, program = %program.display(), ?args, "starting");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .spawn()
            .map_err(|source| Error::Spawn {
                name: name.to_owned(),
                source,
            })?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The exit status, if the process has exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last lines of the log.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }

    /// The error for a process that did not become ready.
    pub(crate) fn not_ready(&mut self, reason: &str) -> Error {
        let reason = match self.exited() {
            Some(status) => format!("{reason} (the process exited: {status})"),
            None => reason.to_owned(),
        };
        Error::NotReady {
            name: self.name.clone(),
            reason,
            log: self.log_tail(),
        }
    }

    /// Stops the process and waits for it.
    pub(crate) fn stop(&mut self) {
        if self.exited().is_none() {
            // Already-exited races are harmless; the wait below reaps the child either way.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- last lines of {} ({}) ---\n{}",
                self.name,
                self.log.display(),
                self.log_tail()
            );
        }
        self.stop();
    }
}

/// The ports [`free_port`] draws from: below Linux's ephemeral range (`ip_local_port_range`,
/// 32768-60999 by default), so the port cannot be handed to another process's outgoing
/// connection or `:0` listener between the pick and the upstream binary's bind. The
/// controller-runtime managers bind their webhook port on every interface, and a port picked
/// from the ephemeral range was seen taken by the time the manager started ("bind: address
/// already in use").
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A free TCP port, checked free on every interface (bound and released, as envtest does),
/// drawn at random from [`PORTS`].
pub(crate) fn free_port() -> Result<u16> {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let mut last = None;
    for _ in 0..200 {
        let port = rng.random_range(PORTS);
        // The wildcard bind conflicts with any socket bound to the port on any address.
        match std::net::TcpListener::bind(("0.0.0.0", port)) {
            Ok(_) => return Ok(port),
            Err(e) => last = Some(e),
        }
    }
    let source = last.unwrap_or_else(|| std::io::Error::other("no port tried"));
    Err(io(Path::new("127.0.0.1:20000-32000"), source))
}
