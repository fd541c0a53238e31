//! The demo's secure update (step 13): Acme's DC-200 firmware images and
//! release manifests, and the door controller updated from 2.4.1 to 2.5.0,
//! checked by the door's own verifier (`ota-verify`).

use std::time::Duration;

use anyhow::{bail, Context, Result};
use twin::StatementBody;

use crate::demo::{register, signed, DOOR};

/// Acme's DC-200 firmware image of `version`: 256 KiB, reproducible.
pub(crate) fn firmware_image(version: &str) -> Vec<u8> {
    use sha2::Digest;
    const IMAGE_BYTES: usize = 256 * 1024;
    let mut image = format!("ACME DC-200 firmware {version}\n").into_bytes();
    let mut block = sha2::Sha256::digest(format!("acme/DC-200 {version}").as_bytes());
    while image.len() < IMAGE_BYTES {
        image.extend_from_slice(&block);
        block = sha2::Sha256::digest(block);
    }
    image.truncate(IMAGE_BYTES);
    image
}

/// The door controller's hardware id (its board revision), named by Acme's
/// release manifests.
pub(crate) const DOOR_HARDWARE_ID: &str = "acme-dc200-rev-c";

/// Acme's release manifest of DC-200 firmware `version` (its image from
/// [`firmware_image`]).
pub(crate) fn door_release(
    version: &str,
    counter: u64,
    min_version: &str,
    support_end: &str,
) -> StatementBody {
    use sha2::Digest;
    let image = firmware_image(version);
    crate::statements::firmware_released(crate::statements::FirmwareRelease {
        version: version.into(),
        image_sha256: hex::encode(sha2::Sha256::digest(&image)),
        image_sha512: Some(hex::encode(sha2::Sha512::digest(&image))),
        image_length: Some(image.len() as u64),
        hardware_ids: vec![DOOR_HARDWARE_ID.into(), "acme-dc200-rev-d".into()],
        release_counter: Some(counter),
        min_version: Some(min_version.into()),
        support_end: Some(support_end.into()),
        ..Default::default()
    })
}

/// Where the demo writes a DC-200 image.
pub(crate) fn door_image_file(version: &str) -> String {
    format!("firmware/acme-dc-200-{version}.bin")
}

/// The vulnerability the demo's advisory discloses in DC-200 2.4.1's busybox.
const DEMO_VULNERABILITY: &str = "SECTWIN-DEMO-2026-0001";

/// The door reports its update through the broker, as a device does: an
/// `attempted` report, then `installed` (`docs/device-reports.md`), signed
/// with its own key; answers the installed report's entry once the twin
/// holds it.
async fn report_update(
    node: &node::Node,
    broker: &str,
    door_key: &scitt::SigningKey,
    from_sha256: &str,
    to_sha256: &str,
) -> Result<u64> {
    use device_channel::simulate::{publish, FirmwareImage, SimDevice, UpdateOutcome};
    let (host, port) = broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .with_context(|| format!("--device-broker {broker:?}: expected HOST:PORT"))?;
    let mut door = SimDevice {
        id: DOOR.into(),
        key: scitt::SigningKey::from_pem(&door_key.to_pem()).context("the door's key")?,
        counter: 1,
        plants: Vec::new(),
    };
    let image = |version: &str, sha: &str| FirmwareImage {
        version: version.into(),
        image_sha256: sha.into(),
    };
    // The update started a little before now: its outcome is not in the future.
    let start = crate::now_unix_s() - device_channel::simulate::UPDATE_DURATION_S - 5;
    let (reports, _) = door.update_reports(
        &image("2.4.1", from_sha256),
        &image("2.5.0", to_sha256),
        UpdateOutcome::Installs,
        start,
    );
    let messages = reports
        .iter()
        .map(|r| (door.topic(), door.sign(r)))
        .collect();
    publish(
        &host,
        port,
        &format!("sectwin-demo-door-{start:x}"),
        messages,
        0,
    )
    .await?;
    let id = twin::DeviceId::new(DOOR).context("the door's id")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let latest = node
            .projector
            .store()
            .twin(&id)
            .ok()
            .flatten()
            .and_then(|t| t.updates.latest)
            .filter(|u| u.version == "2.5.0" && u.state == twin::update::UpdateState::Installed);
        if let Some(u) = latest {
            println!(
                "   #{:<3} device:{DOOR:<15} update report: installed 2.5.0, published through mqtt://{host}:{port}, signed by the door: its twin's firmware is now 2.5.0",
                u.entry
            );
            return Ok(u.entry);
        }
        if std::time::Instant::now() > deadline {
            bail!("the door's update report did not reach its twin within 15 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The factory provisions the door controller for secure updates: its trust
/// state names the log's key and witness, Acme's keys, its hardware and what
/// it runs ([`ota_step`] updates it). Written to `DATA/ota/`.
pub(crate) async fn provision_door(root: &str, data: &std::path::Path) -> Result<()> {
    let state = crate::ota_cmds::fetch_state(root, "acme/DC-200", DOOR_HARDWARE_ID, Some("2.4.1"))
        .await
        .context("provisioning the door's trust state")?;
    let dir = data.join("ota");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("{DOOR}.state.json"));
    std::fs::write(&file, state.to_json())?;
    println!(
        "   the factory provisions {DOOR} for secure updates: {} (log key + witness quorum, {} keys, release counter {})",
        file.display(),
        state.keys.len(),
        state.release_counter
    );
    Ok(())
}

/// Step 13: the door controller updates from 2.4.1 (vulnerable) to 2.5.0
/// (fixed). The update server builds the offline proof bundle for the door's
/// trust state; the door's verifier (the `ota-verify` crate, as on the device)
/// accepts the fixed image, refuses a tampered one and a rollback to 2.4.1;
/// the door reports the installed update, signed with its own key.
pub(crate) async fn ota_step(
    http: &reqwest::Client,
    root: &str,
    data: &std::path::Path,
    node: &node::Node,
    door_key: &scitt::SigningKey,
    broker: Option<&str>,
    operator: &str,
) -> Result<()> {
    use crate::ota_cmds::{checkpoint_size, fetch_bundle, read_state};
    use ota_verify::{digest_image, verify, Options};
    println!("\n14. secure update of {DOOR}: 2.4.1 (vulnerable) to 2.5.0 (fixed), checked by the door itself");
    let ota = data.join("ota");
    let state_file = ota.join(format!("{DOOR}.state.json"));
    let state = read_state(&state_file)?;
    let fixed = firmware_image("2.5.0");
    let fixed_file = data.join(door_image_file("2.5.0"));
    std::fs::write(&fixed_file, &fixed)?;
    let from = checkpoint_size(&state)?;
    let bundle = fetch_bundle(root, "acme/DC-200", "2.5.0", from).await?;
    let bundle_file = ota.join("acme-dc-200-2.5.0.bundle.json");
    std::fs::write(&bundle_file, &bundle)?;
    println!(
        "   the update server builds the proof bundle for the door's state (checkpoint size {from}): {} bytes (manifest + tlog-proof under the witnessed checkpoint + consistency proof)",
        bundle.len()
    );
    let accepted = verify(&digest_image(&fixed), &bundle, &state, &Options::default())
        .map_err(|r| anyhow::anyhow!("the door refused the fixed image: {r}"))?;
    println!(
        "   the door's verifier ACCEPTS {}: Acme's key at entry {}, included under a checkpoint of {} entries signed by the log and cosigned by the witness, consistent with its own; counter {} > {}",
        door_image_file("2.5.0"),
        accepted.manifest_entry,
        accepted.checkpoint_size,
        accepted.release_counter,
        state.release_counter
    );
    let mut tampered = fixed.clone();
    if let Some(b) = tampered.get_mut(4096) {
        *b ^= 1;
    }
    match verify(
        &digest_image(&tampered),
        &bundle,
        &state,
        &Options::default(),
    ) {
        Err(r) => println!(
            "   a tampered image with the same bundle: REFUSED ({}): {r}",
            r.code()
        ),
        Ok(_) => bail!("the door accepted a tampered image"),
    }
    // Installed: the door persists its new state and says so, signed.
    let new_state = accepted.state;
    std::fs::write(&state_file, new_state.to_json())?;
    let sha = |image: &[u8]| hex::encode(digest_image(image).sha256);
    let entry = match broker {
        Some(broker) => {
            report_update(
                node,
                broker,
                door_key,
                &sha(&firmware_image("2.4.1")),
                &sha(&fixed),
            )
            .await?
        }
        None => {
            let installed = StatementBody::FirmwareInstalled {
                version: "2.5.0".into(),
                image_sha256: sha(&fixed),
            };
            let statement = signed(
                &format!("device:{DOOR}"),
                &format!("device:{DOOR}"),
                &installed,
                door_key,
            );
            let service_key = node
                .scitt
                .service_keys()
                .into_iter()
                .next()
                .context("service key")?;
            let entry = register(http, root, &statement, &service_key).await?;
            println!(
                "   #{entry:<3} device:{DOOR:<15} firmware-installed 2.5.0, signed by the door"
            );
            entry
        }
    };
    println!("   its new trust state: {}", state_file.display());
    // A rollback to the vulnerable release: genuine, signed, witnessed, refused.
    if !node
        .projector
        .wait_projected(entry + 1, Duration::from_secs(10))
        .await
    {
        bail!("the twins did not reflect the door's update within 10 s");
    }
    let rollback = fetch_bundle(root, "acme/DC-200", "2.4.1", checkpoint_size(&new_state)?).await?;
    match verify(
        &digest_image(&firmware_image("2.4.1")),
        &rollback,
        &new_state,
        &Options::default(),
    ) {
        Err(r) => println!(
            "   a rollback to 2.4.1 (its genuine bundle): REFUSED ({}): {r}",
            r.code()
        ),
        Ok(_) => bail!("the door accepted a rollback"),
    }
    std::fs::write(ota.join("acme-dc-200-2.4.1.bundle.json"), &rollback)?;
    // The roll-out of the fix, from the devices' own signed statements.
    let view: api_types::rollout::RolloutView = http
        .get(format!(
            "{root}/api/v1/rollout/vulnerabilities/{DEMO_VULNERABILITY}"
        ))
        .bearer_auth(operator)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!(
        "   roll-out of the fix for {DEMO_VULNERABILITY} (as operator.example): {} device(s), {} patched, {} pending, {} stuck",
        view.devices, view.patched, view.pending, view.stuck
    );
    for row in view.rows.iter().filter(|r| r.device.ends_with(DOOR)) {
        println!(
            "     {} {} on {}: evidence entry {} (its own signed report){}",
            row.device,
            format!("{:?}", row.state).to_lowercase(),
            row.firmware.as_deref().unwrap_or("?"),
            row.evidence_entry.map_or("-".into(), |e| e.to_string()),
            row.time_to_fix_s
                .map(|t| format!(", fixed {} min after it was first exposed", t / 60))
                .unwrap_or_default()
        );
    }
    println!("   the dashboard: {root}/#/rollout/vulnerabilities/{DEMO_VULNERABILITY}");
    println!(
        "   the same checks from a shell: sectwin ota verify {} --bundle {} --state {}",
        fixed_file.display(),
        bundle_file.display(),
        state_file.display()
    );
    Ok(())
}
