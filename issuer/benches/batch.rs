//! Bulk issuance, end to end, against the raw Ed25519 signing rate of the
//! same machine, measured in the same run.
//!
//! `cargo bench -p license-issuer --bench batch` (release build). Set
//! `BENCH_ORDERS` to change the batch size (default 100000).

mod fixture;

use std::time::Instant;

use ed25519_dalek::{Signer, SigningKey};
use license_common::envelope::{Kind, signing_input};
use license_common::signing::IssuerKey;
use license_common::time::Timestamp;
use license_issuer::catalogs;
use license_issuer::ledger::Ledger;

fn main() {
    let n = fixture::size();
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let catalog = catalogs::data_platform();
    let key = IssuerKey::from_seed(&[11; 32]);
    let now = Timestamp::now();
    let lines = fixture::lines(n);

    // A typical license's signing input, for the raw rate.
    let sample = {
        let license = lines[0].order.to_license(&catalog, "0".repeat(36), now).unwrap();
        signing_input(Kind::License, key.kid(), &serde_json::to_vec(&license).unwrap())
    };
    let raw = SigningKey::from_bytes(&[11; 32]);
    let raw_rate = |threads: usize| {
        let per = n / threads;
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    for _ in 0..per {
                        std::hint::black_box(raw.sign(std::hint::black_box(sample.as_bytes())));
                    }
                });
            }
        });
        (per * threads) as f64 / start.elapsed().as_secs_f64()
    };
    let raw_one = raw_rate(1);
    let raw_all = raw_rate(cores);

    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    let out = dir.path().join("out");
    let start = Instant::now();
    let report = ledger.issue_batch(&key, &catalog, lines, Vec::new(), &out, false, now, &|_| {}).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(report.issued, n);
    let batch_rate = n as f64 / elapsed;

    println!("batch issuance, {n} orders, {cores} cores ({} signing input bytes per license)", sample.len());
    println!("| figure | value |");
    println!("|---|---|");
    println!("| raw Ed25519 signing, 1 core | {raw_one:.0} signatures/s |");
    println!("| raw Ed25519 signing, {cores} cores | {raw_all:.0} signatures/s |");
    println!(
        "| batch end to end (validate, sign, write {n} files, one ledger transaction, move into place) | {batch_rate:.0} licenses/s ({elapsed:.2} s) |"
    );
    println!("| batch / raw signing on {cores} cores | {:.0}% |", 100.0 * batch_rate / raw_all);
}
