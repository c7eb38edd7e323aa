//! Upgrades and renewals: a new license that supersedes the current one.
//!
//! The vendor's rules, enforced here:
//!
//! * **Upgrades only go up.** The edition, every package tier and every
//!   quota may be raised or kept, never lowered; a lower value is refused
//!   naming the item. When everything is at its maximum there is nothing to
//!   upgrade, and the refusal says so.
//! * **A package bought mid-term expires with the instance**: an upgrade
//!   keeps the current license's expiry.
//! * **Only the primary account** upgrades or renews: the new license keeps
//!   the account, product, region and engine (the engine cannot be switched).
//! * **Renewals** keep the content and move the expiry later; they are
//!   allowed while active or in grace, and refused after release.
//! * Every new license supersedes the current one and carries the next
//!   `sequence`, so an install never lets an older one back in.
//! * **A license that has not started keeps its start**: neither an upgrade
//!   nor a renewal moves it earlier.

use std::collections::BTreeMap;

use license_common::catalog::Catalog;
use license_common::license::{License, Phase, Plan};
use license_common::time::Timestamp;

use crate::order::{OrderError, TermProblem, check_quota, grant, list};

/// What an upgrade asks for; anything left out stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// A higher (or the same) edition.
    pub edition: Option<String>,
    /// Another plan the edition is sold on.
    pub plan: Option<Plan>,
    /// Packages to add or raise: id → tier.
    pub packages: BTreeMap<String, String>,
    /// Quotas to raise: id → value.
    pub quotas: BTreeMap<String, u64>,
    /// Bind the new license to this install id (from a verified activation
    /// request), e.g. after the hardware was replaced.
    pub bind: Option<String>,
    /// The account the request is made for, when given: it must be the
    /// current license's (only the primary account upgrades).
    pub account: Option<String>,
    /// The compute engine, when given: it must be the current license's
    /// (the engine cannot be switched).
    pub engine: Option<String>,
}

/// A first commercial license for an account of the community edition:
/// what the customer chose when upgrading, checked like any order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommunityUpgrade {
    /// The product; when given, it must be the catalog's.
    pub product: Option<String>,
    /// The community account.
    pub account: String,
    /// The licensee's name.
    pub licensee: String,
    /// Region or site.
    pub region: String,
    /// Compute engine, for products that have them.
    pub engine: Option<String>,
    /// Settlement account kind.
    pub settlement: Option<String>,
    /// Term in months.
    pub months: Option<u32>,
    /// The edition, plan, packages and quotas bought.
    pub change: UpgradeRequest,
    /// The install to bind the license to (from a verified request).
    pub install: Option<String>,
}

impl CommunityUpgrade {
    /// Checks the upgrade against `catalog` at `now`: the product must have
    /// a free (community) edition to upgrade from, and the order it places
    /// must be one the catalog allows.
    pub fn validate(&self, catalog: &Catalog, now: Timestamp) -> Result<crate::order::CheckedOrder, OrderError> {
        if !catalog.has_free_edition() {
            return Err(OrderError::NoFreeEdition { product: catalog.product.id.clone() });
        }
        self.order().validate(catalog, now)
    }

    /// The order this upgrade places.
    pub fn order(&self) -> crate::order::Order {
        crate::order::Order {
            product: self.product.clone(),
            account: self.account.clone(),
            licensee: self.licensee.clone(),
            region: self.region.clone(),
            edition: self.change.edition.clone().unwrap_or_default(),
            engine: self.engine.clone(),
            plan: self.change.plan,
            settlement: self.settlement.clone(),
            packages: self.change.packages.clone(),
            quotas: self.change.quotas.clone(),
            not_before: None,
            until: None,
            months: self.months,
            max_installs: None,
            install: self.install.clone(),
        }
    }
}

/// How the term of a renewal is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenewTerm {
    /// A new expiry.
    Until(Timestamp),
    /// Months added to the current expiry.
    Months(u32),
}

fn tier_rank(catalog: &Catalog, package: &str, tier: &str) -> Option<usize> {
    catalog.package(package)?.tiers.iter().position(|t| t.id == tier)
}

/// What could still be raised on `license`, in words; empty when nothing.
pub fn upgrade_room(catalog: &Catalog, license: &License) -> Vec<String> {
    let mut room = Vec::new();
    let Some((rank, edition)) = catalog.edition(&license.edition) else {
        return room;
    };
    if let Some(higher) = catalog.editions.get(rank + 1..).and_then(|rest| rest.iter().find(|e| !e.free)) {
        room.push(format!("edition up to `{}`", catalog.editions.last().map_or(&higher.id, |e| &e.id)));
    }
    for package_id in catalog.allowed_packages(edition, license.engine.as_deref()) {
        let Some(package) = catalog.package(package_id) else {
            continue;
        };
        let top = &package.tiers[package.tiers.len() - 1].id;
        match license.packages.get(package_id) {
            None => room.push(format!("add package `{package_id}`")),
            Some(g) if &g.tier != top => room.push(format!("`{package_id}` up to `{top}`")),
            _ => {}
        }
    }
    for quota in catalog.quotas.iter().filter(|q| q.offered(&license.edition, license.engine.as_deref())) {
        let max = quota.steps.last().map_or(0, |s| s.value);
        if license.quotas.get(&quota.id).is_none_or(|v| *v < max) {
            room.push(format!("`{}` up to {max}", quota.id));
        }
    }
    room
}

fn check_current(catalog: &Catalog, current: &License, now: Timestamp, what: &'static str) -> Result<(), OrderError> {
    if current.product != catalog.product.id {
        return Err(OrderError::WrongProduct { order: current.product.clone(), catalog: catalog.product.id.clone() });
    }
    match current.phase_at(now) {
        Phase::Released { released_at, .. } => Err(OrderError::Released { id: current.id.clone(), released_at, what }),
        Phase::Grace { expired_at, .. } if what == "upgraded" => {
            Err(OrderError::ExpiredUpgrade { id: current.id.clone(), expired_at })
        }
        _ => Ok(()),
    }
}

/// Refuses a request made for another account than the primary one.
fn check_account(current: &License, asked: Option<&str>) -> Result<(), OrderError> {
    match asked {
        Some(a) if a != current.account => {
            Err(OrderError::OtherAccount { current: current.account.clone(), asked: a.to_owned() })
        }
        _ => Ok(()),
    }
}

/// A license that may replace `current`: an upgrade or a renewal that every
/// rule allows, checked at one time. Only the ledger signs it, with the id
/// and the sequence it gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Successor {
    license: License,
    change: Change,
    requested_by: Option<String>,
}

/// What a successor changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Something is raised; the expiry stays.
    Upgrade,
    /// The expiry moves later; the content stays.
    Renewal,
}

impl Successor {
    /// The license as it will be signed, but for its id (empty); its
    /// sequence is the current one's plus one, or higher if the ledger
    /// holds a higher one for the account.
    pub fn preview(&self) -> &License {
        &self.license
    }

    /// What it changes.
    pub fn change(&self) -> Change {
        self.change
    }

    /// The account that asked for it, when the request named one (it is the
    /// primary account: anything else is refused); the ledger records it.
    pub fn requested_by(&self) -> Option<&str> {
        self.requested_by.as_deref()
    }

    /// The id of the license it replaces.
    pub fn supersedes(&self) -> &str {
        self.license.supersedes.as_deref().unwrap_or_default()
    }

    /// The license to sign, with its id and sequence.
    pub(crate) fn into_license(self, id: String, sequence: u64) -> License {
        let mut license = self.license;
        license.id = id;
        license.sequence = sequence;
        license
    }
}

/// Checks the upgrade of `current` at `now` and gives the license it makes.
pub fn upgrade(
    catalog: &Catalog,
    current: &License,
    request: &UpgradeRequest,
    now: Timestamp,
) -> Result<Successor, OrderError> {
    check_current(catalog, current, now, "upgraded")?;
    check_account(current, request.account.as_deref())?;
    if let Some(engine) = &request.engine
        && Some(engine) != current.engine.as_ref()
    {
        return Err(OrderError::EngineSwitch {
            id: current.id.clone(),
            current: current.engine.clone().unwrap_or_else(|| "none".into()),
            asked: engine.clone(),
        });
    }
    let room = upgrade_room(catalog, current);
    let plan_change = request.plan.is_some_and(|p| p != current.plan);
    if room.is_empty() && request.bind.is_none() && !plan_change {
        return Err(OrderError::NothingToUpgrade { id: current.id.clone() });
    }
    let mut next = current.clone();

    if let Some(edition_id) = &request.edition {
        let (new_rank, edition) = catalog.edition(edition_id).ok_or_else(|| OrderError::UnknownEdition {
            edition: edition_id.clone(),
            known: list(catalog.editions.iter().map(|e| &e.id)),
        })?;
        let (old_rank, _) = catalog.edition(&current.edition).ok_or_else(|| OrderError::UnknownEdition {
            edition: current.edition.clone(),
            known: list(catalog.editions.iter().map(|e| &e.id)),
        })?;
        if new_rank < old_rank || edition.free {
            return Err(OrderError::Lower {
                item: "the edition".into(),
                from: current.edition.clone(),
                to: edition_id.clone(),
            });
        }
        next.edition = edition.id.clone();
    }
    let (_, edition) = catalog.edition(&next.edition).expect("checked above or by the current license");

    if let Some(plan) = request.plan {
        if !edition.plans.contains(&plan) {
            return Err(OrderError::PlanNotOffered {
                edition: edition.id.clone(),
                plan,
                offered: list(edition.plans.iter()),
            });
        }
        if current.plan == Plan::Perpetual && plan != Plan::Perpetual {
            return Err(OrderError::Lower { item: "the plan".into(), from: "perpetual".into(), to: plan.to_string() });
        }
        next.plan = plan;
        if plan == Plan::Perpetual {
            next.expires_at = None;
        }
    } else if !edition.plans.contains(&next.plan) {
        return Err(OrderError::PlanNotOffered {
            edition: edition.id.clone(),
            plan: next.plan,
            offered: list(edition.plans.iter()),
        });
    }

    for (package_id, tier_id) in &request.packages {
        let (new_rank, grant) = grant(catalog, package_id, tier_id)?;
        if let Some(old) = current.packages.get(package_id)
            && tier_rank(catalog, package_id, &old.tier).is_some_and(|old_rank| new_rank < old_rank)
        {
            return Err(OrderError::Lower {
                item: format!("package `{package_id}`"),
                from: old.tier.clone(),
                to: tier_id.clone(),
            });
        }
        next.packages.insert(package_id.clone(), grant);
    }
    let allowed = catalog.allowed_packages(edition, next.engine.as_deref());
    if let Some(package) = next.packages.keys().find(|p| !allowed.contains(p)) {
        return Err(OrderError::PackageNotAllowed {
            package: package.clone(),
            edition: edition.id.clone(),
            engine: next.engine.clone().filter(|e| edition.engine_packages.contains_key(e)),
            allowed: list(allowed.iter()),
        });
    }

    for (quota_id, value) in &request.quotas {
        check_quota(catalog, quota_id, *value)?;
        crate::order::check_quota_offered(catalog, quota_id, &next.edition, next.engine.as_deref())?;
        if let Some(old) = current.quotas.get(quota_id)
            && value < old
        {
            return Err(OrderError::Lower {
                item: format!("quota `{quota_id}`"),
                from: old.to_string(),
                to: value.to_string(),
            });
        }
        next.quotas.insert(quota_id.clone(), *value);
    }
    // A new edition may offer (and require) quotas the old one did not, and
    // no longer offer some it did.
    for quota_id in next.quotas.keys() {
        crate::order::check_quota_offered(catalog, quota_id, &next.edition, next.engine.as_deref())?;
    }
    crate::order::check_required_quotas(catalog, &next.edition, next.engine.as_deref(), &next.quotas)?;

    if let Some(install) = &request.bind {
        next.install = Some(install.clone());
    }
    if catalog.plan_rule(next.plan).require_binding && next.install.is_none() {
        return Err(OrderError::BindingRequired { plan: next.plan });
    }
    if next.edition == current.edition
        && next.install == current.install
        && next.plan == current.plan
        && next.packages == current.packages
        && next.quotas == current.quotas
    {
        return Err(OrderError::NoChange { room: room.join("; ") });
    }
    Ok(Successor {
        license: successor(catalog, current, next, now),
        change: Change::Upgrade,
        requested_by: request.account.clone(),
    })
}

/// Checks the renewal of `current` at `now`, asked for by `account` when
/// the caller names one (it must be the primary account): the same content
/// with a later expiry.
pub fn renew(
    catalog: &Catalog,
    current: &License,
    term: RenewTerm,
    account: Option<&str>,
    now: Timestamp,
) -> Result<Successor, OrderError> {
    check_current(catalog, current, now, "renewed")?;
    check_account(current, account)?;
    let term_error = |problem| OrderError::Term { problem };
    let Some(expires_at) = current.expires_at else {
        return Err(term_error(TermProblem::PerpetualRenewal { id: current.id.clone() }));
    };
    let until = match term {
        RenewTerm::Until(t) => t,
        RenewTerm::Months(0) => return Err(term_error(TermProblem::NoMonths)),
        RenewTerm::Months(months) => {
            expires_at.plus_months(months).ok_or(term_error(TermProblem::TooLong { months }))?
        }
    };
    if until <= expires_at {
        return Err(term_error(TermProblem::RenewalNotLater { current: expires_at, until }));
    }
    if until <= now {
        return Err(term_error(TermProblem::AlreadyExpired { expires_at: until }));
    }
    crate::order::check_horizon(now, "the expiry", until)?;
    let mut next = current.clone();
    next.expires_at = Some(until);
    Ok(Successor {
        license: successor(catalog, current, next, now),
        change: Change::Renewal,
        requested_by: account.map(str::to_owned),
    })
}

/// Fills in what every successor license carries.
fn successor(catalog: &Catalog, current: &License, mut next: License, now: Timestamp) -> License {
    next.id = String::new();
    next.issued_at = now;
    // A license that has not started keeps its start: an upgrade or a
    // renewal never hands out the time before it.
    next.not_before = current.not_before.max(now);
    next.supersedes = Some(current.id.clone());
    next.sequence = current.sequence + 1;
    next.grace_days = catalog.product.grace_days;
    next.notice_days = catalog.product.notice_days;
    // The activation window belongs to the first commercial license of the
    // account. A successor keeps a deadline that is still open (the install
    // may not have activated yet); it never starts a new one, except when the
    // plan becomes pay-as-you-go now.
    next.activate_by = match (current.plan, next.plan) {
        (Plan::PayAsYouGo, Plan::PayAsYouGo) => current.activate_by.filter(|by| *by > now),
        (_, Plan::PayAsYouGo) => Some(now.plus_days(catalog.free_window_days())),
        _ => None,
    };
    next.usage = crate::order::usage_terms(catalog, next.plan);
    next.free_edition = (!catalog.has_free_edition()).then_some(false);
    next
}
