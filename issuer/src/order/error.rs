//! Why the catalog refuses an order, an upgrade, a renewal or a quote.

use license_common::exit::{ExitClass, Explain};
use license_common::license::Plan;
use license_common::time::Timestamp;
use serde::Serialize;

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
    /// A quota the edition (on its engine) does not offer.
    #[error("quota `{quota}` is not offered on {on}: it is offered on {offered}")]
    QuotaNotOffered {
        /// The quota.
        quota: String,
        /// The edition (and engine) asked for, e.g. "edition `basic_rnd` with engine `hadoop`".
        on: String,
        /// Where it is offered, e.g. "editions intelligent_rnd and engines every one".
        offered: String,
    },
    /// An upgrade or renewal that would switch the compute engine.
    #[error("the compute engine cannot be switched: license {id} runs on `{current}`, not `{asked}`")]
    EngineSwitch {
        /// The current license.
        id: String,
        /// Its engine.
        current: String,
        /// The engine asked for.
        asked: String,
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
    /// A plan whose licenses must be bound, ordered without an install.
    #[error("licenses on plan {plan} must be bound to an install, and this order names none")]
    BindingRequired {
        /// The plan.
        plan: Plan,
    },
    /// An order allowing more installs than its plan does.
    #[error("the order allows {asked} installs, but plan {plan} allows at most {cap}")]
    TooManyInstalls {
        /// Asked for.
        asked: u32,
        /// The plan.
        plan: Plan,
        /// The plan's cap.
        cap: u32,
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
    /// An upgrade from the community edition of a product that has none.
    #[error("product `{product}` has no free edition, so there is no community account to upgrade from")]
    NoFreeEdition {
        /// The product.
        product: String,
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
    /// A date past the horizon every license keeps to.
    #[error("{what} {at} is more than {years} years after the time of issue", years = license_common::license::HORIZON_YEARS)]
    BeyondHorizon {
        /// `the start` or `the expiry`.
        what: &'static str,
        /// The date.
        at: Timestamp,
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
            OrderError::Term { problem: TermProblem::BeyondHorizon { .. } } => {
                format!("give a term that ends within {} years", license_common::license::HORIZON_YEARS)
            }
            OrderError::Term { .. } => "give a term that starts before it ends and ends in the future".into(),
            OrderError::Lower { .. } => "ask for the current value or a higher one".into(),
            OrderError::NothingToUpgrade { .. } => "renew it instead, or offer a higher edition in the catalog".into(),
            OrderError::NoChange { .. } => "raise the edition, a package tier or a quota".into(),
            OrderError::ExpiredUpgrade { .. } => "renew it first, then upgrade".into(),
            OrderError::Released { .. } => "issue a new license; the released one cannot come back".into(),
            OrderError::OtherAccount { .. } => "upgrade from the license of that account".into(),
            OrderError::NoFreeEdition { .. } => {
                "sell the first license as a new order; later upgrades start from that license".into()
            }
            OrderError::QuotaNotOffered { quota, .. } => {
                format!("leave quota `{quota}` out, or choose an edition that offers it")
            }
            OrderError::EngineSwitch { .. } => {
                "keep the engine chosen at purchase; a different engine is a new purchase".into()
            }
            OrderError::BindingRequired { .. } => {
                "order it with the install's activation request, so the license is bound to that install".into()
            }
            OrderError::TooManyInstalls { cap, .. } => format!("allow at most {cap} installs, or change the catalog"),
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
                error: term(TermProblem::BeyondHorizon { what: "the expiry", at: t }),
                when: "A start or expiry more than 100 years after the time of issue (e.g. a term of 120000 months): no license is signed that nothing could read afterwards.",
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
            Example {
                error: OrderError::NoFreeEdition { product: s("<product>") },
                when: "`issuer upgrade` without `--from` (community → commercial) for a product whose catalog has no free edition.",
            },
            Example {
                error: OrderError::QuotaNotOffered {
                    quota: s("<quota>"),
                    on: s("edition `<edition>`"),
                    offered: s("editions <editions> and engines <engines>"),
                },
                when: "An order or upgrade gives a quota that its edition (or engine) does not offer, e.g. a data-quality spec on basic R&D.",
            },
            Example {
                error: OrderError::EngineSwitch { id: s("<id>"), current: s("<engine>"), asked: s("<engine>") },
                when: "An upgrade or renewal names another compute engine than the current license's.",
            },
            Example {
                error: OrderError::BindingRequired { plan: Plan::Perpetual },
                when: "The catalog's `[plan_rules.<plan>]` says `require_binding = true` and the order is not bound to an install.",
            },
            Example {
                error: OrderError::TooManyInstalls { asked: n as u32, plan: Plan::Subscription, cap: n as u32 },
                when: "The order's `max_installs` is above the cap of its plan's `[plan_rules.<plan>]`.",
            },
        ]
    }
}
