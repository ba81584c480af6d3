//! Where the shipped index lives in the remote, beside the chunks (`<bucket>/<chunk>`):
//!
//! | name | what |
//! |---|---|
//! | `index/lease/<epoch>` | who may write in that epoch (`lease.rs`) |
//! | `index/files/<path>` | the data directory's key files as they are on disk (`files.rs`) |
//! | `index/<epoch>/snapshot-<seq>` | the whole index after log `seq` of that epoch, sealed |
//! | `index/<epoch>/log-<seq>` | the changes of the commits after log `seq - 1`, sealed |
//!
//! Numbers are zero-padded to 20 digits, so names sort as numbers. Every start of a writer
//! takes the lease with a new epoch and ships snapshot 0 of it first: an epoch without
//! snapshot 0 is not (yet) restorable, and a later epoch supersedes every earlier one.

use std::collections::BTreeMap;

/// The prefix of shipped files.
pub(crate) const FILES: &str = "index/files/";
/// The prefix of everything shipped.
pub(crate) const ROOT: &str = "index/";

/// A snapshot's name.
pub(crate) fn snapshot(epoch: u64, seq: u64) -> String {
    format!("{ROOT}{epoch:020}/snapshot-{seq:020}")
}

/// A log segment's name.
pub(crate) fn log(epoch: u64, seq: u64) -> String {
    format!("{ROOT}{epoch:020}/log-{seq:020}")
}

/// The associated data a shipped object is sealed with: a segment or snapshot opens only
/// under the name it was shipped as, so the remote cannot reorder or swap them.
pub(crate) fn seal_id(name: &str) -> Vec<u8> {
    let mut id = b"coffer shipped index 1 ".to_vec();
    id.extend_from_slice(name.as_bytes());
    id
}

/// What one epoch holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Epoch {
    /// Snapshot sequence numbers, with their sizes.
    pub(crate) snapshots: BTreeMap<u64, u64>,
    /// Log sequence numbers, with their sizes.
    pub(crate) logs: BTreeMap<u64, u64>,
}

impl Epoch {
    /// Whether a restore can start in this epoch (it has a snapshot).
    pub(crate) fn is_restorable(&self) -> bool {
        !self.snapshots.is_empty()
    }
}

/// Sorts a listing of `index/` into epochs; other names are ignored.
pub(crate) fn epochs(listing: &[(String, u64)]) -> BTreeMap<u64, Epoch> {
    let mut out: BTreeMap<u64, Epoch> = BTreeMap::new();
    for (name, size) in listing {
        let Some(rest) = name.strip_prefix(ROOT) else {
            continue;
        };
        let Some((epoch, object)) = rest.split_once('/') else {
            continue;
        };
        let Some(epoch) = number(epoch) else {
            continue;
        };
        if let Some(seq) = object.strip_prefix("snapshot-").and_then(number) {
            out.entry(epoch).or_default().snapshots.insert(seq, *size);
        } else if let Some(seq) = object.strip_prefix("log-").and_then(number) {
            out.entry(epoch).or_default().logs.insert(seq, *size);
        }
    }
    out
}

fn number(text: &str) -> Option<u64> {
    (text.len() == 20 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Where a restore starts and which logs it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) epoch: u64,
    pub(crate) snapshot: u64,
    /// Consecutive logs after the snapshot, in order.
    pub(crate) logs: Vec<u64>,
}

/// The newest restorable state in `epochs`: the latest epoch with a snapshot, its latest
/// snapshot, and the unbroken run of logs after it.
pub(crate) fn plan(epochs: &BTreeMap<u64, Epoch>) -> Option<Plan> {
    let (epoch, at) = epochs.iter().rev().find(|(_, e)| e.is_restorable())?;
    let snapshot = *at.snapshots.keys().next_back()?;
    Some(Plan {
        epoch: *epoch,
        snapshot,
        logs: run_after(at, snapshot),
    })
}

/// The unbroken run of log numbers after `seq` in `epoch`.
pub(crate) fn run_after(epoch: &Epoch, seq: u64) -> Vec<u64> {
    let mut logs = Vec::new();
    let mut next = seq + 1;
    while epoch.logs.contains_key(&next) {
        logs.push(next);
        next += 1;
    }
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_and_parse_back() {
        let listing: Vec<(String, u64)> = vec![
            (snapshot(1, 0), 10),
            (log(1, 1), 1),
            (log(1, 2), 1),
            (snapshot(2, 0), 20),
            (log(2, 1), 1),
            (log(2, 2), 1),
            (log(2, 4), 1),
            (log(3, 1), 1),
            (
                format!("{}00000000000000000003", super::super::lease::PREFIX),
                5,
            ),
            (format!("{FILES}keys"), 5),
            ("0123/abcd".to_owned(), 5),
        ];
        assert!(snapshot(2, 0) > log(1, 2));
        let epochs = epochs(&listing);
        assert_eq!(epochs.len(), 3);
        // Epoch 3 has no snapshot yet: restore uses epoch 2, up to the gap before log 4.
        assert_eq!(
            plan(&epochs),
            Some(Plan {
                epoch: 2,
                snapshot: 0,
                logs: vec![1, 2]
            })
        );
        assert_eq!(plan(&BTreeMap::new()), None);
        assert_ne!(seal_id(&log(1, 1)), seal_id(&log(1, 2)));
    }
}
