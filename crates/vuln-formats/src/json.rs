//! JSON reading shared by the parsers: the size limit, byte-order marks
//! (UTF-8 BOM stripped, UTF-16 transcoded, as some SPDX tools write it), and
//! error paths.
//!
//! Documents are parsed with plain `serde_json` first; only when that fails is
//! the document parsed again through `serde_path_to_error` to name the field
//! (`components[3].hashes[0].content`), so the path costs nothing on success.
//! Nothing here knows a format.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Why bytes could not be read as the expected JSON shape.
#[derive(Debug)]
pub(crate) enum JsonError {
    TooLarge { bytes: usize, bytes_max: usize },
    Syntax { path: String, message: String },
}

/// Reads `bytes` as `T`, refusing documents over `bytes_max`.
pub(crate) fn from_slice<T: DeserializeOwned>(
    bytes: &[u8],
    bytes_max: usize,
) -> Result<T, JsonError> {
    if bytes.len() > bytes_max {
        return Err(JsonError::TooLarge {
            bytes: bytes.len(),
            bytes_max,
        });
    }
    let text = decode(bytes).map_err(|message| JsonError::Syntax {
        path: ".".into(),
        message,
    })?;
    match serde_json::from_slice::<T>(&text) {
        Ok(v) => Ok(v),
        Err(first) => {
            let mut de = serde_json::Deserializer::from_slice(&text);
            match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Err(e) => Err(JsonError::Syntax {
                    path: e.path().to_string(),
                    message: e.into_inner().to_string(),
                }),
                // The first attempt failed on trailing data the second one
                // did not look at.
                Ok(_) => Err(JsonError::Syntax {
                    path: ".".into(),
                    message: first.to_string(),
                }),
            }
        }
    }
}

/// UTF-8 without BOM, transcoding UTF-16 (with BOM) documents.
fn decode(bytes: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return Ok(Cow::Borrowed(rest));
    }
    let utf16 = |rest: &[u8], big: bool| -> Result<Cow<'_, [u8]>, String> {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| match c {
                [a, b] if big => u16::from_be_bytes([*a, *b]),
                [a, b] => u16::from_le_bytes([*a, *b]),
                _ => 0,
            })
            .collect();
        String::from_utf16(&units)
            .map(|s| Cow::Owned(s.into_bytes()))
            .map_err(|_| "invalid UTF-16 text".to_string())
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, false);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, true);
    }
    Ok(Cow::Borrowed(bytes))
}

/// A string, number or boolean read as a string: real documents write
/// versions as `1` or `2.0` now and then.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        U(u64),
        I(i64),
        F(f64),
        B(bool),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Scalar>::deserialize(d)? {
        Some(Scalar::S(s)) => Some(s),
        Some(Scalar::U(n)) => Some(n.to_string()),
        Some(Scalar::I(n)) => Some(n.to_string()),
        Some(Scalar::F(n)) => Some(n.to_string()),
        Some(Scalar::B(b)) => Some(b.to_string()),
        Some(Scalar::Other(_)) | None => None,
    })
}

/// A number or a numeric string read as `f64` (scores); anything else is
/// `None`.
pub(crate) fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        F(f64),
        S(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Num>::deserialize(d)? {
        Some(Num::F(f)) => Some(f),
        Some(Num::S(s)) => s.trim().parse().ok(),
        Some(Num::Other(_)) | None => None,
    })
}

/// `null` read as the default value (sloppy documents write `"x": null` for
/// arrays and objects).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Trims `s` and maps empty to `None`.
pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Peeks at top-level keys of a JSON object without building it (used by
/// `detect`); `None` when `bytes` is not a JSON object or array.
pub(crate) fn peek<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let text = decode(bytes).ok()?;
    serde_json::from_slice(&text).ok()
}
