//! The API token never appears in logs, `Debug` output or error messages, across successful
//! calls, retried failures and authentication errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

#[path = "support/sim.rs"]
mod support;

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};

use capp_packet::{ClientConfig, CreateDevice, Location, Metal, MetalClient};
use capp_sim::{Fault, SimConfig};

const TOKEN: &str = "tok-9f8e7d6c5b4a-SECRET";

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_is_never_logged_or_printed() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = capp_sim::Simulator::start(SimConfig::for_tests().with_token(TOKEN))
        .await
        .unwrap();
    support::add_test_key(&sim);
    let client = MetalClient::new(support::config_for(&sim)).unwrap();
    let mut printed = format!("{client:?}\n{:?}\n", support::config_for(&sim));

    let project = sim.default_project_id().to_owned();
    let d = client
        .create_device(
            &project,
            &CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "debian_12"),
        )
        .await
        .unwrap();
    sim.faults()
        .inject_for("findDeviceById", Fault::Status(503), 2);
    client.get_device(&d.id).await.unwrap();
    sim.faults()
        .inject_for("findDeviceById", Fault::Status(500), 10);
    let e = client.get_device(&d.id).await.unwrap_err();
    writeln!(printed, "{e}\n{e:?}").unwrap();

    let wrong = MetalClient::new(
        ClientConfig::new(format!("{TOKEN}-wrong"))
            .with_base_url(sim.base_url())
            .with_rate_limit(None),
    )
    .unwrap();
    let e = wrong.list_devices(&project).await.unwrap_err();
    assert!(e.is_unauthorized());
    writeln!(printed, "{e}\n{e:?}\n{wrong:?}").unwrap();

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Retrying Metal API call"),
        "the client did log: {logs}"
    );
    assert!(!logs.contains("9f8e7d6c5b4a"), "token in logs:\n{logs}");
    assert!(
        !printed.contains("9f8e7d6c5b4a"),
        "token in output:\n{printed}"
    );
}
