//! An order, and its validation against the product catalog.
//!
//! An order comes from command-line flags, an order file (TOML or JSON with
//! the same keys) or a billing system. [`Order::validate`] checks it against
//! every catalog rule and gives a [`CheckedOrder`], the only thing the
//! ledger signs a first license from; a refusal names the rule. A vendor
//! checks before it asks for the passphrase, so a typo costs nothing.

use std::collections::BTreeMap;

use license_common::catalog::Catalog;
use license_common::license::{LICENSE_FORMAT, License, PackageGrant, Plan};
use license_common::time::Timestamp;
use serde::{Deserialize, Serialize};

mod error;

pub use error::{OrderError, TermProblem};

/// The longest text an order field may hold.
pub const MAX_FIELD_LEN: usize = 256;

/// What the customer bought.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Product id; defaults to the catalog's product.
    #[serde(default)]
    pub product: Option<String>,
    /// The primary account.
    pub account: String,
    /// The licensee's name.
    pub licensee: String,
    /// Region or site.
    pub region: String,
    /// Edition id.
    pub edition: String,
    /// Compute engine, for products that have them.
    #[serde(default)]
    pub engine: Option<String>,
    /// Plan.
    pub plan: Option<Plan>,
    /// Settlement account kind; defaults to the catalog's first.
    #[serde(default)]
    pub settlement: Option<String>,
    /// Packages: id → tier (a package named twice is refused).
    #[serde(default, deserialize_with = "license_common::strict_map::deserialize")]
    pub packages: BTreeMap<String, String>,
    /// Quotas: id → value (a quota named twice is refused).
    #[serde(default, deserialize_with = "license_common::strict_map::deserialize")]
    pub quotas: BTreeMap<String, u64>,
    /// Start; defaults to the time of issue (a UTC time, or a date).
    #[serde(default, deserialize_with = "license_common::time::lenient")]
    pub not_before: Option<Timestamp>,
    /// Expiry; or use `months`; or the catalog's default term (a UTC
    /// time, or a date).
    #[serde(default, deserialize_with = "license_common::time::lenient")]
    pub until: Option<Timestamp>,
    /// Term in calendar months from `not_before`.
    #[serde(default)]
    pub months: Option<u32>,
    /// At most this many installs may run the license (the vendor's limit,
    /// kept in the ledger; at most the plan's cap in the catalog).
    #[serde(default)]
    pub max_installs: Option<u32>,
    /// The install to bind the license to: set from a verified activation
    /// request (`--bind`), never from an order file.
    #[serde(skip)]
    pub install: Option<String>,
}

impl Order {
    /// Parses an order file: JSON when it starts with `{`, TOML otherwise.
    pub fn parse(text: &str) -> Result<Order, String> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            // One line, as serde_json's: the message and where it is (the
            // default text draws the line with a caret over several lines).
            toml::from_str(text).map_err(|e| match e.span() {
                Some(span) => {
                    let before = text.get(..span.start).unwrap_or(text);
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    format!("{} at line {line} column {column}", e.message().trim_end())
                }
                None => e.message().trim_end().to_owned(),
            })
        }
    }

    /// Checks the order against every rule of the catalog at `now` (the
    /// time the license will be signed).
    pub fn validate(&self, catalog: &Catalog, now: Timestamp) -> Result<CheckedOrder, OrderError> {
        let license = self.to_license(catalog, String::new(), now)?;
        let rule = catalog.plan_rule(license.plan);
        if rule.require_binding && license.install.is_none() {
            return Err(OrderError::BindingRequired { plan: license.plan });
        }
        let max_installs = match (self.max_installs, rule.max_installs) {
            (Some(0), _) => return Err(OrderError::Field { field: "max_installs", problem: "is zero" }),
            (Some(asked), Some(cap)) if asked > cap => {
                return Err(OrderError::TooManyInstalls { asked, plan: license.plan, cap });
            }
            (asked, cap) => asked.or(cap),
        };
        // A bound license runs on its install alone.
        let max_installs = if license.install.is_some() { Some(1) } else { max_installs };
        Ok(CheckedOrder { license, catalog_product: catalog.product.id.clone(), max_installs })
    }

    /// Checks the order against the catalog and builds the unsigned license.
    /// `id` is the new license id; `now` the time of issue.
    pub(crate) fn to_license(&self, catalog: &Catalog, id: String, now: Timestamp) -> Result<License, OrderError> {
        let product = &catalog.product;
        if let Some(p) = &self.product
            && p != &product.id
        {
            return Err(OrderError::WrongProduct { order: p.clone(), catalog: product.id.clone() });
        }
        for (field, value) in [
            ("account", &self.account),
            ("licensee", &self.licensee),
            ("region", &self.region),
            ("edition", &self.edition),
        ] {
            check_text(field, value)?;
        }
        let (_, edition) = catalog.edition(&self.edition).ok_or_else(|| OrderError::UnknownEdition {
            edition: self.edition.clone(),
            known: list(catalog.editions.iter().map(|e| &e.id)),
        })?;
        if edition.free {
            return Err(OrderError::FreeEdition { edition: edition.id.clone() });
        }
        let plan = self.plan.ok_or_else(|| OrderError::PlanMissing { offered: list(edition.plans.iter()) })?;
        if !edition.plans.contains(&plan) {
            return Err(OrderError::PlanNotOffered {
                edition: edition.id.clone(),
                plan,
                offered: list(edition.plans.iter()),
            });
        }
        match (&self.engine, product.engines.is_empty()) {
            (None, false) => {
                return Err(OrderError::EngineRequired { known: list(product.engines.iter()) });
            }
            (Some(e), true) => return Err(OrderError::EngineNotApplicable { engine: e.clone() }),
            (Some(e), false) if !product.engines.contains(e) => {
                return Err(OrderError::UnknownEngine { engine: e.clone(), known: list(product.engines.iter()) });
            }
            _ => {}
        }
        let settlement = match &self.settlement {
            Some(s) if !product.settlements.contains(s) => {
                return Err(OrderError::UnknownSettlement {
                    settlement: s.clone(),
                    known: list(product.settlements.iter()),
                });
            }
            Some(s) => s.clone(),
            None => product.settlements[0].clone(),
        };
        if !product.regions.is_empty() && !product.regions.contains(&self.region) {
            return Err(OrderError::UnknownRegion { region: self.region.clone(), known: list(product.regions.iter()) });
        }

        let allowed = catalog.allowed_packages(edition, self.engine.as_deref());
        let mut packages = BTreeMap::new();
        for (pkg_id, tier_id) in &self.packages {
            let (_, grant) = grant(catalog, pkg_id, tier_id)?;
            if !allowed.contains(pkg_id) {
                return Err(OrderError::PackageNotAllowed {
                    package: pkg_id.clone(),
                    edition: edition.id.clone(),
                    engine: self.engine.clone().filter(|e| edition.engine_packages.contains_key(e)),
                    allowed: list(allowed.iter()),
                });
            }
            packages.insert(pkg_id.clone(), grant);
        }
        for (quota_id, value) in &self.quotas {
            check_quota(catalog, quota_id, *value)?;
            check_quota_offered(catalog, quota_id, &edition.id, self.engine.as_deref())?;
        }
        check_required_quotas(catalog, &edition.id, self.engine.as_deref(), &self.quotas)?;

        let not_before = self.not_before.unwrap_or(now);
        let expires_at = match (plan, self.until, self.months) {
            (_, Some(_), Some(_)) => return Err(OrderError::Term { problem: TermProblem::UntilAndMonths }),
            (Plan::Perpetual, None, None) => None,
            (Plan::Perpetual, _, _) => return Err(OrderError::Term { problem: TermProblem::PerpetualExpiry }),
            (_, Some(until), None) => Some(until),
            (_, None, months) => {
                let months = months.unwrap_or(product.default_term_months);
                if months == 0 {
                    return Err(OrderError::Term { problem: TermProblem::NoMonths });
                }
                Some(
                    not_before
                        .plus_months(months)
                        .ok_or(OrderError::Term { problem: TermProblem::TooLong { months } })?,
                )
            }
        };
        check_horizon(now, "the start", not_before)?;
        if let Some(expires_at) = expires_at {
            check_horizon(now, "the expiry", expires_at)?;
            if expires_at <= not_before {
                return Err(OrderError::Term { problem: TermProblem::EndsBeforeStart { expires_at, not_before } });
            }
            if expires_at <= now {
                return Err(OrderError::Term { problem: TermProblem::AlreadyExpired { expires_at } });
            }
        }
        let activate_by = (plan == Plan::PayAsYouGo).then(|| now.plus_days(catalog.free_window_days()));

        Ok(License {
            format: LICENSE_FORMAT,
            id,
            product: product.id.clone(),
            account: self.account.trim().to_owned(),
            licensee: self.licensee.trim().to_owned(),
            region: self.region.clone(),
            edition: edition.id.clone(),
            engine: self.engine.clone(),
            plan,
            issued_at: now,
            not_before,
            expires_at,
            grace_days: product.grace_days,
            activate_by,
            settlement,
            packages,
            quotas: self.quotas.clone(),
            supersedes: None,
            sequence: 1,
            notice_days: product.notice_days,
            install: self.install.clone(),
            usage: usage_terms(catalog, plan),
            free_edition: (!catalog.has_free_edition()).then_some(false),
        })
    }
}

/// An order that every rule of the catalog allows, checked at one time:
/// what its license will carry. Only the ledger turns it into a license,
/// with the license id and the sequence the ledger gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedOrder {
    license: License,
    catalog_product: String,
    max_installs: Option<u32>,
}

impl CheckedOrder {
    /// The license as it will be signed, but for its id (empty) and its
    /// sequence (0), which the ledger gives.
    pub fn preview(&self) -> &License {
        &self.license
    }

    /// How many installs may run the license: the order's, else its plan's
    /// cap in the catalog; 1 for a bound license; `None` for no limit.
    pub fn max_installs(&self) -> Option<u32> {
        self.max_installs
    }

    /// The license to sign, with its id and sequence.
    pub(crate) fn into_license(self, id: String, sequence: u64) -> License {
        let mut license = self.license;
        license.id = id;
        license.sequence = sequence;
        license
    }
}

/// The package grant of `tier_id` of package `pkg_id`, with the tier's rank
/// (0 = the lowest tier).
pub(crate) fn grant(catalog: &Catalog, pkg_id: &str, tier_id: &str) -> Result<(usize, PackageGrant), OrderError> {
    let package = catalog.package(pkg_id).ok_or_else(|| OrderError::UnknownPackage {
        package: pkg_id.to_owned(),
        known: list(catalog.packages.iter().map(|p| &p.id)),
    })?;
    let rank = package.tiers.iter().position(|t| t.id == tier_id).ok_or_else(|| OrderError::UnknownTier {
        package: pkg_id.to_owned(),
        tier: tier_id.to_owned(),
        known: list(package.tiers.iter().map(|t| &t.id)),
    })?;
    let tier = &package.tiers[rank];
    Ok((
        rank,
        PackageGrant {
            tier: tier.id.clone(),
            includes: package.tiers[..=rank].iter().map(|t| t.id.clone()).collect(),
            limits: tier.limits.clone(),
        },
    ))
}

/// What a license on `plan` says of its usage: the catalog's meter and
/// time zone, for pay-as-you-go.
pub(crate) fn usage_terms(catalog: &Catalog, plan: Plan) -> Option<license_common::license::UsageTerms> {
    if plan != Plan::PayAsYouGo {
        return None;
    }
    let meter = catalog.meter_info()?;
    Some(license_common::license::UsageTerms {
        meter: meter.meter,
        unit: meter.unit,
        units: meter.units,
        utc_offset_minutes: catalog.utc_offset_minutes(),
        minimum_count: catalog.pay_as_you_go.as_ref().map(|p| p.minimum_count),
        unit_price_per_day: catalog.pay_as_you_go.as_ref().map(|p| p.unit_price_per_day),
        currency: Some(catalog.product.currency.clone()),
    })
}

/// Refuses a set of quotas that lacks one the edition (on its engine)
/// offers and requires.
pub(crate) fn check_required_quotas(
    catalog: &Catalog,
    edition: &str,
    engine: Option<&str>,
    quotas: &BTreeMap<String, u64>,
) -> Result<(), OrderError> {
    match catalog.quotas.iter().find(|q| q.required && q.offered(edition, engine) && !quotas.contains_key(&q.id)) {
        Some(missing) => Err(OrderError::QuotaMissing {
            quota: missing.id.clone(),
            steps: list(missing.steps.iter().map(|s| s.value)),
        }),
        None => Ok(()),
    }
}

/// Refuses a quota that the edition (on its engine) does not offer.
pub(crate) fn check_quota_offered(
    catalog: &Catalog,
    quota_id: &str,
    edition: &str,
    engine: Option<&str>,
) -> Result<(), OrderError> {
    let Some(quota) = catalog.quota(quota_id) else { return Ok(()) };
    if quota.offered(edition, engine) {
        return Ok(());
    }
    let on = |list: &[String]| if list.is_empty() { "every one".to_owned() } else { list.join(", ") };
    Err(OrderError::QuotaNotOffered {
        quota: quota_id.to_owned(),
        on: match engine {
            Some(e) => format!("edition `{edition}` with engine `{e}`"),
            None => format!("edition `{edition}`"),
        },
        offered: format!("editions {} and engines {}", on(&quota.editions), on(&quota.engines)),
    })
}

/// Checks that `value` is one of the steps of quota `quota_id`.
pub(crate) fn check_quota(catalog: &Catalog, quota_id: &str, value: u64) -> Result<(), OrderError> {
    let quota = catalog.quota(quota_id).ok_or_else(|| OrderError::UnknownQuota {
        quota: quota_id.to_owned(),
        known: list(catalog.quotas.iter().map(|q| &q.id)),
    })?;
    if !quota.steps.iter().any(|s| s.value == value) {
        return Err(OrderError::QuotaNotAStep {
            quota: quota_id.to_owned(),
            value,
            steps: list(quota.steps.iter().map(|s| s.value)),
        });
    }
    Ok(())
}

/// Refuses a time more than [`HORIZON_YEARS`](license_common::license::HORIZON_YEARS)
/// after `now`, or before 1970.
pub(crate) fn check_horizon(now: Timestamp, what: &'static str, at: Timestamp) -> Result<(), OrderError> {
    let horizon = now.plus_months(license_common::license::HORIZON_YEARS * 12);
    if at.unix() < 0 || horizon.is_none_or(|h| at > h) {
        return Err(OrderError::Term { problem: TermProblem::BeyondHorizon { what, at } });
    }
    Ok(())
}

fn check_text(field: &'static str, value: &str) -> Result<(), OrderError> {
    check_text_len(field, value, MAX_FIELD_LEN)
}

/// Refuses empty text, text longer than `max` characters, and control characters.
pub(crate) fn check_text_len(field: &'static str, value: &str, max: usize) -> Result<(), OrderError> {
    let problem = if value.trim().is_empty() {
        "is empty"
    } else if value.chars().count() > max {
        "is too long"
    } else if value.chars().any(char::is_control) {
        "contains control characters"
    } else {
        return Ok(());
    };
    Err(OrderError::Field { field, problem })
}

/// Items joined with `, ` for messages (`none` when empty).
pub fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let items: Vec<String> = items.map(|i| i.to_string()).collect();
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::Order;

    #[test]
    fn a_bad_order_file_is_named_on_one_line_with_where_it_is() {
        let e = Order::parse("account = \"acct-1\"\nlicensee = \n").unwrap_err();
        assert_eq!(e, "string values must be quoted, expected literal string at line 2 column 12");
        let e = Order::parse("\u{feff}{\"account\": 1}").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        // Columns count characters, not bytes.
        let e = Order::parse("licensee = \"\u{e7}\u{e7}\"\nac\u{e7}ount = \"x\"").unwrap_err();
        assert_eq!(e, "invalid unquoted key, expected letters, numbers, `-`, `_` at line 2 column 3");
        let e = Order::parse("{\"account\": 1}").unwrap_err();
        assert!(e.ends_with("at line 1 column 13"), "{e}");
    }
}
