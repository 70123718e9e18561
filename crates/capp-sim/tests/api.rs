//! Behaviour of the simulator over real HTTP: devices, IPs, BGP, catalogue, auth, faults,
//! the control surface, metadata, conformance to the official spec, fidelity to the real
//! API's recorded answers and robustness against garbage.

// Test helpers outside `#[test]` functions may panic with a message, and the conformance
// scenario is one long script on purpose.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::too_many_lines,
    reason = "test code"
)]

// A test crate root looks for its modules next to it; they live in `tests/api/` so cargo
// does not build each of them as a separate test binary.
#[path = "api/auth.rs"]
mod auth;
#[path = "api/bgp.rs"]
mod bgp;
#[path = "api/conformance.rs"]
mod conformance;
#[path = "api/control.rs"]
mod control;
#[path = "api/devices.rs"]
mod devices;
#[path = "api/faults.rs"]
mod faults;
#[path = "api/fidelity.rs"]
mod fidelity;
#[path = "api/ips.rs"]
mod ips;
#[path = "api/metadata.rs"]
mod metadata;
#[path = "api/probes.rs"]
mod probes;
#[path = "api/robustness.rs"]
mod robustness;
#[path = "api/support.rs"]
mod support;
