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

/// A free TCP port on 127.0.0.1 (bound, read and released, as envtest does).
pub(crate) fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|source| io(Path::new("127.0.0.1:0"), source))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| io(Path::new("127.0.0.1:0"), source))
}
