//! Test fixtures shared by the witness tests: a real in-memory log (tlog's
//! `MemoryTree` and `Signer`) that produces signed checkpoints and
//! consistency proofs, and request-body assembly. Not a mock: every byte is
//! produced by the same code a real log uses.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use tlog::{
    leaf_hash, prove_consistency, sign_checkpoint, Checkpoint, Cosigner, Hash, MemoryTree, Signer,
    TreeSize,
};
use witness::{FixedClock, Witness};

pub const ORIGIN: &str = "example.com/sectwin-test-log";
pub const WITNESS_NAME: &str = "witness.example.com/w1";
pub const T0: u64 = 1_700_000_000;

pub struct TestLog {
    pub signer: Signer,
    pub tree: MemoryTree,
    tag: String,
}

impl TestLog {
    /// A log of `origin` whose leaves are `<tag>-<i>` (different tags: forks).
    pub fn new(origin: &str, tag: &str) -> Self {
        let signer = Signer::generate(origin, &mut rand_core::OsRng).unwrap();
        Self {
            signer,
            tree: MemoryTree::new(),
            tag: tag.to_owned(),
        }
    }

    /// A second log with the same key but different leaves: a fork.
    pub fn fork(&self, tag: &str) -> Self {
        Self {
            signer: Signer::from_skey(&self.signer.skey()).unwrap(),
            tree: MemoryTree::new(),
            tag: tag.to_owned(),
        }
    }

    pub fn grow_to(&mut self, size: u64) {
        while self.tree.size().get() < size {
            let i = self.tree.size().get();
            self.tree
                .push(leaf_hash(format!("{}-{i}", self.tag).as_bytes()));
        }
    }

    pub fn root(&self, size: u64) -> Hash {
        self.tree.root_at(TreeSize::new(size)).unwrap()
    }

    pub fn checkpoint(&mut self, size: u64) -> Vec<u8> {
        self.grow_to(size);
        let cp = Checkpoint::new(self.signer.name(), TreeSize::new(size), self.root(size)).unwrap();
        sign_checkpoint(&cp, &self.signer)
    }

    pub fn proof(&mut self, old: u64, new: u64) -> Vec<Hash> {
        self.grow_to(new);
        if old == 0 || old == new {
            return Vec::new();
        }
        prove_consistency(TreeSize::new(old), TreeSize::new(new), &self.tree).unwrap()
    }

    /// A complete add-checkpoint body from `old` to `size` with a valid proof.
    pub fn body(&mut self, old: u64, size: u64) -> Vec<u8> {
        let proof = self.proof(old, size);
        let cp = self.checkpoint(size);
        body(old, &proof, &cp)
    }
}

pub fn body(old: u64, proof: &[Hash], checkpoint: &[u8]) -> Vec<u8> {
    let mut out = format!("old {old}\n").into_bytes();
    for h in proof {
        out.extend_from_slice(h.to_base64().as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(checkpoint);
    out
}

pub fn cosigner() -> Cosigner {
    Cosigner::generate(WITNESS_NAME, &mut rand_core::OsRng).unwrap()
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub skey: String,
    pub log: TestLog,
    pub clock: Arc<FixedClock>,
    pub witness: Witness,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = TestLog::new(ORIGIN, "leaf");
        let skey = cosigner().skey();
        let clock = Arc::new(FixedClock::at(T0 * 1000));
        let witness = open(dir.path(), &skey, &log, clock.clone());
        Self {
            dir,
            skey,
            log,
            clock,
            witness,
        }
    }

    /// Drops the witness and opens the same state directory again.
    pub fn restart(&mut self) {
        // The old witness must release the directory lock first.
        let placeholder_dir = tempfile::tempdir().unwrap();
        let placeholder = open(
            placeholder_dir.path(),
            &self.skey,
            &self.log,
            self.clock.clone(),
        );
        drop(std::mem::replace(&mut self.witness, placeholder));
        self.witness = open(self.dir.path(), &self.skey, &self.log, self.clock.clone());
    }
}

pub fn open(dir: &std::path::Path, skey: &str, log: &TestLog, clock: Arc<FixedClock>) -> Witness {
    Witness::open(
        dir,
        Cosigner::from_skey(skey).unwrap(),
        vec![log.signer.verifier()],
        clock,
    )
    .unwrap()
}
