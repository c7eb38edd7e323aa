//! Bulk issuance, end to end, against the raw Ed25519 signing rate of the
//! same machine, measured in the same run, with each other part of the work
//! (checking the orders, recording the licenses, creating files) measured
//! alone so that the floor of the whole is known: the licenses made on
//! every core with no ledger and no output at all (what no recording design
//! can beat), and the store's own floor, a bare append of `(id, token)` rows
//! in WAL (as text and as the token's decoded bytes) and in a rollback
//! journal.
//!
//! `cargo bench -p license-issuer --bench batch` (release build). Set
//! `BENCH_ORDERS` to change the batch size (default 100000), `BENCH_ROUNDS`
//! the number of rounds (default 3; each figure is the median), and
//! `BENCH_SKIP_FILES=1` to leave out the slow one-file-per-license form;
//! `BENCH_BATCH_ONLY=1` runs the end-to-end batch alone, once (for `perf`).

mod fixture;

use fixture::median;

use std::time::Instant;

use ed25519_dalek::{Signer, SigningKey};
use license_common::envelope::{Kind, signing_input};
use license_common::signing::IssuerKey;
use license_common::time::Timestamp;
use license_issuer::catalogs;
use license_issuer::ledger::{BatchOutput, Ledger};

fn seconds(work: impl FnOnce()) -> f64 {
    let start = Instant::now();
    work();
    start.elapsed().as_secs_f64()
}

fn main() {
    let n = fixture::size();
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let catalog = catalogs::data_platform();
    let key = IssuerKey::from_seed(&[11; 32]);
    let now = Timestamp::now();

    // A typical license's signing input, for the raw rate.
    let sample = {
        let license = fixture::license(&catalog, 0, "0".repeat(36), now);
        signing_input(Kind::License, key.kid(), &serde_json::to_vec(&license).unwrap())
    };
    let raw = SigningKey::from_bytes(&[11; 32]);
    let raw_secs = |threads: usize| {
        let per = n / threads;
        seconds(|| {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        for _ in 0..per {
                            std::hint::black_box(raw.sign(std::hint::black_box(sample.as_bytes())));
                        }
                    });
                }
            })
        }) * n as f64
            / (per * threads) as f64
    };
    let batch_secs = |output: &dyn Fn(&std::path::Path) -> BatchOutput| {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
        let output = output(dir.path());
        let lines = fixture::lines(n);
        let mut issued = 0;
        let secs = seconds(|| {
            issued =
                ledger.issue_batch(&key, &catalog, lines, Vec::new(), &output, false, now, &|_| {}).unwrap().issued;
        });
        assert_eq!(issued, n);
        secs
    };
    let skip_files = std::env::var_os("BENCH_SKIP_FILES").is_some();
    if std::env::var_os("BENCH_BATCH_ONLY").is_some() {
        // For a profiler: the end-to-end batch alone.
        let secs = batch_secs(&|d| BatchOutput::JsonLines { path: d.join("licenses.jsonl"), replace: false });
        println!("`issue --batch --out FILE.jsonl`: {:.0} licenses/s ({secs:.2} s)", n as f64 / secs);
        return;
    }

    // The licenses made as a batch makes them, on every core, with nothing
    // recorded and nothing written: each order checked and built once, its
    // id drawn, serialised and sealed. No recording design can beat this.
    let unrecorded_secs = || {
        let lines = fixture::lines(n);
        seconds(|| {
            std::thread::scope(|s| {
                for part in lines.chunks(n.div_ceil(cores)) {
                    let catalog = &catalog;
                    let key = &key;
                    s.spawn(move || {
                        for l in part {
                            let license = fixture::checked(&l.order, catalog, uuid::Uuid::now_v7().to_string(), now);
                            std::hint::black_box(fixture::sign(key, license));
                        }
                    });
                }
            })
        })
    };

    // The store's own floor: appending only (id, token) rows, with the
    // ledger's page size and durability, in one transaction, committed (and,
    // in WAL, checkpointed); the token as text, or as its decoded bytes.
    let append_secs = |issued: &[license_issuer::Issued], journal: &str, decoded: bool| {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("append.sqlite3")).unwrap();
        conn.pragma_update(None, "page_size", license_issuer::ledger::PAGE_SIZE).unwrap();
        let mode: String = conn.query_row(&format!("PRAGMA journal_mode = {journal}"), [], |r| r.get(0)).unwrap();
        assert_eq!(mode, journal);
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, token NOT NULL)").unwrap();
        let rows: Vec<(&str, rusqlite::types::Value)> = issued
            .iter()
            .map(|i| {
                let token = if decoded {
                    // The key id as it is, the payload and signature decoded.
                    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                    let parts: Vec<&str> = i.token.split('.').collect();
                    let mut bytes = parts[1].as_bytes().to_vec();
                    for part in &parts[2..] {
                        bytes.extend(base64::Engine::decode(&b64, part).unwrap());
                    }
                    rusqlite::types::Value::Blob(bytes)
                } else {
                    rusqlite::types::Value::Text(i.token.clone())
                };
                (i.id.as_str(), token)
            })
            .collect();
        seconds(|| {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            let mut insert = conn.prepare("INSERT INTO t (id, token) VALUES (?1, ?2)").unwrap();
            for (id, token) in &rows {
                insert.execute(rusqlite::params![id, token]).unwrap();
            }
            drop(insert);
            conn.execute_batch("COMMIT").unwrap();
        })
    };

    let (mut raw_one, mut raw_all, mut jsonl, mut files) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut unrecorded, mut wal, mut rollback, mut wal_decoded) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut check, mut record, mut create) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        raw_one.push(raw_secs(1));
        raw_all.push(raw_secs(cores));
        unrecorded.push(unrecorded_secs());
        jsonl.push(batch_secs(&|d| BatchOutput::JsonLines { path: d.join("licenses.jsonl"), replace: false }));
        if !skip_files && round == 0 {
            files.push(batch_secs(&|d| BatchOutput::Files(d.join("out"))));
        }

        // The other parts alone, on one core: checking the orders, recording
        // the licenses in a fresh ledger (one transaction, committed), and
        // creating one small file per license.
        let lines = fixture::lines(n);
        let mut licenses = Vec::new();
        check.push(seconds(|| {
            licenses = lines
                .iter()
                .map(|l| fixture::checked(&l.order, &catalog, uuid::Uuid::now_v7().to_string(), now))
                .collect();
        }));
        let issued: Vec<_> = licenses.into_iter().map(|l| fixture::sign(&key, l)).collect();
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
        record.push(seconds(|| fixture::record(&mut ledger, &key, &issued, now)));
        wal.push(append_secs(&issued, "wal", false));
        rollback.push(append_secs(&issued, "delete", false));
        wal_decoded.push(append_secs(&issued, "wal", true));
        if !skip_files && round == 0 {
            let files_dir = dir.path().join("files");
            std::fs::create_dir(&files_dir).unwrap();
            create.push(seconds(|| {
                for i in &issued {
                    std::fs::write(files_dir.join(format!("{}.lic", i.license.id)), &i.token).unwrap();
                }
            }));
        }
    }
    let rate = |secs: f64| n as f64 / secs;
    let (raw_one, raw_all, jsonl) = (median(raw_one), median(raw_all), median(jsonl));
    let (check, record, unrecorded) = (median(check), median(record), median(unrecorded));
    let (wal, rollback, wal_decoded) = (median(wal), median(rollback), median(wal_decoded));
    // The best this design can do: checking on every core, then signing on
    // every core while one of them also records (the recording is one
    // SQLite writer), everything else free.
    let ceiling = check / cores as f64 + raw_all + record / cores as f64;

    println!(
        "batch issuance, {n} orders, {cores} cores, median of {rounds} rounds ({} signing input bytes per license)",
        sample.len()
    );
    println!("| figure | licenses/s | time | share of the floor |");
    println!("|---|---:|---:|---:|");
    println!("| raw Ed25519 signing, 1 core | {:.0} | {raw_one:.2} s | |", rate(raw_one));
    println!("| **raw Ed25519 signing, {cores} cores (the floor)** | {:.0} | {raw_all:.2} s | 100% |", rate(raw_all));
    println!("| checking the orders alone, 1 core | {:.0} | {check:.2} s | |", rate(check));
    println!("| recording alone in a fresh ledger (one transaction), 1 core | {:.0} | {record:.2} s | |", rate(record));
    for (what, secs) in [
        ("appending only (id, token) rows, WAL, committed and checkpointed, 1 core", wal),
        ("the same, the token's decoded bytes, 1 core", wal_decoded),
        ("the same as text in a rollback journal (readers locked out), 1 core", rollback),
    ] {
        println!("| {what} | {:.0} | {secs:.2} s | |", rate(secs));
    }
    println!(
        "| ceiling of check + sign + record on {cores} cores | {:.0} | {ceiling:.2} s | {:.0}% |",
        rate(ceiling),
        100.0 * raw_all / ceiling
    );
    println!(
        "| making the licenses with no ledger and no output, {cores} cores | {:.0} | {unrecorded:.2} s | {:.0}% |",
        rate(unrecorded),
        100.0 * raw_all / unrecorded
    );
    println!(
        "| **`issue --batch --out FILE.jsonl`** | {:.0} | {jsonl:.2} s | {:.0}% |",
        rate(jsonl),
        100.0 * raw_all / jsonl
    );
    if !skip_files {
        let (files, create) = (median(files), median(create));
        println!("| creating one small file per license alone, 1 core | {:.0} | {create:.2} s | |", rate(create));
        println!(
            "| `issue --batch --out-dir DIR` (one file per license) | {:.0} | {files:.2} s | {:.0}% |",
            rate(files),
            100.0 * raw_all / files
        );
    }
}
