//! A real log in memory: entries, a log key, two witnesses (quorum 2), a
//! manufacturer and a registry authority with Ed25519 keys, and the bundles
//! `sectwin ota bundle` would build from it.

use ota_verify::{Bundle, ConsistencyProof, KeyOwner, ProvenStatement, TrustState, TrustedKey};
use rand_core::OsRng;
use scitt::{Algorithm, SigningKey, StatementBuilder};
use tlog::{
    leaf_hash, prove_consistency, prove_inclusion, sign_checkpoint, Checkpoint, Cosigner,
    LeafIndex, MemoryTree, Signer, TlogProof, TreeSize,
};

pub const NOW: u64 = super::NOW;
const ORIGIN: &str = "log.example.test";
const MANUFACTURER: &str = "acme.example";
const AUTHORITY: &str = "operator.example";
const MODEL: &str = "model:acme/DC-200";

pub struct Release {
    pub version: String,
    pub image: Vec<u8>,
    pub counter: u64,
    pub hardware_ids: Vec<String>,
    pub model: String,
    pub legacy: bool,
}

impl Release {
    pub fn new(version: &str, image: &[u8], counter: u64) -> Release {
        Release {
            version: version.into(),
            image: image.to_vec(),
            counter,
            hardware_ids: vec!["dc-200-rev-a".into(), "dc-200-rev-c".into()],
            model: MODEL.into(),
            legacy: false,
        }
    }
}

pub struct Fixture {
    log: Signer,
    other_log: Signer,
    witnesses: [Cosigner; 2],
    tree: MemoryTree,
    entries: Vec<Vec<u8>>,
    manufacturer: String,
    authority: String,
}

fn pem_key(alg: Algorithm) -> String {
    SigningKey::generate(alg, &mut OsRng).to_pem()
}

impl Fixture {
    pub fn new() -> Fixture {
        let mut f = Fixture {
            log: Signer::generate(ORIGIN, &mut OsRng).unwrap(),
            other_log: Signer::generate(ORIGIN, &mut OsRng).unwrap(),
            witnesses: [
                Cosigner::generate("w1.example", &mut OsRng).unwrap(),
                Cosigner::generate("w2.example", &mut OsRng).unwrap(),
            ],
            tree: MemoryTree::new(),
            entries: Vec::new(),
            manufacturer: pem_key(Algorithm::EdDSA),
            authority: pem_key(Algorithm::ES256),
        };
        // Entries 0 and 1 stand for the stakeholders' registrations.
        f.append(b"authority registered".to_vec());
        f.append(b"manufacturer registered".to_vec());
        f.filler(3);
        f
    }

    pub fn size(&self) -> u64 {
        self.entries.len() as u64
    }

    fn append(&mut self, bytes: Vec<u8>) -> u64 {
        self.tree.push(leaf_hash(&bytes));
        self.entries.push(bytes);
        self.size() - 1
    }

    pub fn filler(&mut self, n: usize) {
        for i in 0..n {
            self.append(format!("other statement {} {i}", self.size()).into_bytes());
        }
    }

    pub fn image(&self, b: &[u8]) -> Vec<u8> {
        b.to_vec()
    }

    pub fn manufacturer_key(&self) -> SigningKey {
        SigningKey::from_pem(&self.manufacturer).unwrap()
    }

    pub fn authority_key(&self) -> SigningKey {
        SigningKey::from_pem(&self.authority).unwrap()
    }

    pub fn rogue_key(&self) -> SigningKey {
        SigningKey::generate(Algorithm::EdDSA, &mut OsRng)
    }

    fn policy(&self) -> String {
        format!(
            "log {}\nwitness w1 {}\nwitness w2 {}\ngroup both 2 w1 w2\nquorum both\n",
            self.log.vkey(),
            self.witnesses[0].vkey(),
            self.witnesses[1].vkey()
        )
    }

    /// The device's state now: it accepted the current checkpoint and runs
    /// 2.4.1 with counter 4.
    pub fn state(&self) -> TrustState {
        let key = |owner, pem: &str, added| {
            let k = SigningKey::from_pem(pem).unwrap().public_key();
            TrustedKey {
                owner,
                kid: hex::encode(k.thumbprint()),
                pem: k.to_pem(),
                added,
                revoked: None,
                not_before: None,
                not_after: None,
            }
        };
        TrustState {
            format: ota_verify::STATE_FORMAT.into(),
            policy: self.policy(),
            manufacturer: MANUFACTURER.into(),
            authority: Some(AUTHORITY.into()),
            model: MODEL.into(),
            hardware_id: "dc-200-rev-a".into(),
            keys: vec![
                key(KeyOwner::Manufacturer, &self.manufacturer, 1),
                key(KeyOwner::Authority, &self.authority, 0),
            ],
            checkpoint: self.checkpoint_at(self.size(), NOW),
            release_counter: 4,
            version: "2.4.1".into(),
            min_version: None,
            manifest_entry: None,
        }
    }

    fn statement(
        &mut self,
        key: &SigningKey,
        iss: &str,
        sub: &str,
        payload: serde_json::Value,
    ) -> u64 {
        let bytes = StatementBuilder::new(iss, sub, &serde_json::to_vec(&payload).unwrap())
            .content_type("application/json")
            .issued_at(NOW as i64)
            .sign(key);
        self.append(bytes)
    }

    pub fn release(&mut self, r: &Release) -> u64 {
        let key = self.manufacturer_key();
        self.release_signed(r, &key)
    }

    pub fn release_signed(&mut self, r: &Release, key: &SigningKey) -> u64 {
        let d = ota_verify::digest_image(&r.image);
        let mut payload = serde_json::json!({
            "type": "firmware-released",
            "version": r.version,
            "image_sha256": hex::encode(d.sha256),
        });
        if !r.legacy {
            payload["image_sha512"] = hex::encode(d.sha512.unwrap()).into();
            payload["image_length"] = d.length.into();
            payload["hardware_ids"] = serde_json::json!(r.hardware_ids);
            payload["release_counter"] = r.counter.into();
            payload["min_version"] = "2.4.0".into();
            payload["support_end"] = "2030-12-31".into();
        }
        self.statement(key, MANUFACTURER, &r.model.clone(), payload)
    }

    pub fn key_added(&mut self, signer: &SigningKey, new: &SigningKey) -> u64 {
        let payload =
            serde_json::json!({"type": "key-added", "key": {"pem": new.public_key().to_pem()}});
        self.statement(signer, MANUFACTURER, "stakeholder:acme.example", payload)
    }

    pub fn key_added_by_authority(&mut self, signer: &SigningKey, new: &SigningKey) -> u64 {
        let payload =
            serde_json::json!({"type": "key-added", "key": {"pem": new.public_key().to_pem()}});
        self.statement(signer, AUTHORITY, "stakeholder:acme.example", payload)
    }

    pub fn key_revoked(&mut self, signer: &SigningKey, old: &SigningKey) -> u64 {
        let kid = hex::encode(old.public_key().thumbprint());
        let payload = serde_json::json!({"type": "key-revoked", "kid": kid});
        self.statement(signer, MANUFACTURER, "stakeholder:acme.example", payload)
    }

    fn sign(
        &self,
        tree: &MemoryTree,
        size: u64,
        ts: u64,
        witnesses: usize,
        other_log: bool,
    ) -> String {
        let size = TreeSize::new(size);
        let cp = Checkpoint::new(ORIGIN, size, tree.root_at(size).unwrap()).unwrap();
        let log = if other_log {
            &self.other_log
        } else {
            &self.log
        };
        let mut note = String::from_utf8(sign_checkpoint(&cp, log)).unwrap();
        for w in self.witnesses.iter().take(witnesses) {
            note.push_str(&w.cosign(&cp.to_text(), ts));
        }
        note
    }

    /// The log's checkpoint at `size`, cosigned by both witnesses at `ts`.
    pub fn checkpoint_at(&self, size: u64, ts: u64) -> String {
        self.sign(&self.tree, size, ts, 2, false)
    }

    pub fn checkpoint_with(&self, size: u64, ts: u64, witnesses: usize, other_log: bool) -> String {
        self.sign(&self.tree, size, ts, witnesses, other_log)
    }

    /// A checkpoint of another tree of `size` (the last entry differs),
    /// signed by the same log key and witnesses: a split view.
    pub fn fork_checkpoint(&self, size: u64) -> String {
        let mut leaves: Vec<_> = self.entries[..size as usize - 1]
            .iter()
            .map(|e| leaf_hash(e))
            .collect();
        leaves.push(leaf_hash(b"the forked entry"));
        let fork = MemoryTree::from_leaves(leaves);
        self.sign(&fork, size, NOW, 2, false)
    }

    fn proven(&self, statement: u64, proof_of: u64, checkpoint: &str) -> ProvenStatement {
        let size = size_of(checkpoint);
        let proof = TlogProof {
            extra: None,
            index: LeafIndex::new(proof_of),
            proof: prove_inclusion(LeafIndex::new(proof_of), size, &self.tree).unwrap(),
            checkpoint: checkpoint.as_bytes().to_vec(),
        };
        ProvenStatement::new(&self.entries[statement as usize], &proof.encode().unwrap())
    }

    fn consistency(&self, state: &TrustState, new: TreeSize) -> ConsistencyProof {
        let old = size_of(&state.checkpoint);
        let proof = if old.get() > 0 && old <= new {
            prove_consistency(old, new, &self.tree).unwrap()
        } else {
            Vec::new()
        };
        ConsistencyProof {
            from: old.get(),
            proof: proof.iter().map(|h| h.to_base64()).collect(),
        }
    }

    pub fn bundle(&self, manifest: u64, events: &[u64], state: &TrustState) -> Vec<u8> {
        let cp = self.checkpoint_at(self.size(), NOW);
        self.bundle_under(manifest, events, state, &cp, None)
    }

    pub fn bundle_under(
        &self,
        manifest: u64,
        events: &[u64],
        state: &TrustState,
        checkpoint: &str,
        proof_of: Option<u64>,
    ) -> Vec<u8> {
        let size = size_of(checkpoint);
        Bundle {
            format: ota_verify::BUNDLE_FORMAT.into(),
            manifest: self.proven(manifest, proof_of.unwrap_or(manifest), checkpoint),
            key_events: events
                .iter()
                .map(|e| self.proven(*e, *e, checkpoint))
                .collect(),
            consistency: self.consistency(state, size),
        }
        .to_json()
    }

    /// Manifest `a`'s statement with manifest `b`'s proof.
    pub fn bundle_swapped(&self, a: u64, b: u64, state: &TrustState) -> Vec<u8> {
        let cp = self.checkpoint_at(self.size(), NOW);
        self.bundle_under(a, &[], state, &cp, Some(b))
    }

    /// The manifest under the current checkpoint, the key event under `earlier`.
    pub fn bundle_with_event_under(
        &self,
        manifest: u64,
        event: u64,
        state: &TrustState,
        earlier: &str,
    ) -> Vec<u8> {
        let cp = self.checkpoint_at(self.size(), NOW);
        let mut b: Bundle =
            serde_json::from_slice(&self.bundle_under(manifest, &[], state, &cp, None)).unwrap();
        b.key_events = vec![self.proven(event, event, earlier)];
        b.to_json()
    }
}

fn size_of(checkpoint: &str) -> TreeSize {
    let note = tlog::Note::parse(checkpoint.as_bytes()).unwrap();
    Checkpoint::parse_text(note.text()).unwrap().size()
}
