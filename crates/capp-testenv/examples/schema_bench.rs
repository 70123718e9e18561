//! Measures CRD schema admission: compiling every upstream CRD version schema, and admitting a
//! MachineDeployment (create, and update with a transition rule) many times.
//!
//! Run with `cargo run --release -p capp-testenv --example schema_bench`. Uses the upstream
//! CRDs in `../shared/specs/capi-v1.10` when present, and a built-in schema with CEL rules
//! always.
#![expect(clippy::print_stdout, reason = "a bench binary prints its figures")]

use std::path::Path;
use std::time::{Duration, Instant};

use capp_testenv::schema::CrdSchema;
use serde_json::{Value, json};

const SPECS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/specs/capi-v1.10"
);

fn per_op(total: Duration, n: u32) -> String {
    format!("{:.1} µs", total.as_secs_f64() * 1e6 / f64::from(n))
}

fn machine_deployment(replicas: i64) -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "MachineDeployment",
        "metadata": {"name": "demo-md-0", "namespace": "default"},
        "spec": {
            "clusterName": "demo",
            "replicas": replicas,
            "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "demo"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "demo"}},
                "spec": {
                    "clusterName": "demo",
                    "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate", "name": "demo-md-0"}},
                    "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketMachineTemplate", "name": "demo-md-0"},
                    "version": "v1.32.1",
                },
            },
        },
    })
}

fn bench_admit(label: &str, schema: &CrdSchema, old: Option<&Value>, obj: &Value) {
    const N: u32 = 2_000;
    let start = Instant::now();
    let mut rejected = 0;
    for _ in 0..N {
        let mut o = obj.clone();
        if schema.admit(&mut o, old).is_err() {
            rejected += 1;
        }
    }
    let total = start.elapsed();
    println!(
        "{label}: {} per admit ({N} admits, {rejected} rejected, object clone included)",
        per_op(total, N)
    );
}

fn main() {
    let mut md_schema = None;
    if Path::new(SPECS).is_dir() {
        let mut compiled = 0u32;
        let mut compile_time = Duration::ZERO;
        let mut files: Vec<_> = std::fs::read_dir(SPECS)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(crd) = serde_saphyr::from_str::<Value>(&text) else {
                continue;
            };
            for v in crd["spec"]["versions"].as_array().into_iter().flatten() {
                let start = Instant::now();
                let schema = CrdSchema::compile(&v["schema"]["openAPIV3Schema"]);
                compile_time += start.elapsed();
                compiled += 1;
                if crd["spec"]["names"]["kind"] == "MachineDeployment" && v["name"] == "v1beta1" {
                    md_schema = schema.ok();
                }
            }
        }
        println!(
            "compile: {compiled} upstream CRD version schemas, {} per schema",
            per_op(compile_time, compiled.max(1))
        );
    } else {
        println!("(../shared/specs missing: upstream CRD figures skipped)");
    }
    if let Some(schema) = &md_schema {
        bench_admit(
            "upstream MachineDeployment create",
            schema,
            None,
            &machine_deployment(3),
        );
    }

    // A schema with rules on every level, including a transition rule.
    let ruled = CrdSchema::compile(&json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.clusterName == oldSelf.clusterName", "message": "clusterName is immutable"},
                    {"rule": "!has(self.replicas) || self.replicas >= 0"},
                ],
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                    "clusterName": {"type": "string", "maxLength": 63},
                    "replicas": {"type": "integer", "default": 1},
                    "template": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                        "x-kubernetes-validations": [{"rule": "has(self.spec)"}],
                    },
                },
            },
        },
    }))
    .unwrap_or_else(|c| panic!("bench schema does not compile: {c:?}"));
    let old = machine_deployment(3);
    bench_admit("rules create", &ruled, None, &machine_deployment(5));
    bench_admit(
        "rules update (transition rule)",
        &ruled,
        Some(&old),
        &machine_deployment(5),
    );
}
