//! Behaviour of the simulator over real HTTP: devices, IPs, BGP, catalogue, auth, faults,
//! metadata, conformance to the official spec and robustness against garbage.

// A test crate root looks for its modules next to it; they live in `tests/api/` so cargo
// does not build each of them as a separate test binary.
#[path = "api/conformance.rs"]
mod conformance;
#[path = "api/devices.rs"]
mod devices;
#[path = "api/support.rs"]
mod support;
