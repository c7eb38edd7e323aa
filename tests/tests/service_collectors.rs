//! Collectors through `activator serve`: seats under the license's cap and
//! freed after the lease, distinct collectors per billing day (China
//! Standard Time for the observability catalog) carried into the usage
//! report, and a service killed under load, 50 times, that loses no
//! acknowledged check-in and never damages the state.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use license_tests::service::{Served, token};
use license_tests::{Install, Vendor, run, workspace};

/// An observability install with a commercial license on `plan` (and `extra` order flags).
fn install(plan: &str, extra: &[&str]) -> (Vendor, Install) {
    let mut v = Vendor::new();
    v.catalog = workspace().join("catalogs/observability.toml");
    let mut cmd = v.issuer();
    cmd.args(["issue", "--key"])
        .arg(&v.key)
        .arg("--passphrase-file")
        .arg(&v.pass_file)
        .arg("--catalog")
        .arg(&v.catalog);
    cmd.args([
        "--account",
        "acct-obs",
        "--licensee",
        "Obs Ltd",
        "--region",
        "cn-hangzhou",
        "--edition",
        "commercial",
        "--plan",
        plan,
    ]);
    cmd.args(extra);
    let license = run(cmd, None).ok().trim().to_owned();
    let install = Install::of_product(&v, "observability");
    install.activate(&license).ok();
    (v, install)
}

#[test]
fn a_check_in_beyond_the_cap_is_refused_and_a_lapsed_lease_frees_its_seat() {
    let (_v, install) = install("subscription", &["--quota", "collectors=5"]);
    let collector = token(&install.state, "collector");
    let launcher = token(&install.state, "launcher");
    // Times are whole seconds: with a 4-second lease the sleeps below leave
    // a second of margin either way.
    let s = Served::start(&install.state, &["--seat-lease", "4"]);
    let check_in = |id: &str| s.send("POST", &format!("/v1/collectors/{id}/checkin"), Some(&collector), None);
    for i in 1..=5 {
        let v = check_in(&format!("dk-{i}")).expect(200);
        assert_eq!((v["new_seat"].as_bool(), v["cap"].as_u64()), (Some(true), Some(5)), "{v}");
    }
    let refused = check_in("dk-6").error(409, "not_entitled");
    assert_eq!(refused["case"], "ApiError::SeatsFull");
    assert!(refused["message"].as_str().unwrap().contains("all 5 collector seats"), "{refused}");
    // A collector that holds a seat keeps it.
    assert_eq!(check_in("dk-1").expect(200)["new_seat"], false);
    let seats = s.get("/v1/collectors", Some(&launcher)).expect(200);
    assert_eq!((seats["seats"]["used"].as_u64(), seats["seats"]["cap"].as_u64()), (Some(5), Some(5)), "{seats}");

    // dk-1..dk-4 keep checking in; dk-5 stops, and its seat is free once its lease runs out.
    std::thread::sleep(Duration::from_millis(2000));
    for i in 1..=4 {
        check_in(&format!("dk-{i}")).expect(200);
    }
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(check_in("dk-6").expect(200)["new_seat"], true, "dk-5's seat was freed");
    check_in("dk-7").error(409, "not_entitled");
    let metrics = s.get("/metrics", Some(&launcher)).expect(200);
    let metrics = metrics.as_str().unwrap();
    assert!(metrics.contains("activator_seats_cap 5"), "{metrics}");
    assert!(metrics.contains("activator_checkins_refused_total 2"), "{metrics}");

    // The seat table survives a restart.
    drop(s);
    let s = Served::start(&install.state, &["--seat-lease", "4"]);
    let seats = s.get("/v1/collectors", Some(&launcher)).expect(200);
    assert_eq!(seats["seats"]["used"], 5, "{seats}");
}

#[test]
fn usage_is_measured_as_distinct_collectors_per_billing_day_and_reported() {
    let (_v, install) = install("pay_as_you_go", &[]);
    let collector = token(&install.state, "collector");
    let admin = token(&install.state, "admin");
    let s = Served::start(&install.state, &[]);
    let mut day = None;
    for id in ["dk-a", "dk-b", "dk-a", "dk-c", "dk-b", "dk-a"] {
        let v = s.send("POST", &format!("/v1/collectors/{id}/checkin"), Some(&collector), None).expect(200);
        day.get_or_insert(v["day"].as_str().unwrap().to_owned());
    }
    let day = day.unwrap();
    // The billing day is China Standard Time's (the catalog's +08:00), not UTC's.
    let beijing = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive().to_string();
    assert_eq!(day, beijing, "billed on Beijing's day (the UTC+8 boundary itself is a unit test of the library)");
    let usage = s.get(&format!("/v1/usage?from={day}&to={day}"), Some(&admin)).expect(200);
    assert_eq!(usage["days"][0]["collectors"], 3, "{usage}");
    assert_eq!(usage["units"], "DataKits");
    // 3 DataKits are billed as the minimum of 20, at 5 CNY each.
    assert_eq!((usage["days"][0]["billed"].as_u64(), usage["days"][0]["amount"].as_u64()), (Some(20), Some(10_000)));
    assert_eq!((usage["minimum"].as_u64(), usage["currency"].as_str()), (Some(20), Some("CNY")));
    // Bad ids are refused.
    for bad in ["a%20b", "x%2Fy"] {
        s.send("POST", &format!("/v1/collectors/{bad}/checkin"), Some(&collector), None).error(400, "usage");
    }
    // The usage report carries the measured count, and the CLI's view agrees.
    let report = s.send("POST", &format!("/v1/files/usage-report?from={day}&to={day}"), Some(&admin), None).expect(200);
    let report = report.as_str().unwrap();
    let token_line = report.lines().filter(|l| !l.starts_with("-----") && !l.trim().is_empty()).collect::<String>();
    let payload = token_line.split('.').nth(2).expect("a compact token inside");
    use base64::Engine as _;
    let json: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(json["days"][&day], 3, "{json}");
    // Typed counts stay for installs that count elsewhere: the larger wins.
    install.run(&["usage", "record", "--count", "25", "--day", &day], None).ok();
    let usage = s.get(&format!("/v1/usage?from={day}&to={day}"), Some(&admin)).expect(200);
    assert_eq!((usage["days"][0]["collectors"].as_u64(), usage["days"][0]["count"].as_u64()), (Some(3), Some(25)));
}

#[test]
fn a_service_killed_under_load_50_times_loses_no_acknowledged_check_in() {
    let (_v, install) = install("pay_as_you_go", &[]);
    let collector = token(&install.state, "collector");
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let attempted = Arc::new(AtomicUsize::new(0));
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..50 {
        let s = Served::start(&install.state, &[]);
        let base = s.base.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (base, collector, acked, stop, attempted) =
                    (base.clone(), collector.clone(), acked.clone(), stop.clone(), attempted.clone());
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(5)))
                        .build()
                        .into();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("dk-{round}-{w}-{n}");
                        n += 1;
                        attempted.fetch_add(1, Ordering::Relaxed);
                        let reply = agent
                            .post(format!("{base}/v1/collectors/{id}/checkin"))
                            .header("Authorization", format!("Bearer {collector}"))
                            .send_empty();
                        let Ok(mut reply) = reply else { break };
                        if reply.status() == 200 {
                            let body: serde_json::Value = reply.body_mut().read_json().unwrap();
                            acked.lock().unwrap().push((id, body["day"].as_str().unwrap().to_owned()));
                        }
                    }
                })
            })
            .collect();
        // Kill at a pseudo-random moment, 20 to 150 ms into the load.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(20 + rng % 130));
        let mut s = s;
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        // The state is whole after every kill.
        install.run(&["status", "--json"], None).ok();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 500, "the load acknowledged only {} check-ins", acked.len());
    // Every acknowledged check-in is on disk: checking in again is not the
    // collector's first of the day.
    let s = Served::start(&install.state, &[]);
    for (id, day) in &acked {
        let v = s.send("POST", &format!("/v1/collectors/{id}/checkin"), Some(&collector), None).expect(200);
        if v["day"] == day.as_str() {
            assert_eq!(v["first_today"], false, "acknowledged check-in of {id} was lost");
        }
    }
    let day = &acked[0].1;
    let usage = s.get(&format!("/v1/usage?from={day}&to={day}"), Some(&collector)).status;
    assert_eq!(usage, 403, "a collector token reads nothing");
    println!(
        "{} check-ins acknowledged of {} attempted over 50 kills; none lost",
        acked.len(),
        attempted.load(Ordering::Relaxed)
    );
}

#[test]
fn the_billing_day_begins_at_midnight_in_the_licenses_time_zone_not_utcs() {
    // A license whose billing time zone puts its midnight between now and
    // the next UTC midnight (or the last one): the day a check-in counts on
    // differs from UTC's whatever the time this test runs.
    let now = chrono::Utc::now();
    let since_midnight = i32::try_from(now.timestamp().rem_euclid(86_400) / 60).unwrap();
    let to_midnight = 1440 - since_midnight;
    let (offset, expected) = if to_midnight + 30 <= 14 * 60 {
        (to_midnight + 30, now.date_naive().succ_opt().unwrap())
    } else {
        (-(since_midnight + 30), now.date_naive().pred_opt().unwrap())
    };
    let v = Vendor::new();
    let license = v.sign_custom(|l| {
        l.plan = license_common::license::Plan::PayAsYouGo;
        l.activate_by = Some(license_common::Timestamp::now().plus_days(7));
        l.usage = Some(license_common::license::UsageTerms {
            meter: "processing_unit".into(),
            unit: "processing unit".into(),
            units: "processing units".into(),
            utc_offset_minutes: offset,
            minimum_count: Some(1),
            unit_price_per_day: Some(600),
            currency: Some("CNY".into()),
        });
    });
    let install = Install::new(&v);
    install.activate(&license).ok();
    let collector = token(&install.state, "collector");
    let s = Served::start(&install.state, &[]);
    let v = s.send("POST", "/v1/collectors/pu-1/checkin", Some(&collector), None).expect(200);
    assert_eq!(v["day"], expected.to_string(), "offset {offset} min: UTC's day is {}", now.date_naive());
    // And the CLI's usage record takes the same day by default.
    let out = install.run(&["usage", "record", "--count", "2"], None).ok().to_owned();
    assert_eq!(out, format!("{expected}: 2 processing units\n"));
}
