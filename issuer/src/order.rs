//! An order, and its validation against the product catalog.
//!
//! An order comes from command-line flags, an order file (TOML or JSON with
//! the same keys) or a billing system. [`Order::validate`] checks it against
//! every catalog rule and gives a [`CheckedOrder`], the only thing the
//! ledger signs a first license from; a refusal names the rule. A vendor
//! checks before it asks for the passphrase, so a typo costs nothing.

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

    /// Checks the order against every rule of the catalog at `now` (the
    /// time the license will be signed).
    pub fn validate(&self, catalog: &Catalog, now: Timestamp) -> Result<CheckedOrder, OrderError> {
        Ok(CheckedOrder {
            license: self.to_license(catalog, String::new(), now)?,
            catalog_product: catalog.product.id.clone(),
        })
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
        }
        if let Some(missing) = catalog.quotas.iter().find(|q| q.required && !self.quotas.contains_key(&q.id)) {
            return Err(OrderError::QuotaMissing {
                quota: missing.id.clone(),
                steps: list(missing.steps.iter().map(|s| s.value)),
            });
        }

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
        if let Some(expires_at) = expires_at {
            if expires_at <= not_before {
                return Err(OrderError::Term { problem: TermProblem::EndsBeforeStart { expires_at, not_before } });
            }
            if expires_at <= now {
                return Err(OrderError::Term { problem: TermProblem::AlreadyExpired { expires_at } });
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

/// An order that every rule of the catalog allows, checked at one time:
/// what its license will carry. Only the ledger turns it into a license,
/// with the license id and the sequence the ledger gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedOrder {
    license: License,
    catalog_product: String,
}

impl CheckedOrder {
    /// The license as it will be signed, but for its id (empty) and its
    /// sequence (0), which the ledger gives.
    pub fn preview(&self) -> &License {
        &self.license
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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
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
    #[error("the license term is not valid: {problem}")]
    Term {
        /// What is wrong with it.
        problem: TermProblem,
    },
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

/// What is wrong with a license term.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TermProblem {
    /// Both an expiry and a number of months.
    #[error("the order gives both an expiry and a number of months")]
    UntilAndMonths,
    /// A perpetual license with an expiry.
    #[error("a perpetual license has no expiry")]
    PerpetualExpiry,
    /// A term of zero months.
    #[error("a term is at least 1 month")]
    NoMonths,
    /// A term past the end of the calendar.
    #[error("a term of {months} months ends after the last date that can be written")]
    TooLong {
        /// The months asked for.
        months: u32,
    },
    /// It would expire before it starts.
    #[error("it would expire ({expires_at}) before it starts ({not_before})")]
    EndsBeforeStart {
        /// The expiry.
        expires_at: Timestamp,
        /// The start.
        not_before: Timestamp,
    },
    /// It would already be expired.
    #[error("it would already be expired ({expires_at} is in the past)")]
    AlreadyExpired {
        /// The expiry.
        expires_at: Timestamp,
    },
    /// A perpetual license cannot be renewed.
    #[error("license {id} is perpetual: it never expires")]
    PerpetualRenewal {
        /// The license.
        id: String,
    },
    /// A renewal that does not move the expiry later.
    #[error("a renewal must expire after the current expiry ({current}); {until} is not later")]
    RenewalNotLater {
        /// The current expiry.
        current: Timestamp,
        /// The expiry asked for.
        until: Timestamp,
    },
    /// A perpetual license has no remaining time to prorate.
    #[error("license {id} is perpetual: with no expiry there are no remaining hours to prorate")]
    PerpetualQuote {
        /// The license.
        id: String,
    },
    /// No time left to prorate.
    #[error("license {id} has no time left at {at} (it expires {expires_at})")]
    NoTimeLeft {
        /// The license.
        id: String,
        /// The time of the quote.
        at: Timestamp,
        /// Its expiry.
        expires_at: Timestamp,
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
            OrderError::EngineRequired { .. } => "name the compute engine the customer chose".into(),
            OrderError::PlanMissing { .. } => "name the plan the customer bought".into(),
            OrderError::QuotaMissing { quota, .. } => format!("name one of the steps of quota `{quota}`"),
            OrderError::Term { .. } => "give a term that starts before it ends and ends in the future".into(),
            OrderError::Lower { .. } => "ask for the current value or a higher one".into(),
            OrderError::NothingToUpgrade { .. } => "renew it instead, or offer a higher edition in the catalog".into(),
            OrderError::NoChange { .. } => "raise the edition, a package tier or a quota".into(),
            OrderError::ExpiredUpgrade { .. } => "renew it first, then upgrade".into(),
            OrderError::Released { .. } => "issue a new license; the released one cannot come back".into(),
            OrderError::OtherAccount { .. } => "upgrade from the license of that account".into(),
            _ => "correct the order, or change the catalog if the product now allows it".into(),
        }
    }

    fn case(&self) -> String {
        license_common::exit::case_of("OrderError", self)
    }

    fn fields(&self) -> serde_json::Value {
        license_common::exit::fields_of(self)
    }
}

impl license_common::exit::Examples for OrderError {
    fn examples() -> Vec<license_common::exit::Example<Self>> {
        use license_common::exit::{Example, placeholders};
        let s = |v: &str| v.to_owned();
        let t = placeholders::time();
        let n = placeholders::NUMBER;
        let known = || s("<known>");
        let term = |problem: TermProblem| OrderError::Term { problem };
        vec![
            Example {
                error: OrderError::WrongProduct { order: s("<order>"), catalog: s("<catalog>") },
                when: "The order's product, the product of an install's request, or the product of the license an upgrade starts from, is not the catalog's.",
            },
            Example {
                error: OrderError::Field { field: "<field>", problem: "<problem>" },
                when: "The account, licensee, region or edition is empty, too long (256 characters) or has control characters (`is empty`, `is too long`, `contains control characters`); also the texts of a revocation (`license id`, `reason`) and a key retirement (`reason`).",
            },
            Example {
                error: OrderError::UnknownEdition { edition: s("<edition>"), known: known() },
                when: "The edition is not one of the catalog's (also for an upgrade, a quote, or a current license whose edition the catalog no longer has).",
            },
            Example {
                error: OrderError::FreeEdition { edition: s("<edition>") },
                when: "The edition is the catalog's free one (`free = true`): every install has it without a license.",
            },
            Example { error: OrderError::PlanMissing { offered: known() }, when: "The order names no plan." },
            Example {
                error: OrderError::PlanNotOffered { edition: s("<edition>"), plan: Plan::Perpetual, offered: known() },
                when: "The edition's `plans` do not include the plan ordered (or, in an upgrade, the plan asked for).",
            },
            Example {
                error: OrderError::EngineRequired { known: known() },
                when: "The product declares engines and the order names none.",
            },
            Example {
                error: OrderError::EngineNotApplicable { engine: s("<engine>") },
                when: "An engine is named for a product without engines.",
            },
            Example {
                error: OrderError::UnknownEngine { engine: s("<engine>"), known: known() },
                when: "The engine is not one of `product.engines`.",
            },
            Example {
                error: OrderError::UnknownSettlement { settlement: s("<settlement>"), known: known() },
                when: "The settlement account is not one of `product.settlements`.",
            },
            Example {
                error: OrderError::UnknownRegion { region: s("<region>"), known: known() },
                when: "The region is not one of `product.regions` (when the catalog lists regions).",
            },
            Example {
                error: OrderError::UnknownPackage { package: s("<package>"), known: known() },
                when: "The package is not one of the catalog's.",
            },
            Example {
                error: OrderError::UnknownTier { package: s("<package>"), tier: s("<tier>"), known: known() },
                when: "The tier is not one of the package's. A quote prints `<known>` as `-` when a license's tier is no longer in the catalog.",
            },
            Example {
                error: OrderError::PackageNotAllowed {
                    package: s("<package>"),
                    edition: s("<edition>"),
                    engine: None,
                    allowed: known(),
                },
                when: "The edition's `packages` do not include the package (e.g. offline integration takes no value-added package).",
            },
            Example {
                error: OrderError::PackageNotAllowed {
                    package: s("<package>"),
                    edition: s("<edition>"),
                    engine: Some(s("<engine>")),
                    allowed: known(),
                },
                when: "The edition's narrower list for this engine (`engine_packages`) does not include the package.",
            },
            Example {
                error: OrderError::UnknownQuota { quota: s("<quota>"), known: known() },
                when: "The quota is not one of the catalog's.",
            },
            Example {
                error: OrderError::QuotaNotAStep { quota: s("<quota>"), value: n, steps: known() },
                when: "The value is not one of the quota's steps.",
            },
            Example {
                error: OrderError::QuotaMissing { quota: s("<quota>"), steps: known() },
                when: "A quota the catalog marks `required` is missing.",
            },
            Example {
                error: term(TermProblem::UntilAndMonths),
                when: "The order gives both an expiry and a number of months.",
            },
            Example { error: term(TermProblem::PerpetualExpiry), when: "A perpetual order gives an expiry." },
            Example { error: term(TermProblem::NoMonths), when: "A term of 0 months." },
            Example {
                error: term(TermProblem::TooLong { months: n as u32 }),
                when: "The term ends after the last date the calendar can write.",
            },
            Example {
                error: term(TermProblem::EndsBeforeStart { expires_at: t, not_before: t }),
                when: "The expiry is not after the start.",
            },
            Example {
                error: term(TermProblem::AlreadyExpired { expires_at: t }),
                when: "The expiry is already in the past (also for a renewal).",
            },
            Example {
                error: term(TermProblem::PerpetualRenewal { id: s("<id>") }),
                when: "A renewal of a perpetual license: it never expires.",
            },
            Example {
                error: term(TermProblem::RenewalNotLater { current: t, until: t }),
                when: "A renewal whose new expiry is not after the current one.",
            },
            Example {
                error: term(TermProblem::PerpetualQuote { id: s("<id>") }),
                when: "A quote for a perpetual license: with no expiry there is nothing to prorate over.",
            },
            Example {
                error: term(TermProblem::NoTimeLeft { id: s("<id>"), at: t, expires_at: t }),
                when: "A quote at or after the license's expiry.",
            },
            Example {
                error: OrderError::Lower { item: s("<item>"), from: s("<from>"), to: s("<to>") },
                when: "An upgrade asks for a lower edition, plan (perpetual to another), package tier or quota than the current license has: upgrades only go up.",
            },
            Example {
                error: OrderError::NothingToUpgrade { id: s("<id>") },
                when: "Everything is already at its maximum: the highest edition, every package the edition may take at its top tier, every quota at its largest step.",
            },
            Example {
                error: OrderError::NoChange { room: s("<room>") },
                when: "The upgrade asks for nothing higher than the current license; the message lists what could still be raised.",
            },
            Example {
                error: OrderError::ExpiredUpgrade { id: s("<id>"), expired_at: t },
                when: "The current license is in its grace period: it may be renewed, not upgraded.",
            },
            Example {
                error: OrderError::Released { id: s("<id>"), released_at: t, what: "<upgraded or renewed>" },
                when: "The current license's grace period is over (`upgraded` or `renewed`): it is gone for good.",
            },
            Example {
                error: OrderError::OtherAccount { current: s("<current>"), asked: s("<asked>") },
                when: "An upgrade or renewal names another account than the current license's: only the primary account may upgrade or renew.",
            },
        ]
    }
}
