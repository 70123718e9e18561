//! Following the clusters: the progress table (machines, phases, devices, nodes, elapsed),
//! the workload clusters' kubeconfigs written to `DIR/<namespace>-<cluster>.kubeconfig`, and
//! the moment every watched cluster is ready (every Machine Running, each with its Node listed
//! by the workload cluster).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

/// Label carrying a Cluster API object's cluster name.
const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// Label of control-plane Machines.
const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";
/// The scheme of a PacketMachine's provider ID.
const PROVIDER_ID_PREFIX: &str = "equinixmetal://";
/// Longest wait for one call to a workload API server (it may not be up yet).
const WORKLOAD_TIMEOUT: Duration = Duration::from_secs(3);

fn resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1beta1", kind), plural)
}

/// What one refresh found.
#[derive(Debug, Default)]
pub(super) struct Report {
    /// Lines to print once (kubeconfigs written).
    pub(super) messages: Vec<String>,
    /// The whole table (redrawn on a terminal).
    pub(super) table: Vec<String>,
    /// The rows that changed since the last refresh, as plain lines (printed off a terminal).
    pub(super) changed_rows: Vec<String>,
    /// Whether every watched cluster is ready.
    pub(super) all_ready: bool,
    /// One line per watched cluster, printed when all are ready.
    pub(super) ready_lines: Vec<String>,
}

/// A workload cluster's kubeconfig and a client built from it.
struct Workload {
    kubeconfig: String,
    client: Option<kube::Client>,
}

/// Follows the clusters; see the module documentation. The table fits 80 columns for
/// Machine names up to 24 characters.
pub(super) struct Progress {
    client: kube::Client,
    dir: PathBuf,
    watched: Vec<(String, String)>,
    started: Instant,
    first_seen: BTreeMap<(String, String), Instant>,
    last_rows: BTreeMap<String, String>,
    workloads: BTreeMap<(String, String), Workload>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("watched", &self.watched)
            .finish_non_exhaustive()
    }
}

/// One Machine's row.
struct MachineRow {
    name: String,
    role: &'static str,
    phase: String,
    device: String,
    state: String,
    node: Option<String>,
    age: Duration,
}

/// One cluster's state.
struct ClusterState {
    phase: String,
    expected: usize,
    machines: Vec<MachineRow>,
    nodes: Option<BTreeSet<String>>,
}

impl ClusterState {
    fn running(&self) -> usize {
        self.machines
            .iter()
            .filter(|m| m.phase == "Running")
            .count()
    }

    /// Every expected Machine exists, is Running, and its Node is listed by the workload
    /// cluster.
    fn ready(&self) -> bool {
        let Some(nodes) = &self.nodes else {
            return false;
        };
        self.expected > 0
            && self.machines.len() == self.expected
            && self
                .machines
                .iter()
                .all(|m| m.phase == "Running" && m.node.as_ref().is_some_and(|n| nodes.contains(n)))
    }
}

impl Progress {
    /// Follows the `(namespace, name)` Clusters; workload kubeconfigs are written for every
    /// Cluster of the management cluster.
    pub(super) fn new(client: kube::Client, dir: PathBuf, watched: Vec<(String, String)>) -> Self {
        Self {
            client,
            dir,
            watched,
            started: Instant::now(),
            first_seen: BTreeMap::new(),
            last_rows: BTreeMap::new(),
            workloads: BTreeMap::new(),
        }
    }

    /// Looks at everything once. Read errors leave the affected cells empty: the next refresh
    /// tries again.
    pub(super) async fn refresh(&mut self) -> Report {
        let mut report = Report::default();
        self.write_kubeconfigs(&mut report).await;
        let mut all_ready = !self.watched.is_empty();
        let elapsed = self.started.elapsed();
        for (namespace, name) in self.watched.clone() {
            let state = self.cluster_state(&namespace, &name).await;
            let ready = state.ready();
            all_ready &= ready;
            let nodes = state
                .nodes
                .as_ref()
                .map_or_else(|| "-".to_owned(), |n| n.len().to_string());
            let summary = format!(
                "cluster {namespace}/{name}: phase {}, {}/{} Machines Running, {nodes} Nodes",
                state.phase,
                state.running(),
                state.expected,
            );
            self.changed(&mut report, format!("cluster {namespace}/{name}"), summary);
            report.table.push(format!(
                "{namespace}/{name}  {}  machines {}/{} Running  nodes {nodes}  elapsed {}",
                state.phase,
                state.running(),
                state.expected,
                seconds(elapsed)
            ));
            report.table.push(format!(
                "  {:<24} {:<6} {:<12} {:<8} {:<12} {:<4} {}",
                "MACHINE", "ROLE", "PHASE", "DEVICE", "STATE", "NODE", "AGE"
            ));
            for m in &state.machines {
                let node = m.node.as_deref().unwrap_or("-");
                report.table.push(format!(
                    "  {:<24} {:<6} {:<12} {:<8} {:<12} {:<4} {}",
                    m.name,
                    if m.role == "control-plane" {
                        "cp"
                    } else {
                        "worker"
                    },
                    m.phase,
                    m.device,
                    m.state,
                    if m.node.is_some() { "yes" } else { "-" },
                    seconds(m.age)
                ));
                let line = format!(
                    "machine {namespace}/{}: {} phase {}, device {} ({}), node {node}",
                    m.name, m.role, m.phase, m.device, m.state
                );
                self.changed(&mut report, format!("machine {namespace}/{}", m.name), line);
            }
            if ready {
                let path = kubeconfig_path(&self.dir, &namespace, &name);
                report.ready_lines.push(format!(
                    "ready: cluster {namespace}/{name} ({}): {}/{} Machines Running, {} Nodes, after {}",
                    state.phase,
                    state.running(),
                    state.expected,
                    state.nodes.as_ref().map_or(0, BTreeSet::len),
                    seconds(elapsed)
                ));
                report.ready_lines.push(format!(
                    "  kubectl --kubeconfig {} get nodes",
                    path.display()
                ));
            }
        }
        report.all_ready = all_ready;
        report
    }

    /// Records a row; it is reported as changed when it differs from its last value.
    fn changed(&mut self, report: &mut Report, key: String, line: String) {
        if self.last_rows.get(&key) != Some(&line) {
            report.changed_rows.push(line.clone());
            self.last_rows.insert(key, line);
        }
    }

    /// Writes `DIR/<ns>-<cluster>.kubeconfig` for every Cluster whose `<cluster>-kubeconfig`
    /// Secret exists (again when it changes).
    async fn write_kubeconfigs(&mut self, report: &mut Report) {
        let clusters: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &resource("cluster.x-k8s.io", "Cluster", "clusters"),
        );
        let Ok(list) = clusters.list(&ListParams::default()).await else {
            return;
        };
        for cluster in list.items {
            let (Some(namespace), Some(name)) = (cluster.metadata.namespace, cluster.metadata.name)
            else {
                continue;
            };
            let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
            let Ok(Some(secret)) = secrets.get_opt(&format!("{name}-kubeconfig")).await else {
                continue;
            };
            let Some(value) = secret
                .data
                .as_ref()
                .and_then(|d| d.get("value"))
                .and_then(|v| String::from_utf8(v.0.clone()).ok())
            else {
                continue;
            };
            let key = (namespace.clone(), name.clone());
            if self
                .workloads
                .get(&key)
                .is_some_and(|w| w.kubeconfig == value)
            {
                continue;
            }
            let path = kubeconfig_path(&self.dir, &namespace, &name);
            if let Err(e) = super::write_private(&path, value.as_bytes()) {
                report.messages.push(format!(
                    "cannot write the kubeconfig of cluster {namespace}/{name}: {e:#}"
                ));
                continue;
            }
            report.messages.push(format!(
                "workload cluster {namespace}/{name}: kubeconfig {}",
                path.display()
            ));
            report.messages.push(format!(
                "  kubectl --kubeconfig {} get nodes",
                path.display()
            ));
            let client = workload_client(&value).await;
            self.workloads.insert(
                key,
                Workload {
                    kubeconfig: value,
                    client,
                },
            );
        }
    }

    async fn cluster_state(&mut self, namespace: &str, name: &str) -> ClusterState {
        let dynamic = |group: &str, kind: &str, plural: &str| -> Api<DynamicObject> {
            Api::namespaced_with(
                self.client.clone(),
                namespace,
                &resource(group, kind, plural),
            )
        };
        let phase = dynamic("cluster.x-k8s.io", "Cluster", "clusters")
            .get_opt(name)
            .await
            .ok()
            .flatten()
            .and_then(|c| str_at(&c.data, "/status/phase").map(str::to_owned))
            .unwrap_or_else(|| "-".to_owned());
        let selector = ListParams::default().labels(&format!("{CLUSTER_NAME_LABEL}={name}"));
        let deployments = dynamic(
            "cluster.x-k8s.io",
            "MachineDeployment",
            "machinedeployments",
        )
        .list(&selector)
        .await
        .map(|l| l.items)
        .unwrap_or_default();
        let machines = dynamic("cluster.x-k8s.io", "Machine", "machines")
            .list(&selector)
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let packet_machines = dynamic(
            "infrastructure.cluster.x-k8s.io",
            "PacketMachine",
            "packetmachines",
        );
        let mut rows = Vec::new();
        for machine in &machines {
            rows.push(self.machine_row(namespace, machine, &packet_machines).await);
        }
        rows.sort_by(|a, b| (b.role, &a.name).cmp(&(a.role, &b.name)));
        let nodes = match self
            .workloads
            .get(&(namespace.to_owned(), name.to_owned()))
            .and_then(|w| w.client.clone())
        {
            Some(client) => Api::<Node>::all(client)
                .list(&ListParams::default())
                .await
                .ok()
                .map(|l| {
                    l.items
                        .into_iter()
                        .filter_map(|n| n.metadata.name)
                        .collect()
                }),
            None => None,
        };
        ClusterState {
            phase,
            expected: expected_machines(&machines, &deployments),
            machines: rows,
            nodes,
        }
    }
}

impl Progress {
    /// A Machine's row: its phase and Node, its PacketMachine's device and state.
    async fn machine_row(
        &mut self,
        namespace: &str,
        machine: &DynamicObject,
        packet_machines: &Api<DynamicObject>,
    ) -> MachineRow {
        let machine_name = machine.metadata.name.clone().unwrap_or_default();
        let infra = str_at(&machine.data, "/spec/infrastructureRef/name").unwrap_or("");
        let packet = if infra.is_empty() {
            None
        } else {
            packet_machines.get_opt(infra).await.ok().flatten()
        };
        let device = packet
            .as_ref()
            .and_then(|p| str_at(&p.data, "/spec/providerID"))
            .map_or_else(
                || "-".to_owned(),
                |id| {
                    id.trim_start_matches(PROVIDER_ID_PREFIX)
                        .chars()
                        .take(8)
                        .collect()
                },
            );
        let state = packet
            .as_ref()
            .and_then(|p| str_at(&p.data, "/status/instanceStatus"))
            .unwrap_or("-")
            .to_owned();
        let first_seen = *self
            .first_seen
            .entry((namespace.to_owned(), machine_name.clone()))
            .or_insert_with(Instant::now);
        let control_plane = machine
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key(CONTROL_PLANE_LABEL));
        MachineRow {
            name: machine_name,
            role: if control_plane {
                "control-plane"
            } else {
                "worker"
            },
            phase: str_at(&machine.data, "/status/phase")
                .unwrap_or("-")
                .to_owned(),
            device,
            state,
            node: str_at(&machine.data, "/status/nodeRef/name").map(str::to_owned),
            age: first_seen.elapsed(),
        }
    }
}

/// How many Machines the cluster should have: those not made by a MachineSet, plus the
/// replicas of every MachineDeployment (default 1, as the CAPI webhook defaults it).
fn expected_machines(machines: &[DynamicObject], deployments: &[DynamicObject]) -> usize {
    let standalone = machines
        .iter()
        .filter(|m| {
            !m.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "MachineSet")
        })
        .count();
    let replicas: usize = deployments
        .iter()
        .map(|d| {
            d.data
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .map_or(1, |r| usize::try_from(r).unwrap_or(usize::MAX))
        })
        .sum();
    standalone + replicas
}

/// `DIR/<namespace>-<cluster>.kubeconfig`.
fn kubeconfig_path(dir: &Path, namespace: &str, name: &str) -> PathBuf {
    dir.join(format!("{namespace}-{name}.kubeconfig"))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// `42s` or `3m05s`.
fn seconds(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// A client of a workload cluster, with short timeouts (its API server may not answer yet).
async fn workload_client(kubeconfig: &str) -> Option<kube::Client> {
    let parsed = kube::config::Kubeconfig::from_yaml(kubeconfig).ok()?;
    let mut config =
        kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default())
            .await
            .ok()?;
    config.connect_timeout = Some(WORKLOAD_TIMEOUT);
    config.read_timeout = Some(WORKLOAD_TIMEOUT);
    kube::Client::try_from(config).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn row(name: &str, phase: &str, node: Option<&str>) -> MachineRow {
        MachineRow {
            name: name.to_owned(),
            role: "worker",
            phase: phase.to_owned(),
            device: "-".to_owned(),
            state: "-".to_owned(),
            node: node.map(str::to_owned),
            age: Duration::ZERO,
        }
    }

    #[test]
    fn expected_machines_are_the_standalone_ones_plus_every_deployments_replicas() {
        let owned = serde_json::json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineSet",
                                       "name": "md-abc", "uid": "u"});
        let machines = [
            object(serde_json::json!({"metadata": {"name": "cp-0"}})),
            object(
                serde_json::json!({"metadata": {"name": "md-abc-1", "ownerReferences": [owned]}}),
            ),
        ];
        let deployments = [
            object(serde_json::json!({"metadata": {"name": "md"}, "spec": {"replicas": 2}})),
            object(serde_json::json!({"metadata": {"name": "defaulted"}, "spec": {}})),
        ];
        assert_eq!(expected_machines(&machines, &deployments), 1 + 2 + 1);
    }

    #[test]
    fn a_cluster_is_ready_only_when_every_machine_runs_with_its_node_listed() {
        let state = |machines, nodes: Option<&[&str]>| ClusterState {
            phase: "Provisioned".to_owned(),
            expected: 2,
            machines,
            nodes: nodes.map(|n| n.iter().map(|s| (*s).to_owned()).collect()),
        };
        let both = || {
            vec![
                row("a", "Running", Some("a")),
                row("b", "Running", Some("b")),
            ]
        };
        assert!(state(both(), Some(&["a", "b"])).ready());
        // The workload cluster does not list b's Node (yet), or cannot be reached.
        assert!(!state(both(), Some(&["a"])).ready());
        assert!(!state(both(), None).ready());
        // A Machine not Running, or one still to be created.
        assert!(
            !state(
                vec![
                    row("a", "Running", Some("a")),
                    row("b", "Provisioned", None)
                ],
                Some(&["a", "b"])
            )
            .ready()
        );
        assert!(!state(vec![row("a", "Running", Some("a"))], Some(&["a"])).ready());
    }

    #[test]
    fn elapsed_time_reads_as_minutes_and_seconds() {
        assert_eq!(seconds(Duration::from_secs(42)), "42s");
        assert_eq!(seconds(Duration::from_secs(185)), "3m05s");
    }
}
