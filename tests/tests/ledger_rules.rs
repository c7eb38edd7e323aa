//! The ledger as the single source of truth: what installs send back is
//! checked against the license it names, bills count only days owed, the
//! audit trusts only the caller's keys and compares every derived column,
//! listings filter and page, and a license not started keeps its start.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use license_activator::Activator;
use license_common::Timestamp;
use license_common::envelope::{Kind, assemble, signing_input};
use license_common::exchange::{ActivationReceipt, DeactivationReceipt, EXCHANGE_FORMAT, UsageReport};
use license_common::license::Plan;
use license_common::signing::IssuerKey;
use license_issuer::ledger::{DayState, Ledger};
use license_issuer::order::Order;
use license_issuer::{IssuerError, catalogs};
use license_tests::{Install, Run, Vendor, run};
use serde::Serialize;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn t0() -> Timestamp {
    t("2026-05-01T08:00:00Z")
}

fn order(account: &str, plan: Plan) -> Order {
    Order {
        account: account.into(),
        licensee: "Rules Ltd".into(),
        region: "cn-hangzhou".into(),
        edition: "commercial".into(),
        plan: Some(plan),
        ..Order::default()
    }
}

struct World {
    dir: tempfile::TempDir,
    key: IssuerKey,
    ledger: Ledger,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    World { dir, key: IssuerKey::from_seed(&[21; 32]), ledger }
}

impl World {
    fn install(&self, name: &str) -> Activator {
        let keyring = license_common::Keyring::from_keys([*self.key.public()]);
        Activator::open_with_keyring(&self.dir.path().join(name), "observability", keyring).unwrap()
    }

    fn issue(&mut self, order: &Order, at: Timestamp) -> license_issuer::Issued {
        let checked = order.validate(&catalogs::observability(), at).unwrap();
        self.ledger.issue(&self.key, checked, at).unwrap()
    }

    /// How many receipts, usage reports, usage days and deactivations are on record.
    fn counts(&self) -> [usize; 4] {
        let export = self.ledger.export(t0()).unwrap();
        let n = |k: &str| export[k].as_array().unwrap().len();
        let reports = self.ledger.verify(&license_common::Keyring::from_keys([*self.key.public()])).unwrap();
        [n("receipts"), reports.usage_reports, n("usage"), n("deactivations")]
    }
}

/// Signs `payload` as the install whose key is in `dir/install.key`.
fn forge<T: Serialize>(dir: &Path, kind: Kind, payload: &T) -> String {
    let pem = std::fs::read_to_string(dir.join("install.key")).unwrap();
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).unwrap();
    let public = license_common::keys::PublicKey::new(key.verifying_key()).unwrap();
    let input = signing_input(kind, public.kid(), &serde_json::to_vec(payload).unwrap());
    use ed25519_dalek::Signer;
    assemble(&input, &key.sign(input.as_bytes()).to_bytes())
}

#[test]
fn files_forged_with_a_real_install_key_are_refused_and_nothing_is_recorded() {
    let mut w = world();
    let ours = w.issue(&order("acct-a", Plan::PayAsYouGo), t0());
    let theirs = w.issue(&order("acct-b", Plan::PayAsYouGo), t0());
    let mut install = w.install("install");
    install.activate(&ours.token, t0().plus_days(1)).unwrap();
    w.ledger.import_receipt(&install.receipt(t0().plus_days(1)).unwrap(), t0().plus_days(1)).unwrap();
    let dir = w.dir.path().join("install");
    let genuine: UsageReport = {
        install.record_usage(day("2026-05-10"), 30, t("2026-06-01T00:00:00Z")).unwrap();
        let token = install.usage_report(day("2026-05-01"), day("2026-05-31"), t("2026-06-01T00:00:00Z")).unwrap();
        license_common::exchange::open_self_signed(&token, Kind::UsageReport).unwrap().content
    };
    let before = w.counts();
    assert_eq!(before, [1, 0, 0, 0]);

    let mut usage_cases: Vec<(&str, UsageReport)> = Vec::new();
    let mut case = |what: &'static str, edit: &dyn Fn(&mut UsageReport)| {
        let mut r = genuine.clone();
        edit(&mut r);
        usage_cases.push((what, r));
    };
    case("another account", &|r| r.account = "acct-b".into());
    case("another product", &|r| r.product = "data-platform".into());
    case("another region", &|r| r.region = Some("cn-beijing".into()));
    case("a license not in the ledger", &|r| r.license_id = "0192f7a0-0000-7000-8000-00000000dead".into());
    case("another account's license", &|r| r.license_id = theirs.id.clone());
    case("a day outside its own range", &|r| {
        r.days.insert(day("2026-06-03"), 50);
    });
    case("a day after it was made", &|r| {
        r.to = day("2026-06-30");
        r.days.insert(day("2026-06-20"), 50);
    });
    case("a day before the license started", &|r| {
        r.from = day("2026-04-01");
        r.days.insert(day("2026-04-20"), 50);
    });
    case("a day whose count no day can hold", &|r| {
        r.days.insert(day("2026-05-11"), license_common::exchange::MAX_DAY_COUNT + 1);
    });
    case("a day whose count saturates", &|r| {
        r.days.insert(day("2026-05-12"), u64::MAX);
    });
    case("a day after the license expired", &|r| {
        r.to = day("2027-07-01");
        r.days.insert(day("2027-06-01"), 50);
        r.created_at = t("2027-07-02T00:00:00Z");
    });
    for (what, report) in &usage_cases {
        let err = w.ledger.import_usage(&forge(&dir, Kind::UsageReport, report), t0().plus_days(40)).unwrap_err();
        let expected = match *what {
            "a license not in the ledger" => matches!(err, IssuerError::NotInLedger { .. }),
            w if w.starts_with("a day") => matches!(err, IssuerError::OutsideRange { .. }),
            _ => matches!(err, IssuerError::ReportMismatch { .. }),
        };
        assert!(expected, "{what}: {err}");
        assert_eq!(w.counts(), before, "{what}: nothing recorded");
    }
    let err = w.ledger.import_usage(&forge(&dir, Kind::UsageReport, &usage_cases[0].1), t0()).unwrap_err();
    assert!(err.to_string().contains("its account is `acct-b`, but the license's is `acct-a`"), "{err}");

    let base = ActivationReceipt {
        format: EXCHANGE_FORMAT,
        install_id: genuine.install_id.clone(),
        install_key: genuine.install_key.clone(),
        product: "observability".into(),
        license_id: ours.id.clone(),
        account: "acct-a".into(),
        region: Some("cn-hangzhou".into()),
        activated_at: t0().plus_days(2),
        created_at: t0().plus_days(2),
        counter: None,
        prev: None,
    };
    let receipts: Vec<(&str, ActivationReceipt)> = vec![
        ("another account", ActivationReceipt { account: "acct-b".into(), ..base.clone() }),
        ("another product", ActivationReceipt { product: "data-platform".into(), ..base.clone() }),
        ("not in the ledger", ActivationReceipt { license_id: "nope".into(), ..base.clone() }),
        ("before its term", ActivationReceipt { activated_at: t("2026-04-30T00:00:00Z"), ..base.clone() }),
        (
            "after its term",
            ActivationReceipt {
                activated_at: t("2028-01-01T00:00:00Z"),
                created_at: t("2028-01-02T00:00:00Z"),
                ..base.clone()
            },
        ),
        ("after it was made", ActivationReceipt { created_at: t0().plus_days(1), ..base.clone() }),
    ];
    for (what, receipt) in &receipts {
        let err = w.ledger.import_receipt(&forge(&dir, Kind::ActivationReceipt, receipt), t0()).unwrap_err();
        let expected = match *what {
            "not in the ledger" => matches!(err, IssuerError::NotInLedger { .. }),
            w if w.starts_with("another") => matches!(err, IssuerError::ReportMismatch { .. }),
            _ => matches!(err, IssuerError::OutsideRange { .. }),
        };
        assert!(expected, "{what}: {err}");
        assert_eq!(w.counts(), before, "{what}: nothing recorded");
    }
    let release = DeactivationReceipt {
        format: EXCHANGE_FORMAT,
        install_id: genuine.install_id.clone(),
        install_key: genuine.install_key.clone(),
        product: "observability".into(),
        license_id: ours.id.clone(),
        account: "acct-b".into(),
        region: None,
        deactivated_at: t0().plus_days(3),
        counter: None,
        prev: None,
    };
    let err = w.ledger.import_deactivation(&forge(&dir, Kind::DeactivationReceipt, &release), t0()).unwrap_err();
    assert!(matches!(err, IssuerError::ReportMismatch { field: "account", .. }), "{err}");
    assert_eq!(w.counts(), before);

    // The genuine report is recorded.
    assert!(w.ledger.import_usage(&forge(&dir, Kind::UsageReport, &genuine), t0().plus_days(40)).unwrap().new);
    assert_eq!(w.counts(), [1, 1, 1, 0]);
}

#[test]
fn a_bill_counts_only_days_owed_and_says_why_for_each() {
    let mut w = world();
    let catalog = catalogs::observability();
    // One month of pay-as-you-go, activated the next day.
    let mut payg = order("acct-p", Plan::PayAsYouGo);
    payg.months = Some(1);
    let issued = w.issue(&payg, t0());
    let mut install = w.install("p");
    install.activate(&issued.token, t0().plus_days(1)).unwrap();
    w.ledger.import_receipt(&install.receipt(t0().plus_days(1)).unwrap(), t0().plus_days(1)).unwrap();
    for d in 1..=31 {
        install.record_usage(day("2026-05-01") + chrono::Duration::days(d - 1), 25, t("2026-06-01T00:00:00Z")).unwrap();
    }
    let report = install.usage_report(day("2026-05-01"), day("2026-05-31"), t("2026-06-01T00:00:00Z")).unwrap();
    w.ledger.import_usage(&report, t("2026-06-01T00:00:00Z")).unwrap();
    let now = t("2026-07-01T00:00:00Z");
    let bill = w.ledger.bill(&catalog, "acct-p", day("2026-04-28"), day("2026-06-20"), now).unwrap();
    let state = |d: &str| bill.days.iter().find(|x| x.day == day(d)).unwrap().state;
    for (d, expected) in [
        ("2026-04-30", DayState::BeforeOrder),
        ("2026-05-01", DayState::FreeWindow),
        ("2026-05-07", DayState::FreeWindow),
        ("2026-05-08", DayState::Billed),
        ("2026-05-31", DayState::Billed),
        ("2026-06-01", DayState::Missing),
        ("2026-06-02", DayState::Grace),
        ("2026-06-15", DayState::Grace),
        ("2026-06-16", DayState::Released),
    ] {
        assert_eq!(state(d), expected, "{d}: {bill}");
    }
    assert_eq!(bill.total, 24 * 25 * 500, "24 days of 25 collectors at 5 CNY");
    assert!(bill.days.iter().all(|d| !d.reason.is_empty()));
    assert!(
        bill.days.iter().filter(|d| d.state != DayState::BeforeOrder).all(|d| d.license.as_deref() == Some(&issued.id))
    );

    // An order that lapsed, then a new one: the new one has its own free window.
    let first = w.issue(&order("acct-l", Plan::PayAsYouGo), t0());
    let second_at = t0().plus_days(10);
    let second = w.issue(&order("acct-l", Plan::PayAsYouGo), second_at);
    let mut install = w.install("l");
    install.activate(&second.token, second_at.plus_days(1)).unwrap();
    w.ledger.import_receipt(&install.receipt(second_at.plus_days(1)).unwrap(), second_at).unwrap();
    let bill = w.ledger.bill(&catalog, "acct-l", day("2026-05-01"), day("2026-05-20"), now).unwrap();
    let at = |d: &str| bill.days.iter().find(|x| x.day == day(d)).unwrap().clone();
    assert_eq!((at("2026-05-05").state, at("2026-05-05").license), (DayState::Lapsed, Some(first.id.clone())));
    assert_eq!(at("2026-05-11").state, DayState::FreeWindow);
    assert_eq!(at("2026-05-17").state, DayState::FreeWindow);
    assert_eq!(at("2026-05-18").state, DayState::Missing, "owed from the end of the second window");
    assert_eq!(bill.total, 0);

    // Subscription and perpetual accounts owe nothing by the day; a
    // revocation ends what is owed.
    w.issue(&order("acct-s", Plan::Subscription), t0());
    let bill = w.ledger.bill(&catalog, "acct-s", day("2026-05-01"), day("2026-05-31"), now).unwrap();
    assert!(bill.days.iter().all(|d| d.state == DayState::Subscription && d.amount == 0), "{bill}");
    let revoked = w.issue(&order("acct-r", Plan::PayAsYouGo), t0());
    w.ledger.revoke(&revoked.id, "fraud", t("2026-05-20T12:00:00Z")).unwrap();
    let bill = w.ledger.bill(&catalog, "acct-r", day("2026-05-19"), day("2026-05-22"), now).unwrap();
    let states: Vec<DayState> = bill.days.iter().map(|d| d.state).collect();
    assert_eq!(states[2..], [DayState::Revoked, DayState::Revoked], "{bill}");

    // An unknown account, another product's catalog.
    let err = w.ledger.bill(&catalog, "acct-nobody", day("2026-05-01"), day("2026-05-02"), now).unwrap_err();
    assert!(matches!(err, IssuerError::UnknownAccount { .. }), "{err}");
    let other = catalogs::data_platform();
    let err = w.ledger.bill(&other, "acct-p", day("2026-05-01"), day("2026-05-02"), now).unwrap_err();
    assert!(matches!(err, IssuerError::WrongCatalog { .. }), "{err}");
    assert!(err.to_string().contains("licenses are for observability"), "{err}");
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn plain(v: &Vendor, args: &[&str]) -> Run {
    let mut cmd = v.issuer();
    cmd.args(args);
    run(cmd, None)
}

fn sql(ledger: &Path, statement: &str) {
    let out = Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()")
        .arg(ledger)
        .arg(statement)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{statement}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn ledger_verify_with_the_callers_keys_names_every_edited_column() {
    // Copies of the file, each edited in one column: SQLite's alone.
    let v = Vendor::sqlite();
    let install = Install::new(&v);
    let (request, l1) = (v.dir.path().join("req"), v.dir.path().join("l1.lic"));
    install.run(&["request", "--out", p(&request)], None).ok();
    v.issue_run(&["--bind", p(&request), "--out", p(&l1)]).ok();
    install.run(&["activate", p(&l1)], None).ok();
    let files: Vec<PathBuf> = ["receipt", "usage", "released"].iter().map(|n| v.dir.path().join(n)).collect();
    install.run(&["receipt", "--out", p(&files[0])], None).ok();
    let today = chrono::Utc::now().date_naive().to_string(); // a subscription counts UTC days
    install.run(&["usage", "record", "--datakits", "30", "--day", &today], None).ok();
    install.run(&["usage", "report", "--from", &today, "--to", &today, "--out", p(&files[1])], None).ok();
    install.run(&["deactivate", "--out", p(&files[2])], None).ok();
    for (what, f) in [("receipts", &files[0]), ("usage", &files[1]), ("deactivations", &files[2])] {
        plain(&v, &[what, "import", p(f)]).ok();
    }
    let verify = || plain(&v, &["ledger", "verify", "--pub", p(&v.public)]);
    assert!(verify().ok().contains("0 problems"));
    let clean = v.dir.path().join("clean.sqlite3");
    std::fs::copy(&v.ledger, &clean).unwrap();

    let edits: Vec<(&str, String)> = [
        "id",
        "account",
        "product",
        "region",
        "edition",
        "plan",
        "sequence",
        "issued_at",
        "not_before",
        "expires_at",
        "activate_by",
        "supersedes",
        "install",
        "licensee",
        "engine",
        "settlement",
        "packages",
        "quotas",
        "kid",
    ]
    .iter()
    .map(|c| (*c, format!("UPDATE licenses SET {c} = 'x' || COALESCE({c}, '')")))
    .chain([
        ("datakits", "UPDATE usage_days SET datakits = datakits + 1".to_owned()),
        ("activated_at", "UPDATE receipts SET activated_at = '2020-01-01T00:00:00Z'".to_owned()),
        ("install_id", "UPDATE receipts SET install_id = 'forged'".to_owned()),
        ("first_day", "UPDATE usage_reports SET first_day = '2020-01-01'".to_owned()),
        ("deactivated_at", "UPDATE deactivations SET deactivated_at = '2020-01-01T00:00:00Z'".to_owned()),
    ])
    .collect();
    for (column, statement) in &edits {
        std::fs::copy(&clean, &v.ledger).unwrap();
        sql(&v.ledger, statement);
        let r = verify();
        assert_eq!(r.code, 11, "{column}: {}", r.stdout);
        assert!(r.stdout.contains(&format!("column `{column}` is")), "{column}: {}", r.stdout);
    }

    // A license signed by a key of the attacker's, with that key added to
    // the ledger's own key table: the caller's keys do not trust it.
    std::fs::copy(&clean, &v.ledger).unwrap();
    let attacker = IssuerKey::from_seed(&[66; 32]);
    let token = license_tests::sign(&attacker, &{
        let mut l = license_issuer::read_current(
            &std::fs::read_to_string(&l1).unwrap(),
            &license_common::Keyring::from_keys([*v.signing_key().public()]),
        )
        .unwrap();
        l.id = "0192f7a0-0000-7000-8000-0000000000ff".into();
        l
    });
    sql(
        &v.ledger,
        &format!(
            "INSERT INTO keys (kid, public_key, first_used_at) VALUES ('{}', '{}', '2026-01-01T00:00:00Z')",
            attacker.kid(),
            attacker.public().to_pem().trim()
        ),
    );
    sql(
        &v.ledger,
        &format!(
            "INSERT INTO licenses (id, account, product, region, edition, plan, sequence, issued_at, kid, token)
             VALUES ('0192f7a0-0000-7000-8000-0000000000ff', 'a', 'p', 'r', 'e', 'subscription', 9, '', '{}', '{token}')",
            attacker.kid()
        ),
    );
    let r = verify();
    assert_eq!(r.code, 11, "{}", r.stdout);
    assert!(r.stdout.contains("license 0192f7a0-0000-7000-8000-0000000000ff: "), "{}", r.stdout);
    // With the wrong key, nothing verifies.
    let wrong = v.dir.path().join("wrong.pub");
    std::fs::write(&wrong, attacker.public().to_pem()).unwrap();
    std::fs::copy(&clean, &v.ledger).unwrap();
    let r = plain(&v, &["ledger", "verify", "--pub", p(&wrong)]);
    assert_eq!(r.code, 11);
    assert!(r.stdout.contains("problem: license"), "{}", r.stdout);
}

#[test]
fn ledger_list_filters_and_pages_and_a_lost_license_is_printed_again() {
    let v = Vendor::new();
    let soon = Timestamp::now().plus_days(10).to_string();
    let mut ids = Vec::new();
    for args in [
        &[][..],
        &[],
        &["--account", "acct-x", "--licensee", "Other Corp"],
        &["--account", "acct-x", "--region", "cn-shanghai", "--licensee", "Other Corp"],
        &["--until", &soon],
    ] {
        let mut a: Vec<&str> = args.to_vec();
        a.push("--json");
        ids.push(v.issue_run(&a).json()["id"].as_str().unwrap().to_owned());
    }
    let list = |args: &[&str]| {
        let mut a = vec!["ledger", "list", "--json"];
        a.extend_from_slice(args);
        plain(&v, &a).json()
    };
    let got = |json: &serde_json::Value| -> Vec<String> {
        json["licenses"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(got(&list(&["--licensee", "other corp"])), ids[2..4]);
    assert_eq!(got(&list(&["--account", "acct-x", "--region", "cn-shanghai"])), ids[3..4]);
    assert_eq!(got(&list(&["--expiring-within", "30"])), ids[4..5]);
    assert_eq!(got(&list(&["--product", "data-platform"])).len(), 5);
    let page = list(&["--status", "active", "--limit", "2", "--offset", "2"]);
    assert_eq!((page["total"].as_u64(), got(&page)), (Some(5), ids[2..4].to_vec()));
    let entry = &list(&["--limit", "1"])["licenses"][0];
    for field in ["licensee", "product", "region", "packages"] {
        assert!(!entry[field].is_null(), "{field}: {entry}");
    }
    assert_eq!(entry["packages"]["data_service"], "api.s1.small");
    let text = plain(&v, &["ledger", "list"]).ok().to_owned();
    assert!(text.contains("Other Corp") && text.contains("cn-shanghai") && text.contains("data_service=api.s1.small"));
    assert!(text.contains("5 of 5 matching licenses"), "{text}");
    let r = plain(&v, &["ledger", "list", "--status", "bogus"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not_yet_valid"), "{}", r.stderr);

    // A lost license, printed again exactly as signed.
    let printed = plain(&v, &["ledger", "show", &ids[0], "--token"]).ok().to_owned();
    assert!(printed.starts_with("-----BEGIN LICENSE-----"), "{printed}");
    Install::new(&v).activate(&printed).ok();
    plain(&v, &["ledger", "show", "nope", "--token"]).fails_with(30);
}

#[test]
fn a_quote_or_upgrade_of_a_license_not_started_counts_from_its_start_and_keeps_it() {
    let v = Vendor::new();
    let start = Timestamp::now().plus_days(30);
    let l1 = v.dir.path().join("l1.lic");
    v.issue_run(&["--not-before", &start.to_string(), "--months", "12", "--out", p(&l1)]).ok();
    let mut quote = v.issuer();
    quote.args(["--json", "quote", "--from", p(&l1), "--pub", p(&v.public), "--catalog", p(&v.catalog)]);
    quote.args(["--package", "data_service=api.s1.medium"]);
    let q = run(quote, None).json();
    assert_eq!(q["counted_from"], start.to_string().as_str(), "{q}");
    let expires = Timestamp::parse(q["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(q["remaining_seconds"].as_i64(), Some(expires.since(start).num_seconds()));

    let mut up = v.issuer();
    up.args(["--json", "upgrade", "--from", p(&l1), "--package", "data_service=api.s1.medium"]);
    up.args(["--key", p(&v.key), "--passphrase-file", p(&v.pass_file), "--catalog", p(&v.catalog)]);
    let upgraded = run(up, None).json();
    assert_eq!(upgraded["license"]["not_before"], start.to_string().as_str(), "the start is kept");
    assert_eq!(upgraded["license"]["expires_at"], q["expires_at"]);
}
