//! Observability for tests and benchmarks: the request log and per-operation counters.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;

/// One request as the simulator saw it. Headers (and so the token) are never recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Sequence number, from 1.
    pub seq: u64,
    /// HTTP method (`GET`).
    pub method: String,
    /// Path without the query (`/metal/v1/devices/…`).
    pub path: String,
    /// Raw query string, empty if none.
    pub query: String,
    /// The spec's operationId (`findDeviceById`), `None` for unknown routes and the metadata
    /// service.
    pub operation: Option<String>,
    /// Status sent; 0 when the connection was dropped without a response.
    pub status: u16,
    /// The request body if it was JSON.
    pub body: Option<Value>,
    /// A fault that was injected into this request, if any (`"drop"`, `"status 503"`, ...).
    pub fault: Option<String>,
}

impl RequestRecord {
    /// A record of a request not answered yet.
    pub(crate) fn new(method: &str, path: &str, query: &str) -> Self {
        Self {
            seq: 0,
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            operation: None,
            status: 0,
            body: None,
            fault: None,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    seq: u64,
    records: VecDeque<RequestRecord>,
    by_operation: BTreeMap<String, u64>,
    by_operation_status: BTreeMap<(String, u16), u64>,
}

/// The log and counters, shared by the server and the handle.
#[derive(Debug)]
pub(crate) struct Observer {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl Observer {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn record(&self, mut record: RequestRecord) {
        let mut inner = self.lock();
        inner.seq += 1;
        record.seq = inner.seq;
        let op = record
            .operation
            .clone()
            .unwrap_or_else(|| "(none)".to_owned());
        *inner.by_operation.entry(op.clone()).or_default() += 1;
        *inner
            .by_operation_status
            .entry((op, record.status))
            .or_default() += 1;
        if self.capacity > 0 {
            if inner.records.len() >= self.capacity {
                inner.records.pop_front();
            }
            inner.records.push_back(record);
        }
    }

    pub(crate) fn records(&self) -> Vec<RequestRecord> {
        self.lock().records.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.records.clear();
        inner.by_operation.clear();
        inner.by_operation_status.clear();
    }

    pub(crate) fn count(&self, operation: &str) -> u64 {
        self.lock()
            .by_operation
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn counts(&self) -> BTreeMap<String, u64> {
        self.lock().by_operation.clone()
    }

    pub(crate) fn counts_by_status(&self) -> BTreeMap<(String, u16), u64> {
        self.lock().by_operation_status.clone()
    }
}
