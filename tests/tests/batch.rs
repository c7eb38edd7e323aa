//! Bulk issuance: all or nothing (unless --keep-going), and a kill at any
//! moment leaves the ledger and the output directory in agreement.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use license_tests::{Vendor, run};

/// `n` orders, one per account `acct-1` … `acct-N` (the lines in `bad`
/// name an edition the catalog does not have).
fn orders(n: usize, bad: &[usize]) -> String {
    tagged_orders(n, bad, "")
}

/// `n` orders for the accounts `acct-<tag>1` … `acct-<tag>N`.
fn tagged_orders(n: usize, bad: &[usize], tag: &str) -> String {
    (1..=n)
        .map(|i| {
            let edition = if bad.contains(&i) { "platinum" } else { "basic_rnd" };
            format!(
                "{{\"account\":\"acct-{tag}{i}\",\"licensee\":\"Customer {i}\",\"region\":\"cn-hangzhou\",\"edition\":\"{edition}\",\"engine\":\"maxcompute\",\"plan\":\"subscription\",\"quotas\":{{\"processing_units\":20}}}}\n"
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
    if vendor.postgres.is_none() && !vendor.ledger.exists() {
        return BTreeSet::new(); // before the first license: no ledger file to list yet
    }
    let mut cmd = vendor.issuer();
    cmd.args(["ledger", "list", "--json"]);
    run(cmd, None).json()["licenses"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
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
        // New accounts each run: a second order for an instance in force is refused.
        let file = vendor.dir.path().join(format!("orders-{i}.jsonl"));
        std::fs::write(&file, tagged_orders(N, &[], &format!("r{i}-"))).unwrap();
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

fn jsonl_cmd(vendor: &Vendor, file: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = vendor.issuer();
    cmd.arg("issue").arg("--key").arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
    cmd.arg("--catalog").arg(&vendor.catalog).arg("--batch").arg(file).arg("--out").arg(out).args(extra);
    cmd
}

/// The records of a JSON Lines output: (line, id, account, token).
fn records(out: &Path) -> Vec<(u64, String, String, String)> {
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let text = |k: &str| v[k].as_str().unwrap().to_owned();
            (v["line"].as_u64().unwrap(), text("id"), text("account"), text("token"))
        })
        .collect()
}

/// Files left beside the output by a batch (its staging file).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".batch-"))
        .collect()
}

#[test]
fn a_batch_into_one_json_lines_file() {
    let vendor = Vendor::new();
    let file = vendor.dir.path().join("orders.jsonl");
    std::fs::write(&file, orders(50, &[17, 33])).unwrap();
    let outdir = vendor.dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("licenses.jsonl");

    // A bad line: nothing recorded, nothing written.
    let err = run(jsonl_cmd(&vendor, &file, &out, &[]), None).fails_with(40).to_owned();
    assert!(err.contains("line 17: edition `platinum`") && err.contains("line 33"), "{err}");
    assert!(ledger_ids(&vendor).is_empty());
    assert!(!out.exists());
    assert_eq!(leftovers(&outdir), Vec::<String>::new());

    // --keep-going: 48 records, in file order, the very licenses on record.
    let report = run(jsonl_cmd(&vendor, &file, &out, &["--keep-going", "--json"]), None).json();
    assert_eq!(report["issued"], 48);
    let recs = records(&out);
    let lines: Vec<u64> = recs.iter().map(|r| r.0).collect();
    let expected: Vec<u64> = (1..=50).filter(|i| *i != 17 && *i != 33).collect();
    assert_eq!(lines, expected, "one record per good line, in file order");
    let ids: BTreeSet<String> = recs.iter().map(|r| r.1.clone()).collect();
    assert_eq!(ids, ledger_ids(&vendor));
    let in_order: Vec<&String> = recs.iter().map(|r| &r.1).collect();
    assert!(in_order.windows(2).all(|w| w[0] < w[1]), "ids sort in file order");
    for (line, id, account, token) in [&recs[0], &recs[47]] {
        assert_eq!(account, &format!("acct-{line}"));
        let mut inspect = vendor.issuer();
        inspect.args(["inspect", "-", "--pub"]).arg(&vendor.public).arg("--json");
        let license = run(inspect, Some(token.as_bytes())).json();
        assert_eq!(license["license"]["id"].as_str(), Some(id.as_str()));
    }
    let mut verify = vendor.issuer();
    verify.args(["ledger", "verify", "--pub"]).arg(&vendor.public);
    assert!(run(verify, None).ok().contains("verified 48 licenses"));
    assert_eq!(leftovers(&outdir), Vec::<String>::new());

    // The output exists: refused before anything is signed; --force replaces it.
    let before = std::fs::read(&out).unwrap();
    let err = run(jsonl_cmd(&vendor, &file, &out, &["--keep-going"]), None).fails_with(3).to_owned();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(ledger_ids(&vendor).len(), 48, "nothing more was recorded");
    // The same orders again: every instance is in force, so nothing is issued.
    let err = run(jsonl_cmd(&vendor, &file, &out, &["--keep-going", "--force"]), None).fails_with(40).to_owned();
    assert!(err.contains("line 1: account acct-1 already holds license"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(ledger_ids(&vendor).len(), 48, "nothing more was recorded");
    // New accounts, and two lines for one instance: the second is skipped.
    let second = vendor.dir.path().join("second.jsonl");
    let mut text = tagged_orders(50, &[17, 33], "b-");
    text.push_str(&tagged_orders(1, &[], "b-"));
    std::fs::write(&second, text).unwrap();
    let report = run(jsonl_cmd(&vendor, &second, &out, &["--keep-going", "--force", "--json"]), None).json();
    assert_eq!(report["issued"], 48);
    let skipped: Vec<String> =
        report["skipped"].as_array().unwrap().iter().map(|s| s[1].as_str().unwrap().to_owned()).collect();
    assert_eq!(skipped.len(), 3, "{report}");
    assert!(skipped[2].contains("line 1 of this batch already orders"), "{report}");
    assert_eq!(records(&out).len(), 48);
    assert_ne!(std::fs::read(&out).unwrap(), before, "a new batch replaced the file");
    assert_eq!(ledger_ids(&vendor).len(), 96);
    assert_eq!(leftovers(&outdir), Vec::<String>::new());

    // Nothing to issue, or nowhere to put it: refused, nothing recorded.
    let empty = vendor.dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n\n").unwrap();
    let err = run(jsonl_cmd(&vendor, &empty, &outdir.join("none.jsonl"), &[]), None).fails_with(2).to_owned();
    assert!(err.contains("has no orders"), "{err}");
    let all_bad = vendor.dir.path().join("bad.jsonl");
    std::fs::write(&all_bad, orders(2, &[1, 2])).unwrap();
    let err = run(jsonl_cmd(&vendor, &all_bad, &outdir.join("none.jsonl"), &["--keep-going"]), None)
        .fails_with(40)
        .to_owned();
    assert!(err.contains("line 1") && err.contains("line 2"), "{err}");
    let err = run(jsonl_cmd(&vendor, &file, &outdir.join("missing/x.jsonl"), &[]), None).fails_with(3).to_owned();
    assert!(err.contains("missing is not a directory"), "{err}");
    let err = run(jsonl_cmd(&vendor, &file, &outdir, &["--force"]), None).fails_with(3).to_owned();
    assert!(err.contains("it is a directory"), "{err}");
    let err = run(batch_cmd(&vendor, &file, &out, &[]), None).fails_with(3).to_owned();
    assert!(err.contains("it is a file, not a directory"), "{err}");
    assert!(!outdir.join("none.jsonl").exists());
    assert_eq!(ledger_ids(&vendor).len(), 96);
    assert_eq!(leftovers(&outdir), Vec::<String>::new());

    // --batch needs somewhere to write.
    let mut cmd = vendor.issuer();
    cmd.arg("issue").arg("--key").arg(&vendor.key).arg("--catalog").arg(&vendor.catalog).arg("--batch").arg(&file);
    let r = run(cmd, None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--out"), "{}", r.stderr);
}

#[test]
fn a_killed_json_lines_batch_is_all_or_nothing() {
    const N: usize = 6000;
    let vendor = Vendor::new();
    let outdir = vendor.dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    // Kill when the staging file appears, then after growing delays, then never.
    let plan: [Option<u64>; 10] =
        [Some(0), Some(0), Some(30), Some(80), Some(150), Some(250), Some(400), Some(700), Some(1200), None];
    let (mut applied, mut undone) = (0, 0);
    let mut seen = BTreeSet::new();
    for (i, delay) in plan.iter().enumerate() {
        let file = vendor.dir.path().join(format!("orders-{i}.jsonl"));
        std::fs::write(&file, tagged_orders(N, &[], &format!("r{i}-"))).unwrap();
        let out = outdir.join(format!("run-{i}.jsonl"));
        let mut child =
            jsonl_cmd(&vendor, &file, &out, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let start = std::time::Instant::now();
        loop {
            let hit = match delay {
                Some(0) => !leftovers(&outdir).is_empty(),
                Some(ms) => start.elapsed() >= Duration::from_millis(*ms),
                None => false,
            };
            if hit || child.try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(60) {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let _ = child.kill();
        child.wait().unwrap();
        let recorded = ledger_ids(&vendor); // opening the ledger recovers
        assert_eq!(leftovers(&outdir), Vec::<String>::new(), "run {i} ({delay:?}): a staging file is left");
        let new: BTreeSet<String> = recorded.difference(&seen).cloned().collect();
        if out.exists() {
            let ids: BTreeSet<String> = records(&out).into_iter().map(|r| r.1).collect();
            assert_eq!(ids.len(), N, "run {i} ({delay:?}): a whole file");
            assert_eq!(ids, new, "run {i} ({delay:?}): the file is exactly what was recorded");
            applied += 1;
        } else {
            assert!(new.is_empty(), "run {i} ({delay:?}): {} recorded without a file", new.len());
            undone += 1;
        }
        seen = recorded;
    }
    assert!(undone >= 2, "the early kills undo their batches: undone {undone}");
    assert!(applied >= 1, "the unkilled batch is applied");
    // Every recorded row holds what its token says (on PostgreSQL a batch
    // inserts 256 rows a statement).
    let mut verify = vendor.issuer();
    verify.args(["ledger", "verify", "--pub"]).arg(&vendor.public);
    let verified = run(verify, None);
    assert!(verified.ok().contains(&format!("verified {} licenses", seen.len())), "{}", verified.stdout);
    println!("runs: {}; applied in full: {applied}; undone: {undone}", plan.len());
}

/// Kills at the two moments after the commit (paused there by a fault point
/// of debug builds): recovery puts the file in place.
#[test]
fn a_json_lines_batch_killed_after_its_commit_is_completed_by_recovery() {
    const N: usize = 300;
    let vendor = Vendor::new();
    let outdir = vendor.dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    for (i, point) in ["batch-committed", "batch-linked"].iter().enumerate() {
        let file = vendor.dir.path().join(format!("orders-{i}.jsonl"));
        std::fs::write(&file, tagged_orders(N, &[], &format!("r{i}-"))).unwrap();
        let out = outdir.join(format!("run-{i}.jsonl"));
        let before = ledger_ids(&vendor).len();
        let mut child = jsonl_cmd(&vendor, &file, &out, &[])
            .env("LICENSE_FAULT_PAUSE", format!("{point}:20000"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        // Committed: the licenses are on record (the paused batch holds its
        // lock, so reading the ledger leaves it alone).
        while ledger_ids(&vendor).len() < before + N {
            assert!(start.elapsed() < Duration::from_secs(60), "{point}: never committed");
            std::thread::sleep(Duration::from_millis(20));
        }
        if *point == "batch-linked" {
            while !out.exists() {
                assert!(start.elapsed() < Duration::from_secs(60), "{point}: never linked");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(leftovers(&outdir).len(), 1, "paused between link and unlink");
        } else {
            std::thread::sleep(Duration::from_millis(100));
            assert!(!out.exists(), "paused before the file is placed");
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let recorded = ledger_ids(&vendor);
        assert_eq!(leftovers(&outdir), Vec::<String>::new(), "{point}: the staging file is gone");
        assert_eq!(records(&out).len(), N, "{point}: recovery placed the whole file");
        assert_eq!(recorded.len(), before + N);
    }
}

/// A batch run with a relative `--out` in one directory, killed after its
/// commit, is completed by the next command wherever that runs.
#[test]
fn recovery_from_another_directory_places_the_output_where_the_batch_ran() {
    const N: usize = 200;
    let vendor = Vendor::new();
    let (ran_in, elsewhere) = (vendor.dir.path().join("run"), vendor.dir.path().join("elsewhere"));
    std::fs::create_dir(&ran_in).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let file = vendor.dir.path().join("orders.jsonl");
    std::fs::write(&file, tagged_orders(N, &[], "rel-")).unwrap();
    let mut child = jsonl_cmd(&vendor, &file, Path::new("out.jsonl"), &[])
        .current_dir(&ran_in)
        .env("LICENSE_FAULT_PAUSE", "batch-committed:20000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while ledger_ids(&vendor).len() < N {
        assert!(start.elapsed() < Duration::from_secs(60), "never committed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The next command runs in another directory (and so would a service).
    let mut cmd = vendor.issuer();
    cmd.current_dir(&elsewhere).args(["ledger", "list", "--limit", "1"]);
    run(cmd, None).ok();
    assert_eq!(records(&ran_in.join("out.jsonl")).len(), N, "the output is where the batch was told to put it");
    assert_eq!(leftovers(&ran_in), Vec::<String>::new(), "the staging file is gone");
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none(), "nothing was made in the other directory");
}

#[test]
fn a_batch_continues_chains_the_ledger_has_and_refuses_those_in_force() {
    let vendor = Vendor::new();
    // acct-x1: a license in force; acct-x2: one that was revoked (its chain
    // is free, its floor stays); acct-x3 and acct-x4: new.
    vendor.issue(&["--account", "acct-x1", "--edition", "basic_rnd", "--no-default-package"]);
    vendor.issue(&["--account", "acct-x2", "--edition", "basic_rnd", "--no-default-package"]);
    let mut cmd = vendor.issuer();
    cmd.args(["ledger", "list", "--account", "acct-x2", "--json"]);
    let revoked_id = run(cmd, None).json()["licenses"][0]["id"].as_str().unwrap().to_owned();
    let mut cmd = vendor.issuer();
    cmd.args(["revoke", &revoked_id, "--reason", "chargeback"]);
    run(cmd, None).ok();
    let file = vendor.dir.path().join("mixed.jsonl");
    std::fs::write(&file, tagged_orders(4, &[], "x")).unwrap();
    let out = vendor.dir.path().join("mixed-out.jsonl");
    // Without --keep-going the chain in force refuses the whole batch.
    let all_or_nothing = run(jsonl_cmd(&vendor, &file, &out, &[]), None);
    assert_eq!(all_or_nothing.code, 40, "{}", all_or_nothing.stderr);
    assert!(all_or_nothing.stderr.contains("line 1") && all_or_nothing.stderr.contains("already holds license"));
    assert!(!out.exists());
    // With it, the others are made; acct-x2 continues above its revoked license.
    run(jsonl_cmd(&vendor, &file, &out, &["--keep-going"]), None).ok();
    let made: Vec<(u64, String, String, String)> = records(&out);
    let accounts: Vec<&str> = made.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(accounts, ["acct-x2", "acct-x3", "acct-x4"]);
    let mut cmd = vendor.issuer();
    cmd.args(["ledger", "list", "--account", "acct-x2", "--json"]);
    let chain = run(cmd, None).json();
    let sequences: Vec<u64> =
        chain["licenses"].as_array().unwrap().iter().map(|l| l["sequence"].as_u64().unwrap()).collect();
    assert_eq!(sequences, [1, 2], "{chain}");
}

/// One order line of the basic edition for `account` in `region`.
fn order_line(account: &str, region: &str) -> String {
    let order = serde_json::json!({"account": account, "licensee": "Customer", "region": region,
        "edition": "basic_rnd", "engine": "maxcompute", "plan": "subscription",
        "quotas": {"processing_units": 20}});
    format!("{order}\n")
}

/// The sequences of the licenses `ledger list FILTER` shows, oldest first.
fn sequences_of(vendor: &Vendor, filter: &[&str]) -> Vec<u64> {
    let mut cmd = vendor.issuer();
    cmd.args(["ledger", "list", "--json"]).args(filter);
    let listing = run(cmd, None).json();
    listing["licenses"].as_array().unwrap().iter().map(|l| l["sequence"].as_u64().unwrap()).collect()
}

/// The batch looks its chains up in the ledger in one query, the chains
/// passed as one JSON array: accounts that JSON and SQL escape (quotes,
/// backslashes, letters beyond ASCII) must come back as the same chains.
#[test]
fn a_batch_finds_the_chains_of_accounts_that_need_escaping() {
    let vendor = Vendor::new();
    let free = [r#"o'brien "q""#, r"c:\dir\ü", "Ärzte 東京 % _"];
    let in_force = r#"in\"force'"#;
    let mut revoke = Vec::new();
    for account in free.iter().chain([&in_force]) {
        vendor.issue(&["--account", account, "--edition", "basic_rnd", "--no-default-package"]);
        if *account != in_force {
            let mut cmd = vendor.issuer();
            cmd.args(["ledger", "list", "--account", account, "--json"]);
            revoke.push(run(cmd, None).json()["licenses"][0]["id"].as_str().unwrap().to_owned());
        }
    }
    for id in &revoke {
        let mut cmd = vendor.issuer();
        cmd.args(["revoke", id, "--reason", "chargeback"]);
        run(cmd, None).ok();
    }
    // A new account whose name only differs from a known one by case.
    let new = "ärzte 東京 % _";
    let lines: String =
        free.iter().chain([&in_force, &new]).map(|account| order_line(account, "cn-hangzhou")).collect();
    let file = vendor.dir.path().join("escaped.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = vendor.dir.path().join("escaped-out.jsonl");
    let refused = run(jsonl_cmd(&vendor, &file, &out, &[]), None);
    assert_eq!(refused.code, 40, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("line 4") && refused.stderr.contains("already holds license"),
        "{}",
        refused.stderr
    );
    run(jsonl_cmd(&vendor, &file, &out, &["--keep-going"]), None).ok();
    let made: Vec<String> = records(&out).into_iter().map(|r| r.2).collect();
    assert_eq!(made, [free[0], free[1], free[2], new]);
    for (account, sequences) in [(free[0], vec![1, 2]), (free[1], vec![1, 2]), (free[2], vec![1, 2]), (new, vec![1])] {
        assert_eq!(sequences_of(&vendor, &["--account", account]), sequences, "{account}");
    }
}

/// A chain is an account in a region: an account whose license is in force
/// in one region starts a chain of its own in another, in the same batch
/// that refuses it where it is in force.
#[test]
fn a_batch_tells_an_accounts_chains_apart_by_region() {
    let vendor = Vendor::new();
    vendor.issue(&["--account", "acct-r", "--region", "cn-hangzhou", "--edition", "basic_rnd", "--no-default-package"]);
    let lines: String =
        ["cn-beijing", "cn-hangzhou", "cn-shanghai"].iter().map(|region| order_line("acct-r", region)).collect();
    let file = vendor.dir.path().join("regions.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = vendor.dir.path().join("regions-out.jsonl");
    let ran = run(jsonl_cmd(&vendor, &file, &out, &["--keep-going", "--json"]), None);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let skipped = &ran.json()["skipped"];
    assert_eq!(skipped.as_array().unwrap().len(), 1, "{skipped}");
    assert_eq!(skipped[0][0], 2, "only the order in cn-hangzhou is refused: {skipped}");
    assert_eq!(records(&out).iter().map(|r| r.0).collect::<Vec<_>>(), [1, 3]);
    for (region, sequences) in [("cn-beijing", vec![1]), ("cn-hangzhou", vec![1]), ("cn-shanghai", vec![1])] {
        assert_eq!(sequences_of(&vendor, &["--account", "acct-r", "--region", region]), sequences, "{region}");
    }
}
