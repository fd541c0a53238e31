//! The error enums of this crate: [`SbomParseError`], [`AdvisoryParseError`],
//! [`VexParseError`] and [`VexExportError`], each naming the field (a JSON
//! path with indices, like `components[3].purl`) and the value at fault.
//!
//! They carry strings, not the underlying `serde_json` error, so they are
//! `Clone + Eq` and tests can pin them exactly. This module decides nothing
//! about formats.

use thiserror::Error;

/// What a checked value (newtype) expected; the parsers add the field path.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("expected {expected}")]
pub struct FieldError {
    /// What was expected.
    pub expected: &'static str,
}

impl FieldError {
    /// A failed check expecting `expected`.
    pub fn new(expected: &'static str) -> Self {
        Self { expected }
    }
}

/// The longest value quoted in an error message, in characters.
pub const ERROR_VALUE_CHARS_MAX: usize = 120;

/// Shortens `value` for an error message.
pub(crate) fn quote(value: &str) -> String {
    if value.chars().count() <= ERROR_VALUE_CHARS_MAX {
        value.to_string()
    } else {
        let mut s: String = value.chars().take(ERROR_VALUE_CHARS_MAX).collect();
        s.push('…');
        s
    }
}

macro_rules! parse_error {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Error)]
        pub enum $name {
            /// The document is larger than the limit.
            #[error("the document is {bytes} bytes, more than the {bytes_max} allowed")]
            TooLarge {
                /// Its size.
                bytes: usize,
                /// The limit.
                bytes_max: usize,
            },
            /// Not JSON, or a value of the wrong JSON type.
            #[error("invalid JSON at `{path}`: {message}")]
            Json {
                /// Where (`.` for the document itself).
                path: String,
                /// What `serde_json` said.
                message: String,
            },
            /// Not a document of a format this parser reads.
            #[error("not a {} document: {reason}", $what)]
            WrongFormat {
                /// What was missing or different.
                reason: String,
            },
            /// A spec version this crate does not read.
            #[error("unsupported {format} version `{found}` at `{field}` (supported: {supported})")]
            UnsupportedVersion {
                /// The format.
                format: &'static str,
                /// The field holding the version.
                field: &'static str,
                /// The version found.
                found: String,
                /// The versions read.
                supported: &'static str,
            },
            /// A required field is missing or empty.
            #[error("`{field}` is missing or empty")]
            Missing {
                /// Its path.
                field: String,
            },
            /// A field's value failed its check.
            #[error("`{field}` = `{value}`: {expected}")]
            Invalid {
                /// Its path.
                field: String,
                /// The value (shortened).
                value: String,
                /// What was expected.
                expected: String,
            },
            /// More items than a limit allows.
            #[error("`{field}` has more than {count_max} items")]
            TooMany {
                /// Its path.
                field: String,
                /// The limit.
                count_max: usize,
            },
        }

        impl $name {
            pub(crate) fn invalid(field: impl Into<String>, value: &str, e: FieldError) -> Self {
                Self::Invalid {
                    field: field.into(),
                    value: quote(value),
                    expected: e.expected.to_string(),
                }
            }
        }

        impl From<crate::json::JsonError> for $name {
            fn from(e: crate::json::JsonError) -> Self {
                match e {
                    crate::json::JsonError::TooLarge { bytes, bytes_max } => {
                        Self::TooLarge { bytes, bytes_max }
                    }
                    crate::json::JsonError::Syntax { path, message } => {
                        Self::Json { path, message }
                    }
                }
            }
        }
    };
}

parse_error!(
    /// Why an SBOM document was refused.
    SbomParseError,
    "CycloneDX or SPDX JSON"
);
parse_error!(
    /// Why an advisory document was refused.
    AdvisoryParseError,
    "OSV, CVE 5, NVD API 2.0 or CSAF 2.0 JSON"
);
parse_error!(
    /// Why a VEX document was refused.
    VexParseError,
    "CycloneDX, OpenVEX or CSAF VEX JSON"
);

/// Why VEX statements could not be exported to a format.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum VexExportError {
    /// A statement names no product; every format requires one.
    #[error("statement {index} has no product")]
    NoProduct {
        /// The statement's index.
        index: usize,
    },
    /// A `not_affected` statement has neither justification nor impact
    /// statement (OpenVEX and CSAF VEX require one of them).
    #[error("statement {index} is not_affected without justification or impact statement")]
    MissingImpact {
        /// The statement's index.
        index: usize,
    },
    /// An `affected` statement has no action statement (OpenVEX and CSAF VEX
    /// require one).
    #[error("statement {index} is affected without action statement")]
    MissingAction {
        /// The statement's index.
        index: usize,
    },
    /// A product has no identifier and no name to export it by.
    #[error("statement {index}, product {product}: neither identifier nor name")]
    UnnamedProduct {
        /// The statement's index.
        index: usize,
        /// The product's index in it.
        product: usize,
    },
}
