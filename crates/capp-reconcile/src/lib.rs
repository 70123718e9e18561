//! The PacketCluster and PacketMachine controllers: the only crate that composes the Metal
//! client ([`capp_packet`]), the CRD types ([`capp_api`], [`capi_types`]) and the userdata
//! renderer ([`capp_bootstrap`]).
//!
//! - [`cluster`] and [`machine`]: one module per kind, each with `reconcile` and
//!   `error_policy` (house style 13-18), wired into kube-runtime controllers by
//!   [`controller::run`].
//! - [`context::Context`]: the kube client, the Metal accounts ([`account`]) with their
//!   per-cluster device views ([`device_view`]), the event recorder, [`metrics`], settings
//!   and per-object [`backoff`].
//! - [`requeue`]: every period, with its reason. [`rbac`]: the rules the controllers need.
//! - [`core`]: `Cluster` and `Machine` read in the newest version the API server serves;
//!   [`infra`]: our own kinds read and written in the version served (v1beta1 or v1beta2),
//!   with the v1beta2 conditions of [`conditions`].
//! - [`bootstrap`]: the built-in kubeadm bootstrap provider (PacketKubeadmConfig controller).
//! - [`manager`]: leader election, `/metrics`, `/healthz`, `/readyz` and graceful shutdown
//!   around the controllers, for `bins/capp-manager`.
//! - [`webhook`]: the conversion webhook (`POST /convert` over HTTPS) with its serving
//!   certificate reloaded on renewal.
//!
//! `docs/reconcile.md` has the phase and requeue tables, the conditions and reasons, and the
//! Metal API call budget.

pub mod account;
pub mod backoff;
pub mod bootstrap;
pub mod cluster;
pub mod conditions;
pub mod context;
pub mod controller;
pub mod core;
pub mod create_gate;
pub mod device_view;
mod error;
mod finalizer;
pub mod infra;
pub mod machine;
pub mod manager;
pub mod metrics;
pub mod rbac;
pub mod requeue;
pub mod status;
pub mod tags;
pub mod webhook;

pub use account::{Account, Accounts, MetalFactory};
pub use context::{Config, Context};
pub use error::{Error, Result};
