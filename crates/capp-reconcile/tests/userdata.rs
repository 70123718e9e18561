//! Bootstrap data written for the Go provider renders to the userdata it produced there
//! (Go text/template subset), and `{{ .apiKey }}` is refused without the manager's opt-in.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use capp_api::conditions::INSTANCE_READY;
use capp_api::core::CoreVersion;
use serde_json::json;
use support::{World, condition, eventually, reason};

const GO_TEMPLATE: &str = "## template: jinja\n#cloud-config\nwrite_files:\n- path: /etc/kubernetes/version\n  content: {{ .kubernetesVersion }}\nruncmd:\n- echo provider-id: equinixmetal://{{ `{{ v1.instance_id }}` }}\n- echo endpoint {{ .controlPlaneEndpoint }}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_provider_bootstrap_data_renders_as_it_did_there() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    eventually("the endpoint", || async {
        world
            .packet_cluster("prod")
            .await
            .control_plane_endpoint()
            .is_some()
    })
    .await;
    let eip = world
        .packet_cluster("prod")
        .await
        .control_plane_endpoint()
        .unwrap()
        .host
        .clone();
    world.bootstrap_secret("boot", GO_TEMPLATE).await;
    world
        .machine("prod", &uid, "prod-cp-0", true, Some("boot"), json!({}))
        .await;
    let pm = world
        .machine_until("prod-cp-0", "created", |pm| pm.device_id().is_some())
        .await;
    let device = world.sim.device(pm.device_id().unwrap()).unwrap();
    assert_eq!(
        device.userdata,
        format!(
            "## template: jinja\n#cloud-config\nwrite_files:\n- path: /etc/kubernetes/version\n  content: v1.33.1\nruncmd:\n- echo provider-id: equinixmetal://{{{{ v1.instance_id }}}}\n- echo endpoint {eip}\n"
        )
    );
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_is_refused_without_the_opt_in_and_rendered_with_it() {
    let world = World::start(CoreVersion::V1Beta1).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world
        .bootstrap_secret("boot", "#cloud-config\napiKey: {{ .apiKey }}\n")
        .await;
    world
        .machine("prod", &uid, "prod-cp-0", true, Some("boot"), json!({}))
        .await;
    let pm = world
        .machine_until("prod-cp-0", "refused", |pm| {
            reason(pm, INSTANCE_READY) == "APIKeyInUserdataRefused"
        })
        .await;
    let message = condition(&pm, INSTANCE_READY)
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        message.contains(capp_reconcile::machine::API_KEY_FLAG),
        "{message}"
    );
    assert!(
        !message.contains(world.sim.token()),
        "the token never appears in conditions"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(world.sim.operation_count("createDevice"), 0);
    controllers.stop().await;

    let opted_in = world
        .controllers_with(|c| c.allow_api_key_in_userdata = true)
        .await;
    let pm = world
        .machine_until("prod-cp-0", "created", |pm| pm.device_id().is_some())
        .await;
    let device = world.sim.device(pm.device_id().unwrap()).unwrap();
    assert_eq!(
        device.userdata,
        format!("#cloud-config\napiKey: {}\n", world.sim.token())
    );
    opted_in.stop().await;
    world.shutdown().await;
}
