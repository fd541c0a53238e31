//! The security twins in the embedded store, kept a fold of the log.
//!
//! - [`store`]: the fjall partitions (twins, claims, per-device history, the
//!   attribute index for search, refusals, read-transparency records) and the
//!   overlay the projector writes through.
//! - [`projector`]: the live projector tailing published checkpoints, and
//!   `reindex`, the same fold from entry 0.
//! - [`side`]: the contract of what is kept beside the log ([`SideStore`]:
//!   payloads of hash envelopes, read records), which `PayloadStore` and
//!   `pg_store::PgSide` implement.
//! - [`space`]: free space on the data volume, the log's reserve and the
//!   per-stakeholder quotas of blobs and payloads.
//! - [`archivist`]: what the Archivist (DataTrails) API keeps beside the log
//!   (configuration collections, blobs), behind store contracts.
//! - [`shared`]: the same fold into a store the nodes of a cluster share
//!   (PostgreSQL), written by the node that sequences.
//! - [`risks`]: the risk register of the node (twins snapshot + advisories,
//!   built by the `risk-register` crate, cached).

pub mod archivist;
pub mod directory;
pub mod posture;
pub mod projector;
pub mod risks;
pub mod shared;
pub mod side;
#[cfg(feature = "testing")]
pub mod side_conformance;
pub mod space;
pub mod ssvc;
pub mod store;
pub mod swap;

pub use directory::TwinDirectory;
pub use projector::{reindex, ProjectError, Projector, ReindexStats, Signatures};
pub use risks::RiskService;
pub use shared::SharedProjector;
pub use side::SideStore;
pub use space::{SpaceError, StorageLimits};
pub use store::{
    FlushDone, NewReadRecord, Page, PayloadStore, PutError, StoreError, StoreState, TwinStore,
    TWIN_STORE_FORMAT,
};
