//! Unit tests of the activator handle: boundaries, atomicity, concurrency.
use super::*;
use license_common::envelope::Kind;
use license_common::signing::IssuerKey;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn license(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut v = serde_json::json!({
        "format": 1, "id": "L-1", "product": "data-platform", "account": "acct-1",
        "licensee": "Acme", "region": "cn-hangzhou", "edition": "basic_rnd", "engine": null,
        "plan": "subscription", "issued_at": "2026-01-01T00:00:00Z",
        "not_before": "2026-01-01T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z",
        "grace_days": 14, "activate_by": null, "settlement": "enterprise",
        "packages": {"data_service": {"tier": "api.base", "includes": ["api.base"], "limits": {"qps": 500}}},
        "quotas": {}, "supersedes": null, "sequence": 1, "notice_days": 30
    });
    edit(&mut v);
    v
}

fn setup() -> (tempfile::TempDir, IssuerKey, Activator) {
    let dir = tempfile::tempdir().unwrap();
    let key = IssuerKey::from_seed(&[9; 32]);
    let (act, _) = Activator::init(&dir.path().join("s"), &Init::new("data-platform", &[*key.public()])).unwrap();
    (dir, key, act)
}

fn seal(key: &IssuerKey, v: &serde_json::Value) -> String {
    key.seal(Kind::License, v.to_string().as_bytes())
}

#[test]
fn validity_window_boundaries_are_exact() {
    let (_d, key, mut act) = setup();
    let token = seal(&key, &license(|_| {}));
    assert!(matches!(act.verify(&token, t("2025-12-31T23:59:59Z")), Err(ActivatorError::NotYetValid { .. })));
    assert!(act.verify(&token, t("2026-01-01T00:00:00Z")).is_ok());
    assert!(act.verify(&token, t("2026-12-31T23:59:59Z")).is_ok());
    assert!(matches!(act.verify(&token, t("2027-01-01T00:00:00Z")), Err(ActivatorError::Expired { .. })));
    act.activate(&token, t("2026-06-01")).unwrap();
    assert_eq!(act.status(t("2026-12-31T23:59:59Z")).phase, "active");
    assert_eq!(act.status(t("2027-01-01T00:00:00Z")).phase, "grace");
    assert_eq!(act.status(t("2027-01-14T23:59:59Z")).phase, "grace");
    assert_eq!(act.status(t("2027-01-15T00:00:00Z")).phase, "released");
    assert_eq!(act.status(t("2027-01-15T00:00:00Z")).edition, "community");
    assert!(act.check("data_service", None, t("2026-12-31T23:59:59Z")).is_ok());
    assert!(matches!(act.check("data_service", None, t("2027-01-01")), Err(Denied::InGrace { .. })));
    assert!(matches!(act.check("data_service", None, t("2027-01-15")), Err(Denied::Released { .. })));
}

#[test]
fn activation_window_boundary_is_exact() {
    let (_d, key, act) = setup();
    let token = seal(
        &key,
        &license(|v| {
            v["plan"] = "pay_as_you_go".into();
            v["activate_by"] = "2026-01-08T00:00:00Z".into();
        }),
    );
    assert!(act.verify(&token, t("2026-01-08T00:00:00Z")).is_ok());
    assert!(matches!(
        act.verify(&token, t("2026-01-08T00:00:01Z")),
        Err(ActivatorError::ActivationWindowClosed { .. })
    ));
}

#[test]
fn reopening_sees_what_was_activated() {
    let (dir, key, mut act) = setup();
    act.activate(&seal(&key, &license(|_| {})), t("2026-06-01")).unwrap();
    let reopened = Activator::open(&dir.path().join("s")).unwrap();
    assert_eq!(reopened.current().unwrap().license.id, "L-1");
    assert_eq!(reopened.current().unwrap().activated_at, t("2026-06-01"));
}

#[test]
fn a_refusal_leaves_the_files_untouched() {
    let (dir, key, mut act) = setup();
    act.activate(&seal(&key, &license(|_| {})), t("2026-06-01")).unwrap();
    let state = dir.path().join("s/state.json");
    let before = std::fs::read(&state).unwrap();
    let other = seal(&key, &license(|v| v["product"] = "observability".into()));
    assert!(matches!(act.activate(&other, t("2026-06-01")), Err(ActivatorError::WrongProduct { .. })));
    assert_eq!(std::fs::read(&state).unwrap(), before);
    assert_eq!(act.current().unwrap().license.id, "L-1");
}

#[test]
fn init_twice_is_refused() {
    let (dir, key, _act) = setup();
    assert!(matches!(
        Activator::init(&dir.path().join("s"), &Init::new("data-platform", &[*key.public()])),
        Err(ActivatorError::AlreadyInitialised { .. })
    ));
}

#[test]
fn concurrent_writers_in_one_process_never_corrupt_the_state() {
    let (dir, key, _act) = setup();
    let path = dir.path().join("s");
    let tokens: Vec<String> = (1..=8)
        .map(|n| {
            seal(
                &key,
                &license(|v| {
                    v["id"] = format!("L-{n}").into();
                    v["sequence"] = n.into();
                }),
            )
        })
        .collect();
    std::thread::scope(|s| {
        for token in &tokens {
            let path = path.clone();
            s.spawn(move || {
                let mut act = Activator::open(&path).unwrap();
                // Refusals for being older than what another thread wrote are fine.
                let _ = act.activate(token, t("2026-06-01"));
            });
        }
    });
    let act = Activator::open(&path).unwrap();
    assert!(act.current().is_some());
    let mut names: Vec<_> =
        std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [".lock", "install.key", "state.gen", "state.json", "state.key"],
        "no temporary file is left behind"
    );
}

#[test]
fn a_format_1_directory_is_read_and_migrated_at_its_next_change() {
    let (dir, key, mut act) = setup();
    act.activate(&seal(&key, &license(|_| {})), t("2026-06-01")).unwrap();
    let state_dir = dir.path().join("s");
    // Rewrite the directory as release 1 left it: the keys in keyring.json,
    // no MAC, no state key.
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_dir.join("state.json")).unwrap()).unwrap();
    let keys = state["keyring"].take();
    let obj = state.as_object_mut().unwrap();
    for field in
        ["keyring", "revocation_list", "chains", "released", "sent", "attested", "machine", "generation", "mac"]
    {
        obj.remove(field);
    }
    obj.insert("format".into(), 1.into());
    std::fs::remove_file(state_dir.join(crate::integrity::STATE_KEY_FILE)).unwrap();
    std::fs::remove_file(state_dir.join(crate::integrity::GENERATION_FILE)).unwrap();
    std::fs::write(state_dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    std::fs::write(
        state_dir.join(crate::LEGACY_KEYRING_FILE),
        serde_json::to_vec(&serde_json::json!({"format": 1, "keys": keys})).unwrap(),
    )
    .unwrap();

    let mut old = Activator::open(&state_dir).unwrap();
    assert_eq!(old.current().unwrap().license.id, "L-1", "read as it is");
    assert!(state_dir.join(crate::LEGACY_KEYRING_FILE).exists(), "reading writes nothing");
    old.record_usage(t("2026-06-02").as_datetime().date_naive(), 3, t("2026-06-02")).unwrap();
    assert!(!state_dir.join(crate::LEGACY_KEYRING_FILE).exists(), "one file after the first change");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_dir.join("state.json")).unwrap()).unwrap();
    assert_eq!(written["format"], 3);
    assert_eq!(written["keyring"].as_array().unwrap().len(), 1);
    assert_eq!(written["chains"][0]["seen"], 1, "the license in force seeds its chain's floor");
    assert!(state_dir.join(crate::integrity::STATE_KEY_FILE).exists(), "the MAC key is made at the first write");
    assert_eq!(Activator::open(&state_dir).unwrap().current().unwrap().license.id, "L-1");
}

#[test]
fn status_is_the_same_for_the_same_snapshot_and_time_and_writes_nothing() {
    let (dir, key, mut act) = setup();
    act.activate(&seal(&key, &license(|_| {})), t("2026-06-01")).unwrap();
    let before = std::fs::read(dir.path().join("s/state.json")).unwrap();
    let at = t("2026-12-20");
    assert_eq!(act.status(at), act.status(at));
    assert_eq!(act.status(at), Activator::open(&dir.path().join("s")).unwrap().status(at));
    assert_eq!(std::fs::read(dir.path().join("s/state.json")).unwrap(), before);
}

#[test]
fn keys_compiled_in_survive_a_revocation_import_and_its_retirements_apply_to_them() {
    use license_common::revocation::{RetiredKey, RevocationList};
    let dir = tempfile::tempdir().unwrap();
    let key = IssuerKey::from_seed(&[9; 32]);
    let lists = IssuerKey::from_seed(&[10; 32]);
    let compiled = Keyring::from_keys([*key.public(), *lists.public()]);
    let mut act = Activator::open_with_keyring(&dir.path().join("s"), "data-platform", compiled.clone()).unwrap();
    act.activate(&seal(&key, &license(|_| {})), t("2026-06-01")).unwrap();
    let list = RevocationList {
        format: 1,
        sequence: 1,
        issued_at: t("2026-06-02"),
        revoked: Vec::new(),
        retired_keys: vec![RetiredKey { kid: key.kid(), not_after: t("2025-12-01"), reason: "rotated".into() }],
        floors: Vec::new(),
        distrusted_keys: Vec::new(),
    };
    // A list that retires its own signing key before its own date is refused.
    let own = key.seal(Kind::RevocationList, &serde_json::to_vec(&list).unwrap());
    assert!(matches!(act.import_revocations(&own, t("2026-06-03")), Err(ActivatorError::RevocationsKeyRetired { .. })));
    act.import_revocations(&lists.seal(Kind::RevocationList, &serde_json::to_vec(&list).unwrap()), t("2026-06-03"))
        .unwrap();
    assert!(act.status(t("2026-06-03")).keys_compiled_in);
    assert_eq!(act.keyring().get(&key.kid()).unwrap().not_after, Some(t("2025-12-01")));
    assert!(act.current().is_none(), "the license was signed after the key's retirement");
    let reopened = Activator::open_with_keyring(&dir.path().join("s"), "data-platform", compiled).unwrap();
    assert_eq!(reopened.keyring().get(&key.kid()).unwrap().not_after, Some(t("2025-12-01")), "kept after a restart");
    assert!(matches!(act.trust_remove(key.kid()), Err(ActivatorError::KeysCompiledIn)));
}

/// A state written with a valid MAC (as by someone who holds `state.key`)
/// is still checked against what it holds: a license for another install,
/// product or region, or below a chain floor, is not accepted on open.
#[test]
fn a_state_with_a_valid_mac_is_still_re_derived_on_open() {
    let (dir, key, mut act) = setup();
    act.activate(&seal(&key, &license(|_| {})), t("2026-06-01")).unwrap();
    let path = dir.path().join("s");
    let store = crate::state::Store::new(&path);
    type Edit<'a> = Box<dyn Fn(&mut crate::state::StateFile) + 'a>;
    let cases: Vec<(&str, Edit<'_>)> = vec![
        (
            "bound to another install",
            Box::new(|s| {
                let bound = seal(&key, &license(|l| l["install"] = "00112233445566ff".into()));
                s.license.as_mut().unwrap().token = bound;
            }),
        ),
        ("another product", Box::new(|s| s.product = "observability".into())),
        ("another region", Box::new(|s| s.region = Some("cn-beijing".into()))),
        (
            "below its chain's floor",
            Box::new(|s| {
                s.chains[0].seen = 7;
                s.chains[0].seen_license = "L-7".into();
            }),
        ),
    ];
    let clean = store.read().unwrap();
    for (what, edit) in cases {
        let mut state = clean.clone();
        edit(&mut state);
        store.write(&state).unwrap();
        let reopened = Activator::open(&path).unwrap();
        assert!(reopened.current().is_none(), "{what}: the license is not accepted");
        let warnings = reopened.status(t("2026-06-02")).warnings;
        assert!(warnings.iter().any(|w| w.contains("no longer accepted")), "{what}: {warnings:?}");
    }
}

/// An older license of a chain never comes back, with or without a license
/// in force: after a deactivation, after a revocation that drops the one in
/// force, after history is compacted.
#[test]
fn chain_floors_hold_without_a_license_in_force() {
    let (_d, key, mut act) = setup();
    let first = seal(&key, &license(|_| {}));
    let second = seal(
        &key,
        &license(|l| {
            l["id"] = "L-2".into();
            l["sequence"] = 2.into();
        }),
    );
    act.activate(&second, t("2026-06-01")).unwrap();
    act.deactivate(t("2026-06-02")).unwrap();
    assert!(matches!(act.activate(&first, t("2026-06-03")), Err(ActivatorError::BelowFloor { seen: 2, .. })));
    // The receipt of the release is kept and given again.
    let again = act.deactivate(t("2026-06-04")).unwrap();
    assert!(!again.now && again.license_id == "L-2");
    // A revocation floor from a list: the chain is void up to sequence 3.
    let list = license_common::revocation::RevocationList {
        format: 2,
        sequence: 1,
        issued_at: t("2026-06-05"),
        revoked: Vec::new(),
        retired_keys: Vec::new(),
        floors: vec![license_common::revocation::Floor {
            product: "data-platform".into(),
            account: "acct-1".into(),
            region: "cn-hangzhou".into(),
            sequence: 3,
            reason: "fraud".into(),
            revoked_at: t("2026-06-05"),
        }],
        distrusted_keys: Vec::new(),
    };
    act.import_revocations(&key.seal(Kind::RevocationList, &serde_json::to_vec(&list).unwrap()), t("2026-06-06"))
        .unwrap();
    let third = seal(
        &key,
        &license(|l| {
            l["id"] = "L-3".into();
            l["sequence"] = 3.into();
        }),
    );
    assert!(matches!(act.activate(&third, t("2026-06-07")), Err(ActivatorError::Revoked { .. })));
    let fourth = seal(
        &key,
        &license(|l| {
            l["id"] = "L-4".into();
            l["sequence"] = 4.into();
        }),
    );
    act.activate(&fourth, t("2026-06-07")).unwrap();
}

// Both vendors bill by China Standard Time (catalog `time_zone = "+08:00"`):
// a collector reporting at 07:00 in Beijing (23:00 UTC the day before) is
// counted on the Beijing day; without usage terms the day is UTC's.
#[test]
fn usage_days_begin_at_midnight_in_the_licenses_billing_time_zone() {
    let (_d, key, mut act) = setup();
    assert_eq!(act.usage_day(t("2026-06-09T23:00:00Z")).to_string(), "2026-06-09", "no license: UTC");
    let token = seal(
        &key,
        &license(|v| {
            v["plan"] = "pay_as_you_go".into();
            v["usage"] = serde_json::json!({
                "meter": "datakit", "unit": "DataKit", "units": "DataKits", "utc_offset_minutes": 480
            });
        }),
    );
    act.activate(&token, t("2026-06-01")).unwrap();
    assert_eq!(act.usage_terms().unwrap().units, "DataKits");
    assert_eq!(act.usage_day(t("2026-06-09T23:00:00Z")).to_string(), "2026-06-10", "07:00 in Beijing");
    assert_eq!(act.usage_day(t("2026-06-09T15:59:59Z")).to_string(), "2026-06-09", "23:59:59 in Beijing");
    assert_eq!(act.usage_day(t("2026-06-09T16:00:00Z")).to_string(), "2026-06-10", "midnight in Beijing");
}

#[test]
fn usage_is_taken_for_the_licenses_term_up_to_today_and_from_its_accounts_first_activation() {
    let (_d, key, mut act) = setup();
    let day = |s: &str| s.parse::<NaiveDate>().unwrap();
    // Term 2026-01-01 to 2027-01-01, UTC days (no usage terms).
    act.activate(&seal(&key, &license(|_| {})), t("2026-03-01")).unwrap();
    let late = t("2027-06-01");
    assert_eq!(act.record_usage(day("2026-01-01"), 4, late).unwrap(), 4, "the first day of the term");
    assert_eq!(act.record_usage(day("2027-01-01"), 4, late).unwrap(), 4, "the day the term ends");
    for (d, now) in [("2025-12-31", late), ("2027-01-02", late), ("2026-03-02", t("2026-03-01T23:59:59Z"))] {
        let err = act.record_usage(day(d), 4, now).unwrap_err();
        assert!(matches!(err, ActivatorError::UsageDayOutside { .. }), "{d}: {err}");
    }
    assert_eq!(act.record_usage(day("2026-03-01"), 4, t("2026-03-01T00:00:00Z")).unwrap(), 4, "today");
    // The renewal starts later, but the account ran here since its first
    // activation: the days in between are still its to report.
    let renewal = license(|v| {
        v["id"] = "L-2".into();
        v["sequence"] = 2.into();
        v["supersedes"] = "L-1".into();
        v["issued_at"] = "2026-12-01T00:00:00Z".into();
        v["not_before"] = "2026-12-01T00:00:00Z".into();
        v["expires_at"] = "2027-12-01T00:00:00Z".into();
    });
    act.activate(&seal(&key, &renewal), t("2026-12-02")).unwrap();
    assert_eq!(act.record_usage(day("2026-03-01"), 9, late).unwrap(), 9);
    let err = act.record_usage(day("2026-02-28"), 9, late).unwrap_err();
    assert!(err.to_string().contains("the license's term 2026-03-01 to 2027-12-01"), "{err}");
    let max = license_common::exchange::MAX_DAY_COUNT;
    assert_eq!(act.record_usage(day("2026-06-01"), max, late).unwrap(), max);
    assert!(matches!(
        act.record_usage(day("2026-06-01"), max + 1, late).unwrap_err(),
        ActivatorError::UsageCountTooLarge { .. }
    ));
}

/// A subscription whose plan changes to pay-as-you-go is a new order with a
/// window of its own: activated after it, the new license is refused and
/// the subscription stays in force (the vendor's ledger counts that order
/// lapsed, and bills nothing). An upgrade of an order activated in time
/// keeps its deadline and is no new activation.
#[test]
fn a_plan_change_to_pay_as_you_go_must_be_activated_in_its_own_window() {
    let subscription = license(|_| {});
    let payg = |id: &str, sequence: u64, supersedes: &str| {
        license(|v| {
            v["id"] = id.into();
            v["sequence"] = sequence.into();
            v["supersedes"] = supersedes.into();
            v["plan"] = "pay_as_you_go".into();
            v["issued_at"] = "2026-03-01T00:00:00Z".into();
            v["activate_by"] = "2026-03-08T00:00:00Z".into();
        })
    };
    for (at, in_time) in [("2026-03-09T00:00:00Z", false), ("2026-03-07T00:00:00Z", true)] {
        let (_d, key, mut act) = setup();
        act.activate(&seal(&key, &subscription), t("2026-02-01")).unwrap();
        let changed = seal(&key, &payg("L-2", 2, "L-1"));
        let done = act.activate(&changed, t(at));
        if !in_time {
            assert!(matches!(done, Err(ActivatorError::ActivationWindowClosed { .. })), "{done:?}");
            assert_eq!(act.current().unwrap().license.id, "L-1", "the subscription stays in force");
            continue;
        }
        done.unwrap();
        // An upgrade of the activated order, after its deadline: admitted.
        act.activate(&seal(&key, &payg("L-3", 3, "L-2")), t("2026-03-20")).unwrap();
        assert_eq!(act.current().unwrap().license.id, "L-3");
    }
}
