//! [`ServiceError`]: the one classification of what can go wrong in a use
//! case. Each edge maps [`ErrorKind`] to its protocol once (the HTTP layer
//! to status codes); a message is for the caller and says precisely what is
//! wrong, except for [`ErrorKind::Internal`], whose detail is logged and
//! never sent.

use std::fmt;

/// What kind of failure, whatever the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or names something impossible.
    Invalid,
    /// Who asks is not known (no or a bad credential).
    Unauthorized,
    /// Who asks is known and may not do this.
    Forbidden,
    /// What is asked for does not exist (or is not visible to who asks).
    NotFound,
    /// The request conflicts with the current state.
    Conflict,
    /// Not now: storage failing or full, a dependency down; try again after
    /// [`ServiceError::retry_after_s`].
    Unavailable,
    /// Storage refuses it: a quota, the log's reserve, a full volume, or a
    /// log that stopped writing after a storage error.
    StorageFull,
    /// The request is larger than this service takes.
    TooLarge,
    /// A fault of this service; the detail is in its log.
    Internal,
}

/// A failed use case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ServiceError {
    kind: ErrorKind,
    code: &'static str,
    message: String,
    retry_after_s: Option<u64>,
}

/// How long a caller refused because a read could not be recorded (or the
/// disk is full) waits before it tries again, in seconds.
pub const STORAGE_RETRY_AFTER_S: u64 = 5;

impl ServiceError {
    /// An error of `kind` with a stable machine-readable `code` and a message.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError {
            kind,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }
    /// [`ErrorKind::Invalid`] (`bad_request`).
    pub fn invalid(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::Invalid, "bad_request", message)
    }
    /// [`ErrorKind::Unauthorized`].
    pub fn unauthorized(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::Unauthorized, "unauthorized", message)
    }
    /// [`ErrorKind::Forbidden`].
    pub fn forbidden(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::Forbidden, "forbidden", message)
    }
    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::NotFound, "not_found", message)
    }
    /// [`ErrorKind::Conflict`].
    pub fn conflict(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::Conflict, "conflict", message)
    }
    /// [`ErrorKind::Unavailable`]: storage failing or full; retry later.
    pub fn unavailable(message: impl Into<String>) -> ServiceError {
        ServiceError {
            retry_after_s: Some(STORAGE_RETRY_AFTER_S),
            ..ServiceError::new(ErrorKind::Unavailable, "unavailable", message)
        }
    }
    /// [`ErrorKind::StorageFull`].
    pub fn storage_full(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::StorageFull, "storage_full", message)
    }
    /// [`ErrorKind::TooLarge`].
    pub fn too_large(message: impl Into<String>) -> ServiceError {
        ServiceError::new(ErrorKind::TooLarge, "too_large", message)
    }
    /// A read of another organization's data could not be recorded, so its
    /// data is not returned (read transparency fails closed).
    pub fn read_not_recorded(detail: impl fmt::Display) -> ServiceError {
        tracing::error!(%detail, "a read could not be recorded; refused");
        ServiceError {
            retry_after_s: Some(STORAGE_RETRY_AFTER_S),
            ..ServiceError::new(
                ErrorKind::Unavailable,
                "read_not_recorded",
                "this read of another organization's data could not be recorded \
                 (the node's storage is failing or full), so its data is not returned; \
                 try again later",
            )
        }
    }
    /// [`ErrorKind::Internal`]: `detail` is logged, not returned.
    pub fn internal(detail: impl fmt::Display) -> ServiceError {
        tracing::error!(%detail, "internal error");
        ServiceError::new(ErrorKind::Internal, "internal", "internal error")
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The stable code (`bad_request`, `not_found`, `read_not_recorded`, ...).
    pub fn code(&self) -> &'static str {
        self.code
    }
    /// The message for the caller.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Seconds to wait before trying again, for [`ErrorKind::Unavailable`].
    pub fn retry_after_s(&self) -> Option<u64> {
        self.retry_after_s
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
