//! A gate every index change of a request passes just before it is sent to commit.
//!
//! The server's audit trail must hold the record of a change no later than the change
//! itself (issue 11): the request's intent record has to be durable before the index
//! commit that makes the change. Storage does not know about auditing; it only knows that
//! a request may run inside a [`CommitGate::scope`], and then waits on the gate before
//! each change it submits. A gate that refuses turns the change into
//! [`Error::CommitRefused`] and nothing is committed.
//!
//! The gate is a task-local, not a parameter, because every mutating `Store` method would
//! otherwise need it; the cost is that a change submitted from a task the request spawned
//! does not see it. Storage submits every change from the caller's task.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::{Error, Result};

/// What a gate answers: `Ok` to let the change commit, `Err` with a reason to refuse it.
pub type GateFuture = Pin<Box<dyn Future<Output = Result<(), &'static str>> + Send>>;

/// A check run before each index change of the request it is scoped to.
#[derive(Clone)]
pub struct CommitGate(Arc<dyn Fn() -> GateFuture + Send + Sync>);

impl std::fmt::Debug for CommitGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitGate")
    }
}

tokio::task_local! {
    static GATE: CommitGate;
}

impl CommitGate {
    /// A gate that runs `check` before each change (it may be called more than once per
    /// request: once passed, it should answer at once).
    pub fn new(check: impl Fn() -> GateFuture + Send + Sync + 'static) -> CommitGate {
        CommitGate(Arc::new(check))
    }

    /// Runs `f` with this gate in front of every change it submits.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        GATE.scope(self, f).await
    }
}

/// Waits for the gate of the current request, if there is one.
///
/// # Errors
/// [`Error::CommitRefused`] if the gate refuses.
pub(crate) async fn pass() -> Result<()> {
    let Ok(gate) = GATE.try_with(CommitGate::clone) else {
        return Ok(());
    };
    (gate.0)()
        .await
        .map_err(|reason| Error::CommitRefused { reason })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn outside_a_scope_every_change_passes() {
        assert!(pass().await.is_ok());
    }

    #[tokio::test]
    async fn inside_a_scope_the_gate_decides() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let gate = CommitGate::new(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err("closed") })
        });
        let refused = gate.scope(async { pass().await }).await;
        assert!(matches!(
            refused,
            Err(Error::CommitRefused { reason: "closed" })
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
