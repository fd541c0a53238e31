//! Simulated updates: each outcome gives the two reports a real device
//! sends (attempted, then installed or failed), both accepted by the
//! strict report parser, and a malicious update is the unreleased firmware
//! the detection's rule flags, while a genuine one is not.

use device_channel::simulate::{
    fleet, FirmwareImage, UpdateOutcome, MALICIOUS_IMAGE_SHA256, UPDATE_DURATION_S,
    UPDATE_FAILURE_REASON,
};
use posture::incident::{firmware_not_released, Releases};
use posture::report::{DeviceReport, Sha256, UpdateState};

fn image(version: &str, b: u8) -> FirmwareImage {
    FirmwareImage {
        version: version.into(),
        image_sha256: format!("{b:02x}").repeat(32),
    }
}

#[test]
fn each_update_outcome_reports_what_a_device_would_and_only_the_malicious_one_is_unreleased() {
    let from = image("2.4.0", 0xaa);
    let to = image("2.5.0", 0xab);
    let sha = |f: &FirmwareImage| Sha256::from_hex(&f.image_sha256).expect("digest");
    let releases = Releases::new([("2.4.0", sha(&from)), ("2.5.0", sha(&to))]);
    let now = 1_900_000_000;
    for (outcome, state, runs, flagged) in [
        (
            UpdateOutcome::Installs,
            UpdateState::Installed,
            to.clone(),
            false,
        ),
        (
            UpdateOutcome::Fails,
            UpdateState::Failed,
            from.clone(),
            false,
        ),
        (
            UpdateOutcome::Malicious,
            UpdateState::Installed,
            FirmwareImage {
                version: "2.5.0".into(),
                image_sha256: MALICIOUS_IMAGE_SHA256.into(),
            },
            true,
        ),
    ] {
        let mut d = fleet(3, "sim-", 1).pop().expect("a device");
        let ([attempted, ended], running) = d.update_reports(&from, &to, outcome, now);
        assert_eq!(running, runs, "{outcome:?}");
        assert_eq!(d.counter, 3, "two reports");
        let attempted = DeviceReport::parse(attempted.to_string().as_bytes()).expect("parses");
        let ended = DeviceReport::parse(ended.to_string().as_bytes()).expect("parses");
        let a = attempted.update.as_ref().expect("update");
        assert_eq!(
            (a.state, a.version.as_str()),
            (UpdateState::Attempted, "2.5.0")
        );
        assert_eq!(ended.timestamp - attempted.timestamp, UPDATE_DURATION_S);
        assert!(ended.counter > attempted.counter);
        let u = ended.update.as_ref().expect("update");
        assert_eq!(u.state, state, "{outcome:?}");
        assert_eq!(
            u.reason.as_ref().map(|r| r.as_str()),
            (outcome == UpdateOutcome::Fails).then_some(UPDATE_FAILURE_REASON)
        );
        assert_eq!(
            ended.firmware.as_ref().map(|f| f.image_sha256.to_hex()),
            Some(runs.image_sha256.clone())
        );
        assert_eq!(
            firmware_not_released(&d.id, &ended, &releases).is_some(),
            flagged,
            "{outcome:?}"
        );
        assert_eq!(firmware_not_released(&d.id, &attempted, &releases), None);
        assert_eq!(UpdateOutcome::from_name(outcome.name()), Some(outcome));
    }
}
