//! Runnable examples of the capp crates; see the `[[example]]` targets in this package
//! (`cargo run -p capp-examples --example metal_quickstart`).
