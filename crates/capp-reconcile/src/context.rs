//! What every reconcile shares: clients, the event recorder, metrics, settings, backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tokio::time::Instant;

use crate::account::Accounts;
use crate::backoff::Backoff;
use crate::core::CoreApi;
use crate::infra::InfraApi;
use crate::metrics::Metrics;
use crate::requeue::{EXPECTED_PROVISIONING, RESYNC};

/// The field manager of every write (server-side apply and patches).
pub const FIELD_MANAGER: &str = "capp-manager";

/// Default of [`Config::reconcile_timeout`]: well past the slowest legitimate reconcile
/// (a Metal call is 30 s at most per attempt, 4 attempts, plus rate-limit waits).
pub const RECONCILE_TIMEOUT: Duration = Duration::from_secs(300);

/// Settings of the controllers (the manager fills them from its flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// Watch only this namespace (`--namespace`); all namespaces when `None`.
    pub namespace: Option<String>,
    /// Reconcile only objects labelled `cluster.x-k8s.io/watch-filter=<value>`.
    pub watch_filter: Option<String>,
    /// Concurrent PacketCluster reconciles.
    pub packetcluster_concurrency: u16,
    /// Concurrent PacketMachine reconciles.
    pub packetmachine_concurrency: u16,
    /// Resync of every object (`--sync-period`).
    pub sync_period: Duration,
    /// Substitute the Metal API token for `{{ .apiKey }}` in Go-provider bootstrap data
    /// (off unless the operator opts in: the token then lands in userdata).
    pub allow_api_key_in_userdata: bool,
    /// How long a device of an unknown plan is expected to provision; paces the first poll.
    pub expected_provisioning: Duration,
    /// BGP ASN requested for `KUBE_VIP` projects (the Go provider's `METAL_LOCAL_ASN`).
    pub bgp_local_asn: u32,
    /// Multiplies every requeue period, backoff and view freshness (not `sync_period`).
    /// 1.0 in production; tests and benchmarks run a compressed timeline (with the
    /// simulator's device timings compressed by the same factor, call counts are unchanged).
    pub time_scale: f64,
    /// The longest one reconcile may take (not scaled). A reconcile still waiting then (a
    /// Kubernetes or Metal exchange that never answers, a lock held by one) is cancelled
    /// and retried, so it cannot hold one of the controller's concurrency slots forever.
    pub reconcile_timeout: Duration,
}

impl Config {
    /// `period` on this configuration's timeline.
    #[must_use]
    pub fn scaled(&self, period: Duration) -> Duration {
        if (self.time_scale - 1.0).abs() < f64::EPSILON
            || !self.time_scale.is_finite()
            || self.time_scale <= 0.0
        {
            period
        } else {
            period.mul_f64(self.time_scale)
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: None,
            watch_filter: None,
            packetcluster_concurrency: 10,
            packetmachine_concurrency: 10,
            sync_period: RESYNC,
            allow_api_key_in_userdata: false,
            expected_provisioning: EXPECTED_PROVISIONING,
            bgp_local_asn: 65000,
            time_scale: 1.0,
            reconcile_timeout: RECONCILE_TIMEOUT,
        }
    }
}

/// Shared by every reconcile of both controllers.
pub struct Context {
    /// The Kubernetes client.
    pub client: Client,
    /// Metal clients by token, with their device views.
    pub accounts: Accounts,
    /// The manager's own token, for `{{ .apiKey }}`; set only when the operator opted in.
    pub(crate) api_key_opt_in: Option<capp_bootstrap::inputs::MetalApiTokenOptIn>,
    /// Publishes events on the objects.
    pub recorder: Recorder,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Settings.
    pub config: Config,
    /// Per-object backoff.
    pub backoff: Backoff,
    /// Which version of Cluster and Machine the API server serves.
    pub core: CoreApi,
    /// Which version of PacketCluster and PacketMachine the controllers use (v1beta1 unless
    /// set with [`Context::with_infra`]).
    pub infra: InfraApi,
    /// When we last asked Metal to delete each device (by device id): deletion polls need a
    /// view refreshed after it.
    pub(crate) deletes: Mutex<HashMap<String, Instant>>,
    /// When each PacketMachine (by UID) is next due to look at Metal; reconciles triggered
    /// by events before then are served from the device views without a call.
    pub(crate) polls: Mutex<HashMap<String, Instant>>,
    /// The per-project create gate.
    pub create_gate: crate::create_gate::CreateGate,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .field("core", &self.core)
            .field("infra", &self.infra.version)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for the controllers. `api_key` is the manager's token, kept only when
    /// `config.allow_api_key_in_userdata` is set (for `{{ .apiKey }}`).
    #[must_use]
    pub fn new(
        client: Client,
        accounts: Accounts,
        api_key: Option<String>,
        core: CoreApi,
        config: Config,
        metrics: Arc<Metrics>,
    ) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.to_owned(),
                instance: std::env::var("POD_NAME").ok(),
            },
        );
        let api_key_opt_in = api_key
            .filter(|_| config.allow_api_key_in_userdata)
            .map(|token| capp_bootstrap::inputs::MetalApiTokenOptIn {
                token: token.into(),
            });
        Self {
            client,
            accounts,
            api_key_opt_in,
            recorder,
            metrics,
            config,
            backoff: Backoff::default(),
            core,
            infra: InfraApi::default(),
            deletes: Mutex::new(HashMap::new()),
            polls: Mutex::new(HashMap::new()),
            create_gate: crate::create_gate::CreateGate::default(),
        }
    }

    /// This context with PacketCluster and PacketMachine in `infra`'s version (see
    /// [`InfraApi::discover`]).
    #[must_use]
    pub fn with_infra(mut self, infra: InfraApi) -> Self {
        self.infra = infra;
        self
    }

    /// Requeue after `period` (scaled, see [`Config::time_scale`]).
    #[must_use]
    pub fn requeue(&self, period: Duration) -> kube::runtime::controller::Action {
        kube::runtime::controller::Action::requeue(self.config.scaled(period))
    }

    /// Whether the object's next look at Metal is due (or was never scheduled).
    pub(crate) fn poll_due(&self, uid: &str) -> bool {
        self.polls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
            .is_none_or(|due| *due <= Instant::now())
    }

    /// Schedules the object's next look at Metal `after` from now (minus a little slack, so
    /// the requeue that comes exactly then is due).
    pub(crate) fn schedule_poll(&self, uid: &str, after: Duration) {
        let due = Instant::now() + after.mul_f64(0.9);
        self.polls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(uid.to_owned(), due);
    }

    /// Forgets the schedule: the next reconcile looks at fresh data.
    pub(crate) fn forget_poll(&self, uid: &str) {
        self.polls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
    }

    pub(crate) fn delete_sent(&self, device_id: &str) -> Option<Instant> {
        self.deletes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(device_id)
            .copied()
    }

    pub(crate) fn record_delete(&self, device_id: &str) {
        self.deletes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(device_id.to_owned(), Instant::now());
    }

    pub(crate) fn forget_delete(&self, device_id: &str) {
        self.deletes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(device_id);
    }
}
