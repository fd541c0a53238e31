//! The shared test kit (feature `testing`): a real node, opened the way
//! `sectwin serve` opens it, serving the production [`crate::app`] on
//! loopback, with helpers to sign and register statements, create
//! credentials and get tokens. In-process tests start one of these instead
//! of assembling a router of their own.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use scitt::{SigningKey, StatementBuilder};

use crate::{app, open_node_with_clock, serve, start_notifications, Node, NotifyConfig};

/// Checkpoint interval of a test node: short, so registrations return fast.
pub const TEST_CHECKPOINT_INTERVAL_MS: u64 = 20;
/// How often a test node compares the risk register for notifications.
pub const TEST_RISK_INTERVAL_MS: u64 = 200;
/// How long a helper waits for the projector to reach an entry.
pub const PROJECTED_WAIT_MS_MAX: u64 = 10_000;

/// A node serving the production app on `127.0.0.1:0`, in a temporary
/// directory removed when it is dropped.
pub struct TestNode {
    /// The node.
    pub node: Node,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    dir: tempfile::TempDir,
}

impl TestNode {
    /// Opens a new node whose log is `origin` (its registry authority is
    /// the origin's host) in a new temporary directory, and serves it.
    pub async fn start(origin: &str) -> TestNode {
        let dir = tempfile::tempdir().expect("temporary directory");
        TestNode::start_in(dir, origin).await
    }

    /// [`TestNode::start`] in a directory the test prepared (for example
    /// with a small file system mounted at `payloads`).
    pub async fn start_in(dir: tempfile::TempDir, origin: &str) -> TestNode {
        TestNode::start_in_with_clock(dir, origin, Arc::new(clock::SystemClock)).await
    }

    /// [`TestNode::start`] on `clock` (a `clock::FixedClock`, so the test
    /// decides what time the node reads).
    pub async fn start_with_clock(origin: &str, clock: Arc<dyn clock::Clock>) -> TestNode {
        let dir = tempfile::tempdir().expect("temporary directory");
        TestNode::start_in_with_clock(dir, origin, clock).await
    }

    async fn start_in_with_clock(
        dir: tempfile::TempDir,
        origin: &str,
        clock: Arc<dyn clock::Clock>,
    ) -> TestNode {
        let config = log_service::LogConfig {
            checkpoint_interval: Duration::from_millis(TEST_CHECKPOINT_INTERVAL_MS),
            ..log_service::LogConfig::default()
        };
        let (mut node, _) = open_node_with_clock(
            dir.path(),
            Some(origin),
            config,
            None,
            transparency::RegistrationPolicy::default(),
            clock,
        )
        .await
        .unwrap_or_else(|e| panic!("opening a node in {}: {e:#}", dir.path().display()));
        // Webhooks to loopback: the tests' receivers listen there.
        start_notifications(
            &mut node,
            dir.path(),
            NotifyConfig {
                mqtt: None,
                interval: Duration::from_millis(TEST_RISK_INTERVAL_MS),
                webhooks_to_private_addresses: true,
                shared_outbox: None,
            },
        )
        .await
        .expect("starting the notifications");
        let addr = serve(
            app(&node),
            "127.0.0.1:0".parse().expect("address"),
            std::future::pending(),
        )
        .await
        .expect("serving the node");
        TestNode {
            node,
            base: format!("http://{addr}"),
            dir,
        }
    }

    /// The node's data directory.
    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// The registry authority's id.
    pub fn authority_id(&self) -> &str {
        &self.node.authority.0
    }

    /// A copy of the registry authority's signing key (to sign as it).
    pub fn authority_key(&self) -> SigningKey {
        SigningKey::from_pem(&self.node.authority.1.to_pem()).expect("the authority's key")
    }

    /// Signs `payload` (JSON) about `subject` as `issuer` with `key`, with
    /// the system clock's time as `iat` (the time of a client, not of the
    /// node).
    pub fn sign(
        issuer: &str,
        key: &SigningKey,
        subject: &str,
        payload: &serde_json::Value,
    ) -> Vec<u8> {
        StatementBuilder::new(issuer, subject, payload.to_string().as_bytes())
            .content_type("application/json")
            .issued_at(clock::Clock::now_unix_s(&clock::SystemClock))
            .sign(key)
    }

    /// Registers a signed statement through the node's registration policy
    /// and waits until the twins hold it; answers its entry.
    pub async fn register_signed(&self, statement: Vec<u8>) -> u64 {
        let r = self
            .node
            .scitt
            .register(statement)
            .await
            .unwrap_or_else(|e| panic!("registering a statement: {e}"));
        self.projected(r.index.get()).await;
        r.index.get()
    }

    /// Registers stakeholder `id` (named `id`) with `roles` and a new key,
    /// signed by the registry authority; answers its key.
    pub async fn register_stakeholder(&self, id: &str, roles: &[&str]) -> SigningKey {
        let key = SigningKey::generate(scitt::Algorithm::EdDSA, &mut rand_core::OsRng);
        let statement = TestNode::sign(
            self.authority_id(),
            &self.authority_key(),
            &format!("stakeholder:{id}"),
            &serde_json::json!({"type": "stakeholder-registered", "name": id, "roles": roles,
                    "keys": [{"pem": key.public_key().to_pem()}]}),
        );
        self.register_signed(statement).await;
        key
    }

    /// Waits until the twins hold entry `index`.
    pub async fn projected(&self, index: u64) {
        assert!(
            self.node
                .projector
                .wait_projected(index + 1, Duration::from_millis(PROJECTED_WAIT_MS_MAX))
                .await,
            "the projector did not reach entry {index} within {PROJECTED_WAIT_MS_MAX} ms"
        );
    }

    /// A new API credential of `stakeholder`: (client id, secret).
    pub fn credential(&self, stakeholder: &str) -> (String, String) {
        self.node
            .create_credential(stakeholder, "test")
            .unwrap_or_else(|e| panic!("a credential for {stakeholder}: {e:#}"))
    }

    /// A bearer token of `stakeholder`, from the token endpoint over HTTP.
    pub async fn token(&self, stakeholder: &str) -> String {
        let (id, secret) = self.credential(stakeholder);
        let r: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("POST /oauth/token")
            .json()
            .await
            .expect("a JSON token answer");
        r["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {r}"))
            .to_string()
    }

    /// The projector, to wait on or inspect the twins.
    pub fn projector(&self) -> &twin_store::Projector {
        &self.node.projector
    }

    /// The transparency service (registration).
    pub fn scitt(&self) -> &Arc<transparency::TransparencyService> {
        &self.node.scitt
    }
}
