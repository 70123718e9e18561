//! Support for `emulation_fidelity.rs`: the fields compared between the two management
//! stacks, the normalisation of generated names, and the allow-list read from the
//! "Emulation fidelity" table of `docs/testenv.md`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The kinds compared, as `kubectl get` resources (API version pinned, so both stacks answer
/// in the same version: the emulation serves `v1beta1` only).
pub(crate) const RESOURCES: &[&str] = &[
    "clusters.v1beta1.cluster.x-k8s.io",
    "machinedeployments.v1beta1.cluster.x-k8s.io",
    "machinesets.v1beta1.cluster.x-k8s.io",
    "machines.v1beta1.cluster.x-k8s.io",
    "packetclusters.v1beta1.infrastructure.cluster.x-k8s.io",
    "packetmachines.v1beta1.infrastructure.cluster.x-k8s.io",
    "packetkubeadmconfigs.v1beta1.bootstrap.cluster.x-k8s.io",
    "secrets",
];

/// The annotation the Cluster API conversion webhook writes when a `v1beta2` object is read
/// as `v1beta1` (the whole `v1beta2` object): an artefact of reading both stacks in
/// `v1beta1`, not something a controller did, so it is not compared.
const CONVERSION_DATA: &str = "cluster.x-k8s.io/conversion-data";
/// The label whose value is generated (`<template hash>-<MachineSet suffix>`); the key is
/// compared, the value is normalised.
const TEMPLATE_HASH: &str = "machine-template-hash";

/// One stack's compared fields: `<Kind>/<normalised name>#<n> <field>` to its value.
pub(crate) type Fields = BTreeMap<String, String>;

/// Maps the names the Cluster API controllers generate (a MachineSet's suffix, a Machine's
/// suffix) to stable placeholders: `<md>-<ms>` for the MachineSet of MachineDeployment `<md>`,
/// `<ms name>-<m>` for its Machines. The objects named after a Machine (its PacketMachine,
/// PacketKubeadmConfig and bootstrap Secret) follow. Longest names are replaced first.
pub(crate) struct Names {
    replacements: Vec<(String, String)>,
}

impl Names {
    /// Learns the generated names from the objects of one stack.
    pub(crate) fn learn(objects: &[Value]) -> Self {
        let mut replacements = Vec::new();
        let mut set_names = BTreeMap::new();
        for o in objects.iter().filter(|o| o["kind"] == "MachineSet") {
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            let owner = controller_of(o, "MachineDeployment");
            if let Some(md) = owner {
                let placeholder = format!("{md}-<ms>");
                set_names.insert(name.to_owned(), placeholder.clone());
                replacements.push((name.to_owned(), placeholder));
            }
        }
        for o in objects.iter().filter(|o| o["kind"] == "Machine") {
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            if let Some(set) = controller_of(o, "MachineSet") {
                let set = set_names.get(&set).cloned().unwrap_or(set);
                replacements.push((name.to_owned(), format!("{set}-<m>")));
            }
        }
        replacements.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        Self { replacements }
    }

    /// `text` with every generated name replaced.
    pub(crate) fn normalise(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (from, to) in &self.replacements {
            out = out.replace(from.as_str(), to);
        }
        out
    }
}

/// The name of `o`'s controller owner of kind `kind`.
fn controller_of(o: &Value, kind: &str) -> Option<String> {
    o["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == kind && r["controller"] == true)
        .and_then(|r| r["name"].as_str())
        .map(str::to_owned)
}

/// Keeps the Secrets a bootstrap config owns (the bootstrap data); every other object of
/// [`RESOURCES`] is kept.
pub(crate) fn relevant(o: &Value) -> bool {
    o["kind"] != "Secret"
        || o["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["kind"] == "PacketKubeadmConfig")
}

/// The compared fields of `objects`: phase, labels, annotations, owner references
/// (kind/name/controller/blockOwnerDeletion), conditions (type/status/reason, both the
/// `status.conditions` and the `status.v1beta2.conditions` sets), finalizers. Objects whose
/// normalised names collide (the workers) are numbered in the order of their fields.
pub(crate) fn fields(objects: &[Value]) -> Fields {
    let names = Names::learn(objects);
    let mut per_object: BTreeMap<String, Vec<Fields>> = BTreeMap::new();
    for o in objects.iter().filter(|o| relevant(o)) {
        let kind = o["kind"].as_str().unwrap_or_default();
        let id = format!(
            "{kind}/{}",
            names.normalise(o["metadata"]["name"].as_str().unwrap_or_default())
        );
        let mut f = Fields::new();
        let meta = &o["metadata"];
        if let Some(phase) = o["status"]["phase"].as_str() {
            f.insert("status.phase".to_owned(), phase.to_owned());
        }
        for (map, path) in [
            (&meta["labels"], "metadata.labels"),
            (&meta["annotations"], "metadata.annotations"),
        ] {
            for (k, v) in map.as_object().into_iter().flatten() {
                if k == CONVERSION_DATA {
                    continue;
                }
                let value = if k == TEMPLATE_HASH {
                    "<hash>".to_owned()
                } else {
                    names.normalise(v.as_str().unwrap_or_default())
                };
                f.insert(format!("{path}.{k}"), value);
            }
        }
        for r in meta["ownerReferences"].as_array().into_iter().flatten() {
            f.insert(
                format!(
                    "metadata.ownerReferences[{}/{}]",
                    r["kind"].as_str().unwrap_or_default(),
                    names.normalise(r["name"].as_str().unwrap_or_default())
                ),
                format!(
                    "controller={} blockOwnerDeletion={}",
                    r["controller"], r["blockOwnerDeletion"]
                ),
            );
        }
        let finalizers: BTreeSet<&str> = meta["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !finalizers.is_empty() {
            f.insert(
                "metadata.finalizers".to_owned(),
                finalizers.into_iter().collect::<Vec<_>>().join(","),
            );
        }
        for (conditions, path) in [
            (&o["status"]["conditions"], "status.conditions"),
            (
                &o["status"]["v1beta2"]["conditions"],
                "status.v1beta2.conditions",
            ),
        ] {
            for c in conditions.as_array().into_iter().flatten() {
                f.insert(
                    format!("{path}[{}]", c["type"].as_str().unwrap_or_default()),
                    format!(
                        "{}/{}",
                        c["status"].as_str().unwrap_or_default(),
                        c["reason"].as_str().unwrap_or_default()
                    ),
                );
            }
        }
        per_object.entry(id).or_default().push(f);
    }
    let mut out = Fields::new();
    for (id, mut all) in per_object {
        all.sort();
        for (n, f) in all.into_iter().enumerate() {
            for (k, v) in f {
                out.insert(format!("{id}#{n} {k}"), v);
            }
        }
    }
    out
}

/// One field that differs: its key and the value on each side (`None`: absent there).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Difference {
    pub(crate) key: String,
    pub(crate) emulated: Option<String>,
    pub(crate) real: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_owned());
        write!(
            f,
            "{}: emulation {} / real {}",
            self.key,
            show(&self.emulated),
            show(&self.real)
        )
    }
}

/// Compares the fields of both stacks: the number of identical fields, the number of fields
/// (union of keys), and the differences.
pub(crate) fn compare(emulated: &Fields, real: &Fields) -> (usize, usize, Vec<Difference>) {
    let keys: BTreeSet<&String> = emulated.keys().chain(real.keys()).collect();
    let mut differences = Vec::new();
    for key in &keys {
        let (e, r) = (emulated.get(*key), real.get(*key));
        if e != r {
            differences.push(Difference {
                key: (*key).clone(),
                emulated: e.cloned(),
                real: r.cloned(),
            });
        }
    }
    (keys.len() - differences.len(), keys.len(), differences)
}

/// One row of the allow-list: differences of `kind` whose field starts with `field`.
#[derive(Debug)]
pub(crate) struct Allowed {
    pub(crate) kind: String,
    pub(crate) field: String,
    pub(crate) reason: String,
}

impl Allowed {
    /// Whether `d` is this row's difference (kind `*` matches every kind).
    pub(crate) fn covers(&self, d: &Difference) -> bool {
        let Some((object, field)) = d.key.split_once(' ') else {
            return false;
        };
        let kind = object.split('/').next().unwrap_or_default();
        (self.kind == "*" || self.kind == kind) && field.starts_with(&self.field)
    }
}

/// The allow-list: the rows of the table under the `## Emulation fidelity` heading of
/// `docs/testenv.md` (columns: kind, field prefix in backquotes, reason). Panics naming the
/// row when one has an empty reason.
pub(crate) fn allow_list(doc: &str) -> Vec<Allowed> {
    let section = doc
        .split("\n## Emulation fidelity")
        .nth(1)
        .expect("docs/testenv.md has an `## Emulation fidelity` section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let [kind, field, reason] = cells[..] else {
                panic!("the fidelity table row {l:?} needs 3 columns: kind | field | reason")
            };
            assert!(
                !reason.is_empty(),
                "the fidelity table row {l:?} gives no reason"
            );
            Allowed {
                kind: kind.trim_matches('`').to_owned(),
                field: field.trim_matches('`').to_owned(),
                reason: reason.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generated_names_are_normalised_and_workers_numbered() {
        let objects = vec![
            json!({"kind": "MachineSet", "metadata": {"name": "md-abcde", "ownerReferences": [
                {"kind": "MachineDeployment", "name": "md", "controller": true}]}}),
            json!({"kind": "Machine", "metadata": {"name": "md-abcde-x1y2z", "ownerReferences": [
                {"kind": "MachineSet", "name": "md-abcde", "controller": true}]},
                "status": {"phase": "Running"}}),
            json!({"kind": "Machine", "metadata": {"name": "md-abcde-q9w8e", "ownerReferences": [
                {"kind": "MachineSet", "name": "md-abcde", "controller": true}]},
                "status": {"phase": "Provisioned"}}),
        ];
        let f = fields(&objects);
        assert_eq!(f["Machine/md-<ms>-<m>#0 status.phase"], "Provisioned");
        assert_eq!(f["Machine/md-<ms>-<m>#1 status.phase"], "Running");
        assert_eq!(
            f["Machine/md-<ms>-<m>#0 metadata.ownerReferences[MachineSet/md-<ms>]"],
            "controller=true blockOwnerDeletion=null"
        );
    }

    #[test]
    fn the_allow_list_covers_by_kind_and_field_prefix() {
        let doc = "x\n## Emulation fidelity\n\n| Kind | Field | Reason |\n|---|---|---|\n\
                   | `Machine` | `status.conditions[Ready` | timing |\n\n## Next\n| a | b | c |\n";
        let list = allow_list(doc);
        assert_eq!(list.len(), 1);
        let d = |key: &str| Difference {
            key: key.to_owned(),
            emulated: None,
            real: Some("x".to_owned()),
        };
        assert!(list[0].covers(&d("Machine/m#0 status.conditions[Ready]")));
        assert!(!list[0].covers(&d("Cluster/m#0 status.conditions[Ready]")));
        assert!(!list[0].covers(&d("Machine/m#0 status.phase")));
    }
}
