//! Metal accounts: one client (and so one rate limiter and one set of device views) per API
//! token.
//!
//! The manager's token is the default account. A PacketCluster with `spec.credentialsRef`
//! uses the token in that Secret; every cluster naming the same token shares one client, so
//! the client-side rate limiter is shared by everything that uses one token, as Equinix
//! applied its limits per token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use capp_packet::Metal;
use sha2::{Digest, Sha256};

use crate::device_view::DeviceView;

/// Builds a Metal client for a token (the manager passes one that sets its base URL, rate
/// limit and retry policy).
pub type MetalFactory =
    Arc<dyn Fn(&str) -> capp_packet::Result<Arc<dyn Metal>> + Send + Sync + 'static>;

/// One token's client and device views.
pub struct Account {
    /// The client.
    pub metal: Arc<dyn Metal>,
    views: Mutex<HashMap<(String, String), Arc<DeviceView>>>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").finish_non_exhaustive()
    }
}

impl Account {
    /// An account using `metal`.
    #[must_use]
    pub fn new(metal: Arc<dyn Metal>) -> Self {
        Self {
            metal,
            views: Mutex::new(HashMap::new()),
        }
    }

    /// The device view of `project_id` for devices tagged `tag` (created on first use).
    #[must_use]
    pub fn view(&self, project_id: &str, tag: &str) -> Arc<DeviceView> {
        self.views
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((project_id.to_owned(), tag.to_owned()))
            .or_insert_with(|| Arc::new(DeviceView::new(project_id, tag)))
            .clone()
    }

    /// Devices of `project_id` queued or provisioning, as of each view's last refresh.
    fn provisioning(&self, project_id: &str) -> u64 {
        let views = self
            .views
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        views
            .iter()
            .filter(|((project, _), _)| project == project_id)
            .map(|(_, view)| view.provisioning())
            .sum()
    }

    fn states(&self, into: &mut HashMap<String, u64>) {
        let views = self
            .views
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for view in views.values() {
            for (state, n) in view.states() {
                *into.entry(state).or_default() += n;
            }
        }
    }
}

/// The default account and the accounts of credentialsRef tokens.
pub struct Accounts {
    default: Arc<Account>,
    factory: MetalFactory,
    by_token: Mutex<HashMap<[u8; 32], Arc<Account>>>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

impl Accounts {
    /// The manager's client as default account, and how to build clients for other tokens.
    #[must_use]
    pub fn new(default: Arc<dyn Metal>, factory: MetalFactory) -> Self {
        Self {
            default: Arc::new(Account::new(default)),
            factory,
            by_token: Mutex::new(HashMap::new()),
        }
    }

    /// The manager's account.
    #[must_use]
    pub fn default_account(&self) -> Arc<Account> {
        self.default.clone()
    }

    /// The account of `token` (built once; keyed by the token's SHA-256, never the token).
    pub fn for_token(&self, token: &str) -> capp_packet::Result<Arc<Account>> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut accounts = self
            .by_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(account) = accounts.get(&key) {
            return Ok(account.clone());
        }
        let account = Arc::new(Account::new((self.factory)(token)?));
        accounts.insert(key, account.clone());
        Ok(account)
    }

    /// Devices of `project_id` queued or provisioning over every account's views.
    #[must_use]
    pub fn provisioning(&self, project_id: &str) -> u64 {
        let others: u64 = self
            .by_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|a| a.provisioning(project_id))
            .sum();
        self.default.provisioning(project_id) + others
    }

    /// Device counts by state over every view of every account.
    #[must_use]
    pub fn device_states(&self) -> Vec<(String, u64)> {
        let mut counts = HashMap::new();
        self.default.states(&mut counts);
        for account in self
            .by_token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
        {
            account.states(&mut counts);
        }
        let mut out: Vec<_> = counts.into_iter().collect();
        out.sort();
        out
    }
}
