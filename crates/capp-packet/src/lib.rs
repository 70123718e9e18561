//! Equinix Metal (Packet) API client: typed models, paging, retries, rate limiting.
//!
//! This crate knows nothing about Kubernetes. It offers:
//!
//! - [`Metal`], an object-safe trait with every operation the provider uses, and
//!   [`MetalClient`], its HTTP implementation (hyper 1, rustls with ring and webpki roots);
//! - [`models`]: serde types that ignore unknown fields, default absent ones and send only what
//!   is set;
//! - [`Error`] with predicates (`is_not_found`, `is_rate_limited`, `is_capacity_unavailable`,
//!   `may_have_been_applied`, ...) so no caller ever matches message text;
//! - retries with capped, jittered backoff for idempotent calls ([`RetryPolicy`]), a shared
//!   client-side token bucket ([`RateLimit`]) and call counters ([`CallStats`]).
//!
//! # Retries, idempotency and cost
//!
//! | calls | retried on 408/429/5xx/transport/timeout | on failure |
//! |---|---|---|
//! | `get_*`, `list_*`, `devices_with_tags` | yes, up to `retry.max_attempts` | error |
//! | `update_device` (PUT), `delete_*`, `unassign_ip` | yes | error |
//! | `create_bgp_session` | yes (the API refuses a duplicate with 422) | [`Error::is_already_exists`] means done |
//! | `create_device`, `request_ip_reservation`, `assign_ip`, `create_project_ssh_key`, `request_bgp_config` | only on 429, 408 or a refused connection, which prove nothing was applied; **never** after a 5xx, a timeout or a broken exchange | [`Error::may_have_been_applied`] says whether to look before creating again |
//!
//! Backoff is exponential from `base_delay`, capped at `max_delay`, with jitter; a server's
//! `Retry-After` (or `X-RateLimit-Reset`) replaces it up to `max_retry_after`, beyond which the
//! error goes back to the caller. A 429 also pauses the shared rate limiter. Every method of
//! [`Metal`] documents its cost in API calls; lists use `per_page = 1000`, the API maximum.
//!
//! ```no_run
//! use capp_packet::{ClientConfig, CreateDevice, Location, Metal, MetalClient};
//! # async fn demo() -> capp_packet::Result<()> {
//! let client = MetalClient::new(ClientConfig::new("token"))?;
//! let mut request = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
//! request.tags = vec!["capp:machine-uid:1234".into()];
//! match client.create_device("project-uuid", &request).await {
//!     Ok(device) => println!("created {}", device.id),
//!     Err(e) if e.may_have_been_applied() => {
//!         // Never create again blindly: the first request may have created the server.
//!         let found = client.devices_with_tags("project-uuid", &request.tags).await?;
//!         println!("found {} device(s) after an uncertain create", found.len());
//!     }
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

mod client;
mod config;
mod error;
mod metal;
pub mod models;
mod rate_limit;
mod response;
mod retry;
mod stats;

pub use client::MetalClient;
pub use config::{ApiToken, ClientConfig, DEFAULT_BASE_URL, MAX_PER_PAGE, USER_AGENT};
pub use error::{ApiError, BoxError, Error, Result};
pub use metal::Metal;
pub use models::*;
pub use rate_limit::RateLimit;
pub use retry::RetryPolicy;
pub use stats::{CallStats, StatusClass};
