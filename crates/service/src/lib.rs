//! The application services of a node: typed use cases between the edges
//! (HTTP, the command line) and the stores. A use case takes who asks and a
//! typed request, decides what that reader may see (`twin::sharing`), notes
//! every read of another organization's data and writes its record before
//! it answers (a read that cannot be recorded fails), and answers a typed
//! result or a [`ServiceError`].
//!
//! What it must not know: HTTP (routes, status codes, headers: an edge maps
//! [`ErrorKind`] once), wire formats of other protocols, or the clock (it is
//! given a [`Clock`]).

pub mod alarms;
pub mod archivist;
pub mod clock;
pub mod cra;
pub mod decisions;
pub mod delegate;
pub mod detection;
pub mod devices;
pub mod error;
pub mod log_status;
pub mod ota;
pub mod reads;
pub mod risks;
pub mod rollout;
pub mod ssvc;
pub mod suppressions;
pub mod threat_models;
pub mod twins;
pub mod vex_check;

pub use self::clock::{Clock, FixedClock, SystemClock};
pub use archivist::ArchivistService;
pub use error::{ErrorKind, ServiceError};
pub use reads::{Audit, ReadRecorder, Reader, Seen};
pub use risks::{
    Exposure, ExposureBy, ExposureQuery, RiskPage, RiskQuery, RiskSummary, RiskViews, VexQuery,
    VexView,
};
pub use twins::{DeviceCount, DevicePage, TimelinePage, TwinViews};
