//! SSH keys: who owns them, how they are added, and which ones a new device gets.
//!
//! The rules are the spec's `DeviceCreateInput` descriptions and the real API's recorded
//! answers:
//!
//! - `project_ssh_keys` (key UUIDs of the project), `user_ssh_keys` (UUIDs of *users*, whose
//!   keys are attached) and `ssh_keys` (inline `SSHKeyInput`s: "new or existing project
//!   ssh_keys") add up;
//! - when all three are empty or omitted, every project key and every member's key is
//!   attached;
//! - `no_ssh_keys: true` attaches none;
//! - a device that would end up with no key at all is refused: `422 must have at least one
//!   SSH key or explicitly send no_ssh_keys option` (inlets/cloud-provision#12, 2021; the
//!   422 confirmed by an Equinix maintainer in cluster-api-provider-packet PR #788).

use jiff::Timestamp;

use super::{ApiError, ApiResult, SshKey, State};

/// The real API's refusal of a device that would get no SSH key.
pub(crate) const NO_SSH_KEY: &str =
    "must have at least one SSH key or explicitly send no_ssh_keys option";

/// Whose key it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyOwner {
    /// A project key (`POST /projects/{id}/ssh-keys`, or inline in a device create).
    Project(String),
    /// A user's own key (the token's user is the only one the simulator knows).
    User(String),
}

impl KeyOwner {
    /// Whether this is a key of project `id`.
    pub(crate) fn is_project(&self, id: &str) -> bool {
        matches!(self, Self::Project(p) if p == id)
    }

    /// The `entity` href of the key.
    pub(crate) fn entity(&self) -> serde_json::Value {
        match self {
            Self::Project(id) => super::href("projects", id),
            Self::User(id) => super::href("users", id),
        }
    }
}

/// What a create body asks for, read before anything is stored.
#[derive(Debug, Default)]
pub(crate) struct KeyRequest {
    /// `no_ssh_keys`.
    pub(crate) none: bool,
    /// `project_ssh_keys`.
    pub(crate) project_keys: Vec<String>,
    /// `user_ssh_keys`.
    pub(crate) users: Vec<String>,
    /// `ssh_keys`: (label, key) pairs.
    pub(crate) inline: Vec<(String, String)>,
}

/// Which keys a new device gets: existing ids, and inline keys to add to the project once
/// the create is sure to succeed.
#[derive(Debug, Default)]
pub(crate) struct KeyPlan {
    existing: Vec<String>,
    new: Vec<(String, String)>,
}

/// Checks an OpenSSH public key line and returns its key material (the base64 part).
pub(crate) fn key_material(key: &str) -> ApiResult<&str> {
    let mut parts = key.split_whitespace();
    let algorithm = parts.next().unwrap_or("");
    let material = parts.next().unwrap_or("");
    if !(algorithm.starts_with("ssh-") || algorithm.starts_with("ecdsa-")) || material.len() < 16 {
        return Err(ApiError::unprocessable(
            "Key is invalid: send an OpenSSH public key such as \"ssh-ed25519 AAAA... comment\"",
        ));
    }
    Ok(material)
}

impl State {
    /// The owner's key with the same key material, if any.
    fn same_key(&self, owner: &KeyOwner, material: &str) -> Option<&SshKey> {
        self.ssh_keys
            .values()
            .find(|k| k.owner == *owner && k.key.split_whitespace().nth(1) == Some(material))
    }

    /// Adds a key (422 if it is not an OpenSSH public key or the owner has it already).
    pub(crate) fn add_ssh_key(
        &mut self,
        owner: KeyOwner,
        label: String,
        key: String,
        tags: Vec<String>,
        now: Timestamp,
    ) -> ApiResult<String> {
        let material = key_material(&key)?;
        if self.same_key(&owner, material).is_some() {
            return Err(ApiError::unprocessable("Key has already been taken"));
        }
        let id = self.new_id();
        self.ssh_keys.insert(
            id.clone(),
            SshKey {
                id: id.clone(),
                owner,
                label,
                key,
                tags,
                created_at: now,
            },
        );
        Ok(id)
    }

    /// Decides a new device's keys in `project_id` without changing anything.
    pub(crate) fn plan_device_keys(
        &self,
        project_id: &str,
        request: &KeyRequest,
    ) -> ApiResult<KeyPlan> {
        if request.none {
            return Ok(KeyPlan::default());
        }
        let project = KeyOwner::Project(project_id.to_owned());
        let member = KeyOwner::User(self.user_id.clone());
        let mut plan = KeyPlan::default();
        let specific = !(request.project_keys.is_empty()
            && request.users.is_empty()
            && request.inline.is_empty());
        if specific {
            for id in &request.project_keys {
                match self.ssh_keys.get(id) {
                    Some(k) if k.owner == project => plan.existing.push(id.clone()),
                    _ => {
                        return Err(ApiError::unprocessable(format!(
                            "project_ssh_keys: {id} is not an SSH key of this project; list them with GET /projects/{project_id}/ssh-keys"
                        )));
                    }
                }
            }
            for user in &request.users {
                if *user != self.user_id {
                    return Err(ApiError::unprocessable(format!(
                        "user_ssh_keys: {user} is not a member of this project (the simulator's only user is {})",
                        self.user_id
                    )));
                }
                plan.existing.extend(self.keys_of(&member));
            }
            for (i, (label, key)) in request.inline.iter().enumerate() {
                let material = key_material(key).map_err(|e| {
                    ApiError::unprocessable(format!("ssh_keys[{i}].key: {}", e.message))
                })?;
                match self.same_key(&project, material) {
                    Some(existing) => plan.existing.push(existing.id.clone()),
                    None => plan.new.push((label.clone(), key.clone())),
                }
            }
        } else {
            plan.existing.extend(self.keys_of(&project));
            plan.existing.extend(self.keys_of(&member));
        }
        let mut seen = std::collections::BTreeSet::new();
        plan.existing.retain(|id| seen.insert(id.clone()));
        if plan.existing.is_empty() && plan.new.is_empty() {
            return Err(ApiError::unprocessable(NO_SSH_KEY));
        }
        Ok(plan)
    }

    /// Stores a plan's inline keys as project keys and returns every key id of the device.
    pub(crate) fn commit_device_keys(
        &mut self,
        project_id: &str,
        plan: KeyPlan,
        now: Timestamp,
    ) -> Vec<String> {
        let KeyPlan { mut existing, new } = plan;
        for (label, key) in new {
            let owner = KeyOwner::Project(project_id.to_owned());
            // Two equal inline keys in one body: the second finds the first.
            let found = key_material(&key)
                .ok()
                .and_then(|m| self.same_key(&owner, m))
                .map(|k| k.id.clone());
            let id = match found {
                Some(id) => Some(id),
                None => self.add_ssh_key(owner, label, key, Vec::new(), now).ok(),
            };
            existing.extend(id.filter(|id| !existing.contains(id)));
        }
        existing
    }

    /// Ids of the owner's keys, oldest first.
    fn keys_of(&self, owner: &KeyOwner) -> Vec<String> {
        let mut keys: Vec<&SshKey> = self
            .ssh_keys
            .values()
            .filter(|k| k.owner == *owner)
            .collect();
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        keys.into_iter().map(|k| k.id.clone()).collect()
    }
}
