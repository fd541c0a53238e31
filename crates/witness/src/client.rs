//! The log's side of c2sp.org/tlog-witness: submit a checkpoint to one remote
//! witness and get back its verified cosignature line(s).
//!
//! The client remembers, per origin, the size the witness last cosigned. It
//! starts from that (0 on first contact), and on a 409 learns the witness's
//! size from the `text/x.tlog.size` body and retries once with a proof from
//! that size. Every request has a deadline ([`CLIENT_REQUEST_TIMEOUT_S`]) and
//! every response body a size cap ([`CLIENT_RESPONSE_BYTES_MAX`]), so a slow
//! or hostile witness cannot hang or exhaust the log.
//!
//! Deliberately absent: retries with backoff, quorum policy over several
//! witnesses and persistence of the learned sizes (the caller decides those),
//! and TLS configuration (the `reqwest::Client` is handed in).

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tlog::note::{parse_signature_lines, KeyType};
use tlog::{verify_cosignature, Checkpoint, Hash, Note, TreeSize, Verifier};

use crate::server::TLOG_SIZE_CONTENT_TYPE;
use tlog::witness_wire::{parse_size_body, AddCheckpointRequest};

/// Deadline for one HTTP exchange with a witness, connect to last body byte,
/// in seconds. A witness does a signature check, a proof check and an fsync;
/// ten seconds is generous and still bounds how long a log waits.
pub const CLIENT_REQUEST_TIMEOUT_S: u64 = 10;

/// Largest witness response body read, in bytes. A response is a few
/// signature lines (ML-DSA-44 ones are ~3.3 kB each); anything bigger is not
/// a cosignature.
pub const CLIENT_RESPONSE_BYTES_MAX: usize = 64 * 1024;

/// Why a cosignature could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum WitnessClientError {
    /// The witness URL is not `http(s)://...`.
    #[error("witness URL must start with http:// or https://: {0:?}")]
    BadUrl(String),
    /// The witness vkey does not parse or is not a type 0x04 cosignature key.
    #[error("witness vkey: {0}")]
    BadVkey(String),
    /// The checkpoint to submit is not a signed checkpoint note.
    #[error("checkpoint to submit: {0}")]
    BadCheckpoint(String),
    /// The log could not produce the consistency proof the witness needs.
    #[error("consistency proof from size {old}: {reason}")]
    Prove {
        /// The size the proof was asked from.
        old: TreeSize,
        /// The prover's message.
        reason: String,
    },
    /// No complete answer within the request deadline.
    #[error("witness did not answer in time")]
    Timeout,
    /// Connection or protocol failure below HTTP semantics.
    #[error("witness transport: {0}")]
    Transport(String),
    /// The witness refused the checkpoint (400, 403, 404, 422, 5xx, ...).
    #[error("witness refused with status {status}: {body}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Start of the response body, for the operator.
        body: String,
    },
    /// The witness has cosigned a larger tree than this checkpoint: the
    /// checkpoint is stale, or the log forked or rolled back.
    #[error("witness already cosigned size {latest}, larger than this checkpoint")]
    WitnessAhead {
        /// The witness's size.
        latest: TreeSize,
    },
    /// Still a 409 after retrying from the size the witness named (another
    /// writer is racing this one).
    #[error("witness still answers 409 (its size: {latest}) after a retry")]
    Conflict {
        /// The size named in the last 409.
        latest: TreeSize,
    },
    /// The response is not a valid cosignature from this witness's key.
    #[error("witness response: {0}")]
    BadResponse(String),
}

/// One remote witness: its submission URL and its cosignature key.
pub struct WitnessClient {
    add_checkpoint_url: String,
    verifier: Verifier,
    http: reqwest::Client,
    request_timeout: Duration,
    // Per origin, the size this witness last cosigned as far as we know.
    known_size: Mutex<HashMap<String, TreeSize>>,
}

impl std::fmt::Debug for WitnessClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessClient")
            .field("add_checkpoint_url", &self.add_checkpoint_url)
            .finish_non_exhaustive()
    }
}

impl WitnessClient {
    /// A client for the witness whose *submission prefix* is `url` and whose
    /// key is the type 0x04 vkey `vkey`.
    pub fn new(url: &str, vkey: &str, http: reqwest::Client) -> Result<Self, WitnessClientError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(WitnessClientError::BadUrl(url.to_owned()));
        }
        let verifier =
            Verifier::from_vkey(vkey).map_err(|e| WitnessClientError::BadVkey(e.to_string()))?;
        if verifier.key_type() != KeyType::CosignatureV1 {
            return Err(WitnessClientError::BadVkey(
                "not a type 0x04 (Ed25519 cosignature/v1) key".into(),
            ));
        }
        Ok(Self {
            add_checkpoint_url: format!("{}/add-checkpoint", url.trim_end_matches('/')),
            verifier,
            http,
            request_timeout: Duration::from_secs(CLIENT_REQUEST_TIMEOUT_S),
            known_size: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the per-request deadline (default [`CLIENT_REQUEST_TIMEOUT_S`]).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The witness's cosigner name.
    pub fn name(&self) -> &str {
        self.verifier.name()
    }

    /// Sends the checkpoint with a consistency proof from the witness's last
    /// known size (cached; initially 0, then on 409 the client learns the size
    /// from the body and retries once with a proof obtained from
    /// `prove(old_size)`), verifies the returned cosignature(s) against the
    /// witness key and returns the verified signature lines (each ending in a
    /// newline).
    pub async fn add_checkpoint<F>(
        &self,
        checkpoint_note: &[u8],
        prove: F,
    ) -> Result<Vec<String>, WitnessClientError>
    where
        F: Fn(TreeSize) -> Result<Vec<Hash>, String>,
    {
        let note = Note::parse(checkpoint_note)
            .map_err(|e| WitnessClientError::BadCheckpoint(e.to_string()))?;
        let checkpoint = Checkpoint::parse_text(note.text())
            .map_err(|e| WitnessClientError::BadCheckpoint(e.to_string()))?;
        let origin = checkpoint.origin().to_owned();
        let size = checkpoint.size();

        let cached = self.known_size.lock().get(&origin).copied();
        // A cached size above this checkpoint cannot be proved from; start
        // from 0 and let the witness name its size.
        let mut old = cached.filter(|s| *s <= size).unwrap_or(TreeSize::new(0));
        for attempt in 0..2 {
            let proof = proof_from(old, size, &prove)?;
            let body = AddCheckpointRequest {
                old_size: old,
                proof,
                checkpoint: checkpoint_note.to_vec(),
            }
            .encode()
            .map_err(|e| WitnessClientError::Prove {
                old,
                reason: e.to_string(),
            })?;
            match self.post(body).await? {
                Answer::Cosigned(bytes) => {
                    let lines = self.verify_response(note.text(), &bytes)?;
                    self.known_size.lock().insert(origin, size);
                    return Ok(lines);
                }
                Answer::Conflict(latest) => {
                    if latest > size {
                        self.known_size.lock().insert(origin, latest);
                        return Err(WitnessClientError::WitnessAhead { latest });
                    }
                    if attempt == 1 || latest == old {
                        return Err(WitnessClientError::Conflict { latest });
                    }
                    self.known_size.lock().insert(origin.clone(), latest);
                    old = latest;
                }
                Answer::Refused { status, body } => {
                    return Err(WitnessClientError::Rejected { status, body })
                }
            }
        }
        Err(WitnessClientError::Conflict { latest: old })
    }

    async fn post(&self, body: Vec<u8>) -> Result<Answer, WitnessClientError> {
        let mut resp = self
            .http
            .post(&self.add_checkpoint_url)
            .timeout(self.request_timeout)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        // Read the body in chunks so a witness cannot make us buffer more
        // than the cap; the request timeout also covers this read.
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if bytes.len().saturating_add(chunk.len()) > CLIENT_RESPONSE_BYTES_MAX {
                return Err(WitnessClientError::BadResponse(format!(
                    "body longer than {CLIENT_RESPONSE_BYTES_MAX} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        match status {
            200 => Ok(Answer::Cosigned(bytes)),
            409 => {
                let media = content_type.split(';').next().unwrap_or("").trim();
                if !media.eq_ignore_ascii_case(TLOG_SIZE_CONTENT_TYPE) {
                    return Err(WitnessClientError::BadResponse(format!(
                        "409 with content type {content_type:?}"
                    )));
                }
                parse_size_body(&bytes)
                    .map(Answer::Conflict)
                    .map_err(|e| WitnessClientError::BadResponse(format!("409 body: {e}")))
            }
            _ => Ok(Answer::Refused {
                status,
                body: String::from_utf8_lossy(bytes.get(..bytes.len().min(200)).unwrap_or(&[]))
                    .trim()
                    .to_owned(),
            }),
        }
    }

    /// Keeps the lines from this witness's key, each of which must verify
    /// (signed-note: a known key's bad signature rejects the note); lines from
    /// other keys are ignored; at least one must be ours.
    fn verify_response(&self, text: &str, bytes: &[u8]) -> Result<Vec<String>, WitnessClientError> {
        let bad = |what: &str| WitnessClientError::BadResponse(what.to_owned());
        let sigs = parse_signature_lines(bytes).map_err(|e| bad(&e.to_string()))?;
        let mine: Vec<String> = sigs
            .iter()
            .filter(|s| self.verifier.matches(s))
            .map(|s| s.to_line())
            .collect();
        // The spec's suggested check: append the lines to the checkpoint and
        // verify it as a note with the witness key.
        let note = Note::new(text, sigs).map_err(|e| bad(&e.to_string()))?;
        match verify_cosignature(&note, &self.verifier) {
            Ok(Some(timestamp_s)) if timestamp_s > 0 => Ok(mine),
            Ok(Some(_)) => Err(bad("cosignature timestamp is zero")),
            Ok(None) => Err(bad("no cosignature from the witness key")),
            Err(e) => Err(bad(&format!("cosignature does not verify: {e}"))),
        }
    }
}

enum Answer {
    Cosigned(Vec<u8>),
    Conflict(TreeSize),
    Refused { status: u16, body: String },
}

fn proof_from<F>(old: TreeSize, size: TreeSize, prove: &F) -> Result<Vec<Hash>, WitnessClientError>
where
    F: Fn(TreeSize) -> Result<Vec<Hash>, String>,
{
    // Nothing to prove from the empty tree or to the same size.
    if old.get() == 0 || old == size {
        return Ok(Vec::new());
    }
    prove(old).map_err(|reason| WitnessClientError::Prove { old, reason })
}

fn transport(e: reqwest::Error) -> WitnessClientError {
    if e.is_timeout() {
        WitnessClientError::Timeout
    } else {
        WitnessClientError::Transport(e.to_string())
    }
}
