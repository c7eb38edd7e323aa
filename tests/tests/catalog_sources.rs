//! Each rule the vendors' documents state, checked against the example
//! catalogs and through the real binaries. Every test names its source (a
//! file of `../shared/seeds/` and its section) and first checks that the
//! source says what the test relies on, so a rule cannot drift from its
//! document unnoticed.

use std::path::PathBuf;

use chrono::NaiveDate;
use license_common::Timestamp;
use license_common::license::Plan;
use license_issuer::catalogs;
use license_issuer::ledger::{DayState, Ledger};
use license_issuer::order::Order;
use license_tests::{Install, Run, Vendor, run, workspace};

/// The data platform's "升级" (upgrade) page.
const UPGRADE_PAGE: &str = "000_142aa65c1b28cd52.txt";
/// The data platform's management console guide.
const CONSOLE_GUIDE: &str = "001_1e12755f3ccee2ab.txt";
/// The observability platform's community → commercial page.
const COMMUNITY_UPGRADE: &str = "003_6618b64ce7e58a4c.txt";

/// Asserts that `file` of the vendors' documents says `phrase`.
fn cites(file: &str, phrase: &str) {
    let path = workspace().join("../shared/seeds").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.contains(phrase), "{file} no longer says {phrase:?}");
}

/// An example catalog, read as plain TOML.
fn catalog(name: &str) -> toml::Table {
    let path = workspace().join("catalogs").join(name);
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn edition<'a>(catalog: &'a toml::Table, id: &str) -> &'a toml::Table {
    catalog["editions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_table().unwrap())
        .find(|e| e["id"].as_str() == Some(id))
        .unwrap()
}

fn strings(value: &toml::Value) -> Vec<&str> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

fn observability() -> PathBuf {
    workspace().join("catalogs/observability.toml")
}

/// `issuer ARGS --key … --passphrase-file … --catalog CATALOG`.
fn issuer(v: &Vendor, catalog: &PathBuf, args: &[&str]) -> Run {
    let mut cmd = v.issuer();
    cmd.args(args).arg("--key").arg(&v.key).arg("--passphrase-file").arg(&v.pass_file).arg("--catalog").arg(catalog);
    run(cmd, None)
}

/// Writes `token` to a file in the vendor's directory.
fn file(v: &Vendor, name: &str, token: &str) -> String {
    let path = v.dir.path().join(name);
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn basic_rnd_on_adb_pg_takes_only_the_data_service_package() {
    cites(UPGRADE_PAGE, "基础研发版（ADB PG引擎）仅支持升级数据服务增值功能包");
    let dp = catalog("data-platform.toml");
    assert!(strings(&dp["product"]["engines"]).contains(&"adb_pg"), "the catalog names the ADB PG engine");
    let basic = edition(&dp, "basic_rnd");
    assert_eq!(strings(&basic["engine_packages"]["adb_pg"]), ["data_service"]);
    assert!(basic.get("engine_packages").unwrap().get("hadoop").is_none(), "the rule is ADB PG's, not Hadoop's");

    let v = Vendor::new();
    let base = ["--edition", "basic_rnd", "--engine", "adb_pg", "--no-default-package"];
    let ok = v.issue(&[&base[..], &["--package", "data_service=api.base"]].concat());
    for package in ["asset_governance=standard", "data_extraction=standard", "asset_security=standard"] {
        let err = v.issue_run(&[&base[..], &["--package", package]].concat()).fails_with(40).to_owned();
        assert!(err.contains("on engine `adb_pg`") && err.contains("data_service"), "{err}");
    }
    // On Hadoop, basic R&D takes the other packages.
    v.issue(&["--edition", "basic_rnd", "--engine", "hadoop", "--package", "asset_governance=standard"]);
    // An upgrade of the ADB PG license cannot add them either.
    let from = file(&v, "adb.lic", &ok);
    let dp = workspace().join("catalogs/data-platform.toml");
    let err =
        issuer(&v, &dp, &["upgrade", "--from", &from, "--package", "asset_quality=standard"]).fails_with(40).to_owned();
    assert!(err.contains("does not take package `asset_quality`"), "{err}");
    issuer(&v, &dp, &["upgrade", "--from", &from, "--package", "data_service=api.s1.small"]).ok();
}

#[test]
fn offline_integration_takes_no_package_and_no_data_quality() {
    cites(UPGRADE_PAGE, "|离线集成版|支持升级实例的数据处理单元规格，但不支持降配。|无|无|");
    let dp = catalog("data-platform.toml");
    assert!(edition(&dp, "offline_integration")["packages"].as_array().unwrap().is_empty());

    let v = Vendor::new();
    let base = ["--edition", "offline_integration", "--no-default-package"];
    for package in ["data_extraction=standard", "data_service=api.base"] {
        let err = v.issue_run(&[&base[..], &["--package", package]].concat()).fails_with(40).to_owned();
        assert!(err.contains("does not take package"), "{err}");
    }
    let err = v.issue_run(&[&base[..], &["--quota", "processing_units=20", "--quota", "data_quality=100"]].concat());
    let err = err.fails_with(40).to_owned();
    assert!(err.contains("quota `data_quality` is not offered on edition `offline_integration`"), "{err}");

    let token = v.issue(&[&base[..], &["--quota", "processing_units=20"]].concat());
    let from = file(&v, "offline.lic", &token);
    let dp = workspace().join("catalogs/data-platform.toml");
    let pubkey = v.public.to_str().unwrap();
    for extra in [["--package", "data_extraction=standard"], ["--quota", "data_quality=100"]] {
        let err = issuer(&v, &dp, &[&["upgrade", "--from", &from][..], &extra[..]].concat()).fails_with(40).to_owned();
        assert!(err.contains("offline_integration"), "{err}");
        let mut cmd = v.issuer();
        cmd.args(["quote", "--from", &from, "--pub", pubkey, "--catalog"]).arg(&dp).args(extra);
        run(cmd, None).fails_with(40);
    }
    // Processing units can be raised on every edition.
    issuer(&v, &dp, &["upgrade", "--from", &from, "--quota", "processing_units=40"]).ok();
}

#[test]
fn the_data_platform_is_sold_in_exactly_four_regions() {
    cites(CONSOLE_GUIDE, "China (Shanghai), China (Shenzhen), China (Beijing), and China (Hangzhou) regions");
    let dp = catalog("data-platform.toml");
    assert_eq!(strings(&dp["product"]["regions"]), ["cn-shanghai", "cn-shenzhen", "cn-beijing", "cn-hangzhou"]);
    let v = Vendor::new();
    for region in ["cn-shanghai", "cn-shenzhen", "cn-beijing", "cn-hangzhou"] {
        v.issue(&["--region", region]);
    }
    for region in ["cn-hongkong", "ap-singapore", "us-west-1"] {
        let err = v.issue_run(&["--region", region]).fails_with(40).to_owned();
        assert!(err.contains(&format!("region `{region}` is not in the catalog")), "{err}");
    }
}

#[test]
fn data_quality_is_a_specification_of_intelligent_rnd_only_and_never_lowered() {
    cites(UPGRADE_PAGE, "|基础研发版|支持升级实例的数据处理单元规格，但不支持降配。|无|");
    cites(UPGRADE_PAGE, "系统支持升级实例的数据质量规格，但不支持降配。");
    let dp = catalog("data-platform.toml");
    let dq = dp["quotas"].as_array().unwrap().iter().find(|q| q["id"].as_str() == Some("data_quality")).unwrap();
    assert_eq!(strings(&dq["editions"]), ["intelligent_rnd"]);

    let v = Vendor::new();
    let err = v.issue_run(&["--edition", "basic_rnd", "--quota", "data_quality=100"]).fails_with(40).to_owned();
    assert!(err.contains("quota `data_quality` is not offered on edition `basic_rnd`"), "{err}");
    let token = v.issue(&["--quota", "processing_units=40", "--quota", "data_quality=500"]);
    let from = file(&v, "dq.lic", &token);
    let dp = workspace().join("catalogs/data-platform.toml");
    let err = issuer(&v, &dp, &["upgrade", "--from", &from, "--quota", "data_quality=100"]).fails_with(40).to_owned();
    assert!(err.contains("cannot go from `500` down to `100`"), "{err}");
    issuer(&v, &dp, &["upgrade", "--from", &from, "--quota", "data_quality=2000"]).ok();
}

/// The data platform's license with everything at its maximum, but for `except`.
fn full_spec(v: &Vendor, except: &str) -> String {
    let mut args = vec!["--edition", "intelligent_rnd", "--no-default-package"];
    for (flag, value) in [
        ("--quota", "processing_units=300"),
        ("--quota", "data_quality=2000"),
        ("--package", "data_service=api.s2.large"),
        ("--package", "asset_governance=standard"),
        ("--package", "data_extraction=standard"),
        ("--package", "asset_security=standard"),
        ("--package", "asset_quality=standard"),
    ] {
        if value != except {
            args.extend([flag, value]);
        }
    }
    v.issue(&args)
}

#[test]
fn nothing_to_upgrade_means_top_units_top_data_quality_and_every_package() {
    cites(
        UPGRADE_PAGE,
        "如果您已购买智能研发版的数据处理单元和数据质量的最高规格，且已开通所有可选增值功能包，则不支持升级操作",
    );
    let v = Vendor::new();
    let dp = workspace().join("catalogs/data-platform.toml");
    let max = file(&v, "max.lic", &full_spec(&v, ""));
    let err =
        issuer(&v, &dp, &["upgrade", "--from", &max, "--quota", "processing_units=300"]).fails_with(40).to_owned();
    assert!(err.contains("nothing left to upgrade"), "{err}");
    // Without the top data-quality step there is still something to raise.
    let below = file(&v, "below.lic", &full_spec(&v, "data_quality=2000"));
    let err = issuer(&v, &dp, &["upgrade", "--from", &below]).fails_with(40).to_owned();
    assert!(err.contains("raises nothing") && err.contains("data_quality"), "{err}");
    issuer(&v, &dp, &["upgrade", "--from", &below, "--quota", "data_quality=2000"]).ok();
}

#[test]
fn a_plan_change_at_the_maximum_is_an_upgrade_priced_on_its_own_line() {
    cites(COMMUNITY_UPGRADE, "商业版分成订阅制版、许可证制版和按量付费版");
    let v = Vendor::new();
    let dp = workspace().join("catalogs/data-platform.toml");
    let max = file(&v, "max.lic", &full_spec(&v, ""));
    let mut cmd = v.issuer();
    cmd.args(["quote", "--json", "--from", &max, "--pub", v.public.to_str().unwrap(), "--catalog"]).arg(&dp);
    cmd.args(["--plan", "pay_as_you_go", "--at", &Timestamp::now().plus_days(30).to_string()]);
    let quote = run(cmd, None).json();
    let lines = quote["lines"].as_array().unwrap();
    let plan = lines.iter().find(|l| l["item"] == "plan").unwrap_or_else(|| panic!("no plan line: {quote}"));
    assert_eq!((plan["old"].as_str(), plan["new"].as_str()), (Some("subscription"), Some("pay_as_you_go")));
    assert!(plan["amount"].as_i64().unwrap() < 0, "the edition's prepaid months are credited: {plan}");
    let sum: i64 = lines.iter().map(|l| l["amount"].as_i64().unwrap()).sum();
    assert_eq!(sum, quote["price"].as_i64().unwrap(), "the lines add up to the price");
    let out = issuer(&v, &dp, &["upgrade", "--from", &max, "--plan", "pay_as_you_go"]);
    assert!(out.ok().starts_with("lic1."), "the plan change is made, not refused as nothing to upgrade");
}

#[test]
fn the_compute_engine_cannot_be_switched() {
    cites(UPGRADE_PAGE, "Dataphin当前不支持切换计算引擎");
    let v = Vendor::new();
    let dp = workspace().join("catalogs/data-platform.toml");
    let from = file(&v, "mc.lic", &v.issue(&[]));
    let err = issuer(&v, &dp, &["upgrade", "--from", &from, "--engine", "hadoop", "--quota", "processing_units=60"]);
    let err = err.fails_with(40).to_owned();
    assert!(err.contains("the compute engine cannot be switched") && err.contains("`maxcompute`"), "{err}");
    // Naming the engine it already runs on is not a switch.
    issuer(&v, &dp, &["upgrade", "--from", &from, "--engine", "maxcompute", "--quota", "processing_units=60"]).ok();
}

#[test]
fn only_the_primary_account_renews_or_upgrades_and_the_ledger_says_who_asked() {
    cites(CONSOLE_GUIDE, "Only the primary account is authorized to purchase, renew, and upgrade");
    cites(UPGRADE_PAGE, "使用主账号登录");
    let v = Vendor::new();
    let dp = workspace().join("catalogs/data-platform.toml");
    let from = file(&v, "l.lic", &v.issue(&[]));
    let list = || v.issuer().args(["ledger", "list", "--json"]).output().unwrap().stdout;
    let before = list();
    for command in ["renew", "upgrade"] {
        let mut args = vec![command, "--from", &from, "--account", "acct-sub-user"];
        args.extend(if command == "renew" { ["--months", "12"] } else { ["--quota", "processing_units=60"] });
        let err = issuer(&v, &dp, &args).fails_with(40).to_owned();
        assert!(err.contains("only the primary account may upgrade or renew"), "{command}: {err}");
    }
    assert_eq!(before, list(), "a refused request changes nothing");
    let renewed =
        issuer(&v, &dp, &["renew", "--from", &from, "--account", "acct-1001", "--months", "12"]).ok().trim().to_owned();
    let id = license_tests::license_id(&renewed);
    let mut cmd = v.issuer();
    cmd.args(["ledger", "show", &id, "--json"]);
    let shown = run(cmd, None).json();
    let entry = shown["licenses"].as_array().unwrap().iter().find(|l| l["id"] == id.as_str()).unwrap();
    assert_eq!(entry["requested_by"], "acct-1001", "{shown}");
}

#[test]
fn a_product_without_a_free_edition_starts_unlicensed_and_cannot_be_upgraded_from_community() {
    cites(CONSOLE_GUIDE, "If Dataphin has not been purchased by the primary account, please complete the purchase");
    assert_eq!(catalog("data-platform.toml")["product"]["free_edition"].as_bool(), Some(false));
    let v = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut cmd = std::process::Command::new(license_tests::bin("activator"));
    cmd.arg("--state").arg(&state).args(["init", "--product", "data-platform", "--trust", v.public.to_str().unwrap()]);
    cmd.arg("--no-free-edition");
    run(cmd, None).ok();
    let status = |args: &[&str]| {
        let mut cmd = std::process::Command::new(license_tests::bin("activator"));
        cmd.arg("--state").arg(&state).args(args);
        run(cmd, None)
    };
    let json = status(&["status", "--json"]).json();
    assert_eq!((json["phase"].as_str(), json["edition"].as_str()), (Some("unlicensed"), Some("none")), "{json}");
    let text = status(&["status"]).ok().to_owned();
    assert!(text.contains("no free edition") && !text.contains("community"), "{text}");
    let err = status(&["check", "data_service"]).fails_with(20).to_owned();
    assert!(err.contains("no license is in force, and this product has no free edition"), "{err}");

    let dp = workspace().join("catalogs/data-platform.toml");
    let order = "upgrade --account acct-new --product data-platform --licensee New --region cn-beijing \
                 --edition basic_rnd --engine maxcompute --plan subscription --quota processing_units=20";
    let err = issuer(&v, &dp, &order.split_whitespace().collect::<Vec<_>>()).fails_with(40).to_owned();
    assert!(err.contains("has no free edition, so there is no community account to upgrade from"), "{err}");
}

#[test]
fn the_observability_platform_keeps_its_community_edition() {
    cites(COMMUNITY_UPGRADE, "观测云社区版支持升级到商业版");
    cites(
        COMMUNITY_UPGRADE,
        "若 7 天内您未激活商业版，您在[观测云费用中心](https://boss.guance.com/#/signin)的账号会自动降级到社区版的账号",
    );
    let obs = catalog("observability.toml");
    assert_eq!(edition(&obs, "community")["free"].as_bool(), Some(true));
    assert_eq!(obs["plan_rules"]["pay_as_you_go"]["free_window_days"].as_integer(), Some(7));
    let mut v = Vendor::new();
    v.catalog = observability();
    let install = Install::of_product(&v, "observability");
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(
        (status["phase"].as_str(), status["edition"].as_str()),
        (Some("community"), Some("community")),
        "{status}"
    );
}

#[test]
fn usage_speaks_of_what_each_product_meters() {
    cites(COMMUNITY_UPGRADE, "一个 DK 为  5 元/天，若上报数据的 DK 小于 20 个，按照 20 个 DK 进行收费");
    let obs = catalog("observability.toml");
    let payg = obs["pay_as_you_go"].as_table().unwrap();
    assert_eq!((payg["unit_price_per_day"].as_integer(), payg["minimum_count"].as_integer()), (Some(500), Some(20)));
    assert_eq!(payg["units"].as_str(), Some("DataKits"));
    let dp = catalog("data-platform.toml");
    assert_eq!(dp["pay_as_you_go"]["units"].as_str(), Some("processing units"));

    // The data platform's pay-as-you-go install counts processing units.
    let v = Vendor::new();
    let install = Install::new(&v);
    install.activate(&v.issue(&["--plan", "pay_as_you_go"])).ok();
    let today = license_tests::billing_today();
    let out = install.run(&["usage", "record", "--count", "30", "--day", &today], None).ok().to_owned();
    assert_eq!(out, format!("{today}: 30 processing units\n"));
    let json = install.run(&["usage", "record", "--count", "12", "--day", &today, "--json"], None).json();
    assert_eq!((json["collectors"].as_u64(), json["meter"].as_str()), (Some(30), Some("processing_unit")), "{json}");
    // And so does its bill.
    let bill = |v: &Vendor, account: &str| {
        let mut cmd = v.issuer();
        cmd.args(["bill", "--account", account, "--catalog"]).arg(&v.catalog).args([
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-02",
        ]);
        run(cmd, None).ok().to_owned()
    };
    let text = bill(&v, "acct-1001");
    assert!(
        text.contains("per processing unit per day; fewer than 1 processing units") && !text.contains("collector"),
        "{text}"
    );

    // The observability platform's counts DataKits, with the old flag too.
    let mut o = Vendor::new();
    o.catalog = observability();
    let token = issuer(
        &o,
        &o.catalog.clone(),
        &[
            "issue",
            "--account",
            "acct-o",
            "--licensee",
            "O",
            "--region",
            "cn-hangzhou",
            "--edition",
            "commercial",
            "--plan",
            "pay_as_you_go",
        ],
    )
    .ok()
    .trim()
    .to_owned();
    let install = Install::of_product(&o, "observability");
    install.activate(&token).ok();
    let today = license_tests::billing_today();
    let out = install.run(&["usage", "record", "--datakits", "7", "--day", &today], None).ok().to_owned();
    assert_eq!(out, format!("{today}: 7 DataKits\n"));
    let text = bill(&o, "acct-o");
    assert!(text.contains("5.00 CNY per DataKit per day; fewer than 20 DataKits are billed as 20"), "{text}");
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn billing_days_and_the_free_window_are_counted_in_china_standard_time() {
    cites(COMMUNITY_UPGRADE, "观测云会提供 7 天的免费使用期限");
    assert_eq!(catalog("observability.toml")["product"]["time_zone"].as_str(), Some("+08:00"));
    assert_eq!(catalog("data-platform.toml")["product"]["time_zone"].as_str(), Some("+08:00"));
    let dir = tempfile::tempdir().unwrap();
    let key = license_common::signing::IssuerKey::from_seed(&[33; 32]);
    let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    let catalog = catalogs::observability();
    // Ordered at 04:00 on 2 May in Beijing (20:00 UTC on 1 May).
    let ordered = t("2026-05-01T20:00:00Z");
    let order = Order {
        account: "acct-cst".into(),
        licensee: "CST Ltd".into(),
        region: "cn-hangzhou".into(),
        edition: "commercial".into(),
        plan: Some(Plan::PayAsYouGo),
        months: Some(1),
        ..Order::default()
    };
    let issued = ledger.issue(&key, order.validate(&catalog, ordered).unwrap(), ordered).unwrap();
    let keyring = license_common::Keyring::from_keys([*key.public()]);
    let mut install =
        license_activator::Activator::open_with_keyring(&dir.path().join("install"), "observability", keyring).unwrap();
    install.activate(&issued.token, ordered.plus_days(1)).unwrap();
    ledger.import_receipt(&install.receipt(ordered.plus_days(1)).unwrap(), ordered.plus_days(1)).unwrap();
    // A DataKit reporting at 07:00 in Beijing on 10 May is counted on 10 May.
    let seven_am = t("2026-05-09T23:00:00Z");
    assert_eq!(install.usage_day(seven_am), day("2026-05-10"));
    for d in 2..=12 {
        install.record_usage(day(&format!("2026-05-{d:02}")), 25, t("2026-05-13T00:00:00Z")).unwrap();
    }
    let report = install.usage_report(day("2026-05-02"), day("2026-05-12"), t("2026-05-13T00:00:00Z")).unwrap();
    ledger.import_usage(&report, t("2026-05-13T00:00:00Z")).unwrap();
    let bill =
        ledger.bill(&catalog, "acct-cst", day("2026-05-01"), day("2026-05-12"), t("2026-05-13T00:00:00Z")).unwrap();
    let state = |d: &str| bill.days.iter().find(|x| x.day == day(d)).unwrap().state;
    // In UTC the order falls on 1 May and the window ends on 8 May; in
    // Beijing it falls on 2 May and ends at 04:00 on 9 May.
    assert_eq!(state("2026-05-01"), DayState::BeforeOrder, "{bill}");
    assert_eq!(state("2026-05-02"), DayState::FreeWindow, "{bill}");
    assert_eq!(state("2026-05-08"), DayState::FreeWindow, "{bill}");
    assert_eq!(state("2026-05-09"), DayState::Billed, "{bill}");
    assert_eq!(bill.total, 4 * 25 * 500, "9 to 12 May: 25 DataKits at 5 CNY");
}
