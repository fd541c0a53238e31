//! `sectwin bench twin`: how fast the twin projection folds statements in
//! (the pure `twin::Projection::apply`, in memory: no log read, no signature
//! check, no storage), and how long one twin view takes at that size. This is
//! the ceiling for rebuilding twins from the log; the full reindex figure
//! adds reading the entries and checking signatures.

use std::time::Instant;

use anyhow::Result;
use twin::{ConsensusPolicy, Projection, Registered};

/// The statements of one device: registered, transferred, deployed, then
/// firmware reports endorsed by the operator, alternating with configuration
/// reports. `per_device` statements in all.
fn device_statements(d: u64, per_device: u64, first_entry: u64) -> Vec<(String, String, String)> {
    let subject = format!("device:d{d:08}");
    let mut out = vec![
        (
            "maker.example".to_string(),
            subject.clone(),
            format!(r#"{{"type":"device-registered","manufacturer":"Maker","model":"M-1","serial":"{d}"}}"#),
        ),
        (
            "maker.example".to_string(),
            subject.clone(),
            r#"{"type":"ownership-transferred","owner":"owner.example","operator":"op.example","maintainer":"fix.example"}"#.to_string(),
        ),
        (
            "maker.example".to_string(),
            subject.clone(),
            r#"{"type":"lifecycle-changed","to":"provisioned"}"#.to_string(),
        ),
        (
            "op.example".to_string(),
            subject.clone(),
            r#"{"type":"lifecycle-changed","to":"deployed"}"#.to_string(),
        ),
    ];
    let mut k = 0u64;
    while (out.len() as u64) < per_device {
        let entry = first_entry + out.len() as u64;
        if k.is_multiple_of(2) {
            out.push((
                subject.clone(),
                subject.clone(),
                format!(
                    r#"{{"type":"firmware-installed","version":"2.{k}","image_sha256":"ab{k:04}"}}"#
                ),
            ));
        } else {
            out.push((
                "op.example".to_string(),
                subject.clone(),
                format!(r#"{{"type":"endorse","entry":{}}}"#, entry - 1),
            ));
        }
        k += 1;
    }
    out.truncate(per_device as usize);
    out
}

/// Runs the benchmark and prints a table.
pub fn run(devices: u64, per_device: u64) -> Result<()> {
    let per_device = per_device.max(4);
    // Entries in log order, device by device (endorsements point at the
    // entry just before them).
    let mut log: Vec<(String, String, String)> =
        Vec::with_capacity((devices * per_device) as usize);
    for d in 0..devices {
        let first = log.len() as u64;
        log.extend(device_statements(d, per_device, first));
    }
    let total = log.len() as u64;
    let mut p = Projection::new(ConsensusPolicy::default());
    let start = Instant::now();
    for (i, (issuer, subject, payload)) in log.iter().enumerate() {
        p.apply(Registered {
            entry: i as u64,
            issuer,
            subject,
            payload: payload.as_bytes(),
        })
        .map_err(|e| anyhow::anyhow!("entry {i}: {e}"))?;
    }
    let apply_rate = total as f64 / start.elapsed().as_secs_f64();

    // Twin views of random devices.
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let device = twin::DeviceId(format!("d{:08}", x % devices));
        let t = Instant::now();
        let view = p
            .view(&device)
            .ok_or_else(|| anyhow::anyhow!("no twin {device:?}"))?;
        let json = serde_json::to_vec(&view)?;
        std::hint::black_box(json);
        let _ = hist.record(t.elapsed().as_nanos().max(1) as u64);
    }
    println!(
        "twin projection in memory: {devices} devices, {total} statements ({per_device} per device)"
    );
    println!("| figure | value |");
    println!("|---|---:|");
    println!(
        "| Projection::apply (parse + checks + fold), one core | {apply_rate:.0} statements/s |"
    );
    println!(
        "| twin view + JSON, p50 / p99 | {:.1} / {:.1} µs |",
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0
    );
    Ok(())
}
