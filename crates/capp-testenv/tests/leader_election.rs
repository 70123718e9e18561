//! Lease-based leader election with the `kube-lease-manager` library against the test server:
//! two candidates contend for one Lease and exactly one leads, the leader renews and keeps the
//! lease, the other takes over when the leader releases it or crashes and its lease expires, and
//! under RBAC a service account holds the lease only with a Role granting leases.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::future::Future;
use std::time::{Duration, Instant};

use capp_testenv::{Config, Identity, TestEnv};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseManagerError, LeaseParams};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Seconds a lease is valid after its last renewal: short, so that expiry is observable.
const LEASE_SECONDS: u64 = 3;
/// The holder renews this long before expiry; a large margin keeps a loaded machine's renewals
/// in time.
const GRACE_SECONDS: u64 = 2;
/// How long any single expected change may take on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(15);

const LEASE: &str = "capp-controller-leader";

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {PATIENCE:?} waiting for {what}"))
}

async fn candidate(client: kube::Client, namespace: &str, identity: &str) -> LeaseManager {
    LeaseManager::new(
        client,
        LEASE,
        namespace,
        LeaseParams::new(identity, LEASE_SECONDS, GRACE_SECONDS),
        LeaseCreateMode::AutoCreate,
    )
    .await
    .unwrap_or_else(|e| panic!("candidate {identity} starts: {e}"))
}

fn spec(lease: &Lease) -> &LeaseSpec {
    lease.spec.as_ref().expect("the lease has a spec")
}

/// The holder, if any. A Lease that was created without a spec and never taken may have none.
fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

fn renew_time(lease: &Lease) -> Timestamp {
    spec(lease).renew_time.as_ref().expect("renewTime is set").0
}

fn acquire_time(lease: &Lease) -> Timestamp {
    spec(lease)
        .acquire_time
        .as_ref()
        .expect("acquireTime is set")
        .0
}

/// Waits until the lease object satisfies `ok`, polling the server.
async fn lease_until(api: &Api<Lease>, what: &str, ok: impl Fn(&Lease) -> bool) -> Lease {
    within(what, async {
        loop {
            let lease = api.get(LEASE).await.unwrap();
            if ok(&lease) {
                return lease;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

/// The Lease names `holder`, with the library's duration, both times, and `transitions`.
fn assert_held_by(lease: &Lease, who: &str, transitions: i32) {
    assert_eq!(holder(lease), Some(who));
    assert_eq!(
        spec(lease).lease_duration_seconds,
        Some(i32::try_from(LEASE_SECONDS).unwrap())
    );
    assert_eq!(spec(lease).lease_transitions, Some(transitions));
    assert!(renew_time(lease) >= acquire_time(lease));
}

async fn becomes_leader(rx: &mut watch::Receiver<bool>, who: &str) {
    within(&format!("{who} to become leader"), rx.wait_for(|l| *l))
        .await
        .unwrap_or_else(|_| panic!("{who}'s lease manager stopped"));
}

/// What makes concurrent locking impossible: another candidate's server-side apply of the
/// library's lock body conflicts with the field manager of the holder's apply.
async fn assert_taking_a_held_lease_conflicts(admin: &Api<Lease>, leader: &str, follower: &str) {
    let now = Timestamp::now();
    let steal = admin
        .patch(
            LEASE,
            &PatchParams::apply(&format!("kube-lease-manager-{follower}")),
            &Patch::Apply(json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "spec": {
                    "acquireTime": MicroTime(now),
                    "renewTime": MicroTime(now),
                    "holderIdentity": follower,
                    "leaseDurationSeconds": LEASE_SECONDS,
                },
            })),
        )
        .await
        .expect_err("taking a held lease without force conflicts");
    let kube::Error::Api(status) = steal else {
        panic!("expected a Conflict status, got {steal:?}");
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(
        status.message.contains(&format!(
            "conflict with \"kube-lease-manager-{leader}\": .spec.holderIdentity"
        )),
        "{}",
        status.message
    );
    assert_eq!(holder(&admin.get(LEASE).await.unwrap()), Some(leader));
}

/// Aborts the leader's task (a crash: no release) and waits for `successor` to take over,
/// which must not happen before the crashed leader's lease has expired. Returns how long
/// the takeover took.
async fn crash_and_take_over(
    admin: &Api<Lease>,
    leader_task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    leader: &str,
    successor_rx: &mut watch::Receiver<bool>,
    successor: &str,
    transitions: i32,
) -> Duration {
    leader_task.abort();
    assert!(leader_task.await.unwrap_err().is_cancelled());
    let crashed_at = Instant::now();
    let last = admin.get(LEASE).await.unwrap();
    assert_eq!(holder(&last), Some(leader));
    becomes_leader(successor_rx, successor).await;
    let took = crashed_at.elapsed();
    let taken = admin.get(LEASE).await.unwrap();
    assert_held_by(&taken, successor, transitions);
    let expired_at =
        renew_time(&last) + SignedDuration::from_secs(i64::try_from(LEASE_SECONDS).unwrap());
    assert!(
        acquire_time(&taken) >= expired_at,
        "the crashed leader's lease was taken at {} before it expired at {expired_at}",
        acquire_time(&taken)
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_candidates_leads_renews_and_the_other_takes_over_on_release_and_on_expiry() {
    let env = support::start().await;
    let admin: Api<Lease> = Api::namespaced(env.client().unwrap(), "default");
    let client_a = env.client_for(&Identity::user("candidate-a", &[])).unwrap();
    let client_b = env.client_for(&Identity::user("candidate-b", &[])).unwrap();

    // Both start at once; whichever comes second finds the Lease (or gets AlreadyExists
    // creating it) and uses it.
    let (a, b) = tokio::join!(
        candidate(client_a, "default", "candidate-a"),
        candidate(client_b, "default", "candidate-b"),
    );
    let (mut rx_a, task_a) = a.watch().await;
    let (mut rx_b, task_b) = b.watch().await;

    // 1. Exactly one becomes leader, and the Lease says so.
    let leader_a = within("a first leader", async {
        tokio::select! {
            r = rx_a.wait_for(|l| *l) => { r.unwrap(); true }
            r = rx_b.wait_for(|l| *l) => { r.unwrap(); false }
        }
    })
    .await;
    let (leader, follower) = if leader_a {
        ("candidate-a", "candidate-b")
    } else {
        ("candidate-b", "candidate-a")
    };
    let (mut rx_leader, task_leader, mut rx_follower, task_follower) = if leader_a {
        (rx_a, task_a, rx_b, task_b)
    } else {
        (rx_b, task_b, rx_a, task_a)
    };
    let first = admin.get(LEASE).await.unwrap();
    assert_held_by(&first, leader, 1);
    let acquired = acquire_time(&first);
    assert!(
        !*rx_follower.borrow(),
        "{follower} must not lead while {leader} holds the lease"
    );

    assert_taking_a_held_lease_conflicts(&admin, leader, follower).await;

    // 2. The leader renews, and keeps the lease for longer than one lease duration.
    let outlived = acquired + SignedDuration::from_secs(i64::try_from(LEASE_SECONDS).unwrap() + 1);
    let renewed = lease_until(&admin, "renewals beyond one lease duration", |l| {
        renew_time(l) > outlived || holder(l) != Some(leader)
    })
    .await;
    assert_eq!(
        holder(&renewed),
        Some(leader),
        "a renewing leader keeps the lease"
    );
    assert_eq!(
        acquire_time(&renewed),
        acquired,
        "renewal is not a new acquisition"
    );
    assert_eq!(spec(&renewed).lease_transitions, Some(1));
    assert!(*rx_leader.borrow_and_update(), "the leader still leads");
    assert!(
        !*rx_follower.borrow(),
        "{follower} must not lead while {leader} renews"
    );

    // 3a. The leader releases the lease (closing its channel): the follower takes over,
    // and its channel says so.
    let released_at = Instant::now();
    drop(rx_leader);
    let old_leader = within("the leader to release the lease", task_leader)
        .await
        .unwrap()
        .expect("releasing the lease succeeds");
    becomes_leader(&mut rx_follower, follower).await;
    let takeover_after_release = released_at.elapsed();
    let second = admin.get(LEASE).await.unwrap();
    assert_held_by(&second, follower, 2);
    assert!(acquire_time(&second) > acquired, "a new acquisition time");
    assert!(
        takeover_after_release < Duration::from_secs(LEASE_SECONDS + 5),
        "a released lease is taken within about one lease duration, took {takeover_after_release:?}"
    );

    // The former leader becomes a candidate again, and does not take the held lease.
    let (mut rx_old, task_old) = old_leader.watch().await;
    let held = lease_until(&admin, "the new leader to renew", |l| {
        renew_time(l) > renew_time(&second)
    })
    .await;
    assert_eq!(holder(&held), Some(follower));
    assert!(
        !*rx_old.borrow(),
        "{leader} must not lead while {follower} holds the lease"
    );

    // 3b. The new leader crashes without releasing: the lease is taken over only once it
    // has expired.
    let takeover_after_crash =
        crash_and_take_over(&admin, task_follower, follower, &mut rx_old, leader, 3).await;

    eprintln!(
        "takeover after release: {takeover_after_release:?}; after a crash: {takeover_after_crash:?} \
         (lease {LEASE_SECONDS} s, renewed {GRACE_SECONDS} s before expiry)"
    );

    drop(rx_old);
    within("the last leader to release the lease", task_old)
        .await
        .unwrap()
        .expect("releasing the lease succeeds");
    let free = admin.get(LEASE).await.unwrap();
    assert_eq!(holder(&free), None, "a released lease has no holder");
}

fn forbidden(err: LeaseManagerError) -> String {
    match err {
        LeaseManagerError::KubeError(kube::Error::Api(status)) if status.code == 403 => {
            assert_eq!(status.reason, "Forbidden");
            status.message
        }
        other => panic!("expected a 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_rbac_a_service_account_leads_only_with_a_role_granting_leases() {
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let admin = env.client().unwrap();
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "capp-system"}})).unwrap();
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let sa = env
        .client_for(&Identity::service_account("capp-system", "manager"))
        .unwrap();

    // Without any grant the manager cannot even look at the lease, and says why.
    let denied = LeaseManager::new(
        sa.clone(),
        LEASE,
        "capp-system",
        LeaseParams::new("manager-0", LEASE_SECONDS, GRACE_SECONDS),
        LeaseCreateMode::AutoCreate,
    )
    .await
    .expect_err("no Role grants leases yet");
    let message = forbidden(denied);
    for part in [
        "system:serviceaccount:capp-system:manager",
        "\"leases\"",
        "coordination.k8s.io",
        "capp-system",
    ] {
        assert!(message.contains(part), "{message:?} names {part}");
    }

    // A Role that lets it read and create the lease, but not patch it: it starts, and
    // taking the lease is forbidden.
    let roles = Api::<Role>::namespaced(admin.clone(), "capp-system");
    let role = |verbs: &[&str]| -> Role {
        serde_json::from_value(json!({
            "metadata": {"name": "leader-election"},
            "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": verbs}]
        }))
        .unwrap()
    };
    roles
        .create(&PostParams::default(), &role(&["get", "create"]))
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "leader-election"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "leader-election"},
        "subjects": [{"kind": "ServiceAccount", "name": "manager", "namespace": "capp-system"}]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), "capp-system")
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let manager = LeaseManager::new(
        sa,
        LEASE,
        "capp-system",
        LeaseParams::new("manager-0", LEASE_SECONDS, GRACE_SECONDS),
        LeaseCreateMode::AutoCreate,
    )
    .await
    .expect("get and create suffice to set up the lease");
    let message = forbidden(
        within("the lock attempt", manager.changed())
            .await
            .expect_err("taking the lease needs patch"),
    );
    assert!(
        message.contains("cannot patch resource \"leases\""),
        "{message}"
    );
    let leases = Api::<Lease>::namespaced(admin, "capp-system");
    assert_eq!(holder(&leases.get(LEASE).await.unwrap()), None);

    // The Role of the install manifest (get/create/patch): the manager leads.
    let mut full = role(&["get", "create", "patch"]);
    full.metadata.resource_version = roles
        .get("leader-election")
        .await
        .unwrap()
        .metadata
        .resource_version;
    roles
        .replace("leader-election", &PostParams::default(), &full)
        .await
        .unwrap();
    assert!(
        within("the lock", manager.changed()).await.unwrap(),
        "with the Role the manager takes the lease"
    );
    let lease = leases.get(LEASE).await.unwrap();
    assert_eq!(holder(&lease), Some("manager-0"));
    manager.release().await.unwrap();
    assert_eq!(
        holder(&leases.get(LEASE).await.unwrap()),
        None,
        "release frees the lease"
    );
}
