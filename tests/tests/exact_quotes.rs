//! Quotes computed here, independently, with exact fractions from the
//! catalog read as plain TOML, against `issuer quote --json`, to the fen.
//!
//! The formula is the data platform's ("升级", step 5, in
//! `../shared/seeds/000_142aa65c1b28cd52.txt`):
//! 升级订单价格 = 本次配置月单价 ÷ 30 ÷ 24 × 剩余时长 − 已购时配置月单价 ÷ 30 ÷ 24 × 剩余时长,
//! one expression, so it is rounded once (to the nearest fen, halves up).
//! On pay-as-you-go the meter bills the edition, so its monthly price is not
//! charged there; packages and quota steps keep theirs.

use std::collections::BTreeMap;

use chrono::Months;
use license_common::Timestamp;
use license_tests::{Vendor, run, workspace};

/// Seconds in the formula's month: 30 × 24 hours.
const MONTH: i128 = 30 * 24 * 3600;

/// A license's configuration, as ordered.
#[derive(Clone, Debug)]
struct Config {
    edition: &'static str,
    engine: &'static str,
    plan: &'static str,
    packages: BTreeMap<&'static str, &'static str>,
    quotas: BTreeMap<&'static str, u64>,
}

/// What an upgrade asks for.
#[derive(Clone, Debug, Default)]
struct Ask {
    edition: Option<&'static str>,
    plan: Option<&'static str>,
    packages: Vec<(&'static str, &'static str)>,
    quotas: Vec<(&'static str, u64)>,
}

impl Ask {
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(e) = self.edition {
            args.extend(["--edition".into(), e.into()]);
        }
        if let Some(p) = self.plan {
            args.extend(["--plan".into(), p.into()]);
        }
        for (p, t) in &self.packages {
            args.extend(["--package".into(), format!("{p}={t}")]);
        }
        for (q, n) in &self.quotas {
            args.extend(["--quota".into(), format!("{q}={n}")]);
        }
        args
    }

    fn apply(&self, config: &Config) -> Config {
        let mut next = config.clone();
        if let Some(e) = self.edition {
            next.edition = e;
        }
        if let Some(p) = self.plan {
            next.plan = p;
        }
        next.packages.extend(self.packages.iter().copied());
        next.quotas.extend(self.quotas.iter().copied());
        next
    }
}

/// Prices read from the catalog's TOML.
struct Prices(toml::Table);

impl Prices {
    fn find<'a>(&'a self, table: &str, id: &str) -> &'a toml::Table {
        self.0[table]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_table().unwrap())
            .find(|t| t["id"].as_str() == Some(id))
            .unwrap()
    }

    /// Every priced item of `config` on its plan: (item, monthly fen).
    fn items(&self, config: &Config) -> BTreeMap<String, i128> {
        let mut items = BTreeMap::new();
        let edition = self.find("editions", config.edition)["monthly_price"].as_integer().unwrap();
        items.insert("edition".to_owned(), if config.plan == "pay_as_you_go" { 0 } else { i128::from(edition) });
        for (package, tier) in &config.packages {
            let tiers = self.find("packages", package)["tiers"].as_array().unwrap();
            let tier = tiers.iter().find(|t| t["id"].as_str() == Some(tier)).unwrap();
            items.insert(format!("package {package}"), i128::from(tier["monthly_price"].as_integer().unwrap()));
        }
        for (quota, value) in &config.quotas {
            let steps = self.find("quotas", quota)["steps"].as_array().unwrap();
            let step = steps.iter().find(|s| s["value"].as_integer() == Some(*value as i64)).unwrap();
            items.insert(format!("quota {quota}"), i128::from(step["monthly_price"].as_integer().unwrap()));
        }
        items
    }

    fn monthly(&self, config: &Config) -> i128 {
        self.items(config).values().sum()
    }
}

/// `n / d` rounded to the nearest integer, halves up (towards +∞); `d > 0`.
fn round_half_up(n: i128, d: i128) -> i128 {
    (2 * n + d).div_euclid(2 * d)
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

const START: &str = "2026-11-01T00:00:00Z";
const EXPIRY: &str = "2027-11-01T00:00:00Z";

fn config(
    edition: &'static str,
    engine: &'static str,
    plan: &'static str,
    packages: &[(&'static str, &'static str)],
    quotas: &[(&'static str, u64)],
) -> Config {
    Config {
        edition,
        engine,
        plan,
        packages: packages.iter().copied().collect(),
        quotas: quotas.iter().copied().collect(),
    }
}

/// Issues `config` from START to EXPIRY; returns the license file.
fn issue(v: &Vendor, n: usize, config: &Config) -> String {
    let mut args: Vec<String> = ["--edition", config.edition, "--engine", config.engine, "--plan", config.plan]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--not-before".into(), START.into(), "--until".into(), EXPIRY.into(), "--no-default-package".into()]);
    args.extend(
        Ask {
            packages: config.packages.clone().into_iter().collect(),
            quotas: config.quotas.clone().into_iter().collect(),
            ..Ask::default()
        }
        .args(),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let token = v.issue(&args);
    let path = v.dir.path().join(format!("base-{n}.lic"));
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

fn quote(v: &Vendor, from: &str, extra: &[String]) -> serde_json::Value {
    let mut cmd = v.issuer();
    cmd.args(["quote", "--json", "--from", from, "--pub", v.public.to_str().unwrap(), "--catalog"]).arg(&v.catalog);
    cmd.args(extra);
    run(cmd, None).json()
}

/// Checks a printed quote: its lines add up to its price, each line marked
/// exact only when it is, and the price is `expected`.
fn check(quote: &serde_json::Value, expected: i128, exact: bool, what: &str) {
    let price = i128::from(quote["price"].as_i64().unwrap());
    assert_eq!(price, expected, "{what}: {quote}");
    assert_eq!(quote["exact"], exact, "{what}: {quote}");
    let lines = quote["lines"].as_array().unwrap();
    let sum: i128 = lines.iter().map(|l| i128::from(l["amount"].as_i64().unwrap())).sum();
    assert_eq!(sum, price, "{what}: the lines add up to the price as printed: {quote}");
}

#[test]
fn upgrade_and_renewal_quotes_match_exact_fractions_to_the_fen() {
    let v = Vendor::new();
    let prices =
        Prices(std::fs::read_to_string(workspace().join("catalogs/data-platform.toml")).unwrap().parse().unwrap());
    let bases = [
        config("basic_rnd", "maxcompute", "subscription", &[], &[("processing_units", 20)]),
        config(
            "intelligent_rnd",
            "hadoop",
            "subscription",
            &[("data_service", "api.base")],
            &[("processing_units", 40), ("data_quality", 100)],
        ),
        config("offline_integration", "maxcompute", "subscription", &[], &[("processing_units", 20)]),
        config("basic_rnd", "adb_pg", "pay_as_you_go", &[("data_service", "api.base")], &[("processing_units", 60)]),
    ];
    let ask = |edition, plan, packages: &[(&'static str, &'static str)], quotas: &[(&'static str, u64)]| Ask {
        edition,
        plan,
        packages: packages.to_vec(),
        quotas: quotas.to_vec(),
    };
    let asks: [Vec<Ask>; 4] = [
        vec![
            ask(Some("intelligent_rnd"), None, &[], &[]),
            ask(None, None, &[], &[("processing_units", 40)]),
            ask(None, None, &[("data_service", "api.s1.medium")], &[]),
            ask(Some("intelligent_rnd"), None, &[("asset_security", "standard")], &[("data_quality", 500)]),
            ask(None, Some("pay_as_you_go"), &[], &[]),
            ask(
                None,
                None,
                &[("data_service", "api.base"), ("asset_quality", "standard")],
                &[("processing_units", 150)],
            ),
        ],
        vec![
            ask(None, None, &[], &[("data_quality", 2000)]),
            ask(None, None, &[("data_service", "api.s2.large")], &[]),
            ask(None, None, &[("asset_governance", "standard")], &[("processing_units", 300)]),
            ask(None, Some("pay_as_you_go"), &[("data_extraction", "standard")], &[]),
        ],
        vec![
            ask(Some("basic_rnd"), None, &[], &[]),
            ask(Some("intelligent_rnd"), None, &[], &[("processing_units", 60)]),
            ask(None, None, &[], &[("processing_units", 100)]),
        ],
        vec![
            ask(None, None, &[("data_service", "api.s1.small")], &[]),
            ask(None, None, &[], &[("processing_units", 80)]),
            ask(Some("intelligent_rnd"), None, &[], &[]),
        ],
    ];
    // Times of the upgrade: before the start (counted from the start), and
    // at odd seconds through the term.
    let times = [
        "2026-10-20T10:00:00Z",
        "2026-12-10T05:17:23Z",
        "2027-03-01T00:00:00Z",
        "2027-07-19T13:01:07Z",
        "2027-10-31T23:59:41Z",
    ];
    let expiry = t(EXPIRY);
    let (mut matched, mut inexact, mut separately_differs) = (0, 0, 0);
    for (n, (base, asks)) in bases.iter().zip(&asks).enumerate() {
        let from = issue(&v, n, base);
        for ask in asks {
            let target = ask.apply(base);
            for at in times {
                let seconds = i128::from(expiry.since(t(at).max(t(START))).num_seconds());
                let (old, new) = (prices.monthly(base), prices.monthly(&target));
                let numerator = (new - old) * seconds;
                let expected = round_half_up(numerator, MONTH);
                // What rounding each term on its own would give.
                if round_half_up(new * seconds, MONTH) - round_half_up(old * seconds, MONTH) != expected {
                    separately_differs += 1;
                }
                let mut extra = ask.args();
                extra.extend(["--at".into(), at.into()]);
                let q = quote(&v, &from, &extra);
                check(&q, expected, numerator % MONTH == 0, &format!("{base:?} + {ask:?} at {at}"));
                assert_eq!(q["remaining_seconds"].as_i64().map(i128::from), Some(seconds));
                let plan_line = q["lines"].as_array().unwrap().iter().any(|l| l["item"] == "plan");
                assert_eq!(plan_line, ask.plan.is_some(), "a plan change, and only one, has its own line: {q}");
                matched += 1;
                inexact += usize::from(numerator % MONTH != 0);
            }
        }
    }
    // Renewals: the license's monthly price on its plan over the added time.
    for (n, base) in bases.iter().enumerate() {
        let from = v.dir.path().join(format!("base-{n}.lic"));
        let from = from.to_str().unwrap();
        for (flag, value) in
            [("--renew-months", "1"), ("--renew-months", "12"), ("--renew-until", "2028-02-29T12:34:56Z")]
        {
            let until = if flag == "--renew-months" {
                let months = Months::new(value.parse().unwrap());
                Timestamp::from_unix(expiry.as_datetime().checked_add_months(months).unwrap().timestamp()).unwrap()
            } else {
                t(value)
            };
            let numerator = prices.monthly(base) * i128::from(until.since(expiry).num_seconds());
            let q = quote(&v, from, &[flag.into(), value.into()]);
            assert_eq!(q["priced"], "renewal");
            assert_eq!(q["expires_at"], until.to_string());
            check(
                &q,
                round_half_up(numerator, MONTH),
                numerator % MONTH == 0,
                &format!("renew {base:?} {flag} {value}"),
            );
            matched += 1;
        }
    }
    println!(
        "{matched} quotes matched to the fen; {inexact} needed rounding; {separately_differs} differ when each term is rounded on its own"
    );
    assert!(matched >= 20, "{matched} quotes");
    assert!(inexact >= 10, "the cases exercise rounding: {inexact}");
    assert!(separately_differs >= 1, "some case tells rounding once from rounding each term: {separately_differs}");
}

#[test]
fn a_quote_whose_terms_rounded_apart_would_be_off_by_a_fen_is_rounded_once() {
    // Basic R&D (8,000 + 3,000 CNY a month) to intelligent R&D with 40
    // units (20,000 + 6,000): find a time at which rounding the new and old
    // terms apart gives another price than rounding the difference once.
    let v = Vendor::new();
    let prices =
        Prices(std::fs::read_to_string(workspace().join("catalogs/data-platform.toml")).unwrap().parse().unwrap());
    let base = config("basic_rnd", "maxcompute", "subscription", &[], &[("processing_units", 20)]);
    let ask = Ask { edition: Some("intelligent_rnd"), quotas: vec![("processing_units", 40)], ..Ask::default() };
    let (old, new) = (prices.monthly(&base), prices.monthly(&ask.apply(&base)));
    let expiry = t(EXPIRY);
    let at = (1..100_000)
        .map(|s| t("2027-01-01T00:00:00Z").plus(chrono::Duration::seconds(s)))
        .find(|at| {
            let s = i128::from(expiry.since(*at).num_seconds());
            round_half_up(new * s, MONTH) - round_half_up(old * s, MONTH) != round_half_up((new - old) * s, MONTH)
        })
        .expect("such a time");
    let s = i128::from(expiry.since(at).num_seconds());
    let from = issue(&v, 0, &base);
    let mut extra = ask.args();
    extra.extend(["--at".into(), at.to_string()]);
    let q = quote(&v, &from, &extra);
    check(&q, round_half_up((new - old) * s, MONTH), false, "rounded once");
    assert_ne!(
        q["price"].as_i64().map(i128::from),
        Some(round_half_up(new * s, MONTH) - round_half_up(old * s, MONTH))
    );
    let text = {
        let mut cmd = v.issuer();
        cmd.args(["quote", "--from", &from, "--pub", v.public.to_str().unwrap(), "--catalog"])
            .arg(&v.catalog)
            .args(&extra);
        run(cmd, None).ok().to_owned()
    };
    assert!(text.contains("(rounded once)") && text.contains('≈'), "{text}");
}
