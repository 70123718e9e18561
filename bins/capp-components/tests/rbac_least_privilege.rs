//! Least privilege and completeness of the generated RBAC, proven against capp-testenv with
//! RBAC enforced and capp-sim.
//!
//! The ServiceAccount, ClusterRole, leader-election Role and bindings of
//! `infrastructure-components.yaml` are installed; the manager discovers the core API version
//! and (`capp_reconcile::manager`, with leader election, in-process) runs with a client authenticated as that ServiceAccount and
//! completes a cluster and machine lifecycle: the Lease is held, the PacketCluster gets its
//! Elastic IP endpoint, a machine first hits a capacity error (a repeated Warning event, which
//! the event recorder counts with a patch), then becomes Ready, and deleting the machine and
//! the cluster leaves the simulator empty. Events on the way are part of the end state: users
//! read them with `kubectl describe`.
//!
//! Then, for each permission (each verb of each resource of the ClusterRole and the Role), the
//! same run with only that permission removed must not complete: the API server answers the
//! manager 403, or the run does not reach its end within the time the complete run had. A
//! control run with every permission runs alongside each batch, so a slow machine cannot pass
//! for a missing permission.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "../../../crates/capp-reconcile/tests/support/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capp_api::core::CoreVersion;
use capp_api::{PacketCluster, PacketMachine};
use capp_components::components::{components, object_name};
use capp_components::{NAMESPACE, Release};
use capp_reconcile::manager::{LEASE_NAME, ManagerOptions};
use capp_testenv::Identity;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};
use support::{NS, World, sim_config};
use tokio::sync::{Semaphore, oneshot};

/// How long the complete run may take (it takes a few seconds alone).
const RUN_DEADLINE: Duration = Duration::from_secs(90);

/// Runs at the same time (each has its own API server and simulator).
const CONCURRENCY: usize = 6;

/// The plan and metro of the machine.
const PLAN: &str = "c3.small.x86";
const METRO: &str = "da";

/// One permission: a verb on a resource of an API group, granted by the ClusterRole or the
/// leader-election Role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Permission {
    role: &'static str,
    group: String,
    resource: String,
    verb: String,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        write!(f, "{} {} {group}/{}", self.role, self.verb, self.resource)
    }
}

/// The RBAC objects of the components: Namespace, ServiceAccount, ClusterRole, Role and
/// their bindings.
fn rbac_objects() -> Vec<Value> {
    const KINDS: [&str; 6] = [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ];
    let objects: Vec<Value> = components(&Release::default())
        .unwrap()
        .into_iter()
        .filter(|o| KINDS.contains(&o["kind"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(objects.len(), KINDS.len(), "one of each: {objects:#?}");
    objects
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Every distinct permission the roles grant.
fn permissions(objects: &[Value]) -> Vec<Permission> {
    let mut all = BTreeSet::new();
    for object in objects {
        let role = match object["kind"].as_str() {
            Some("ClusterRole") => "ClusterRole",
            Some("Role") => "Role",
            _ => continue,
        };
        for rule in object["rules"].as_array().into_iter().flatten() {
            assert!(
                rule["resourceNames"].is_null() && rule["nonResourceURLs"].is_null(),
                "{rule}"
            );
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    for verb in strings(&rule["verbs"]) {
                        assert!(
                            ![&group, &resource, &verb].contains(&&"*".to_owned()),
                            "no wildcard: {rule}"
                        );
                        all.insert(Permission {
                            role,
                            group: group.clone(),
                            resource: resource.clone(),
                            verb,
                        });
                    }
                }
            }
        }
    }
    all.into_iter().collect()
}

/// `objects` with `removed` taken out of whichever rules of its role grant it.
fn without(objects: &[Value], removed: &Permission) -> Vec<Value> {
    let mut out = objects.to_vec();
    for object in &mut out {
        if object["kind"] != removed.role {
            continue;
        }
        let mut rules = Vec::new();
        for rule in object["rules"].as_array().into_iter().flatten() {
            let grants = strings(&rule["apiGroups"]).contains(&removed.group)
                && strings(&rule["resources"]).contains(&removed.resource)
                && strings(&rule["verbs"]).contains(&removed.verb);
            if !grants {
                rules.push(rule.clone());
                continue;
            }
            let others: Vec<String> = strings(&rule["resources"])
                .into_iter()
                .filter(|r| *r != removed.resource)
                .collect();
            if !others.is_empty() {
                let mut rest = rule.clone();
                rest["resources"] = json!(others);
                rules.push(rest);
            }
            let verbs: Vec<String> = strings(&rule["verbs"])
                .into_iter()
                .filter(|v| *v != removed.verb)
                .collect();
            if !verbs.is_empty() {
                let mut narrowed = rule.clone();
                narrowed["resources"] = json!([removed.resource]);
                narrowed["verbs"] = json!(verbs);
                rules.push(narrowed);
            }
        }
        object["rules"] = json!(rules);
    }
    out
}

/// The requests the API server refused the manager (`METHOD path`).
type Refusals = Arc<Mutex<Vec<String>>>;

/// A tower layer that records every request answered 403.
#[derive(Clone)]
struct RecordRefusals(Refusals);

impl<S> tower::Layer<S> for RecordRefusals {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded {
            inner,
            refusals: self.0.clone(),
        }
    }
}

/// The service of [`RecordRefusals`].
struct Recorded<S> {
    inner: S,
    refusals: Refusals,
}

/// The future of [`Recorded`].
type Answer<S> = std::pin::Pin<Box<dyn Future<Output = Result<Reply<S>, Failure<S>>> + Send>>;
type Reply<S> = <S as tower::Service<http::Request<kube::client::Body>>>::Response;
type Failure<S> = <S as tower::Service<http::Request<kube::client::Body>>>::Error;

impl<S, B> tower::Service<http::Request<kube::client::Body>> for Recorded<S>
where
    S: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Answer<S>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        let line = format!("{} {}", request.method(), request.uri().path());
        let refusals = self.refusals.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            if response.status() == http::StatusCode::FORBIDDEN {
                refusals.lock().unwrap().push(line);
            }
            Ok(response)
        })
    }
}

/// A client authenticated as the manager's ServiceAccount that records every 403.
fn service_account_client(world: &World, refusals: &Refusals) -> kube::Client {
    let identity = Identity::service_account(NAMESPACE, &object_name("manager"));
    let mut config = kube::Config::new(world.env.url().parse().unwrap());
    config.auth_info.token = Some(world.env.token_for(&identity));
    kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&RecordRefusals(refusals.clone()))
        .build()
}

/// Where a run stopped.
#[derive(Debug)]
enum Verdict {
    /// The whole lifecycle completed, in this time.
    Completed(Duration),
    /// The API server refused the manager a request (the stage it was in, the requests).
    Refused(&'static str, Vec<String>),
    /// The run did not reach the end of the stage before the deadline.
    Stalled(&'static str),
}

/// A check of the run's progress; `true` when the stage is reached.
async fn reached(world: &World, stage: &'static str) -> bool {
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(world.client.clone(), NS);
    let has_event = |object: &'static str, reason: &'static str, repeated: bool| {
        let events = events.clone();
        async move {
            events
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .any(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object)
                        && e.reason.as_deref() == Some(reason)
                        && (!repeated || e.series.as_ref().is_some_and(|s| s.count >= 2))
                })
        }
    };
    let machines = Api::<PacketMachine>::namespaced(world.client.clone(), NS);
    let clusters = Api::<PacketCluster>::namespaced(world.client.clone(), NS);
    match stage {
        "leader" => Api::<Lease>::namespaced(world.client.clone(), NAMESPACE)
            .get_opt(LEASE_NAME)
            .await
            .unwrap()
            .and_then(|l| l.spec?.holder_identity)
            .is_some_and(|h| h == "rbac-test"),
        "cluster endpoint" => {
            clusters
                .get_opt("prod")
                .await
                .unwrap()
                .is_some_and(|pc| pc.is_provisioned() && pc.control_plane_endpoint().is_some())
                && has_event("prod", "ControlPlaneEndpointSet", false).await
        }
        "repeated capacity warning" => {
            let warned = events
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .any(|e| {
                    e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("prod-cp-0")
                        && e.type_.as_deref() == Some("Warning")
                        && e.series.as_ref().is_some_and(|s| s.count >= 2)
                });
            if warned {
                world.sim.set_capacity(METRO, PLAN, 10);
            }
            warned
        }
        "machine ready" => {
            machines
                .get_opt("prod-cp-0")
                .await
                .unwrap()
                .is_some_and(|pm| {
                    pm.is_provisioned()
                        && support::condition(&pm, capi_types::conditions::READY)
                            .is_some_and(|c| c.status == "True")
                })
                && has_event("prod-cp-0", "DeviceCreated", false).await
        }
        "machine deleted" => {
            machines.get_opt("prod-cp-0").await.unwrap().is_none() && world.sim.devices().is_empty()
        }
        "cluster deleted" => {
            clusters.get_opt("prod").await.unwrap().is_none()
                && world.sim.ip_reservations().is_empty()
        }
        other => panic!("unknown stage {other}"),
    }
}

/// What the test does before waiting for a stage.
async fn act(world: &World, stage: &'static str, cluster_uid: &mut String) {
    match stage {
        "cluster endpoint" => {
            *cluster_uid = world
                .cluster("prod", json!({"elasticIPReclaimPolicy": "Delete"}))
                .await;
        }
        "repeated capacity warning" => {
            world.sim.set_capacity(METRO, PLAN, 0);
            world
                .bootstrap_secret("prod-cp-0", "#cloud-config\nruncmd: [kubeadm init]\n")
                .await;
            world
                .machine(
                    "prod",
                    cluster_uid,
                    "prod-cp-0",
                    true,
                    Some("prod-cp-0"),
                    json!({"machineType": PLAN}),
                )
                .await;
        }
        "machine deleted" => {
            Api::<PacketMachine>::namespaced(world.client.clone(), NS)
                .delete("prod-cp-0", &DeleteParams::default())
                .await
                .unwrap();
        }
        "cluster deleted" => {
            Api::<PacketCluster>::namespaced(world.client.clone(), NS)
                .delete("prod", &DeleteParams::default())
                .await
                .unwrap();
        }
        _ => {}
    }
}

const STAGES: [&str; 6] = [
    "leader",
    "cluster endpoint",
    "repeated capacity warning",
    "machine ready",
    "machine deleted",
    "cluster deleted",
];

/// One lifecycle with the manager holding exactly the permissions of `rbac`.
async fn run(rbac: Vec<Value>, deadline: Duration) -> Verdict {
    let world = World::start_with_env(
        CoreVersion::V1Beta1,
        sim_config(),
        capp_testenv::Config::default()
            .with_rbac(true)
            .with_tls(false),
    )
    .await;
    let manifest = capp_components::to_yaml(&rbac).unwrap();
    world.env.apply_manifest(&manifest).await.unwrap();
    let refusals: Refusals = Arc::default();
    let client = service_account_client(&world, &refusals);
    // What capp-manager does first: discover the served cluster.x-k8s.io version.
    let core = capp_reconcile::core::CoreApi::discover(&client)
        .await
        .expect("the ServiceAccount may read discovery");
    assert_eq!(core.version, CoreVersion::V1Beta1);
    let (ctx, _) = world.context_with_client(client, |_| {});
    let (stop, stopped) = oneshot::channel::<()>();
    let manager = tokio::spawn(capp_reconcile::manager::run(
        ctx,
        ManagerOptions {
            metrics_bind_address: None,
            health_probe_bind_address: None,
            leader_elect: true,
            leader_election_namespace: NAMESPACE.to_owned(),
            identity: "rbac-test".to_owned(),
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let started = Instant::now();
    let mut cluster_uid = String::new();
    let mut verdict = None;
    'stages: for stage in STAGES {
        act(&world, stage, &mut cluster_uid).await;
        loop {
            let refused: Vec<String> = refusals.lock().unwrap().clone();
            if !refused.is_empty() {
                verdict = Some(Verdict::Refused(stage, refused));
                break 'stages;
            }
            if reached(&world, stage).await {
                break;
            }
            if started.elapsed() > deadline {
                verdict = Some(Verdict::Stalled(stage));
                break 'stages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), manager).await;
    world.shutdown().await;
    verdict.unwrap_or_else(|| Verdict::Completed(started.elapsed()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_rbac_is_complete_and_every_permission_is_necessary() {
    let objects = rbac_objects();
    let all = permissions(&objects);

    let full = match run(objects.clone(), RUN_DEADLINE).await {
        Verdict::Completed(took) => took,
        other => panic!("with the generated RBAC the lifecycle must complete: {other:?}"),
    };
    eprintln!("rbac: the complete lifecycle took {full:?} as the manager's ServiceAccount");

    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let mut runs = tokio::task::JoinSet::new();
    for (index, removed) in all.iter().cloned().map(Some).chain([None]).enumerate() {
        let rbac = removed
            .as_ref()
            .map_or_else(|| objects.clone(), |p| without(&objects, p));
        let gate = gate.clone();
        runs.spawn(async move {
            let _slot = gate.acquire_owned().await.unwrap();
            (index, removed, run(rbac, RUN_DEADLINE).await)
        });
    }
    let mut unnecessary = Vec::new();
    let mut results = Vec::new();
    while let Some(joined) = runs.join_next().await {
        results.push(joined.unwrap());
    }
    results.sort_by_key(|(index, _, _)| *index);
    for (_, removed, verdict) in &results {
        match (removed, verdict) {
            (None, Verdict::Completed(_)) => {}
            (None, other) => panic!("the control run did not complete: {other:?}"),
            (Some(p), Verdict::Completed(took)) => {
                eprintln!("rbac: without {p} the lifecycle still completed in {took:?}");
                unnecessary.push(p.to_string());
            }
            (Some(p), Verdict::Refused(stage, requests)) => {
                eprintln!("rbac: without {p}: refused at stage {stage:?}: {requests:?}");
            }
            (Some(p), Verdict::Stalled(stage)) => {
                eprintln!("rbac: without {p}: stalled at stage {stage:?}");
            }
        }
    }
    assert!(
        unnecessary.is_empty(),
        "permissions the manager does not need (remove them from capp_reconcile::rbac): {unnecessary:#?}"
    );
    println!("rbac: {} permissions, each one necessary", all.len());
}
