//! `issuer ledger verify` over a ledger of 100,000 licenses: batch
//! verification against one-by-one `verify_strict`, with the bare
//! ed25519-dalek rates on the same tokens measured in the same run.
//!
//! `cargo bench -p license-issuer --bench ledger_verify` (release build).
//! Set `BENCH_ORDERS` to change the number of licenses (default 100000) and
//! `BENCH_ROUNDS` the number of alternating rounds (default 3; medians).

mod fixture;

use std::time::Instant;

use ed25519_dalek::{Signature, VerifyingKey};
use license_common::signing::IssuerKey;
use license_common::time::Timestamp;
use license_issuer::catalogs;
use license_issuer::ledger::{Ledger, Verification};

fn rate(n: usize, work: impl FnOnce()) -> (f64, f64) {
    let start = Instant::now();
    work();
    let secs = start.elapsed().as_secs_f64();
    (n as f64 / secs, secs)
}

fn main() {
    let n = fixture::size();
    let catalog = catalogs::data_platform();
    let key = IssuerKey::from_seed(&[11; 32]);
    let now = Timestamp::now();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    let issued: Vec<_> = (0..n)
        .map(|i| {
            let mut license = fixture::license(&catalog, i, uuid::Uuid::now_v7().to_string(), now);
            // Chains of 20: 5,000 accounts.
            license.account = format!("acct-{}", i % 5000);
            license.sequence = (i / 5000 + 1) as u64;
            fixture::sign(&key, license)
        })
        .collect();
    fixture::record(&mut ledger, &key, &issued, now);

    // The bare library on the same tokens: the floor of each method.
    let vk = VerifyingKey::from_bytes(&key.public().verifying_key().to_bytes()).unwrap();
    let split: Vec<(&[u8], Signature)> = issued
        .iter()
        .map(|i| {
            let (signed, sig) = i.token.rsplit_once('.').unwrap();
            let sig = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
            (signed.as_bytes(), Signature::from_slice(&sig).unwrap())
        })
        .collect();
    // Each on one core, and split over every core.
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let on = |threads: usize, batch: bool| {
        let part = split.len().div_ceil(threads);
        rate(n, || {
            std::thread::scope(|s| {
                for items in split.chunks(part) {
                    s.spawn(move || {
                        if batch {
                            for chunk in items.chunks(license_common::envelope::BATCH_SIZE) {
                                let messages: Vec<&[u8]> = chunk.iter().map(|(m, _)| *m).collect();
                                let signatures: Vec<Signature> = chunk.iter().map(|(_, s)| *s).collect();
                                ed25519_dalek::verify_batch(&messages, &signatures, &vec![vk; chunk.len()]).unwrap();
                            }
                        } else {
                            for (m, s) in items {
                                vk.verify_strict(m, s).unwrap();
                            }
                        }
                    });
                }
            })
        })
        .0
    };
    let (raw_single, raw_batch) = (on(1, false), on(1, true));
    let (raw_single_all, raw_batch_all) = (on(cores, false), on(cores, true));

    let trusted = license_common::Keyring::from_keys([*key.public()]);
    let audit = |how| {
        rate(n, || {
            let report = ledger.verify_with(&trusted, how).unwrap();
            assert_eq!(report.licenses, n);
            assert!(report.problems.is_empty(), "{:?}", &report.problems[..1]);
        })
    };
    // Alternate the two, so that the drift of a shared machine falls on both.
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let (mut ones, mut batches) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ones.push(audit(Verification::OneByOne));
        batches.push(audit(Verification::Batch));
    }
    let median = |mut v: Vec<(f64, f64)>| {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v[v.len() / 2]
    };
    let ((one, one_s), (batch, batch_s)) = (median(ones), median(batches));

    println!("ledger verify, {n} licenses ({} bytes per token)", issued[0].token.len());
    println!("| figure | value |");
    println!("|---|---|");
    println!("| raw `verify_strict`, one by one, 1 core | {raw_single:.0} signatures/s |");
    println!("| raw `verify_strict`, one by one, {cores} cores | {raw_single_all:.0} signatures/s |");
    let size = license_common::envelope::BATCH_SIZE;
    println!("| raw `ed25519_dalek::verify_batch`, {size} per batch, 1 core | {raw_batch:.0} signatures/s |");
    println!(
        "| raw `ed25519_dalek::verify_batch`, {size} per batch, {cores} cores | {raw_batch_all:.0} signatures/s |"
    );
    println!("| `ledger verify --one-by-one`, {cores} cores | {one:.0} licenses/s ({one_s:.2} s) |");
    println!("| `ledger verify` (batch), {cores} cores | {batch:.0} licenses/s ({batch_s:.2} s) |");
    println!("| batch / one by one (median of {rounds} alternating rounds) | {:.2}x |", batch / one);
}
