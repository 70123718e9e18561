//! The per-project create gate: no `createDevice` while the project already has
//! [`CREATES_IN_FLIGHT`] devices queued or provisioning.
//!
//! Metal refuses a create with 429 "Too many devices are being created in this project at
//! once" beyond about 5-6 devices being created per project (see
//! `../shared/reference/metal-api.md`, "Creation concurrency"; capp-sim enforces the same
//! with its `DEFAULT_CREATE_LIMIT` of 6). Every refused create is a real
//! call. The gate counts the project's queued and provisioning devices in the device views
//! (plus creates being sent right now) and lets a machine create only when a slot is free;
//! the others get the `WaitingForCreateSlot` reason and are woken through the controller's
//! trigger stream when a view refresh (another machine's poll) shows a slot free.
//!
//! # Caveats
//! - The views only hold devices carrying a cluster tag we reconcile, so devices created by
//!   other tools in the same project are not counted; Metal's 429 still covers them, and
//!   such a 429 is handled as a wait (a short retry without failure backoff).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use capp_api::PacketMachine;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;

use crate::account::Accounts;

/// At most this many devices of one project queued or provisioning before we create
/// another: Metal's documented "usually max 5-6 devices can be created at a time" (upper
/// bound; capp-sim answers 429 from the 6th on by default).
pub const CREATES_IN_FLIGHT: u64 = 6;

/// The `InstanceReady` reason of a machine waiting for a create slot.
pub const WAITING_FOR_CREATE_SLOT_REASON: &str = "WaitingForCreateSlot";

#[derive(Debug, Default)]
struct Project {
    /// Creates sent and not answered yet (not in any view yet).
    sending: u64,
    /// Machines that found no free slot, woken when one frees.
    waiting: HashSet<ObjectRef<PacketMachine>>,
}

/// The gate, shared by every PacketMachine reconcile.
#[derive(Debug)]
pub struct CreateGate {
    projects: Mutex<HashMap<String, Project>>,
    wake: mpsc::UnboundedSender<ObjectRef<PacketMachine>>,
    woken: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<PacketMachine>>>>,
}

impl Default for CreateGate {
    fn default() -> Self {
        let (wake, woken) = mpsc::unbounded_channel();
        Self {
            projects: Mutex::new(HashMap::new()),
            wake,
            woken: Mutex::new(Some(woken)),
        }
    }
}

/// A create slot held while the create call is in flight; released on drop.
#[derive(Debug)]
pub(crate) struct CreateSlot<'a> {
    gate: &'a CreateGate,
    project: String,
}

impl Drop for CreateSlot<'_> {
    fn drop(&mut self) {
        let mut projects = self.gate.lock();
        if let Some(p) = projects.get_mut(&self.project) {
            p.sending = p.sending.saturating_sub(1);
        }
    }
}

impl CreateGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Project>> {
        self.projects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stream of machines to reconcile because a slot freed (taken once, by the
    /// controller; `None` afterwards).
    pub fn take_wakeups(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef<PacketMachine>>> {
        self.woken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// A slot for `machine` to create in `project`, or `Err(busy)` (the number of devices
    /// being created) after recording the machine as waiting.
    pub(crate) fn enter(
        &self,
        accounts: &Accounts,
        project: &str,
        machine: ObjectRef<PacketMachine>,
    ) -> Result<CreateSlot<'_>, u64> {
        let provisioning = accounts.provisioning(project);
        let mut projects = self.lock();
        let p = projects.entry(project.to_owned()).or_default();
        let busy = provisioning + p.sending;
        if busy >= CREATES_IN_FLIGHT {
            p.waiting.insert(machine);
            return Err(busy);
        }
        p.waiting.remove(&machine);
        p.sending += 1;
        Ok(CreateSlot {
            gate: self,
            project: project.to_owned(),
        })
    }

    /// Records `machine` as waiting without asking (Metal refused its create with 429).
    pub(crate) fn wait(&self, project: &str, machine: ObjectRef<PacketMachine>) {
        self.lock()
            .entry(project.to_owned())
            .or_default()
            .waiting
            .insert(machine);
    }

    /// Forgets `machine` (deleted, or its device exists).
    pub(crate) fn forget(&self, project: &str, machine: &ObjectRef<PacketMachine>) {
        if let Some(p) = self.lock().get_mut(project) {
            p.waiting.remove(machine);
        }
    }

    /// After a view of `project` changed: wakes as many waiting machines as there are free
    /// slots. Returns how many were woken.
    pub(crate) fn wake(&self, accounts: &Accounts, project: &str) -> usize {
        let provisioning = accounts.provisioning(project);
        let mut projects = self.lock();
        let Some(p) = projects.get_mut(project) else {
            return 0;
        };
        let free = CREATES_IN_FLIGHT.saturating_sub(provisioning + p.sending);
        let take: Vec<_> = p
            .waiting
            .iter()
            .take(usize::try_from(free).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        for machine in &take {
            p.waiting.remove(machine);
            // The receiver lives as long as the controller; after shutdown nobody listens.
            let _ = self.wake.send(machine.clone());
        }
        take.len()
    }
}
