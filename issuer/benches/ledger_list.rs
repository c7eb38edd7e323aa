//! One page of `issuer ledger list` (and `GET /v1/licenses`) over a ledger
//! of 100,000 licenses, against the floor: the same count and the same page
//! read straight from SQLite with rusqlite, measured in the same run.
//!
//! `cargo bench -p license-issuer --bench ledger_list` (release build).
//! `BENCH_ORDERS` changes the number of licenses (default 100000) and
//! `BENCH_ROUNDS` the number of alternating rounds (default 5; medians).

mod fixture;

use fixture::median;

use std::time::Instant;

use license_common::signing::IssuerKey;
use license_common::time::Timestamp;
use license_issuer::catalogs;
use license_issuer::ledger::{EntryStatus, Filter, Ledger};

fn millis(work: impl FnOnce()) -> f64 {
    let start = Instant::now();
    work();
    start.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let n = fixture::size();
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let catalog = catalogs::data_platform();
    let key = IssuerKey::from_seed(&[12; 32]);
    let now = Timestamp::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let mut ledger = Ledger::open(&path).unwrap();
    let issued: Vec<_> = (0..n)
        .map(|i| fixture::sign(&key, fixture::license(&catalog, i, uuid::Uuid::now_v7().to_string(), now)))
        .collect();
    fixture::record(&mut ledger, &key, &issued, now);
    drop(issued);

    let page = |offset: usize| Filter { offset, limit: Some(100), ..Filter::default() };
    let cases: Vec<(&str, Filter)> = vec![
        ("first page (100)", page(0)),
        ("middle page (100 at offset n/2)", page(n / 2)),
        ("last page", page(n.saturating_sub(100))),
        ("one account", Filter { account: Some(format!("acct-{}", n / 3)), ..Filter::default() }),
        ("first page, status active (every row's status)", Filter { status: Some(EntryStatus::Active), ..page(0) }),
        ("first page, licensee contains (every row read)", Filter { licensee: Some("customer 1".into()), ..page(0) }),
    ];
    // The floor: the count and the page's rows, straight from SQLite.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let floor = |offset: usize| {
        let total: i64 = raw.query_row("SELECT COUNT(*) FROM licenses", [], |r| r.get(0)).unwrap();
        let mut stmt = raw
            .prepare_cached("SELECT token FROM licenses ORDER BY issued_at, sequence, id LIMIT 100 OFFSET ?1")
            .unwrap();
        let tokens: Vec<String> =
            stmt.query_map([offset as i64], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!((total as usize, tokens.len()), (n, 100.min(n - offset.min(n))));
    };
    let mut times = vec![Vec::new(); cases.len() + 2];
    for _ in 0..rounds {
        times[0].push(millis(|| floor(0)));
        times[1].push(millis(|| floor(n / 2)));
        for (i, (_, filter)) in cases.iter().enumerate() {
            times[i + 2].push(millis(|| {
                let listing = ledger.list(filter, now).unwrap();
                assert!(listing.total >= listing.licenses.len());
            }));
        }
    }
    println!("ledger list over {n} licenses, {rounds} rounds, medians:");
    println!("  {:<52} {:>9.2} ms", "floor: raw COUNT + 100 tokens, first page", median(times[0].clone()));
    println!("  {:<52} {:>9.2} ms", "floor: raw COUNT + 100 tokens, middle page", median(times[1].clone()));
    for (i, (name, _)) in cases.iter().enumerate() {
        println!("  {:<52} {:>9.2} ms", name, median(times[i + 2].clone()));
    }
}
