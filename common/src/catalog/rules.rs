//! The rules every catalog must satisfy, checked once when it is read:
//! a known format, a currency, bounded periods and prices, unique ids, and
//! editions, packages, tiers and quotas that name only what is declared.

use super::*;

impl Catalog {
    /// Checks the rules this module lists; the error names what to find on the bad
    /// line (when there is one) and what is wrong.
    pub(super) fn validate(&self) -> Result<(), (Option<String>, String)> {
        let quoted = |s: &str| Some(format!("\"{s}\""));
        if self.format != CATALOG_FORMAT {
            return Err((Some("format".into()), format!("format {} is not {CATALOG_FORMAT}", self.format)));
        }
        let p = &self.product;
        if p.id.trim().is_empty() {
            return Err((Some("id".into()), "product.id is empty".into()));
        }
        if p.currency.len() != 3 || !p.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err((
                quoted(&p.currency),
                format!("currency `{}` is not an ISO 4217 code such as CNY", p.currency),
            ));
        }
        let monthly = self
            .editions
            .iter()
            .map(|e| (e.id.as_str(), e.monthly_price))
            .chain(self.packages.iter().flat_map(|p| p.tiers.iter().map(|t| (t.id.as_str(), t.monthly_price))))
            .chain(self.quotas.iter().flat_map(|q| q.steps.iter().map(|s| (q.id.as_str(), s.monthly_price))));
        for (what, price) in monthly {
            if price > MAX_MONTHLY_PRICE {
                return Err((
                    quoted(what),
                    format!(
                        "`{what}` costs {price} a month: prices are at most {MAX_MONTHLY_PRICE} minor units, so that every quote is exact"
                    ),
                ));
            }
        }
        if let Some(payg) = &self.pay_as_you_go {
            if payg.unit_price_per_day > MAX_DAILY_PRICE {
                return Err((
                    Some("unit_price_per_day".into()),
                    format!("unit_price_per_day {} is over {MAX_DAILY_PRICE} minor units", payg.unit_price_per_day),
                ));
            }
            if payg.minimum_count > crate::exchange::MAX_DAY_COUNT {
                return Err((
                    Some("minimum_count".into()),
                    format!(
                        "minimum_count {} is over {}, the most a day may count",
                        payg.minimum_count,
                        crate::exchange::MAX_DAY_COUNT
                    ),
                ));
            }
        }
        if p.grace_days > MAX_PERIOD_DAYS
            || p.notice_days > MAX_PERIOD_DAYS
            || p.activation_window_days > MAX_PERIOD_DAYS
        {
            return Err((None, format!("grace, notice and activation periods are at most {MAX_PERIOD_DAYS} days")));
        }
        if p.default_term_months == 0 {
            return Err((Some("default_term_months".into()), "default_term_months must be at least 1".into()));
        }
        if p.settlements.is_empty() {
            return Err((Some("settlements".into()), "product.settlements lists no settlement account kind".into()));
        }
        if parse_utc_offset(&p.time_zone).is_none() {
            return Err((
                Some("time_zone".into()),
                format!("time_zone `{}` is not a UTC offset such as +08:00", p.time_zone),
            ));
        }
        let free = self.editions.iter().any(|e| e.free);
        match p.free_edition {
            Some(true) if !free => {
                return Err((Some("free_edition".into()), "free_edition = true, but no edition is free".into()));
            }
            Some(false) if free => {
                return Err((Some("free_edition".into()), "free_edition = false, but an edition is free".into()));
            }
            _ => {}
        }
        unique("settlement", p.settlements.iter())?;
        unique("region", p.regions.iter())?;
        unique("engine", p.engines.iter())?;
        if self.editions.is_empty() {
            return Err((None, "the catalog declares no edition".into()));
        }
        unique("edition", self.editions.iter().map(|e| &e.id))?;
        unique("package", self.packages.iter().map(|p| &p.id))?;
        unique("quota", self.quotas.iter().map(|q| &q.id))?;
        if self.editions.iter().filter(|e| e.free).count() > 1 {
            return Err((None, "only one edition may be free".into()));
        }
        for e in &self.editions {
            if e.free && (!e.plans.is_empty() || !e.packages.is_empty()) {
                return Err((quoted(&e.id), format!("edition `{}` is free: it takes no plan and no package", e.id)));
            }
            if !e.free && e.plans.is_empty() {
                return Err((quoted(&e.id), format!("edition `{}` is sold on no plan", e.id)));
            }
            if e.plans.contains(&Plan::PayAsYouGo) && self.pay_as_you_go.is_none() {
                return Err((
                    quoted(&e.id),
                    format!("edition `{}` is sold pay-as-you-go but [pay_as_you_go] is missing", e.id),
                ));
            }
            let lists = std::iter::once((None, &e.packages)).chain(e.engine_packages.iter().map(|(k, v)| (Some(k), v)));
            for (engine, list) in lists {
                if let Some(engine) = engine
                    && !p.engines.contains(engine)
                {
                    return Err((
                        quoted(&e.id),
                        format!("edition `{}` names engine `{engine}`, which product.engines does not list", e.id),
                    ));
                }
                for pkg in list {
                    if self.package(pkg).is_none() {
                        return Err((
                            quoted(pkg),
                            format!("edition `{}` takes package `{pkg}`, which is not declared in [[packages]]", e.id),
                        ));
                    }
                }
            }
        }
        for pkg in &self.packages {
            if pkg.tiers.is_empty() {
                return Err((quoted(&pkg.id), format!("package `{}` has no tier", pkg.id)));
            }
            unique(&format!("tier of package `{}`", pkg.id), pkg.tiers.iter().map(|t| &t.id))?;
            if pkg.tiers.iter().any(|t| t.id == "none") {
                return Err((
                    quoted(&pkg.id),
                    format!("package `{}`: `none` is implicit and cannot be a tier", pkg.id),
                ));
            }
        }
        for (plan, rule) in &self.plan_rules {
            if Plan::parse(plan).is_none_or(|p| p.as_str() != plan) {
                return Err((
                    Some(format!("[plan_rules.{plan}]")),
                    format!("[plan_rules.{plan}]: `{plan}` is not a plan (pay_as_you_go, subscription or perpetual)"),
                ));
            }
            let billing = Plan::parse(plan).map(billing_of).unwrap_or_default();
            if let Some(b) = &rule.billing
                && b != billing
            {
                return Err((
                    Some("billing".into()),
                    format!("[plan_rules.{plan}]: plan {plan} is billed `{billing}`, not `{b}`"),
                ));
            }
            if rule.free_window_days.is_some() && plan != "pay_as_you_go" {
                return Err((
                    Some("free_window_days".into()),
                    format!("[plan_rules.{plan}]: only pay_as_you_go has a free window"),
                ));
            }
            if rule.free_window_days.is_some_and(|d| d > MAX_PERIOD_DAYS) {
                return Err((
                    Some("free_window_days".into()),
                    format!("free_window_days is at most {MAX_PERIOD_DAYS}"),
                ));
            }
            if rule.max_installs == Some(0) {
                return Err((
                    Some("max_installs".into()),
                    format!("[plan_rules.{plan}]: max_installs must be at least 1"),
                ));
            }
        }
        for q in &self.quotas {
            for e in &q.editions {
                if self.edition(e).is_none() {
                    return Err((quoted(e), format!("quota `{}` names edition `{e}`, which is not declared", q.id)));
                }
            }
            for e in &q.engines {
                if !p.engines.contains(e) {
                    return Err((
                        quoted(e),
                        format!("quota `{}` names engine `{e}`, which product.engines does not list", q.id),
                    ));
                }
            }
            if q.steps.is_empty() || q.steps.windows(2).any(|w| w[0].value >= w[1].value) {
                return Err((quoted(&q.id), format!("quota `{}` needs steps in strictly ascending order", q.id)));
            }
        }
        Ok(())
    }
}

fn unique<'a>(what: &str, ids: impl Iterator<Item = &'a String>) -> Result<(), (Option<String>, String)> {
    let mut seen = HashSet::new();
    for id in ids {
        if id.trim().is_empty() {
            return Err((None, format!("a {what} id is empty")));
        }
        if !seen.insert(id) {
            // Point at the second declaration: the duplicate.
            return Err((Some(format!("{SECOND}\"{id}\"")), format!("{what} `{id}` is declared twice")));
        }
    }
    Ok(())
}
