//! The product catalog: what a vendor sells, in a human-edited TOML file.
//!
//! A catalog declares the product, its editions **in ascending order** (the
//! first is the lowest), the plans each edition is sold on, value-added
//! packages with their tiers **in ascending order**, which editions (and
//! engines) take which packages, quotas with their allowed steps, monthly
//! prices in integer minor units, the pay-as-you-go meter, the grace period
//! and the activation window. `catalogs/` holds two complete examples and
//! `docs/CATALOG.md` describes every key.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::exit::{ExitClass, Explain};
use crate::license::{DEFAULT_GRACE_DAYS, DEFAULT_NOTICE_DAYS, MAX_PERIOD_DAYS, Plan};

mod rules;

/// The catalog format version this build reads.
pub const CATALOG_FORMAT: u32 = 1;

/// The highest monthly price, in minor units, a catalog may set (10 billion
/// in a currency of cents): every quote over any term stays exact rather
/// than saturating.
pub const MAX_MONTHLY_PRICE: u64 = 1_000_000_000_000;

/// The highest pay-as-you-go unit price per day, in minor units: a day's
/// bill for the largest count an install may report stays exact.
pub const MAX_DAILY_PRICE: u64 = 100_000_000;

/// A product catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Catalog format version, [`CATALOG_FORMAT`].
    pub format: u32,
    /// The product.
    pub product: Product,
    /// Pay-as-you-go billing, if any edition is sold on that plan.
    #[serde(default)]
    pub pay_as_you_go: Option<PayAsYouGo>,
    /// Editions, lowest first.
    pub editions: Vec<Edition>,
    /// Value-added packages.
    #[serde(default)]
    pub packages: Vec<Package>,
    /// Quotas (specifications) such as processing units.
    #[serde(default)]
    pub quotas: Vec<Quota>,
    /// Rules per plan (`[plan_rules.perpetual]`): how many installs may run
    /// one license, and whether licenses must be bound to an install.
    #[serde(default)]
    pub plan_rules: BTreeMap<String, PlanRule>,
}

/// What a catalog says of every license sold on one plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRule {
    /// At most this many installs may run one license (an order may lower it).
    #[serde(default)]
    pub max_installs: Option<u32>,
    /// Every license must be bound to an install (ordered with its
    /// activation request).
    #[serde(default)]
    pub require_binding: bool,
    /// Pay-as-you-go only: days after the order within which the license
    /// must be activated, free of charge (default: `activation_window_days`).
    #[serde(default)]
    pub free_window_days: Option<u32>,
    /// How the plan is billed, as the documents say: `usage` (by the daily
    /// meter), `term` (paid for a term) or `once` (paid once); when given it
    /// must be the plan's own.
    #[serde(default)]
    pub billing: Option<String>,
}

/// How a plan is billed.
pub fn billing_of(plan: Plan) -> &'static str {
    match plan {
        Plan::PayAsYouGo => "usage",
        Plan::Subscription => "term",
        Plan::Perpetual => "once",
    }
}

/// The product and its lifecycle settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Product id, written into every license.
    pub id: String,
    /// Display name.
    pub name: String,
    /// ISO 4217 currency of every price, e.g. `CNY`.
    pub currency: String,
    /// Days after expiry before release.
    #[serde(default = "default_grace")]
    pub grace_days: u32,
    /// Pay-as-you-go: days after the order to activate the license.
    #[serde(default = "default_window")]
    pub activation_window_days: u32,
    /// Days before expiry from which installs warn.
    #[serde(default = "default_notice")]
    pub notice_days: u32,
    /// Term of a subscription or pay-as-you-go license when an order names none.
    #[serde(default = "default_term")]
    pub default_term_months: u32,
    /// Settlement account kinds, e.g. `enterprise`, `aliyun_marketplace`.
    pub settlements: Vec<String>,
    /// Regions or sites; empty means any.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Compute engines, chosen at purchase and never switched; empty means none.
    #[serde(default)]
    pub engines: Vec<String>,
    /// Whether the product has a free edition that an install without a
    /// license runs; when absent, whether an edition is marked `free`.
    /// Without one, an install with no license in force runs nothing, and a
    /// released instance's data is due for deletion.
    #[serde(default)]
    pub free_edition: Option<bool>,
    /// The UTC offset at which billing days, usage days and activation
    /// windows begin, `+HH:MM` or `-HH:MM` (default `+00:00`).
    #[serde(default = "default_zone")]
    pub time_zone: String,
}

fn default_zone() -> String {
    "+00:00".into()
}

/// Minutes east of UTC of an offset written `+HH:MM` or `-HH:MM`.
pub fn parse_utc_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

fn default_grace() -> u32 {
    DEFAULT_GRACE_DAYS
}
fn default_window() -> u32 {
    7
}
fn default_notice() -> u32 {
    DEFAULT_NOTICE_DAYS
}
fn default_term() -> u32 {
    12
}

/// Pay-as-you-go billing: a daily meter with a unit price and a minimum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayAsYouGo {
    /// What is counted each day, e.g. `datakit`.
    pub meter: String,
    /// One of it, in messages, e.g. `DataKit` (default: the meter id).
    #[serde(default)]
    pub unit: Option<String>,
    /// Several of it, in messages, e.g. `DataKits` (default: the unit and `s`).
    #[serde(default)]
    pub units: Option<String>,
    /// Price per counted unit per day, in minor units (fen).
    pub unit_price_per_day: u64,
    /// Fewer units than this are billed as this many.
    pub minimum_count: u64,
}

/// An edition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edition {
    /// Edition id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The free default edition: needs no license and cannot be ordered.
    #[serde(default)]
    pub free: bool,
    /// Plans it is sold on.
    #[serde(default)]
    pub plans: Vec<Plan>,
    /// Packages it may take.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Narrower package lists for some engines: engine → packages.
    #[serde(default)]
    pub engine_packages: BTreeMap<String, Vec<String>>,
    /// Monthly price in minor units.
    #[serde(default)]
    pub monthly_price: u64,
}

/// A value-added package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Package id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Tiers, lowest first. "None" is implicit below the first.
    pub tiers: Vec<Tier>,
}

/// A tier of a package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Tier id, e.g. `api.s1.small`.
    pub id: String,
    /// Limits, e.g. `qps = 2500`.
    #[serde(default)]
    pub limits: BTreeMap<String, u64>,
    /// Monthly price in minor units.
    #[serde(default)]
    pub monthly_price: u64,
}

/// A quota (specification) with the values that may be bought.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Quota id, e.g. `processing_units`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Allowed values, ascending.
    pub steps: Vec<QuotaStep>,
    /// Must every license carry it (of the editions that offer it)?
    #[serde(default)]
    pub required: bool,
    /// The editions that offer it; empty means every one.
    #[serde(default)]
    pub editions: Vec<String>,
    /// The engines on which it is offered; empty means every one.
    #[serde(default)]
    pub engines: Vec<String>,
}

impl Quota {
    /// Whether an order of `edition` on `engine` may carry it.
    pub fn offered(&self, edition: &str, engine: Option<&str>) -> bool {
        (self.editions.is_empty() || self.editions.iter().any(|e| e == edition))
            && (self.engines.is_empty() || engine.is_some_and(|g| self.engines.iter().any(|e| e == g)))
    }
}

/// The meter a pay-as-you-go license is billed by, as licenses carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterInfo {
    /// What is counted each day.
    pub meter: String,
    /// One of it, in messages.
    pub unit: String,
    /// Several of it, in messages.
    pub units: String,
}

/// One allowed value of a quota, with its price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaStep {
    /// The value.
    pub value: u64,
    /// Monthly price in minor units.
    #[serde(default)]
    pub monthly_price: u64,
}

impl Catalog {
    /// Parses and validates a catalog.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let catalog: Catalog = toml::from_str(text).map_err(|e| CatalogError {
            line: e.span().map(|s| line_at(text, s.start)),
            message: e.message().to_owned(),
        })?;
        catalog
            .validate()
            .map_err(|(needle, message)| CatalogError { line: needle.and_then(|n| line_of(text, &n)), message })?;
        Ok(catalog)
    }

    /// The rank of an edition (0 = lowest) and the edition.
    pub fn edition(&self, id: &str) -> Option<(usize, &Edition)> {
        self.editions.iter().enumerate().find(|(_, e)| e.id == id)
    }

    /// A package by id.
    pub fn package(&self, id: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.id == id)
    }

    /// A quota by id.
    pub fn quota(&self, id: &str) -> Option<&Quota> {
        self.quotas.iter().find(|q| q.id == id)
    }

    /// The rule for licenses sold on `plan` (the default rule when the
    /// catalog has none).
    pub fn plan_rule(&self, plan: Plan) -> PlanRule {
        self.plan_rules.get(plan.as_str()).cloned().unwrap_or_default()
    }

    /// Whether an install without a license runs a free edition.
    pub fn has_free_edition(&self) -> bool {
        self.product.free_edition.unwrap_or_else(|| self.editions.iter().any(|e| e.free))
    }

    /// Minutes east of UTC at which the product's days begin.
    pub fn utc_offset_minutes(&self) -> i32 {
        parse_utc_offset(&self.product.time_zone).unwrap_or(0)
    }

    /// Days after a pay-as-you-go order within which it must be activated.
    pub fn free_window_days(&self) -> u32 {
        self.plan_rule(Plan::PayAsYouGo).free_window_days.unwrap_or(self.product.activation_window_days)
    }

    /// What pay-as-you-go licenses are billed by, if the product has a meter.
    pub fn meter_info(&self) -> Option<MeterInfo> {
        let payg = self.pay_as_you_go.as_ref()?;
        let unit = payg.unit.clone().unwrap_or_else(|| payg.meter.clone());
        let units = payg.units.clone().unwrap_or_else(|| format!("{unit}s"));
        Some(MeterInfo { meter: payg.meter.clone(), unit, units })
    }

    /// The packages an edition may take on an engine.
    pub fn allowed_packages<'a>(&'a self, edition: &'a Edition, engine: Option<&str>) -> &'a [String] {
        engine.and_then(|e| edition.engine_packages.get(e)).unwrap_or(&edition.packages)
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Marks a needle whose second occurrence is wanted.
const SECOND: &str = "\u{0}second\u{0}";

/// The first line whose content outside a `#` comment contains `needle`
/// (the second such line when it starts with [`SECOND`]); for a bare key
/// name, the line that assigns it.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    let (skip, needle) = match needle.strip_prefix(SECOND) {
        Some(rest) => (1, rest),
        None => (0, needle),
    };
    let is_key = !needle.starts_with('"') && !needle.starts_with('[');
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split('#').next().unwrap_or("");
            if is_key {
                code.trim_start().strip_prefix(needle).is_some_and(|rest| rest.trim_start().starts_with('='))
            } else {
                code.contains(needle)
            }
        })
        .nth(skip)
        .map(|(i, _)| i + 1)
}

/// A catalog that cannot be used, with the line where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct CatalogError {
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl Explain for CatalogError {
    fn class(&self) -> ExitClass {
        ExitClass::Catalog
    }

    fn hint(&self) -> String {
        "fix the catalog file; docs/CATALOG.md describes every key".into()
    }

    fn case(&self) -> String {
        "CatalogError".into()
    }

    fn fields(&self) -> serde_json::Value {
        crate::exit::fields_of(self)
    }
}

impl crate::exit::Examples for CatalogError {
    fn examples() -> Vec<crate::exit::Example<Self>> {
        vec![crate::exit::Example {
            error: CatalogError { line: Some(crate::exit::placeholders::NUMBER as usize), message: "<message>".into() },
            when: "The catalog is not valid TOML of the catalog's keys, or breaks a catalog rule (an unknown field, an id declared twice, an edition naming an undeclared package, quota steps not ascending …). `line <n>: ` is left out when the line is not known.",
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
format = 1
[product]
id = "p"
name = "P"
currency = "CNY"
settlements = ["enterprise"]

[[editions]]
id = "community"
name = "Community"
free = true

[[editions]]
id = "pro"
name = "Pro"
plans = ["subscription"]
packages = ["api"]

[[packages]]
id = "api"
name = "API"
tiers = [{ id = "small", limits = { qps = 10 } }, { id = "large", limits = { qps = 100 } }]
"#;

    #[test]
    fn minimal_catalog_parses_with_defaults() {
        let c = Catalog::from_toml(MINIMAL).unwrap();
        assert_eq!(c.product.grace_days, 14);
        assert_eq!(c.product.activation_window_days, 7);
        assert_eq!(c.edition("pro").unwrap().0, 1);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = MINIMAL.replace("packages = [\"api\"]", "packages = [\"apx\"]");
        let err = Catalog::from_toml(&bad).unwrap_err();
        assert_eq!(err.line, Some(18), "{err}");
        assert!(err.to_string().contains("package `apx`"), "{err}");

        let typo = MINIMAL.replace("plans = [\"subscription\"]", "plans = [\"subscripton\"]");
        let err = Catalog::from_toml(&typo).unwrap_err();
        assert_eq!(err.line, Some(17), "{err}");

        let unknown = MINIMAL.replace("free = true", "free = true\nprice = 3");
        assert!(Catalog::from_toml(&unknown).unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn prices_that_would_saturate_a_quote_are_refused() {
        let at_most = MINIMAL.replace(
            "limits = { qps = 100 } }",
            &format!("limits = {{ qps = 100 }}, monthly_price = {MAX_MONTHLY_PRICE} }}"),
        );
        Catalog::from_toml(&at_most).unwrap();
        let over = MINIMAL.replace(
            "limits = { qps = 100 } }",
            &format!("limits = {{ qps = 100 }}, monthly_price = {} }}", MAX_MONTHLY_PRICE + 1),
        );
        let err = Catalog::from_toml(&over).unwrap_err();
        assert!(err.message.contains("`large` costs 1000000000001 a month"), "{err}");
        let edition =
            MINIMAL.replace("packages = [\"api\"]", "packages = [\"api\"]\nmonthly_price = 18446744073709551615");
        assert!(Catalog::from_toml(&edition).unwrap_err().message.contains("`pro` costs"));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let dup = format!("{MINIMAL}\n[[editions]]\nid = \"pro\"\nname = \"Again\"\nplans = [\"perpetual\"]\n");
        let err = Catalog::from_toml(&dup).unwrap_err();
        assert!(err.message.contains("declared twice"), "{err}");
        let second = dup.lines().enumerate().filter(|(_, l)| l.contains("\"pro\"")).nth(1).unwrap().0 + 1;
        assert_eq!(err.line, Some(second), "the duplicate's own line: {err}");
    }

    #[test]
    fn plan_rules_are_read_and_checked() {
        let c = Catalog::from_toml(&format!(
            "{MINIMAL}\n[plan_rules.subscription]\nmax_installs = 2\nrequire_binding = true\n"
        ))
        .unwrap();
        assert_eq!(
            c.plan_rule(Plan::Subscription),
            PlanRule { max_installs: Some(2), require_binding: true, ..PlanRule::default() }
        );
        assert_eq!(c.plan_rule(Plan::Perpetual), PlanRule::default());

        let typo = format!("{MINIMAL}\n[plan_rules.subscripton]\nmax_installs = 2\n");
        let err = Catalog::from_toml(&typo).unwrap_err();
        assert!(err.message.contains("`subscripton` is not a plan"), "{err}");
        assert_eq!(err.line, Some(typo.lines().count() - 1), "{err}");

        let zero = format!("{MINIMAL}\n[plan_rules.perpetual]\nmax_installs = 0\n");
        assert!(Catalog::from_toml(&zero).unwrap_err().message.contains("at least 1"));
        let payg = format!("{MINIMAL}\n[plan_rules.payg]\nrequire_binding = true\n");
        assert!(Catalog::from_toml(&payg).is_err(), "only the wire name is a key");
    }
}
