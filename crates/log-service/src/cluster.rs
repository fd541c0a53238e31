//! Several nodes on one shared store ([`LogStore::lease`]): the side of a
//! node that does not sequence.
//!
//! Exactly one node (the lease's holder) runs the sequencer and the
//! checkpointer. Every other node is a **follower**:
//!
//! * it serves what the store holds (tiles, bundles, proofs), and publishes
//!   locally each new checkpoint the sequencer stored, once it verifies with
//!   the log's key and is larger than the last (`follow`), so receipts and
//!   projections on every node move with the log;
//! * it hands appends to the sequencer through a [`Forward`] (the node's
//!   HTTP client), waiting through a failover for the next holder;
//! * its supervisor tries to take the lease every [`LEASE_POLL_MS`]; when it
//!   does, it recovers and starts the writer exactly as after a restart,
//!   checking the tree against the last checkpoint it saw.
//!
//! [`LogStore::lease`]: log_store::LogStore::lease

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use log_store::Holder;

use crate::sequencer::{AppendError, Appended, Published, Shared};

/// How often a follower reads the stored checkpoint.
pub const FOLLOW_POLL_MS: u64 = 20;
/// How often a follower tries to take the lease.
pub const LEASE_POLL_MS: u64 = 100;
/// Longest a forwarded append waits for a sequencer to answer, through a
/// failover.
pub const FORWARD_WAIT_MS_MAX: u64 = 15_000;
/// Pause between attempts to forward an append.
const FORWARD_RETRY_MS: u64 = 50;

/// This node's part in its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The only node of its store (embedded): it sequences.
    Single,
    /// It holds the lease and sequences.
    Sequencer,
    /// Another node sequences (the lease's holder when last read).
    Follower(Holder),
}

impl Role {
    /// A word for logs, metrics and `/readyz`: a single node sequences.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Single | Role::Sequencer => "sequencer",
            Role::Follower(_) => "follower",
        }
    }
}

/// Why a forwarded append failed.
#[derive(Debug, Clone)]
pub enum ForwardError {
    /// The sequencer refused the entry itself (too large, empty): final.
    Refused(AppendError),
    /// The holder could not be reached, or is no longer the sequencer, and
    /// did not take the entry: ask the lease again and retry.
    Retry(String),
    /// The request was sent but no answer came (the sequencer died): the
    /// entry may be durable. Retried like [`ForwardError::Retry`]; a later
    /// answer "duplicate" may then be this very entry's first append.
    Unanswered(String),
}

/// The future a [`Forward`] answers with.
pub type ForwardFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Appended, ForwardError>> + Send + 'a>>;

/// How a follower hands an append to the sequencer (the node's HTTP client
/// and the sequencer's endpoint, which answers once the entry is durable).
pub trait Forward: Send + Sync {
    /// Sends `entry` to `holder` and returns its index there.
    fn forward<'a>(&'a self, holder: &'a Holder, entry: &'a [u8]) -> ForwardFuture<'a>;
}

/// Publishes locally the store's checkpoint if it is newer than the
/// published one and verifies with the log's key.
pub(crate) fn follow(shared: &Shared, verifier: &tlog::Verifier) -> Result<(), String> {
    let Some(note) = shared.store.checkpoint().map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let (cp, _) = tlog::open_checkpoint(&note, verifier)
        .map_err(|e| format!("the stored checkpoint does not verify with the log key: {e}"))?;
    let changed = {
        let mut published = shared.published.write();
        if cp.size() > published.size
            || (cp.size() == published.size && note.len() > published.note.len())
        {
            *published = Published {
                size: cp.size(),
                root: cp.root(),
                note: std::sync::Arc::new(note),
            };
            true
        } else {
            false
        }
    };
    if changed {
        let size = cp.size().get();
        shared.integrated_size.fetch_max(size, Ordering::AcqRel);
        shared.durable_size.fetch_max(size, Ordering::AcqRel);
        shared.published_tx.send_replace(size);
        shared.metrics.published_now();
    }
    Ok(())
}

/// What became of a forwarded append.
pub(crate) enum Forwarded {
    /// The sequencer's answer, or why there was none.
    Done(Result<Appended, AppendError>),
    /// This node sequences now: the caller appends locally. `unanswered`:
    /// an earlier attempt may have appended the entry already.
    Local { unanswered: bool },
}

/// Hands `entry` to the sequencer, retrying through a failover until
/// [`FORWARD_WAIT_MS_MAX`].
pub(crate) async fn forward(shared: &Shared, forward: &dyn Forward, entry: &[u8]) -> Forwarded {
    let deadline = Instant::now() + Duration::from_millis(FORWARD_WAIT_MS_MAX);
    let mut last = String::from("no node holds the sequencer's lease");
    // An attempt went unanswered: the entry may have been appended by it.
    let mut unanswered = false;
    loop {
        let holder = match &*shared.role.read() {
            Role::Follower(holder) => Some(holder.clone()),
            Role::Single | Role::Sequencer => return Forwarded::Local { unanswered },
        };
        if let Some(holder) = holder {
            match forward.forward(&holder, entry).await {
                Ok(mut appended) => {
                    let index = appended.index.get();
                    shared.durable_size.fetch_max(index + 1, Ordering::AcqRel);
                    // The first attempt's own append, most likely: this
                    // caller asked once.
                    if unanswered {
                        appended.duplicate = false;
                    }
                    return Forwarded::Done(Ok(appended));
                }
                Err(ForwardError::Refused(e)) => return Forwarded::Done(Err(e)),
                Err(ForwardError::Retry(why)) => {
                    tracing::debug!(holder = %holder.node, %why, "forwarding an append: retrying");
                    last = format!("{} ({}): {why}", holder.node, holder.url);
                }
                Err(ForwardError::Unanswered(why)) => {
                    tracing::debug!(holder = %holder.node, %why, "a forwarded append went unanswered: retrying");
                    unanswered = true;
                    last = format!("{} ({}): {why}", holder.node, holder.url);
                }
            }
        }
        if Instant::now() >= deadline || shared.closing.load(Ordering::Acquire) {
            return Forwarded::Done(Err(AppendError::ReadOnly(format!(
                "no sequencer took the entry within {} s: {last}",
                FORWARD_WAIT_MS_MAX / 1000
            ))));
        }
        tokio::time::sleep(Duration::from_millis(FORWARD_RETRY_MS)).await;
        // The supervisor reads the lease every LEASE_POLL_MS; this append
        // reads it too, so it follows a new holder at once.
        if shared.store.lease().is_some() {
            let store = shared.store.clone();
            let read = tokio::task::spawn_blocking(move || store.lease().map(|l| l.holder()));
            if let Ok(Some(Ok(Some(holder)))) = read.await {
                let mut role = shared.role.write();
                if matches!(&*role, Role::Follower(_)) {
                    *role = Role::Follower(holder);
                }
            }
        }
    }
}
