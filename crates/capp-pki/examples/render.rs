//! Prints a freshly generated CA certificate and admin kubeconfig (demo of the public API).
//!
//! Run with `cargo run -p capp-pki --example render`. The output contains a private key:
//! it is meant for throwaway experiments only.

#![allow(clippy::print_stdout, reason = "an example binary prints its result")]

use capp_pki::{ClusterPki, ClusterPkiOptions};
use rand::SeedableRng;

fn main() -> Result<(), capp_pki::Error> {
    let now = jiff::Timestamp::now();
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now, &mut rng)?;
    let kubeconfig = pki.admin_kubeconfig("demo", "https://127.0.0.1:6443", now, &mut rng)?;
    println!("# caCertHashes: {}", pki.ca_cert_hash());
    println!("{}", pki.ca.cert_pem());
    println!("{}", kubeconfig.to_yaml()?.expose());
    Ok(())
}
