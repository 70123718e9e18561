//! Running the real `capp-components` binary from a test.

#![allow(dead_code, reason = "each test binary uses a subset")]

use std::process::{Command, Output};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_capp-components");

/// Runs `capp-components ARGS` and returns what it did.
pub(crate) fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("capp-components runs")
}

/// Runs `capp-components ARGS`, asserts success and returns its standard output.
pub(crate) fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "capp-components {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
