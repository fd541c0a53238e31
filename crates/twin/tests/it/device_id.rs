//! A `DeviceId` is valid however it is made: by `new`, from a statement
//! subject, or read from JSON (a stored twin, a request body). It used to
//! be a public `String` read from JSON as is.

use twin::{DeviceId, StakeholderId};

#[test]
fn invalid_ids_are_refused_everywhere() {
    let long = "d".repeat(twin::model::DEVICE_ID_BYTES_MAX + 1);
    for bad in ["", "door\u{0}1", "door\n1", "\u{7f}", long.as_str()] {
        assert!(DeviceId::new(bad).is_err(), "new({bad:?})");
        assert!(
            DeviceId::from_subject(&format!("device:{bad}")).is_none(),
            "from_subject({bad:?})"
        );
        let json = serde_json::to_string(bad).expect("json");
        let err = serde_json::from_str::<DeviceId>(&json).expect_err(&json);
        assert!(err.to_string().contains("is not a device id"), "{err}");
    }
}

#[test]
fn valid_ids_round_trip() {
    let longest = "d".repeat(twin::model::DEVICE_ID_BYTES_MAX);
    for good in ["door-1", "assets/5f1c", "caméra 7", longest.as_str()] {
        let id = DeviceId::new(good).expect(good);
        assert_eq!(id.as_str(), good);
        assert_eq!(id.to_string(), good);
        assert_eq!(id.subject(), format!("device:{good}"));
        assert_eq!(DeviceId::from_subject(&id.subject()), Some(id.clone()));
        let json = serde_json::to_string(&id).expect("json");
        assert_eq!(json, serde_json::to_string(good).expect("json"));
        assert_eq!(serde_json::from_str::<DeviceId>(&json).expect("read"), id);
    }
}

#[test]
fn a_stored_twin_with_an_invalid_device_id_does_not_load() {
    // The shape a twin is stored in: a device id inside a larger record.
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Stored {
        device: DeviceId,
        manufacturer: StakeholderId,
    }
    let ok: Stored =
        serde_json::from_str(r#"{"device":"door-1","manufacturer":"acme.example"}"#).expect("ok");
    assert_eq!(ok.device.as_str(), "door-1");
    let err = serde_json::from_str::<Stored>(r#"{"device":"","manufacturer":"acme.example"}"#)
        .expect_err("empty id");
    assert!(err.to_string().contains("is not a device id"), "{err}");
}
