//! The vendor's documented rules (DESIGN §2), reproduced with the libraries
//! at chosen moments: prorated prices, upgrades only go up, add-ons expire
//! with the instance, edition/package rules, nothing left to upgrade,
//! renewal in grace versus after release, and the 7-day pay-as-you-go window.

use chrono::Duration;
use license_activator::{Activator, ActivatorError};
use license_common::Timestamp;
use license_common::catalog::Catalog;
use license_common::license::{License, Plan};
use license_common::signing::IssuerKey;
use license_issuer::ledger::Ledger;
use license_issuer::order::{Order, OrderError};
use license_issuer::upgrade::{self, RenewTerm, UpgradeRequest};
use license_issuer::{Issued, IssuerError, catalogs, quote_upgrade};

thread_local! {
    /// Each test's ledger (each test runs on a thread of its own): a
    /// successor is signed only from a license the ledger holds.
    static LEDGER: (tempfile::TempDir, std::cell::RefCell<Ledger>) = {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
        (dir, std::cell::RefCell::new(ledger))
    };
}

/// Checks `order` and signs it in the test's ledger.
fn issue(key: &IssuerKey, catalog: &Catalog, order: &Order, now: Timestamp) -> Result<Issued, IssuerError> {
    let checked = order.validate(catalog, now)?;
    LEDGER.with(|(_, ledger)| ledger.borrow_mut().issue(key, checked, now))
}

/// Checks the upgrade of `current` and signs it in the test's ledger.
fn upgrade_license(
    key: &IssuerKey,
    catalog: &Catalog,
    current: &License,
    request: &UpgradeRequest,
    now: Timestamp,
) -> Result<Issued, IssuerError> {
    let successor = upgrade::upgrade(catalog, current, request, now)?;
    LEDGER.with(|(_, ledger)| ledger.borrow_mut().sign_successor(key, successor, false, now))
}

/// Checks the renewal of `current` and signs it in the test's ledger.
fn renew_license(
    key: &IssuerKey,
    catalog: &Catalog,
    current: &License,
    term: RenewTerm,
    now: Timestamp,
) -> Result<Issued, IssuerError> {
    let successor = upgrade::renew(catalog, current, term, None, now)?;
    LEDGER.with(|(_, ledger)| ledger.borrow_mut().sign_successor(key, successor, false, now))
}

fn t0() -> Timestamp {
    Timestamp::parse("2026-03-01T00:00:00Z").unwrap()
}

fn order(edition: &str, engine: &str, plan: Plan, packages: &[(&str, &str)], units: u64) -> Order {
    Order {
        account: "acct-2001".into(),
        licensee: "Rules Test Ltd".into(),
        region: "cn-hangzhou".into(),
        edition: edition.into(),
        engine: Some(engine.into()),
        plan: Some(plan),
        packages: packages.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect(),
        quotas: [("processing_units".to_string(), units)].into(),
        months: Some(12),
        ..Order::default()
    }
}

fn raise(packages: &[(&str, &str)]) -> UpgradeRequest {
    UpgradeRequest {
        packages: packages.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect(),
        ..Default::default()
    }
}

fn order_error(result: Result<impl std::fmt::Debug, IssuerError>) -> OrderError {
    match result {
        Err(IssuerError::Order(e)) => e,
        other => panic!("expected an order refusal, got {other:?}"),
    }
}

fn monthly(catalog: &Catalog, l: &License) -> u64 {
    let edition = catalog.edition(&l.edition).unwrap().1.monthly_price;
    let tiers: u64 = l
        .packages
        .iter()
        .map(|(p, g)| catalog.package(p).unwrap().tiers.iter().find(|t| t.id == g.tier).unwrap().monthly_price)
        .sum();
    let quotas: u64 = l
        .quotas
        .iter()
        .map(|(q, v)| catalog.quota(q).unwrap().steps.iter().find(|s| s.value == *v).unwrap().monthly_price)
        .sum();
    edition + tiers + quotas
}

#[test]
fn prorated_price_with_ten_days_six_hours_left_is_the_formula_in_fen() {
    let key = IssuerKey::from_seed(&[1; 32]);
    let catalog = catalogs::data_platform();
    let current = issue(
        &key,
        &catalog,
        &order("intelligent_rnd", "maxcompute", Plan::Subscription, &[("data_service", "api.base")], 40),
        t0(),
    )
    .unwrap()
    .license;
    let expiry = current.expires_at.unwrap();
    let at = expiry.plus(-(Duration::days(10) + Duration::hours(6)));
    let request = raise(&[("data_service", "api.s1.small")]);
    let quote = quote_upgrade(&catalog, &current, &request, at).unwrap();

    // The formula, by hand: monthly ÷ 30 ÷ 24 × remaining hours, per term.
    let hours = 10 * 24 + 6;
    let old_monthly = monthly(&catalog, &current);
    let mut upgraded = current.clone();
    upgraded.packages.get_mut("data_service").unwrap().tier = "api.s1.small".into();
    let new_monthly = monthly(&catalog, &upgraded);
    assert_eq!((quote.old_monthly, quote.new_monthly), (old_monthly, new_monthly));
    assert_eq!(quote.remaining_seconds, hours * 3600);
    assert_eq!(quote.new_term, (new_monthly as i64) * hours / 720);
    assert_eq!(quote.old_term, (old_monthly as i64) * hours / 720);
    // api.base 1,000 CNY → api.s1.small 4,000 CNY a month: 3,000 × 246 / 720 = 1,025.00 CNY.
    assert_eq!(quote.price, 102_500);
    assert_eq!(quote.currency, "CNY");
}

#[test]
fn tiers_only_go_up() {
    let key = IssuerKey::from_seed(&[2; 32]);
    let catalog = catalogs::data_platform();
    let current = issue(
        &key,
        &catalog,
        &order("intelligent_rnd", "maxcompute", Plan::Subscription, &[("data_service", "api.s1.medium")], 40),
        t0(),
    )
    .unwrap()
    .license;
    let err = order_error(upgrade_license(&key, &catalog, &current, &raise(&[("data_service", "api.s1.small")]), t0()));
    assert!(matches!(err, OrderError::Lower { .. }), "{err}");
    assert!(err.to_string().contains("package `data_service` cannot go from `api.s1.medium` down to `api.s1.small`"));
    let lower_quota = UpgradeRequest { quotas: [("processing_units".to_string(), 20)].into(), ..Default::default() };
    assert!(matches!(
        order_error(upgrade_license(&key, &catalog, &current, &lower_quota, t0())),
        OrderError::Lower { .. }
    ));
    let lower_edition = UpgradeRequest { edition: Some("basic_rnd".into()), ..Default::default() };
    assert!(matches!(
        order_error(upgrade_license(&key, &catalog, &current, &lower_edition, t0())),
        OrderError::Lower { .. }
    ));
}

#[test]
fn a_package_bought_mid_term_expires_with_the_instance() {
    let key = IssuerKey::from_seed(&[3; 32]);
    let catalog = catalogs::data_platform();
    let current = issue(&key, &catalog, &order("basic_rnd", "maxcompute", Plan::Subscription, &[], 40), t0()).unwrap();
    let mid_term = t0().plus(Duration::days(200));
    let upgraded =
        upgrade_license(&key, &catalog, &current.license, &raise(&[("asset_quality", "standard")]), mid_term).unwrap();
    assert_eq!(upgraded.license.expires_at, current.license.expires_at);
    assert_eq!(upgraded.license.supersedes.as_deref(), Some(current.license.id.as_str()));
    assert_eq!(upgraded.license.sequence, current.license.sequence + 1);
    assert_eq!(upgraded.license.packages["asset_quality"].tier, "standard");
}

#[test]
fn basic_rnd_on_adb_pg_takes_only_data_service() {
    // 000_142aa65c1b28cd52.txt, "升级", note: 基础研发版（ADB PG引擎）仅支持升级数据服务增值功能包.
    let key = IssuerKey::from_seed(&[4; 32]);
    let catalog = catalogs::data_platform();
    let bad = order("basic_rnd", "adb_pg", Plan::Subscription, &[("asset_governance", "standard")], 40);
    let err = order_error(issue(&key, &catalog, &bad, t0()));
    assert!(
        err.to_string().contains("edition `basic_rnd` on engine `adb_pg` does not take package `asset_governance`")
    );
    let current = issue(&key, &catalog, &order("basic_rnd", "adb_pg", Plan::Subscription, &[], 40), t0()).unwrap();
    let err = order_error(upgrade_license(
        &key,
        &catalog,
        &current.license,
        &raise(&[("asset_governance", "standard")]),
        t0(),
    ));
    assert!(matches!(err, OrderError::PackageNotAllowed { .. }), "{err}");
}

#[test]
fn a_full_spec_license_has_nothing_to_upgrade() {
    let key = IssuerKey::from_seed(&[5; 32]);
    let catalog = catalogs::data_platform();
    let top: Vec<(&str, &str)> = vec![
        ("data_service", "api.s2.large"),
        ("asset_governance", "standard"),
        ("data_extraction", "standard"),
        ("asset_security", "standard"),
        ("asset_quality", "standard"),
    ];
    // 000_142aa65c1b28cd52.txt, "升级" step 4: the highest processing units
    // and data quality, and every package: nothing left to upgrade.
    let mut full = order("intelligent_rnd", "maxcompute", Plan::Subscription, &top, 300);
    full.quotas.insert("data_quality".into(), 2000);
    let current = issue(&key, &catalog, &full, t0()).unwrap();
    let err = order_error(upgrade_license(
        &key,
        &catalog,
        &current.license,
        &raise(&[("data_service", "api.s2.large")]),
        t0(),
    ));
    assert!(matches!(err, OrderError::NothingToUpgrade { .. }), "{err}");
    assert!(err.to_string().contains("nothing left to upgrade"), "{err}");

    // One step short of the top, a no-op request says what could be raised.
    let mut short = order("intelligent_rnd", "maxcompute", Plan::Subscription, &top, 200);
    short.account = "acct-2002".into();
    short.quotas.insert("data_quality".into(), 2000);
    let almost = issue(&key, &catalog, &short, t0()).unwrap();
    let err = order_error(upgrade_license(&key, &catalog, &almost.license, &UpgradeRequest::default(), t0()));
    assert!(err.to_string().contains("`processing_units` up to 300"), "{err}");
    // At the top of processing units but not of data quality: still room.
    let mut no_quality = order("intelligent_rnd", "maxcompute", Plan::Subscription, &top, 300);
    no_quality.account = "acct-2003".into();
    let some = issue(&key, &catalog, &no_quality, t0()).unwrap();
    let err = order_error(upgrade_license(&key, &catalog, &some.license, &UpgradeRequest::default(), t0()));
    assert!(err.to_string().contains("`data_quality` up to 2000"), "{err}");
}

#[test]
fn a_renewal_in_grace_restores_access_and_one_after_release_is_refused() {
    let key = IssuerKey::from_seed(&[6; 32]);
    let catalog = catalogs::data_platform();
    let dir = tempfile::tempdir().unwrap();
    let trusted = license_common::Keyring::from_keys([*key.public()]);
    let mut install = Activator::open_with_keyring(dir.path(), "data-platform", trusted).unwrap();
    let first = issue(
        &key,
        &catalog,
        &order("intelligent_rnd", "maxcompute", Plan::Subscription, &[("data_service", "api.base")], 40),
        t0(),
    )
    .unwrap();
    install.activate(&first.token, t0()).unwrap();
    let expiry = first.license.expires_at.unwrap();

    let in_grace = expiry.plus(Duration::days(3));
    assert_eq!(install.status(in_grace).phase, "grace");
    assert!(install.check("data_service", None, in_grace).is_err());
    let renewed = renew_license(&key, &catalog, &first.license, RenewTerm::Months(12), in_grace).unwrap();
    assert_eq!(renewed.license.expires_at, expiry.plus_months(12));
    install.activate(&renewed.token, in_grace).unwrap();
    assert_eq!(install.status(in_grace).phase, "active");
    assert!(install.check("data_service", None, in_grace).is_ok(), "access is restored");

    let released = expiry.plus(Duration::days(15));
    let err = order_error(renew_license(&key, &catalog, &first.license, RenewTerm::Months(12), released));
    assert!(matches!(err, OrderError::Released { .. }), "{err}");
    assert!(err.to_string().contains("can no longer be renewed"), "{err}");
}

#[test]
fn community_to_pay_as_you_go_must_be_activated_within_seven_days() {
    let key = IssuerKey::from_seed(&[7; 32]);
    let catalog = catalogs::data_platform();
    let trusted = license_common::Keyring::from_keys([*key.public()]);
    let payg = issue(
        &key,
        &catalog,
        &order("basic_rnd", "maxcompute", Plan::PayAsYouGo, &[("data_service", "api.base")], 20),
        t0(),
    )
    .unwrap();
    assert_eq!(payg.license.activate_by, Some(t0().plus_days(7)));

    let day6 = tempfile::tempdir().unwrap();
    let mut install = Activator::open_with_keyring(day6.path(), "data-platform", trusted.clone()).unwrap();
    install.activate(&payg.token, t0().plus_days(6)).unwrap();
    assert_eq!(install.status(t0().plus_days(6)).edition, "basic_rnd");

    // An upgrade on day 10 continues the activated account: no new deadline.
    let day10 = t0().plus_days(10);
    let upgraded =
        upgrade_license(&key, &catalog, &payg.license, &raise(&[("data_service", "api.s1.small")]), day10).unwrap();
    assert_eq!(upgraded.license.activate_by, None);
    install.activate(&upgraded.token, day10).unwrap();

    let day8 = tempfile::tempdir().unwrap();
    let mut late = Activator::open_with_keyring(day8.path(), "data-platform", trusted).unwrap();
    let err = late.activate(&payg.token, t0().plus_days(8)).unwrap_err();
    assert!(matches!(err, ActivatorError::ActivationWindowClosed { .. }), "{err}");
    assert_eq!(late.status(t0().plus_days(8)).edition, "community", "the install stays community");
}

/// A quota scoped to an edition and an engine is offered, and required, only
/// there: everywhere else it is refused, and orders need not give it; an
/// upgrade onto the edition must give it.
#[test]
fn a_scoped_required_quota_is_required_where_offered_and_refused_elsewhere() {
    let text = std::fs::read_to_string(license_tests::workspace().join("catalogs/data-platform.toml")).unwrap()
        + "\n[[quotas]]\nid = \"gpu_nodes\"\nname = \"GPU nodes\"\nrequired = true\neditions = [\"intelligent_rnd\"]\n\
           engines = [\"hadoop\"]\nsteps = [{ value = 1, monthly_price = 100 }, { value = 2, monthly_price = 200 }]\n";
    let catalog = Catalog::from_toml(&text).unwrap();
    let key = IssuerKey::from_seed(&[77; 32]);
    let with_gpu = |mut o: Order| {
        o.quotas.insert("gpu_nodes".into(), 1);
        o
    };
    let sub = Plan::Subscription;
    // Offered here, so required.
    let check = |o: Order| o.validate(&catalog, t0()).map(drop).map_err(IssuerError::Order);
    let e = order_error(check(order("intelligent_rnd", "hadoop", sub, &[], 40)));
    assert!(matches!(e, OrderError::QuotaMissing { ref quota, .. } if quota == "gpu_nodes"), "{e}");
    check(with_gpu(order("intelligent_rnd", "hadoop", sub, &[], 40))).unwrap();
    // Another engine, another edition: not offered, not required.
    check(order("intelligent_rnd", "maxcompute", sub, &[], 40)).unwrap();
    check(order("basic_rnd", "hadoop", sub, &[], 40)).unwrap();
    for (edition, engine) in
        [("intelligent_rnd", "maxcompute"), ("basic_rnd", "hadoop"), ("offline_integration", "hadoop")]
    {
        let e = order_error(check(with_gpu(order(edition, engine, sub, &[], 40))));
        assert!(
            matches!(e, OrderError::QuotaNotOffered { ref quota, .. } if quota == "gpu_nodes"),
            "{edition} {engine}: {e}"
        );
    }
    // Upgrading basic R&D on Hadoop to intelligent R&D needs the quota now offered.
    let mut first = order("basic_rnd", "hadoop", sub, &[], 40);
    first.account = "acct-scoped-quota".into();
    let basic = issue(&key, &catalog, &first, t0()).unwrap();
    let to_intelligent = UpgradeRequest { edition: Some("intelligent_rnd".into()), ..Default::default() };
    let at = t0().plus(Duration::days(10));
    let e = order_error(upgrade_license(&key, &catalog, &basic.license, &to_intelligent, at));
    assert!(matches!(e, OrderError::QuotaMissing { ref quota, .. } if quota == "gpu_nodes"), "{e}");
    let mut with = to_intelligent.clone();
    with.quotas.insert("gpu_nodes".into(), 2);
    upgrade_license(&key, &catalog, &basic.license, &with, at).unwrap();
}
