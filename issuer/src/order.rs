//! An order, and its validation against the product catalog.
//!
//! An order comes from command-line flags or from an order file (TOML or
//! JSON with the same keys). [`Order::to_license`] checks it against every
//! catalog rule and builds the license to sign; a refusal names the rule.

use std::collections::BTreeMap;

use license_common::catalog::Catalog;
use license_common::exit::{ExitClass, Explain};
use license_common::license::{LICENSE_FORMAT, License, PackageGrant, Plan};
use license_common::time::Timestamp;
use serde::{Deserialize, Serialize};

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
    /// Packages: id → tier.
    #[serde(default)]
    pub packages: BTreeMap<String, String>,
    /// Quotas: id → value.
    #[serde(default)]
    pub quotas: BTreeMap<String, u64>,
    /// Start; defaults to the time of issue.
    #[serde(default)]
    pub not_before: Option<Timestamp>,
    /// Expiry; or use `months`; or the catalog's default term.
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// Term in calendar months from `not_before`.
    #[serde(default)]
    pub months: Option<u32>,
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
            toml::from_str(text).map_err(|e| e.to_string())
        }
    }

    /// Checks the order against the catalog and builds the unsigned license.
    /// `id` is the new license id; `now` the time of issue.
    pub fn to_license(&self, catalog: &Catalog, id: String, now: Timestamp) -> Result<License, OrderError> {
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
        }
        if let Some(missing) = catalog.quotas.iter().find(|q| q.required && !self.quotas.contains_key(&q.id)) {
            return Err(OrderError::QuotaMissing {
                quota: missing.id.clone(),
                steps: list(missing.steps.iter().map(|s| s.value)),
            });
        }

        let not_before = self.not_before.unwrap_or(now);
        let expires_at = match (plan, self.until, self.months) {
            (_, Some(_), Some(_)) => {
                return Err(OrderError::Term("give --until or --months, not both".into()));
            }
            (Plan::Perpetual, None, None) => None,
            (Plan::Perpetual, _, _) => {
                return Err(OrderError::Term("a perpetual license has no expiry".into()));
            }
            (_, Some(until), None) => Some(until),
            (_, None, months) => {
                let months = months.unwrap_or(product.default_term_months);
                if months == 0 {
                    return Err(OrderError::Term("--months must be at least 1".into()));
                }
                Some(not_before.plus_months(months).ok_or_else(|| OrderError::Term("the term is too long".into()))?)
            }
        };
        if let Some(e) = expires_at {
            if e <= not_before {
                return Err(OrderError::Term(format!("it would expire ({e}) before it starts ({not_before})")));
            }
            if e <= now {
                return Err(OrderError::Term(format!("it would already be expired ({e} is in the past)")));
            }
        }
        let activate_by = (plan == Plan::PayAsYouGo).then(|| now.plus_days(product.activation_window_days));

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
        })
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

/// An order the catalog does not allow. Each message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    /// The order names another product.
    #[error("the order is for product `{order}` but the catalog is for `{catalog}`")]
    WrongProduct {
        /// In the order.
        order: String,
        /// In the catalog.
        catalog: String,
    },
    /// A required text field is empty, too long or has control characters.
    #[error("the {field} {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The edition is not in the catalog.
    #[error("edition `{edition}` is not in the catalog (editions: {known})")]
    UnknownEdition {
        /// Asked for.
        edition: String,
        /// Declared.
        known: String,
    },
    /// The free edition needs no license.
    #[error("edition `{edition}` is free and needs no license")]
    FreeEdition {
        /// The edition.
        edition: String,
    },
    /// No plan was given.
    #[error("the order names no plan (offered: {offered})")]
    PlanMissing {
        /// Plans offered.
        offered: String,
    },
    /// The edition is not sold on that plan.
    #[error("edition `{edition}` is not sold on plan `{plan}` (catalog rule editions.plans: {offered})")]
    PlanNotOffered {
        /// The edition.
        edition: String,
        /// Asked for.
        plan: Plan,
        /// Offered.
        offered: String,
    },
    /// The product has engines and none was named.
    #[error("this product runs on a compute engine chosen at purchase; the order names none (engines: {known})")]
    EngineRequired {
        /// Declared engines.
        known: String,
    },
    /// The product has no engines.
    #[error("this product has no compute engines, but the order names `{engine}`")]
    EngineNotApplicable {
        /// Asked for.
        engine: String,
    },
    /// The engine is not in the catalog.
    #[error("engine `{engine}` is not in the catalog (engines: {known})")]
    UnknownEngine {
        /// Asked for.
        engine: String,
        /// Declared.
        known: String,
    },
    /// The settlement account kind is not in the catalog.
    #[error("settlement account `{settlement}` is not in the catalog (settlements: {known})")]
    UnknownSettlement {
        /// Asked for.
        settlement: String,
        /// Declared.
        known: String,
    },
    /// The region is not in the catalog.
    #[error("region `{region}` is not in the catalog (regions: {known})")]
    UnknownRegion {
        /// Asked for.
        region: String,
        /// Declared.
        known: String,
    },
    /// The package is not in the catalog.
    #[error("package `{package}` is not in the catalog (packages: {known})")]
    UnknownPackage {
        /// Asked for.
        package: String,
        /// Declared.
        known: String,
    },
    /// The tier is not a tier of the package.
    #[error("package `{package}` has no tier `{tier}` (tiers, lowest first: {known})")]
    UnknownTier {
        /// The package.
        package: String,
        /// Asked for.
        tier: String,
        /// Declared.
        known: String,
    },
    /// The edition (on this engine) does not take the package.
    #[error("edition `{edition}`{} does not take package `{package}` (catalog rule editions.{}: {allowed})",
        engine.as_ref().map(|e| format!(" on engine `{e}`")).unwrap_or_default(),
        if engine.is_some() { "engine_packages" } else { "packages" })]
    PackageNotAllowed {
        /// The package.
        package: String,
        /// The edition.
        edition: String,
        /// The engine whose narrower rule applied.
        engine: Option<String>,
        /// What it takes.
        allowed: String,
    },
    /// The quota is not in the catalog.
    #[error("quota `{quota}` is not in the catalog (quotas: {known})")]
    UnknownQuota {
        /// Asked for.
        quota: String,
        /// Declared.
        known: String,
    },
    /// The value is not one of the quota's steps.
    #[error("quota `{quota}` cannot be {value}: it is sold in steps of {steps}")]
    QuotaNotAStep {
        /// The quota.
        quota: String,
        /// Asked for.
        value: u64,
        /// Allowed values.
        steps: String,
    },
    /// A required quota is missing.
    #[error("quota `{quota}` is required (steps: {steps})")]
    QuotaMissing {
        /// The quota.
        quota: String,
        /// Allowed values.
        steps: String,
    },
    /// The term (start, expiry, months) is inconsistent.
    #[error("the license term is not valid: {0}")]
    Term(String),
    /// An upgrade would lower something.
    #[error("{item} cannot go from `{from}` down to `{to}`: upgrades only go up")]
    Lower {
        /// What would go down.
        item: String,
        /// Its current value.
        from: String,
        /// The lower value asked for.
        to: String,
    },
    /// Everything is already at its maximum.
    #[error(
        "license {id} is already at the highest edition, every package at its top tier and every quota at its maximum: there is nothing left to upgrade"
    )]
    NothingToUpgrade {
        /// The current license.
        id: String,
    },
    /// The request raises nothing.
    #[error("the upgrade raises nothing (what could still be raised: {room})")]
    NoChange {
        /// What could be raised.
        room: String,
    },
    /// The current license is in its grace period.
    #[error("license {id} expired on {expired_at}: it cannot be upgraded until it is renewed")]
    ExpiredUpgrade {
        /// The current license.
        id: String,
        /// When it expired.
        expired_at: Timestamp,
    },
    /// The current license has been released.
    #[error("license {id} was released on {released_at} after its grace period: it can no longer be {what}")]
    Released {
        /// The current license.
        id: String,
        /// When it was released.
        released_at: Timestamp,
        /// `upgraded` or `renewed`.
        what: &'static str,
    },
    /// The new license is for another account than the current one.
    #[error(
        "the current license is for account `{current}`, not `{asked}`: only the primary account may upgrade or renew"
    )]
    OtherAccount {
        /// The current license's account.
        current: String,
        /// The account asked for.
        asked: String,
    },
}

impl Explain for OrderError {
    fn class(&self) -> ExitClass {
        ExitClass::OrderRefused
    }

    fn hint(&self) -> String {
        match self {
            OrderError::WrongProduct { .. } => "use the catalog of the product ordered".into(),
            OrderError::Field { field, .. } => format!("give the {field} as plain text on one line"),
            OrderError::FreeEdition { .. } => "order a commercial edition instead".into(),
            OrderError::EngineRequired { .. } => "add --engine ENGINE".into(),
            OrderError::PlanMissing { .. } => "add --plan PLAN".into(),
            OrderError::QuotaMissing { quota, .. } => format!("add --quota {quota}=N"),
            OrderError::Term(_) => "check --not-before, --until and --months".into(),
            OrderError::Lower { .. } => "ask for the current value or a higher one".into(),
            OrderError::NothingToUpgrade { .. } => "renew it instead, or offer a higher edition in the catalog".into(),
            OrderError::NoChange { .. } => "name a higher --edition, --package NAME=TIER or --quota NAME=N".into(),
            OrderError::ExpiredUpgrade { .. } => "renew it first with `issuer renew`, then upgrade".into(),
            OrderError::Released { .. } => {
                "issue a new license with `issuer issue`; the released one cannot come back".into()
            }
            OrderError::OtherAccount { .. } => "upgrade from the license of that account".into(),
            _ => "correct the order, or change the catalog if the product now allows it".into(),
        }
    }
}
