//! The vendor's ledger: chains, lapsed pay-as-you-go orders, imports and
//! bills — with the libraries at chosen moments, and through the binaries.

use chrono::NaiveDate;
use license_activator::Activator;
use license_common::Timestamp;
use license_common::license::Plan;
use license_common::signing::IssuerKey;
use license_issuer::IssuerError;
use license_issuer::catalogs;
use license_issuer::ledger::{DayState, EntryStatus, Filter, Ledger, OrderState};
use license_issuer::order::Order;
use license_issuer::upgrade::{self, RenewTerm, UpgradeRequest};
use license_tests::{Vendor, run};

fn t0() -> Timestamp {
    Timestamp::parse("2026-05-01T08:00:00Z").unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn payg_order(account: &str) -> Order {
    Order {
        account: account.into(),
        licensee: "Ledger Test".into(),
        region: "cn-hangzhou".into(),
        edition: "commercial".into(),
        plan: Some(Plan::PayAsYouGo),
        ..Order::default()
    }
}

struct World {
    _dir: tempfile::TempDir,
    key: IssuerKey,
    ledger: Ledger,
    state: std::path::PathBuf,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    let state = dir.path().to_path_buf();
    World { _dir: dir, key: IssuerKey::from_seed(&[9; 32]), ledger, state }
}

impl World {
    fn install(&self, name: &str) -> Activator {
        let keyring = license_common::Keyring::from_keys([*self.key.public()]);
        Activator::open_with_keyring(&self.state.join(name), "observability", keyring).unwrap()
    }
}

#[test]
fn a_lapsed_order_and_an_activated_one() {
    let mut w = world();
    let catalog = catalogs::observability();
    let lapsing = w.ledger.issue(&w.key, payg_order("acct-lapse").validate(&catalog, t0()).unwrap(), t0()).unwrap();
    let activated = w.ledger.issue(&w.key, payg_order("acct-ok").validate(&catalog, t0()).unwrap(), t0()).unwrap();
    let mut install = w.install("ok");
    install.activate(&activated.token, t0().plus_days(6)).unwrap();
    w.ledger.import_receipt(&install.receipt(t0().plus_days(6)).unwrap(), t0().plus_days(6)).unwrap();

    let state =
        |at: Timestamp, id: &str| w.ledger.lapsed(at).unwrap().into_iter().find(|l| l.license_id == id).unwrap().state;
    assert_eq!(state(t0().plus_days(6), &lapsing.license.id), OrderState::Pending);
    assert_eq!(state(t0().plus_days(8), &lapsing.license.id), OrderState::Lapsed, "no receipt within 7 days");
    assert_eq!(state(t0().plus_days(8), &activated.license.id), OrderState::Activated);
    let filter = Filter { status: Some(EntryStatus::Lapsed), ..Filter::default() };
    let listed = w.ledger.list(&filter, t0().plus_days(8)).unwrap();
    assert_eq!(listed.licenses.iter().map(|e| e.account.as_str()).collect::<Vec<_>>(), ["acct-lapse"]);
}

#[test]
fn dk_billing_minimum_twenty_at_five_cny_and_duplicates_once() {
    let mut w = world();
    let catalog = catalogs::observability();
    let order_at = Timestamp::parse("2026-05-01T08:00:00Z").unwrap();
    let issued = w.ledger.issue(&w.key, payg_order("acct-dk").validate(&catalog, order_at).unwrap(), order_at).unwrap();
    let mut install = w.install("dk");
    install.activate(&issued.token, order_at.plus_days(1)).unwrap();
    w.ledger.import_receipt(&install.receipt(order_at.plus_days(1)).unwrap(), order_at.plus_days(1)).unwrap();
    for (d, n) in [
        ("2026-05-03", 9),
        ("2026-05-10", 15),
        ("2026-05-11", 15),
        ("2026-05-12", 12),
        ("2026-05-12", 15),
        ("2026-05-13", 25),
    ] {
        install.record_usage(day(d), n, order_at.plus_days(31)).unwrap();
    }
    let report = install.usage_report(day("2026-05-01"), day("2026-05-31"), order_at.plus_days(31)).unwrap();
    assert!(w.ledger.import_usage(&report, order_at.plus_days(31)).unwrap().new);
    assert!(
        !w.ledger.import_usage(&report, order_at.plus_days(31)).unwrap().new,
        "the same file twice is recorded once"
    );

    let bill =
        w.ledger.bill(&catalog, "acct-dk", day("2026-05-07"), day("2026-05-14"), order_at.plus_days(31)).unwrap();
    let by_day = |d: &str| bill.days.iter().find(|x| x.day == day(d)).unwrap().clone();
    assert_eq!(by_day("2026-05-07").state, DayState::FreeWindow, "inside the 7-day activation window");
    assert_eq!(by_day("2026-05-08").state, DayState::Missing, "no report: listed, not guessed");
    for d in ["2026-05-10", "2026-05-11", "2026-05-12"] {
        let x = by_day(d);
        assert_eq!((x.reported, x.billed, x.amount), (Some(15), 20, 10_000), "15 DKs are billed as 20 at 5 CNY");
    }
    assert_eq!(by_day("2026-05-13").amount, 12_500, "25 DKs = 125.00 CNY");
    assert_eq!(bill.total, 30_000 + 12_500, "3 days at 15 DKs = 300.00 CNY, 1 day at 25 DKs = 125.00 CNY");
    assert_eq!(bill.missing, 3);
    assert!(bill.to_string().contains("total 425.00 CNY"), "{bill}");
    // A free-window day with usage shows what was reported, and bills nothing.
    let early =
        w.ledger.bill(&catalog, "acct-dk", day("2026-05-03"), day("2026-05-03"), order_at.plus_days(31)).unwrap();
    let x = &early.days[0];
    assert_eq!((x.state, x.reported, x.billed, x.amount), (DayState::FreeWindow, Some(9), 0, 0));
    assert_eq!(early.total, 0);
}

#[test]
fn usage_from_an_install_without_a_receipt_is_refused_and_every_install_counts_toward_the_limit() {
    let mut w = world();
    let catalog = catalogs::observability();
    let mut order = payg_order("acct-two");
    order.max_installs = Some(1);
    let issued = w.ledger.issue(&w.key, order.validate(&catalog, t0()).unwrap(), t0()).unwrap();
    let mut first = w.install("first");
    let mut second = w.install("second");
    first.activate(&issued.token, t0().plus_days(1)).unwrap();
    second.activate(&issued.token, t0().plus_days(1)).unwrap();
    w.ledger.import_receipt(&first.receipt(t0().plus_days(1)).unwrap(), t0().plus_days(1)).unwrap();
    second.record_usage(day("2026-05-20"), 40, t0().plus_days(30)).unwrap();
    let report = second.usage_report(day("2026-05-01"), day("2026-05-31"), t0().plus_days(30)).unwrap();
    let err = w.ledger.import_usage(&report, t0().plus_days(30)).unwrap_err();
    assert!(matches!(err, IssuerError::UnknownInstall { .. }), "{err}");
    assert!(w.ledger.overuse(t0().plus_days(30)).unwrap().is_empty(), "one install, as allowed");

    // The second install's receipt is recorded, and the license shows as overused.
    w.ledger.import_receipt(&second.receipt(t0().plus_days(1)).unwrap(), t0().plus_days(1)).unwrap();
    assert!(w.ledger.import_usage(&report, t0().plus_days(30)).unwrap().new);
    let over = w.ledger.overuse(t0().plus_days(30)).unwrap();
    assert_eq!(over.len(), 1);
    assert_eq!((over[0].license_id.as_str(), over[0].max_installs, over[0].installs.len()), (issued.id.as_str(), 1, 2));
}

#[test]
fn an_already_superseded_license_cannot_be_upgraded_again() {
    let mut w = world();
    let catalog = catalogs::data_platform();
    let order = Order {
        account: "acct-fork".into(),
        licensee: "Fork".into(),
        region: "cn-hangzhou".into(),
        edition: "basic_rnd".into(),
        engine: Some("maxcompute".into()),
        plan: Some(Plan::Subscription),
        quotas: [("processing_units".to_string(), 20)].into(),
        months: Some(12),
        ..Order::default()
    };
    let first = w.ledger.issue(&w.key, order.validate(&catalog, t0()).unwrap(), t0()).unwrap();
    let raise = |tier: &str| UpgradeRequest {
        packages: [("data_service".to_string(), tier.to_string())].into(),
        ..Default::default()
    };
    let upgrade = |request| upgrade::upgrade(&catalog, &first.license, &request, t0()).unwrap();
    let second = w.ledger.sign_successor(&w.key, upgrade(raise("api.base")), false, t0()).unwrap();
    let err = w.ledger.sign_successor(&w.key, upgrade(raise("api.s1.small")), false, t0()).unwrap_err();
    assert!(matches!(&err, IssuerError::AlreadySuperseded { by, .. } if *by == second.id), "{err}");
    let renewal = upgrade::renew(&catalog, &first.license, RenewTerm::Months(1), None, t0()).unwrap();
    let err = w.ledger.sign_successor(&w.key, renewal, false, t0()).unwrap_err();
    assert!(matches!(&err, IssuerError::AlreadySuperseded { by, .. } if *by == second.id), "{err}");
    // A new order for the instance in force is refused, naming its newest license.
    let err = w.ledger.issue(&w.key, order.validate(&catalog, t0()).unwrap(), t0()).unwrap_err();
    assert!(matches!(&err, IssuerError::InstanceInForce { newest, sequence: 2, .. } if *newest == second.id), "{err}");
    // Once the chain is revoked, a new order starts above its floor.
    w.ledger.revoke(&second.id, "contract ended", t0()).unwrap();
    let again = w.ledger.issue(&w.key, order.validate(&catalog, t0()).unwrap(), t0()).unwrap();
    assert_eq!(again.license.sequence, 3, "a new order of the instance continues its sequence");
}

#[test]
fn the_chain_through_two_upgrades_and_a_renewal_read_back_through_the_binaries() {
    let vendor = Vendor::new();
    let dir = vendor.dir.path();
    let l1 = dir.join("l1.lic");
    vendor.issue_run(&["--out", l1.to_str().unwrap(), "--package", "data_service=api.base"]).ok();
    let step = |args: &[&str]| {
        let mut cmd = vendor.issuer();
        cmd.args(args).arg("--key").arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
        cmd.arg("--catalog").arg(&vendor.catalog);
        run(cmd, None).ok().to_owned()
    };
    let l2 = dir.join("l2.lic");
    let l3 = dir.join("l3.lic");
    let l4 = dir.join("l4.lic");
    step(&[
        "upgrade",
        "--from",
        l1.to_str().unwrap(),
        "--package",
        "data_service=api.s1.small",
        "--out",
        l2.to_str().unwrap(),
    ]);
    step(&["upgrade", "--from", l2.to_str().unwrap(), "--quota", "processing_units=60", "--out", l3.to_str().unwrap()]);
    step(&["renew", "--from", l3.to_str().unwrap(), "--months", "12", "--out", l4.to_str().unwrap()]);

    let id_of = |path: &std::path::Path| {
        let mut cmd = vendor.issuer();
        cmd.arg("inspect").arg(path).arg("--pub").arg(&vendor.public).arg("--json");
        run(cmd, None).json()["license"]["id"].as_str().unwrap().to_owned()
    };
    let ids: Vec<String> = [&l1, &l2, &l3, &l4].iter().map(|p| id_of(p)).collect();
    let mut show = vendor.issuer();
    show.args(["ledger", "show", &ids[1], "--json"]);
    let chain = run(show, None).json();
    let got: Vec<&str> = chain["licenses"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>(), "the whole chain, oldest first");
    let statuses: Vec<&str> =
        chain["licenses"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["superseded", "superseded", "superseded", "active"]);
    let sequences: Vec<u64> =
        chain["licenses"].as_array().unwrap().iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    assert_eq!(sequences, [1, 2, 3, 4]);

    let mut verify = vendor.issuer();
    verify.args(["ledger", "verify", "--pub"]).arg(&vendor.public);
    assert!(run(verify, None).ok().contains("verified 4 licenses"), "ledger verify");

    let mut export = vendor.issuer();
    export.args(["ledger", "export", "--json"]);
    let all = run(export, None).json();
    assert_eq!(all["licenses"].as_array().unwrap().len(), 4);
    assert_eq!(all["keys"].as_array().unwrap().len(), 1, "the signing key is on record");
    for section in ["orders", "receipts", "usage", "revocations"] {
        assert!(all[section].is_array(), "export has {section}");
    }

    // A tampered record is found by verify.
    vendor.sql("UPDATE licenses SET account = 'acct-forged' WHERE sequence = 2");
    let mut verify = vendor.issuer();
    verify.args(["ledger", "verify", "--pub"]).arg(&vendor.public);
    let r = run(verify, None);
    assert_eq!(r.code, 11, "{}", r.stdout);
    assert!(r.stdout.contains("column `account` is `acct-forged` in the ledger but `acct-1001`"), "{}", r.stdout);

    // A spoiled signature (one character of the third license's token
    // changed, 40 from its end): batch verification and one-by-one name the
    // same license with the same words.
    vendor.sql(
        "UPDATE licenses SET token = substr(token, 1, length(token) - 40)
            || CASE WHEN substr(token, length(token) - 39, 1) = 'A' THEN 'B' ELSE 'A' END
            || substr(token, length(token) - 38)
         WHERE sequence = 3",
    );
    let mut outputs = Vec::new();
    for flags in [&["ledger", "verify"][..], &["ledger", "verify", "--one-by-one"][..]] {
        let mut verify = vendor.issuer();
        verify.args(flags).arg("--pub").arg(&vendor.public);
        let r = run(verify, None);
        assert_eq!(r.code, 11, "{}", r.stdout);
        assert!(
            r.stdout.contains(&format!("problem: license {}: the signature of this license does not verify", ids[2])),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains("2 problems"), "{}", r.stdout);
        outputs.push(r.stdout);
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn a_bill_at_the_end_of_the_calendar_does_not_panic() {
    let mut w = world();
    let catalog = catalogs::observability();
    let last = NaiveDate::MAX;
    let err = w.ledger.bill(&catalog, "acct-none", last.pred_opt().unwrap(), last, t0()).unwrap_err();
    assert!(matches!(err, IssuerError::UnknownAccount { .. }), "{err}");
    w.ledger.issue(&w.key, payg_order("acct-end").validate(&catalog, t0()).unwrap(), t0()).unwrap();
    let bill = w.ledger.bill(&catalog, "acct-end", last.pred_opt().unwrap(), last, t0()).unwrap();
    assert_eq!(bill.days.len(), 2);
    assert!(bill.days.iter().all(|d| d.state == DayState::Released && d.amount == 0), "{bill}");
    let install = w.install("empty");
    assert!(
        install.usage(day("2026-05-02"), day("2026-05-01")).unwrap().is_empty(),
        "a reversed range is empty, not a panic"
    );
}

/// An audit of more licenses than one verification step takes: batch and
/// one-by-one find the same three problems, named in the ledger's order,
/// whichever thread found them.
#[test]
fn the_audit_finds_the_same_problems_in_either_mode_across_many_chunks() {
    const N: usize = 9000;
    let mut w = world();
    let catalog = catalogs::observability();
    let kid = w.key.kid().to_string();
    let mut expected = Vec::new();
    let issued: Vec<_> = (0..N)
        .map(|i| {
            let mut license = payg_order(&format!("acct-{i}")).validate(&catalog, t0()).unwrap().preview().clone();
            license.id = format!("lic-{i:05}");
            license.sequence = 1;
            let token = license_tests::sign(&w.key, &license);
            license_issuer::Issued { id: license.id.clone(), token, license }
        })
        .collect();
    w.ledger
        .transaction(|rec| {
            rec.key(w.key.public(), t0())?;
            for (i, issued) in issued.iter().enumerate() {
                let mut license = issued.license.clone();
                let mut token = issued.token.clone();
                match i {
                    10 | 8999 => {
                        // One signature character changed.
                        let at = token.len() - 30;
                        let c = if &token[at..=at] == "A" { "B" } else { "A" };
                        token.replace_range(at..=at, c);
                        expected.push(format!("license {}: the signature of this license does not verify", license.id));
                    }
                    5000 => {
                        license.account = "acct-forged".into();
                        expected.push(format!(
                            "license {}: column `account` is `acct-forged` in the ledger but `acct-5000` in the signed token",
                            license.id
                        ));
                    }
                    _ => {}
                }
                rec.license(&license, &token, &kid, None)?;
            }
            Ok(())
        })
        .unwrap();
    let keys = license_common::Keyring::from_keys([*w.key.public()]);
    let batch = w.ledger.verify_with(&keys, license_issuer::ledger::Verification::Batch).unwrap();
    let one = w.ledger.verify_with(&keys, license_issuer::ledger::Verification::OneByOne).unwrap();
    assert_eq!(batch.licenses, N);
    assert_eq!(batch, one);
    let found: Vec<String> =
        batch.problems.iter().map(|p| p.to_string().split(" with key").next().unwrap().to_owned()).collect();
    assert_eq!(found, expected);
}

#[test]
fn a_ledger_url_of_another_store_is_refused_and_no_file_is_made_of_it() {
    let vendor = Vendor::new();
    let cwd = tempfile::tempdir().unwrap();
    for url in ["mysql://issuer@127.0.0.1/ledger", "POSTGRES://issuer@127.0.0.1/ledger", "sqlite:///var/lib/l.sqlite3"]
    {
        let scheme = url.split_once("://").unwrap().0;
        // As a flag, as the environment variable, and for the service.
        let mut list = vendor.issuer();
        list.current_dir(cwd.path()).args(["--ledger", url, "ledger", "list"]);
        let e = run(list, None).fails_with(30).to_owned();
        assert!(e.contains(&format!("`{scheme}://` is not a store a ledger can be in")), "{e}");
        assert!(e.contains("postgres://"), "{e}");
        let mut issue = vendor.issuer();
        issue.current_dir(cwd.path()).env("ISSUER_LEDGER", url);
        issue.args(["issue", "--key"]).arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
        issue.arg("--catalog").arg(&vendor.catalog);
        issue.args(["--account", "acct-url", "--licensee", "URL Test", "--region", "cn-hangzhou"]);
        issue.args(["--edition", "intelligent_rnd", "--engine", "maxcompute", "--plan", "subscription"]);
        issue.args(["--quota", "processing_units=40", "--package", "data_service=api.s1.small"]);
        let e = run(issue, None).fails_with(30).to_owned();
        assert!(e.contains("is not a store a ledger can be in"), "{e}");
        let mut serve = vendor.issuer();
        serve.current_dir(cwd.path()).env("ISSUER_LEDGER", url);
        serve.args(["serve", "--listen", "127.0.0.1:0", "--key"]).arg(&vendor.key);
        serve.arg("--passphrase-file").arg(&vendor.pass_file).arg("--catalog").arg(&vendor.catalog);
        assert!(run(serve, None).fails_with(30).contains("is not a store a ledger can be in"));
    }
    // Nothing was made where the URL would have been a relative path.
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

/// A new ledger file is private (0600) from the start, its journal too; an
/// existing one keeps the mode its operator chose (a group that reads the
/// backups), whatever command opens it.
#[test]
fn a_new_ledger_is_private_and_an_operators_mode_is_kept() {
    use std::os::unix::fs::PermissionsExt;
    let vendor = Vendor::sqlite();
    vendor.issue(&[]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let wal = vendor.ledger.with_extension("sqlite3-wal");
    assert_eq!(mode(&vendor.ledger), 0o600);
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
    std::fs::set_permissions(&vendor.ledger, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut cmd = vendor.issuer();
    cmd.args(["ledger", "list"]);
    run(cmd, None).ok();
    vendor.issue(&[]);
    assert_eq!(mode(&vendor.ledger), 0o640, "the operator's mode is kept");
}

/// A page read in SQL (no status or licensee filter) is the same slice of
/// the same order as the listing of everything, with the same total, on
/// either store; past the end it is empty.
#[test]
fn pages_are_slices_of_the_whole_listing() {
    let vendor = Vendor::new();
    for i in 0..7 {
        vendor.issue(&["--account", &format!("acct-page-{i}")]);
    }
    let ledger = vendor.open_ledger();
    let now = Timestamp::now();
    let all = ledger.list(&Filter::default(), now).unwrap();
    assert_eq!((all.total, all.licenses.len()), (7, 7));
    let mut paged = Vec::new();
    for offset in (0..9).step_by(3) {
        let page = ledger.list(&Filter { offset, limit: Some(3), ..Filter::default() }, now).unwrap();
        assert_eq!((page.total, page.offset), (7, offset));
        paged.extend(page.licenses);
    }
    assert_eq!(paged, all.licenses, "the pages, in order, are the whole listing, statuses included");
    let one = ledger.list(&Filter { account: Some("acct-page-4".into()), ..Filter::default() }, now).unwrap();
    assert_eq!((one.total, one.licenses[0].account.as_str()), (1, "acct-page-4"));
    let past = ledger.list(&Filter { offset: 50, limit: Some(3), ..Filter::default() }, now).unwrap();
    assert_eq!((past.total, past.licenses.len()), (7, 0));
    // A window past the year 9999 still finds every license that expires.
    for days in [3_000_000, u32::MAX] {
        let far = ledger.list(&Filter { expiring_within_days: Some(days), ..Filter::default() }, now).unwrap();
        assert_eq!(far.total, 7, "within {days} days");
    }
    // The same pages with a status filter (read row by row) agree.
    let active = ledger
        .list(&Filter { status: Some(EntryStatus::Active), offset: 3, limit: Some(3), ..Filter::default() }, now)
        .unwrap();
    assert_eq!((active.total, &active.licenses[..]), (7, &all.licenses[3..6]));
}

/// A status or licensee filter (decided on a few columns of every row, then
/// only the page read whole) selects exactly what filtering the whole
/// listing would, with the same total, page by page, on either store: every
/// status, at several times, and names folded the Unicode way.
#[test]
fn status_and_licensee_filters_agree_with_the_whole_listing() {
    let vendor = Vendor::new();
    let mut ledger = vendor.open_ledger();
    let catalog = catalogs::observability();
    let (key, stolen) = (IssuerKey::from_seed(&[31; 32]), IssuerKey::from_seed(&[32; 32]));
    let order = |account: &str, licensee: &str, plan: Plan, months: u32| Order {
        licensee: licensee.into(),
        plan: Some(plan),
        months: Some(months),
        ..payg_order(account)
    };
    let issue = |ledger: &mut Ledger, key: &IssuerKey, order: Order| {
        ledger.issue(key, order.validate(&catalog, t0()).unwrap(), t0()).unwrap()
    };
    let renew = |ledger: &mut Ledger, license| {
        let renewal = upgrade::renew(&catalogs::observability(), license, RenewTerm::Months(1), None, t0()).unwrap();
        ledger.sign_successor(&key, renewal, false, t0()).unwrap()
    };
    // Lapses a week after t0: no receipt ever comes.
    issue(&mut ledger, &key, order("acct-lapse", "Ärzte GmbH", Plan::PayAsYouGo, 1));
    // Activated on its sixth day: in force past its deadline.
    let kept = issue(&mut ledger, &key, order("acct-kept", "Kept Ltd", Plan::PayAsYouGo, 1));
    let state = tempfile::tempdir().unwrap();
    let keyring = license_common::Keyring::from_keys([*key.public()]);
    let mut install = Activator::open_with_keyring(state.path(), "observability", keyring).unwrap();
    install.activate(&kept.token, t0().plus_days(6)).unwrap();
    ledger.import_receipt(&install.receipt(t0().plus_days(6)).unwrap(), t0().plus_days(6)).unwrap();
    // One month, then grace, then released.
    issue(&mut ledger, &key, order("acct-month", "ÄRZTE Praxis", Plan::Subscription, 1));
    issue(&mut ledger, &key, order("acct-year", "Ledger Test Year", Plan::Subscription, 12));
    // Superseded by its renewal.
    let first = issue(&mut ledger, &key, order("acct-renew", "Renewal AG", Plan::Subscription, 1));
    renew(&mut ledger, &first.license);
    // Revoked itself.
    let gone = issue(&mut ledger, &key, order("acct-revoked", "Revoked", Plan::Subscription, 12));
    ledger.revoke(&gone.license.id, "chargeback", t0()).unwrap();
    // Revoked below its chain's floor: its successor was revoked.
    let low = issue(&mut ledger, &key, order("acct-floor", "Floor", Plan::Subscription, 1));
    let high = renew(&mut ledger, &low.license);
    ledger.revoke(&high.id, "closed", t0()).unwrap();
    // Signed by a key that was then distrusted, and signed again.
    issue(&mut ledger, &stolen, order("acct-stolen", "Stolen Key Ltd", Plan::Subscription, 12));
    ledger.distrust_key(stolen.kid(), &key, "laptop stolen", t0()).unwrap();
    // Starts in a month.
    let later =
        Order { not_before: Some(t0().plus_days(30)), ..order("acct-later", "Ärzte Later", Plan::Subscription, 12) };
    issue(&mut ledger, &key, later);

    let (mut seen, mut expiring_named) = (std::collections::HashSet::new(), 0);
    for days in [0, 8, 35, 60, 800] {
        let now = t0().plus_days(days);
        let all = ledger.list(&Filter::default(), now).unwrap();
        assert_eq!(all.total, 12);
        let kept = all.licenses.iter().find(|e| e.account == "acct-kept").unwrap().status;
        match days {
            8 => assert_eq!(kept, EntryStatus::Active, "an activated order past its deadline"),
            35 => assert_eq!(kept, EntryStatus::Grace, "an activated order past its expiry"),
            _ => {}
        }
        let needles = [None, Some("ärzte"), Some("ÄRZTE"), Some("ledger test"), Some("nobody")];
        let statuses = std::iter::once(None).chain(EntryStatus::ALL.map(Some));
        for (status, needle) in statuses.flat_map(|s| needles.map(|n| (s, n))) {
            let expected: Vec<_> = all
                .licenses
                .iter()
                .filter(|e| status.is_none_or(|s| e.status == s))
                .filter(|e| needle.is_none_or(|n| e.licensee.to_lowercase().contains(&n.to_lowercase())))
                .cloned()
                .collect();
            let filter = Filter { status, licensee: needle.map(Into::into), ..Filter::default() };
            let whole = ledger.list(&filter, now).unwrap();
            assert_eq!(
                (whole.total, &whole.licenses),
                (expected.len(), &expected),
                "{status:?} {needle:?} at +{days}d"
            );
            let mut paged = Vec::new();
            for offset in (0..14).step_by(2) {
                let page = ledger.list(&Filter { offset, limit: Some(2), ..filter.clone() }, now).unwrap();
                assert_eq!(page.total, expected.len(), "{status:?} {needle:?} at +{days}d, offset {offset}");
                paged.extend(page.licenses);
            }
            assert_eq!(paged, expected, "{status:?} {needle:?} at +{days}d, pages of 2");
        }
        // An expiry window (SQL) with a name (Rust): active ones only.
        let bound = now.plus_days(45).to_string();
        let expected: Vec<_> = all
            .licenses
            .iter()
            .filter(|e| e.status == EntryStatus::Active && e.expires_at.as_ref().is_some_and(|x| *x <= bound))
            .filter(|e| e.licensee.to_lowercase().contains("ärzte"))
            .cloned()
            .collect();
        let filter = Filter { expiring_within_days: Some(45), licensee: Some("ÄRZTE".into()), ..Filter::default() };
        let listed = ledger.list(&filter, now).unwrap();
        assert_eq!((listed.total, &listed.licenses), (expected.len(), &expected), "expiring, named, at +{days}d");
        expiring_named += listed.total;
        seen.extend(all.licenses.iter().map(|e| e.status));
    }
    assert_eq!(seen.len(), EntryStatus::ALL.len(), "every status was tried: {seen:?}");
    assert!(expiring_named > 0, "some named license expired within a window");
}

/// The listing takes a license's term from its derived columns; where one
/// does not parse (a column edited behind the ledger's back), its token
/// decides, so a status filter still agrees with the unfiltered listing
/// (which reads every token), on either store.
#[test]
fn a_status_filter_falls_back_to_the_token_where_a_column_does_not_parse() {
    let vendor = Vendor::new();
    let mut ledger = vendor.open_ledger();
    let catalog = catalogs::observability();
    let key = IssuerKey::from_seed(&[33; 32]);
    let order = |account: &str, months: u32, not_before: Option<Timestamp>| Order {
        plan: Some(Plan::Subscription),
        months: Some(months),
        not_before,
        ..payg_order(account)
    };
    for o in
        [order("acct-month", 1, None), order("acct-year", 12, None), order("acct-later", 12, Some(t0().plus_days(30)))]
    {
        ledger.issue(&key, o.validate(&catalog, t0()).unwrap(), t0()).unwrap();
    }
    vendor.sql("UPDATE licenses SET not_before = 'soon' WHERE account = 'acct-later'");
    vendor.sql("UPDATE licenses SET expires_at = 'next month' WHERE account = 'acct-month'");
    vendor.sql("UPDATE licenses SET activate_by = 'never' WHERE account = 'acct-year'");
    let mut seen = std::collections::HashSet::new();
    for days in [0, 35, 60] {
        let now = t0().plus_days(days);
        let all = ledger.list(&Filter::default(), now).unwrap();
        for status in EntryStatus::ALL {
            let expected: Vec<_> = all.licenses.iter().filter(|e| e.status == status).cloned().collect();
            let listed = ledger.list(&Filter { status: Some(status), ..Filter::default() }, now).unwrap();
            assert_eq!((listed.total, listed.licenses), (expected.len(), expected), "{status:?} at +{days}d");
        }
        seen.extend(all.licenses.iter().map(|e| (e.account.clone(), e.status)));
    }
    for (account, status) in [
        ("acct-later", EntryStatus::NotYetValid),
        ("acct-month", EntryStatus::Grace),
        ("acct-month", EntryStatus::Released),
        ("acct-year", EntryStatus::Active),
    ] {
        assert!(seen.contains(&(account.to_owned(), status)), "{account} was {status:?} at some time: {seen:?}");
    }
}
