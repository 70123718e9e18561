//! The manager Deployment that `capp-components` generates passes flags this binary accepts:
//! every argument, with its clusterctl variable replaced by the default, is parsed by the real
//! `capp-manager` command line (`--help` last, so parsing stops after validating them).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use std::collections::BTreeMap;
use std::process::Command;

fn manager_accepts(args: &[String]) -> Result<(), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_capp-manager"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_generated_deployment_args_are_flags_of_capp_manager() {
    let args: Vec<String> = capp_components::components::manager_args()
        .iter()
        .map(|a| capp_components::variables::substitute(a, &BTreeMap::new()).unwrap())
        .collect();
    manager_accepts(&args).unwrap_or_else(|e| panic!("capp-manager refuses {args:?}: {e}"));
}

#[test]
fn a_flag_capp_manager_does_not_have_is_refused() {
    let err = manager_accepts(&["--no-such-flag".to_owned()]).unwrap_err();
    assert!(err.contains("--no-such-flag"), "{err}");
    let err = manager_accepts(&["--sync-period=soon".to_owned()]).unwrap_err();
    assert!(err.contains("sync-period"), "{err}");
}
