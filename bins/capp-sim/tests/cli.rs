//! The `capp-sim` executable: help text, flag errors, and a real start with one
//! authenticated request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_capp-sim");

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--token",
        "--provision-seconds",
        "--seed",
        "--fault-rate",
        "--drop-rate",
        "--latency-ms",
        "--rate-limit",
        "--send-retry-after",
        "--provisioning-failure-rate",
        "--project-id",
        "--control-token",
        "--clock-scale",
        "--create-limit",
        "--ssh-key",
        "--capacity",
        "--inject",
        "--fail-next-provisioning",
        "--stick-next-provisioning",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help:\n{text}");
    }
    assert!(
        text.contains("base_url"),
        "--help says what is printed:\n{text}"
    );
}

#[test]
fn an_unknown_flag_or_bad_value_is_a_clear_error() {
    let out = Command::new(BIN).arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unexpected argument '--no-such-flag'"),
        "{err}"
    );

    let out = Command::new(BIN)
        .args(["--fault-rate", "1.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("outside 0.0..=1.0"), "{err}");

    let out = Command::new(BIN)
        .args(["--project-id", "abc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("is not a UUID")
    );
}

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_started_binary_prints_its_url_and_answers_an_authenticated_request() {
    let child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--token",
            "t0ken",
            "--provision-seconds",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut fields = std::collections::HashMap::new();
    for line in lines.by_ref().take(5) {
        let line = line.unwrap();
        if let Some((k, v)) = line.split_once(": ") {
            fields.insert(k.to_owned(), v.to_owned());
        }
    }
    assert_eq!(fields["token"], "t0ken");
    let base = fields["base_url"].clone();
    assert!(base.ends_with("/metal/v1"), "{base}");
    let project = fields["project_id"].clone();
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches("/metal/v1")
        .to_owned();

    let get = |token: &str| {
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "GET /metal/v1/projects/{project} HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let ok = get("t0ken");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains(&format!("\"id\":\"{project}\"")), "{ok}");
    let denied = get("wrong");
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
}
