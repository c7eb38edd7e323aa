//! `GET /metrics`: the install's license and collectors in Prometheus text
//! format (the `prometheus-client` crate), built from the state at each
//! scrape. Alert on "license expires in 14 days" with one rule:
//!
//! ```text
//! activator_license_remaining_seconds < 14 * 86400
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use license_activator::Status;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Every lifecycle phase, for the one-hot `license_phase` gauge.
const PHASES: [&str; 6] = ["active", "not_yet_valid", "grace", "released", "community", "unlicensed"];

/// Counters the service keeps while it runs.
#[derive(Default)]
pub(crate) struct Counters {
    pub checkins: AtomicU64,
    pub refused: AtomicU64,
    pub auth_failures: AtomicU64,
}

/// What one scrape reports of the collectors.
pub(crate) struct Collectors {
    pub active: u64,
    pub today: u64,
    pub cap: Option<u64>,
    pub refused_total: u64,
}

type Labels = Vec<(String, String)>;

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

/// The text of one scrape.
pub(crate) fn render(status: &Status, collectors: &Collectors, counters: &Counters) -> String {
    let mut registry = Registry::with_prefix("activator");
    let phases: Family<Labels, Gauge> = Family::default();
    for phase in PHASES {
        phases.get_or_create(&vec![("phase".into(), phase.into())]).set(i64::from(status.phase == phase));
    }
    registry.register("license_phase", "The lifecycle phase of the install (1 for the phase it is in)", phases);
    gauge(&mut registry, "license_usable", "1 when the licensed product may be used now", i64::from(status.usable));
    gauge(
        &mut registry,
        "clock_set_back",
        "1 when the clock reads earlier than a time this install has seen",
        i64::from(status.clock_set_back),
    );
    if let Some(l) = &status.license {
        if let Some(e) = l.expires_at {
            gauge(&mut registry, "license_expiry_timestamp_seconds", "When the license expires (Unix time)", e.unix());
        }
        if let Some(r) = l.remaining_seconds {
            gauge(&mut registry, "license_remaining_seconds", "Seconds until the license expires", r);
        }
        if let Some(r) = l.release_at {
            gauge(
                &mut registry,
                "license_grace_end_timestamp_seconds",
                "When the grace period ends and the instance is released (Unix time)",
                r.unix(),
            );
        }
        let entitled: Family<Labels, Gauge> = Family::default();
        for (package, grant) in &l.packages {
            let labels = vec![("package".into(), package.clone()), ("tier".into(), grant.tier.clone())];
            entitled.get_or_create(&labels).set(i64::from(status.usable));
        }
        registry.register(
            "entitlement",
            "1 for each package and tier the license grants and may be used now",
            entitled,
        );
        let quotas: Family<Labels, Gauge> = Family::default();
        for (name, value) in &l.quotas {
            quotas.get_or_create(&vec![("quota".into(), name.clone())]).set(i64::try_from(*value).unwrap_or(i64::MAX));
        }
        registry.register("license_quota", "Each quota of the license", quotas);
    }
    gauge(&mut registry, "collectors_active", "Collectors holding a seat now", collectors.active as i64);
    gauge(
        &mut registry,
        "collectors_today",
        "Distinct collectors that checked in this billing day",
        collectors.today as i64,
    );
    gauge(&mut registry, "seats_used", "Collector seats held now", collectors.active as i64);
    if let Some(cap) = collectors.cap {
        gauge(&mut registry, "seats_cap", "Collector seats the license allows", cap as i64);
    }
    let counter = |value: u64| {
        let c: Counter = Counter::default();
        c.inc_by(value);
        c
    };
    registry.register(
        "checkins_refused",
        "Check-ins refused for want of a seat (all time, from the store)",
        counter(collectors.refused_total),
    );
    registry.register(
        "checkins_accepted",
        "Check-ins accepted since the service started",
        counter(counters.checkins.load(Ordering::Relaxed)),
    );
    registry.register(
        "auth_failures",
        "Requests with a missing or wrong token since the service started",
        counter(counters.auth_failures.load(Ordering::Relaxed)),
    );
    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}
