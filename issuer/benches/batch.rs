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
use license_issuer::ledger::{BatchOutput, Ledger};

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

    let run = |output: &dyn Fn(&std::path::Path) -> BatchOutput| {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
        let output = output(dir.path());
        let lines = fixture::lines(n);
        let start = Instant::now();
        let report = ledger.issue_batch(&key, &catalog, lines, Vec::new(), &output, false, now, &|_| {}).unwrap();
        let elapsed = start.elapsed().as_secs_f64();
        assert_eq!(report.issued, n);
        (n as f64 / elapsed, elapsed)
    };
    let (jsonl, jsonl_s) = run(&|d| BatchOutput::JsonLines { path: d.join("licenses.jsonl"), replace: false });
    let (files, files_s) = if std::env::var_os("BENCH_SKIP_FILES").is_some() {
        (f64::NAN, f64::NAN)
    } else {
        run(&|d| BatchOutput::Files(d.join("out")))
    };

    // The floors of the other work, alone: recording the same licenses in a
    // fresh ledger (one transaction), and creating as many small files.
    let issued: Vec<_> = fixture::lines(n)
        .into_iter()
        .map(|l| {
            license_issuer::sign(&key, l.order.to_license(&catalog, uuid::Uuid::now_v7().to_string(), now).unwrap())
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    let start = Instant::now();
    ledger
        .transaction(|rec| {
            rec.key(key.public(), now)?;
            let kid = key.kid().to_string();
            issued.iter().try_for_each(|i| rec.license(&i.license, &i.token, &kid))
        })
        .unwrap();
    let record_rate = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let files_dir = dir.path().join("files");
    std::fs::create_dir(&files_dir).unwrap();
    for i in &issued {
        std::fs::write(files_dir.join(format!("{}.lic", i.license.id)), &i.token).unwrap();
    }
    let create_rate = n as f64 / start.elapsed().as_secs_f64();

    println!("batch issuance, {n} orders, {cores} cores ({} signing input bytes per license)", sample.len());
    println!("| figure | value |");
    println!("|---|---|");
    println!("| raw Ed25519 signing, 1 core | {raw_one:.0} signatures/s |");
    println!("| raw Ed25519 signing, {cores} cores (the floor) | {raw_all:.0} signatures/s |");
    println!(
        "| recording alone: {n} licenses into a fresh ledger, one transaction, 1 core | {record_rate:.0} licenses/s |"
    );
    println!("| creating {n} small files in one directory, 1 core | {create_rate:.0} files/s |");
    println!(
        "| `--out FILE.jsonl`: check, sign, record, write one JSON Lines file | {jsonl:.0} licenses/s ({jsonl_s:.2} s), {:.0}% of the floor |",
        100.0 * jsonl / raw_all
    );
    println!(
        "| `--out-dir DIR`: check, sign, write {n} files, record, move into place | {files:.0} licenses/s ({files_s:.2} s), {:.0}% of the floor |",
        100.0 * files / raw_all
    );
}
