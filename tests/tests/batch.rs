//! Bulk issuance: all or nothing (unless --keep-going), and a kill at any
//! moment leaves the ledger and the output directory in agreement.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use license_tests::{Vendor, run};

fn orders(n: usize, bad: &[usize]) -> String {
    (1..=n)
        .map(|i| {
            let edition = if bad.contains(&i) { "platinum" } else { "basic_rnd" };
            format!(
                "{{\"account\":\"acct-{}\",\"licensee\":\"Customer {i}\",\"region\":\"cn-hangzhou\",\"edition\":\"{edition}\",\"engine\":\"maxcompute\",\"plan\":\"subscription\",\"quotas\":{{\"processing_units\":20}}}}\n",
                i % 97
            )
        })
        .collect()
}

fn batch_cmd(vendor: &Vendor, file: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = vendor.issuer();
    cmd.arg("issue").arg("--key").arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
    cmd.arg("--catalog").arg(&vendor.catalog).arg("--batch").arg(file).arg("--out-dir").arg(out).args(extra);
    cmd
}

fn ledger_ids(vendor: &Vendor) -> BTreeSet<String> {
    let mut cmd = vendor.issuer();
    cmd.args(["ledger", "list", "--json"]);
    run(cmd, None).json().as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

fn file_ids(out: &Path) -> (BTreeSet<String>, usize) {
    let mut ids = BTreeSet::new();
    let mut staging = 0;
    if let Ok(entries) = std::fs::read_dir(out) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".lic") {
                ids.insert(id.to_owned());
            } else if name.starts_with(".batch-") {
                staging += 1;
            }
        }
    }
    (ids, staging)
}

#[test]
fn a_bad_line_stops_the_batch_unless_keep_going() {
    let vendor = Vendor::new();
    let file = vendor.dir.path().join("orders.jsonl");
    std::fs::write(&file, orders(50, &[17, 33])).unwrap();
    let out = vendor.dir.path().join("out");
    let r = run(batch_cmd(&vendor, &file, &out, &[]), None);
    let err = r.fails_with(40);
    assert!(err.contains("line 17: edition `platinum`") && err.contains("line 33"), "{err}");
    assert!(ledger_ids(&vendor).is_empty(), "nothing was recorded");
    assert_eq!(file_ids(&out).0.len(), 0, "nothing was written");

    let r = run(batch_cmd(&vendor, &file, &out, &["--keep-going", "--json"]), None);
    let report = r.json();
    assert_eq!(report["issued"], 48);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 2);
    assert_eq!(file_ids(&out).0, ledger_ids(&vendor));
}

/// When to kill the batch, by what can be seen on disk.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// As soon as the staging directory exists (nothing signed yet).
    Staging,
    /// When half the licenses are written into the staging directory.
    HalfStaged,
    /// When license files start to appear in the output directory (after the commit).
    Moving,
    /// After a fixed delay.
    After(u64),
    /// Never: let it finish.
    Never,
}

fn staged(out: &Path) -> usize {
    std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".batch-"))
        .map(|e| std::fs::read_dir(e.path()).map(|d| d.count()).unwrap_or(0))
        .sum()
}

#[test]
fn a_killed_batch_leaves_the_ledger_and_the_directory_in_agreement() {
    const N: usize = 4000;
    let vendor = Vendor::new();
    let file = vendor.dir.path().join("orders.jsonl");
    std::fs::write(&file, orders(N, &[])).unwrap();
    let plan = [
        KillAt::Staging,
        KillAt::HalfStaged,
        KillAt::Moving,
        KillAt::Staging,
        KillAt::HalfStaged,
        KillAt::Moving,
        KillAt::After(50),
        KillAt::After(150),
        KillAt::After(300),
        KillAt::After(600),
        KillAt::Never,
    ];
    let (mut applied, mut undone) = (0, 0);
    for (i, when) in plan.iter().enumerate() {
        let out = vendor.dir.path().join(format!("out-{i}"));
        let mut child =
            batch_cmd(&vendor, &file, &out, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let hit = match *when {
                KillAt::Staging => staged(&out) > 0 || out.exists() && std::fs::read_dir(&out).unwrap().count() > 0,
                KillAt::HalfStaged => staged(&out) >= N / 2,
                KillAt::Moving => !file_ids(&out).0.is_empty(),
                KillAt::After(ms) => {
                    std::time::Instant::now() >= deadline - Duration::from_secs(60) + Duration::from_millis(ms)
                }
                KillAt::Never => false,
            };
            if hit || child.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let _ = child.kill();
        child.wait().unwrap();
        // Opening the ledger again (any issuer command) finishes or undoes the batch.
        let recorded = ledger_ids(&vendor);
        let (on_disk, staging) = file_ids(&out);
        assert_eq!(staging, 0, "run {i} ({when:?}): a staging directory is left behind");
        assert!(
            on_disk.iter().all(|id| recorded.contains(id)),
            "run {i} ({when:?}): {} license files are not in the ledger",
            on_disk.iter().filter(|id| !recorded.contains(*id)).count()
        );
        assert!(
            on_disk.is_empty() || on_disk.len() == N,
            "run {i} ({when:?}): all or nothing, found {}",
            on_disk.len()
        );
        if on_disk.len() == N {
            applied += 1;
        } else {
            undone += 1;
        }
        if matches!(when, KillAt::Moving | KillAt::Never) {
            assert_eq!(on_disk.len(), N, "run {i} ({when:?}): a committed batch is completed by recovery");
        }
    }
    let mut all_files = BTreeSet::new();
    for i in 0..plan.len() {
        all_files.extend(file_ids(&vendor.dir.path().join(format!("out-{i}"))).0);
    }
    assert_eq!(all_files, ledger_ids(&vendor), "the ledger and the output directories agree");
    assert!(undone >= 4, "the staging kills undo their batches: undone {undone}");
    println!("runs: {}; applied in full: {applied}; undone: {undone}", plan.len());
}
