//! The device report: the JSON payload of the SCITT signed statement a
//! device signs with its own key (`{"type":"device-report","v":1,...}`),
//! parsed strictly: unknown fields are refused, every list and string is
//! bounded, and a section a device does not send stays `None` (unknown,
//! never "fine"). The byte-level description for device vendors is
//! `docs/device-reports.md`.
//!
//! Names: the report's own fields are snake_case, like the twins' statement
//! payloads (`image_sha256`, `not_after`); the fields of `metrics` keep AWS
//! IoT Device Defender's device-side metric names (`listening-tcp-ports`,
//! `all-bytes-out`, ...) without the `aws:` prefix, so that an existing
//! agent maps one to one, and the three counters added beside them follow
//! the same kebab-case style.
//!
//! Deliberately absent: the COSE envelope, its signature and key (the
//! wrapping is `scitt`'s, the key the twin's), the MQTT topic, freshness
//! (see [`crate::replay`]) and any judgement of the facts (see
//! [`crate::audit`] and [`crate::detect`]).

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::ops::Deref;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The statement type tag of a report.
pub const REPORT_TYPE: &str = "device-report";
/// The report schema version this build reads and writes.
pub const REPORT_SCHEMA_VERSION: u64 = 1;

/// Largest report payload accepted, in bytes. A report with every list at
/// its bound and every text at its longest is about 39 KiB (both port lists
/// full, every destination a full-length IPv6 literal, sixty-four cipher
/// suites, sixteen models, thirty-two services: `tests/it/report.rs` builds
/// it); the COSE envelope around it stays under the twins' 60 KiB statement
/// payload bound (`twin::statement::PAYLOAD_BYTES_MAX`).
pub const REPORT_BYTES_MAX: usize = 40 * 1024;
/// Most ports in `listening-tcp-ports`, and again in `listening-udp-ports`.
/// An embedded device listens on a handful; a thousand is already a
/// finding of its own, and the count fields carry the real number.
pub const PORTS_MAX: usize = 1024;
/// Most addresses in `destination-ip-addresses`.
pub const DESTINATIONS_MAX: usize = 256;
/// Most entries in `tls.versions` (there are eight protocol versions).
pub const TLS_VERSIONS_MAX: usize = 8;
/// Most entries in `tls.cipher_suites` (IANA lists about 350; a TLS stack
/// offers a few dozen at most).
pub const CIPHER_SUITES_MAX: usize = 64;
/// Most entries in `ai_models`.
pub const AI_MODELS_MAX: usize = 16;
/// Longest text field (versions, ids, client ids, cipher suite names), in
/// bytes (AWS IoT's client id bound; IANA's cipher suite names are under
/// 50 bytes).
pub const TEXT_BYTES_MAX: usize = 128;
/// Longest certificate subject or issuer, in bytes (RFC 4514 text).
pub const DISTINGUISHED_NAME_BYTES_MAX: usize = 512;
/// Longest certificate serial number, in hex digits (RFC 5280 §4.1.2.2:
/// at most 20 octets).
pub const SERIAL_HEX_DIGITS_MAX: usize = 40;
/// Largest `certificate.key_bits` accepted.
pub const KEY_BITS_MAX: u32 = 16_384;
/// Most names in `services`. An embedded device runs a dozen or two
/// daemons; thirty-two full-length names add about 2 KiB, which keeps the
/// largest report under [`REPORT_BYTES_MAX`].
pub const SERVICES_MAX: usize = 32;
/// Longest service name, in bytes (systemd unit names and init script names
/// are short; Linux keeps 15 bytes of a process name).
pub const SERVICE_NAME_BYTES_MAX: usize = 64;

/// Why a payload is not a device report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Larger than [`REPORT_BYTES_MAX`]; nothing was parsed.
    #[error("report is {bytes} bytes, more than {max_bytes}")]
    Oversized {
        /// The payload's size.
        bytes: usize,
        /// The bound.
        max_bytes: usize,
    },
    /// A JSON object whose `type` is not `device-report` (another statement).
    #[error("statement type {0} is not \"device-report\"")]
    WrongType(String),
    /// A report of a schema version this build does not read.
    #[error("report version {0} is not supported (only 1)")]
    UnsupportedVersion(String),
    /// Not JSON, or a field missing, unknown, of the wrong type, out of
    /// bounds or inconsistent with another: `path` names it (`.` for the
    /// whole report, `metrics.listening-tcp-ports[2]` for an element).
    #[error("{path}: {message}")]
    Invalid {
        /// Where, as a JSON path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ReportError {
    /// The rejection reason an ingester counts this under.
    pub fn reject_reason(&self) -> crate::replay::RejectReason {
        match self {
            ReportError::Oversized { .. } => crate::replay::RejectReason::Oversized,
            _ => crate::replay::RejectReason::Malformed,
        }
    }

    fn invalid(path: &str, message: impl Into<String>) -> ReportError {
        ReportError::Invalid {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// A SHA-256 digest (an image, a model, a certificate, a Merkle tree root),
/// written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// The digest with these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Sha256 {
        Sha256(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 lowercase hex digits (uppercase is refused: one spelling
    /// per digest, so that digests compare as text too).
    pub fn from_hex(hex: &str) -> Option<Sha256> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (nibble(*hi)?, nibble(*lo)?),
                _ => return None,
            };
            *o = hi << 4 | lo;
        }
        Some(Sha256(out))
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            for n in [b >> 4, b & 15] {
                // A nibble is below 16: always a hex digit.
                s.push(char::from_digit(u32::from(n), 16).unwrap_or('0'));
            }
        }
        s
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sha256, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Sha256::from_hex(&s)
            .ok_or_else(|| de::Error::custom("expected a SHA-256 digest: 64 lowercase hex digits"))
    }
}

/// A text field: 1 to [`TEXT_BYTES_MAX`] bytes, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ReportText(String);

impl ReportText {
    /// `s` as report text, if it is valid.
    pub fn new(s: impl Into<String>) -> Option<ReportText> {
        let s = s.into();
        (!s.is_empty() && s.len() <= TEXT_BYTES_MAX && !s.chars().any(char::is_control))
            .then_some(ReportText(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReportText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ReportText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ReportText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ReportText, D::Error> {
        let s = String::deserialize(d)?;
        ReportText::new(s).ok_or_else(|| {
            de::Error::custom(format!(
                "expected 1 to {TEXT_BYTES_MAX} bytes of text without control characters"
            ))
        })
    }
}

/// A certificate subject or issuer: 1 to [`DISTINGUISHED_NAME_BYTES_MAX`]
/// bytes, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DistinguishedName(String);

impl DistinguishedName {
    /// `s` as a distinguished name, if it is valid.
    pub fn new(s: impl Into<String>) -> Option<DistinguishedName> {
        let s = s.into();
        (!s.is_empty()
            && s.len() <= DISTINGUISHED_NAME_BYTES_MAX
            && !s.chars().any(char::is_control))
        .then_some(DistinguishedName(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for DistinguishedName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DistinguishedName, D::Error> {
        let s = String::deserialize(d)?;
        DistinguishedName::new(s).ok_or_else(|| {
            de::Error::custom(format!(
                "expected 1 to {DISTINGUISHED_NAME_BYTES_MAX} bytes of text without control characters"
            ))
        })
    }
}

/// A certificate serial number: 1 to [`SERIAL_HEX_DIGITS_MAX`] lowercase hex
/// digits.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Serial(String);

impl Serial {
    /// `s` as a serial number, if it is one.
    pub fn new(s: impl Into<String>) -> Option<Serial> {
        let s = s.into();
        (!s.is_empty()
            && s.len() <= SERIAL_HEX_DIGITS_MAX
            && s.bytes().all(|c| nibble(c).is_some()))
        .then_some(Serial(s))
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for Serial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Serial, D::Error> {
        let s = String::deserialize(d)?;
        Serial::new(s).ok_or_else(|| {
            de::Error::custom(format!(
                "expected 1 to {SERIAL_HEX_DIGITS_MAX} lowercase hex digits"
            ))
        })
    }
}

/// A list of at most `MAX` items, refused as soon as item `MAX + 1` is read.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Bounded<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> Bounded<T, MAX> {
    /// The list, if it has at most `MAX` items.
    pub fn new(items: Vec<T>) -> Option<Self> {
        (items.len() <= MAX).then_some(Bounded(items))
    }
}

impl<T, const MAX: usize> Deref for Bounded<T, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: fmt::Debug, const MAX: usize> fmt::Debug for Bounded<T, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for Bounded<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(BoundedVisitor::<T, MAX>(PhantomData))
            .map(Bounded)
    }
}

struct BoundedVisitor<T, const MAX: usize>(PhantomData<T>);

impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for BoundedVisitor<T, MAX> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of at most {MAX} items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX));
        while let Some(item) = seq.next_element()? {
            if out.len() == MAX {
                return Err(de::Error::custom(format!("more than {MAX} items")));
            }
            out.push(item);
        }
        Ok(out)
    }
}

/// A set of port numbers (1 to 65535), at most [`PORTS_MAX`], kept sorted
/// without repeats (a port listening on two interfaces is one port).
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct PortSet(Vec<u16>);

impl PortSet {
    /// The set of these ports, if there are at most [`PORTS_MAX`] distinct
    /// ones and none is 0.
    pub fn new(ports: impl IntoIterator<Item = u16>) -> Option<PortSet> {
        let mut v: Vec<u16> = ports.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        (v.len() <= PORTS_MAX && v.first() != Some(&0)).then_some(PortSet(v))
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.0.binary_search(&port).is_ok()
    }

    /// The ports, ascending.
    pub fn as_slice(&self) -> &[u16] {
        &self.0
    }

    /// How many ports.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for PortSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PortSet, D::Error> {
        let ports = Bounded::<u16, PORTS_MAX>::deserialize(d)?;
        if ports.contains(&0) {
            return Err(de::Error::custom("port 0 is not a port"));
        }
        PortSet::new(ports.0).ok_or_else(|| de::Error::custom("invalid port set"))
    }
}

/// A set of IP addresses (IPv4 dotted quads, IPv6 as RFC 5952 text), at
/// most [`DESTINATIONS_MAX`], kept sorted without repeats.
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct AddressSet(Vec<IpAddr>);

impl AddressSet {
    /// The set of these addresses, if there are at most
    /// [`DESTINATIONS_MAX`] distinct ones.
    pub fn new(addresses: impl IntoIterator<Item = IpAddr>) -> Option<AddressSet> {
        let mut v: Vec<IpAddr> = addresses.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        (v.len() <= DESTINATIONS_MAX).then_some(AddressSet(v))
    }

    /// Whether `address` is in the set.
    pub fn contains(&self, address: &IpAddr) -> bool {
        self.0.binary_search(address).is_ok()
    }

    /// The addresses, ascending (IPv4 before IPv6).
    pub fn as_slice(&self) -> &[IpAddr] {
        &self.0
    }

    /// How many addresses.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for AddressSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for AddressSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AddressSet, D::Error> {
        let addresses = Bounded::<IpAddr, DESTINATIONS_MAX>::deserialize(d)?;
        AddressSet::new(addresses.0).ok_or_else(|| de::Error::custom("invalid address set"))
    }
}

/// The name of a service (a daemon) as the device's init system or process
/// list names it (`dropbear`, `telnetd`, `upnpd`, `avahi-daemon`): 1 to
/// [`SERVICE_NAME_BYTES_MAX`] bytes of ASCII letters, digits and `.` `_`
/// `-` `@` `+` `:`. Compared without regard to ASCII case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ServiceName(String);

impl ServiceName {
    /// `s` as a service name, if it is one.
    pub fn new(s: impl Into<String>) -> Option<ServiceName> {
        let s = s.into();
        (!s.is_empty()
            && s.len() <= SERVICE_NAME_BYTES_MAX
            && s.bytes().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'@' | b'+' | b':')
            }))
        .then_some(ServiceName(s))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `other`, without regard to ASCII case.
    pub fn is(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Debug for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ServiceName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ServiceName, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ServiceName::new(s.into_owned()).ok_or_else(|| {
            de::Error::custom(format!(
                "expected a service name: 1 to {SERVICE_NAME_BYTES_MAX} bytes of ASCII letters, digits and . _ - @ + :"
            ))
        })
    }
}

/// The services running, at most [`SERVICES_MAX`], kept sorted without
/// repeats.
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct ServiceSet(Vec<ServiceName>);

impl ServiceSet {
    /// The set of these names, if there are at most [`SERVICES_MAX`]
    /// distinct ones.
    pub fn new(names: impl IntoIterator<Item = ServiceName>) -> Option<ServiceSet> {
        let mut v: Vec<ServiceName> = names.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        (v.len() <= SERVICES_MAX).then_some(ServiceSet(v))
    }

    /// The service named `name` (without regard to ASCII case), if it runs.
    pub fn find(&self, name: &str) -> Option<&ServiceName> {
        self.0.iter().find(|s| s.is(name))
    }

    /// The names, ascending.
    pub fn as_slice(&self) -> &[ServiceName] {
        &self.0
    }

    /// How many services.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ServiceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for ServiceSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ServiceSet, D::Error> {
        let names = Bounded::<ServiceName, SERVICES_MAX>::deserialize(d)?;
        ServiceSet::new(names.0).ok_or_else(|| de::Error::custom("invalid service set"))
    }
}

/// How the device's login credentials were set (ETSI EN 303 645 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credentials {
    /// One password shared by every unit of the model (ETSI 5.1-1 forbids it).
    UniversalDefault,
    /// A password unique to the unit, set at manufacture.
    UniquePerDevice,
    /// Set by the user or operator.
    UserSet,
}

impl Credentials {
    /// The name written in reports and rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Credentials::UniversalDefault => "universal-default",
            Credentials::UniquePerDevice => "unique-per-device",
            Credentials::UserSet => "user-set",
        }
    }
}

/// A TLS or DTLS protocol version, named as OpenSSL names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TlsVersion {
    /// SSL 3.0 (RFC 6101; prohibited by RFC 7568).
    #[serde(rename = "SSLv3")]
    Ssl3,
    /// TLS 1.0 (deprecated by RFC 8996).
    #[serde(rename = "TLSv1.0")]
    Tls1_0,
    /// TLS 1.1 (deprecated by RFC 8996).
    #[serde(rename = "TLSv1.1")]
    Tls1_1,
    /// TLS 1.2.
    #[serde(rename = "TLSv1.2")]
    Tls1_2,
    /// TLS 1.3.
    #[serde(rename = "TLSv1.3")]
    Tls1_3,
    /// DTLS 1.0 (deprecated by RFC 8996).
    #[serde(rename = "DTLSv1.0")]
    Dtls1_0,
    /// DTLS 1.2.
    #[serde(rename = "DTLSv1.2")]
    Dtls1_2,
    /// DTLS 1.3.
    #[serde(rename = "DTLSv1.3")]
    Dtls1_3,
}

impl TlsVersion {
    /// The name written in reports and rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls1_0 => "TLSv1.0",
            TlsVersion::Tls1_1 => "TLSv1.1",
            TlsVersion::Tls1_2 => "TLSv1.2",
            TlsVersion::Tls1_3 => "TLSv1.3",
            TlsVersion::Dtls1_0 => "DTLSv1.0",
            TlsVersion::Dtls1_2 => "DTLSv1.2",
            TlsVersion::Dtls1_3 => "DTLSv1.3",
        }
    }
}

/// The algorithm of the device certificate's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// RSA; `key_bits` is the modulus size.
    Rsa,
    /// ECDSA; `key_bits` is the curve size (256 for P-256).
    Ecdsa,
    /// Ed25519 (`key_bits` 256).
    Ed25519,
    /// Ed448 (`key_bits` 456).
    Ed448,
}

impl KeyType {
    /// The name written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ecdsa => "ecdsa",
            KeyType::Ed25519 => "ed25519",
            KeyType::Ed448 => "ed448",
        }
    }
}

/// The firmware image running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Firmware {
    /// Its version, as the manufacturer's `firmware-released` names it.
    pub version: ReportText,
    /// SHA-256 of the image, as measured by the device.
    pub image_sha256: Sha256,
}

/// What happened to a firmware update, as the device saw it (in the spirit
/// of the IETF SUIT report: what was attempted and its result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateState {
    /// The device started installing the image (downloaded, verified the
    /// manifest, began writing).
    Attempted,
    /// The image is installed and running (the device booted it).
    Installed,
    /// The update failed; the device runs its previous image.
    Failed,
}

impl UpdateState {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            UpdateState::Attempted => "attempted",
            UpdateState::Installed => "installed",
            UpdateState::Failed => "failed",
        }
    }
}

/// A firmware update the device reports on (the report's `update`
/// section): the target image and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// What became of it.
    pub state: UpdateState,
    /// The target version, as the manufacturer's `firmware-released` names it.
    pub version: ReportText,
    /// SHA-256 of the target image: for `installed`, as measured by the
    /// device after installing it.
    pub image_sha256: Sha256,
    /// The release manifest's anti-rollback counter, if the manifest has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_counter: Option<u64>,
    /// Why it failed: only with `failed`, where it is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReportText>,
}

/// Which debug interfaces are enabled (ETSI EN 303 645 5.6-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugInterfaces {
    /// JTAG/SWD enabled (not fused off or locked).
    pub jtag: bool,
    /// A UART console enabled.
    pub uart: bool,
    /// An SSH server enabled.
    pub ssh: bool,
}

/// What the device's TLS stack offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Protocol versions offered or accepted (at least one).
    pub versions: Bounded<TlsVersion, TLS_VERSIONS_MAX>,
    /// Cipher suites offered or accepted, by IANA name
    /// (`TLS_AES_128_GCM_SHA256`, `TLS_RSA_WITH_RC4_128_SHA`).
    pub cipher_suites: Bounded<ReportText, CIPHER_SUITES_MAX>,
}

/// The device's X.509 certificate (the one it authenticates with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Subject distinguished name (RFC 4514 text).
    pub subject: DistinguishedName,
    /// Issuer distinguished name.
    pub issuer: DistinguishedName,
    /// Key algorithm.
    pub key_type: KeyType,
    /// Key size in bits (1 to [`KEY_BITS_MAX`]).
    pub key_bits: u32,
    /// Start of validity, unix seconds.
    pub not_before: i64,
    /// End of validity, unix seconds (not before `not_before`).
    pub not_after: i64,
    /// Serial number, hex.
    pub serial: Serial,
    /// SHA-256 of the certificate's DER encoding.
    pub fingerprint_sha256: Sha256,
}

/// An AI model loaded on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiModel {
    /// The model's name, as its `ai-model-deployed` statement names it.
    pub id: ReportText,
    /// SHA-256 of the model file(s) as loaded.
    pub model_sha256: Sha256,
}

/// The latest checkpoint of the log the device verified (C2SP
/// tlog-checkpoint: tree size and root hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSeen {
    /// Tree size.
    pub size: u64,
    /// Root hash (RFC 9162 Merkle tree hash), hex.
    pub root_hash: Sha256,
}

/// Device Defender's device-side metrics and three counters, over the
/// interval since the device's previous report (lists and `num-` fields:
/// the state at report time).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Metrics {
    /// TCP ports listening (`aws:listening-tcp-ports`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening_tcp_ports: Option<PortSet>,
    /// UDP ports listening (`aws:listening-udp-ports`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening_udp_ports: Option<PortSet>,
    /// How many TCP ports listen (`aws:num-listening-tcp-ports`); at least
    /// the length of `listening-tcp-ports` when both are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_listening_tcp_ports: Option<u64>,
    /// How many UDP ports listen (`aws:num-listening-udp-ports`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_listening_udp_ports: Option<u64>,
    /// Established TCP connections (`aws:num-established-tcp-connections`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_established_tcp_connections: Option<u64>,
    /// Bytes received in the interval (`aws:all-bytes-in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_bytes_in: Option<u64>,
    /// Bytes sent in the interval (`aws:all-bytes-out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_bytes_out: Option<u64>,
    /// Packets received in the interval (`aws:all-packets-in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_packets_in: Option<u64>,
    /// Packets sent in the interval (`aws:all-packets-out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_packets_out: Option<u64>,
    /// Remote addresses of connections in the interval
    /// (`aws:destination-ip-addresses`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_ip_addresses: Option<AddressSet>,
    /// Failed authentication attempts against the device in the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_failures: Option<u64>,
    /// Reboots in the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboots: Option<u64>,
    /// Firmware update attempts in the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_attempts: Option<u64>,
}

/// The `type` tag: only `device-report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
enum ReportType {
    #[default]
    #[serde(rename = "device-report")]
    DeviceReport,
}

/// The `v` field: only [`REPORT_SCHEMA_VERSION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct SchemaVersion;

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(REPORT_SCHEMA_VERSION)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SchemaVersion, D::Error> {
        match u64::deserialize(d)? {
            REPORT_SCHEMA_VERSION => Ok(SchemaVersion),
            v => Err(de::Error::custom(format!("unsupported version {v}"))),
        }
    }
}

/// A device report. Every section is optional: `None` means the device did
/// not say (unknown), and each report is a whole snapshot (a section left
/// out is unknown, not "unchanged since the last report").
///
/// Built with [`DeviceReport::new`] and its public fields (the simulator),
/// written with [`DeviceReport::to_json`], read with [`DeviceReport::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceReport {
    #[serde(rename = "type")]
    kind: ReportType,
    v: SchemaVersion,
    /// Monotonic per device: every report has a larger counter than the
    /// device's previous one (replay protection, [`crate::replay`]).
    pub counter: u64,
    /// When the device made the report, unix seconds (not negative).
    pub timestamp: i64,
    /// The MQTT client identifier the device connects with (for
    /// `CONFLICTING_CLIENT_IDS_CHECK`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ReportText>,
    /// The firmware running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// Whether the boot chain verifies the firmware (ETSI 5.7-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<bool>,
    /// Whether keys and credentials are held in protected storage (secure
    /// element, TPM, TEE), as the device attests (ETSI 5.4-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_storage: Option<bool>,
    /// Debug interfaces enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_interfaces: Option<DebugInterfaces>,
    /// The services (daemons) running, by name. Optional, like every
    /// section: a report without it says nothing about services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ServiceSet>,
    /// How the login credentials were set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// What the TLS stack offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// The device certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Certificate>,
    /// Whether security event logging is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_enabled: Option<bool>,
    /// AI models loaded (ids unique).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_models: Option<Bounded<AiModel, AI_MODELS_MAX>>,
    /// Device Defender metrics and counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// The latest log checkpoint the device verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_seen: Option<CheckpointSeen>,
    /// A firmware update this report tells of (attempted, installed or
    /// failed). An `installed` update is the device's firmware from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Update>,
}

/// What is read of a payload that failed the strict parse, to say why.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<serde_json::Value>,
    v: Option<serde_json::Value>,
}

impl DeviceReport {
    /// A report with this counter and timestamp and no section.
    pub fn new(counter: u64, timestamp: i64) -> DeviceReport {
        DeviceReport {
            kind: ReportType::DeviceReport,
            v: SchemaVersion,
            counter,
            timestamp,
            client_id: None,
            firmware: None,
            secure_boot: None,
            secure_storage: None,
            debug_interfaces: None,
            services: None,
            credentials: None,
            tls: None,
            certificate: None,
            logging_enabled: None,
            ai_models: None,
            metrics: None,
            checkpoint_seen: None,
            update: None,
        }
    }

    /// Parses a report payload strictly.
    pub fn parse(payload: &[u8]) -> Result<DeviceReport, ReportError> {
        if payload.len() > REPORT_BYTES_MAX {
            return Err(ReportError::Oversized {
                bytes: payload.len(),
                max_bytes: REPORT_BYTES_MAX,
            });
        }
        match serde_json::from_slice::<DeviceReport>(payload) {
            Ok(report) => {
                lists_only_where_lists_belong(payload)?;
                report.check()?;
                Ok(report)
            }
            // Only a refused payload pays for the second reading that
            // says why and where.
            Err(_) => Err(explain(payload)),
        }
    }

    /// The payload bytes: compact JSON, fields in declaration order.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing these types cannot fail: no maps with non-string
        // keys, no floats, no custom serializer that errors.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The checks serde's derive cannot make: one field against another.
    fn check(&self) -> Result<(), ReportError> {
        if self.timestamp < 0 {
            return Err(ReportError::invalid("timestamp", "negative"));
        }
        if let Some(c) = &self.certificate {
            if c.key_bits == 0 || c.key_bits > KEY_BITS_MAX {
                return Err(ReportError::invalid(
                    "certificate.key_bits",
                    format!("expected 1 to {KEY_BITS_MAX}"),
                ));
            }
            if c.not_before < 0 || c.not_after < c.not_before {
                return Err(ReportError::invalid(
                    "certificate.not_after",
                    "before not_before (or not_before negative)",
                ));
            }
        }
        if let Some(u) = &self.update {
            match (u.state, &u.reason) {
                (UpdateState::Failed, None) => {
                    return Err(ReportError::invalid(
                        "update.reason",
                        "a failed update says why",
                    ))
                }
                (UpdateState::Attempted | UpdateState::Installed, Some(_)) => {
                    return Err(ReportError::invalid(
                        "update.reason",
                        "only a failed update has a reason",
                    ))
                }
                _ => {}
            }
        }
        if let Some(tls) = &self.tls {
            if tls.versions.is_empty() {
                return Err(ReportError::invalid(
                    "tls.versions",
                    "a tls section offers at least one version",
                ));
            }
        }
        if let Some(models) = &self.ai_models {
            for (i, m) in models.iter().enumerate() {
                if models.iter().take(i).any(|o| o.id == m.id) {
                    return Err(ReportError::invalid(
                        &format!("ai_models[{i}].id"),
                        format!("{:?} listed twice", m.id.as_str()),
                    ));
                }
            }
        }
        if let Some(m) = &self.metrics {
            for (list, count, path) in [
                (
                    &m.listening_tcp_ports,
                    m.num_listening_tcp_ports,
                    "metrics.num-listening-tcp-ports",
                ),
                (
                    &m.listening_udp_ports,
                    m.num_listening_udp_ports,
                    "metrics.num-listening-udp-ports",
                ),
            ] {
                if let (Some(list), Some(count)) = (list, count) {
                    if (list.len() as u64) > count {
                        return Err(ReportError::invalid(
                            path,
                            format!("{count} is fewer than the {} ports listed", list.len()),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Why `payload` failed the strict parse: another statement type, another
/// version, or the path of the first refused field.
fn explain(payload: &[u8]) -> ReportError {
    if payload.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return ReportError::invalid(".", "a report is a JSON object");
    }
    if let Ok(head) = serde_json::from_slice::<Head>(payload) {
        if let Some(kind) = head.kind {
            if kind.as_str() != Some(REPORT_TYPE) {
                return ReportError::WrongType(kind.to_string());
            }
        }
        if let Some(v) = head.v {
            if v.as_u64() != Some(REPORT_SCHEMA_VERSION) {
                return ReportError::UnsupportedVersion(v.to_string());
            }
        }
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    let result: Result<DeviceReport, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Err(e) => {
            let path = e.path().to_string();
            ReportError::invalid(&path, e.into_inner().to_string())
        }
        // Parsed this time: what failed was trailing bytes after the object.
        Ok(_) => match de.end() {
            Err(e) => ReportError::invalid(".", e.to_string()),
            Ok(()) => ReportError::invalid(".", "not a device report"),
        },
    }
}

/// The fields whose value is a list; every other value that is not a scalar
/// is an object.
const LIST_FIELDS: [&[u8]; 7] = [
    b"versions",
    b"services",
    b"cipher_suites",
    b"ai_models",
    b"listening-tcp-ports",
    b"listening-udp-ports",
    b"destination-ip-addresses",
];

/// serde's derived structs also accept a JSON array of their fields in
/// order (`"firmware": ["2.4.0", "..."]`); a report spells each section one
/// way only, so a JSON list is refused wherever a list field does not hold
/// it. One pass over bytes serde already accepted as JSON, so strings and
/// escapes are well formed; nothing is allocated but the nesting stack.
fn lists_only_where_lists_belong(payload: &[u8]) -> Result<(), ReportError> {
    enum Frame<'a> {
        Object { key: &'a [u8], expect_key: bool },
        List { of_objects: bool },
    }
    let refuse = |key: &[u8], what: &str| {
        ReportError::invalid(
            if key.is_empty() {
                "."
            } else {
                std::str::from_utf8(key).unwrap_or(".")
            },
            what,
        )
    };
    let mut stack: Vec<Frame<'_>> = Vec::with_capacity(4);
    let mut i = 0;
    while let Some(&b) = payload.get(i) {
        match b {
            b'"' => {
                let start = i + 1;
                i = start;
                while let Some(&c) = payload.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                if let Some(Frame::Object { key, expect_key }) = stack.last_mut() {
                    if *expect_key {
                        *key = payload.get(start..i).unwrap_or_default();
                        *expect_key = false;
                    }
                }
            }
            b'{' => {
                let allowed = match stack.last() {
                    None => true,
                    Some(Frame::Object { .. }) => true,
                    Some(Frame::List { of_objects }) => *of_objects,
                };
                if !allowed {
                    return Err(refuse(b"", "an object where a list of values belongs"));
                }
                stack.push(Frame::Object {
                    key: b"",
                    expect_key: true,
                });
            }
            b'[' => match stack.last() {
                Some(Frame::Object { key, .. }) if LIST_FIELDS.contains(key) => {
                    let of_objects = *key == b"ai_models";
                    stack.push(Frame::List { of_objects });
                }
                Some(Frame::Object { key, .. }) => {
                    return Err(refuse(key, "a list where an object or a value belongs"));
                }
                None => return Err(refuse(b"", "a report is a JSON object")),
                Some(Frame::List { .. }) => {
                    return Err(refuse(b"", "a list inside a list"));
                }
            },
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}
