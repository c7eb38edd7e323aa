//! Sixteen processes on one state directory at once: activations and usage
//! records. Afterwards the state is valid, the usage counts are exact, and
//! no update is lost.

use std::process::{Child, Command, Stdio};

use license_common::envelope::{self, Kind};
use license_common::license::License;
use license_tests::{Install, Vendor, bin};

#[test]
fn sixteen_processes_at_once_lose_nothing() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    // A term that began 30 days ago, so usage can be recorded for past days.
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    let first = vendor.issue(&["--not-before", &start.format("%Y-%m-%dT%H:%M:%SZ").to_string()]);
    let day = |i: usize| (start + chrono::Duration::days(10 + i as i64)).date_naive();
    install.activate(&first).ok();
    let key = vendor.signing_key();
    let ring = license_common::Keyring::from_keys([*key.public()]);
    let base = envelope::open::<License>(&first, Kind::License, &ring).unwrap().content;
    // Eight successors of the account, sequences 2..=9, each in a file.
    let files: Vec<_> = (2..=9u64)
        .map(|seq| {
            let mut l = base.clone();
            l.id = format!("{}-seq{seq}", base.id);
            l.sequence = seq;
            let path = vendor.dir.path().join(format!("seq{seq}.lic"));
            std::fs::write(&path, license_tests::sign(&key, &l)).unwrap();
            path
        })
        .collect();

    let spawn = |args: Vec<String>| -> Child {
        Command::new(bin("activator"))
            .arg("--state")
            .arg(&install.state)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut children = Vec::new();
    for round in 0..2 {
        for (i, file) in files.iter().enumerate().skip(round * 4).take(4) {
            children.push(("activate", spawn(vec!["activate".into(), file.to_string_lossy().into_owned()])));
            let day = day(i).to_string();
            children.push((
                "usage",
                spawn(vec![
                    "usage".into(),
                    "record".into(),
                    "--datakits".into(),
                    format!("{}", 10 + i),
                    "--day".into(),
                    day,
                ]),
            ));
        }
    }
    assert_eq!(children.len(), 16);
    for (what, child) in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        match what {
            // An activation may lose the race to a newer license: that refusal is correct.
            "activate" => assert!(out.status.success() || out.status.code() == Some(17), "activate: {err}"),
            _ => assert!(out.status.success(), "usage record: {err}"),
        }
    }
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["license"]["sequence"], 9, "the newest license wins whatever the order");
    assert!(status["warnings"].as_array().unwrap().is_empty(), "{status}");
    // Every usage record is there, exact.
    let activator = license_activator::Activator::open(&install.state).unwrap();
    let usage = activator.usage(day(0), day(20)).unwrap();
    let expected: Vec<(String, u64)> = (0..8).map(|i| (day(i).to_string(), 10 + i as u64)).collect();
    let got: Vec<(String, u64)> = usage.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    assert_eq!(got, expected, "no usage record was lost");
    // The history is consistent: each entry replaced the one before.
    let history = activator.history().to_vec();
    for pair in history.windows(2) {
        assert_eq!(pair[1].replaced.as_deref(), Some(pair[0].license.as_str()));
        assert!(pair[1].sequence > pair[0].sequence);
    }
}

/// `issuer issue` for `account`, started now, with its output collected later.
fn spawn_issue(vendor: &Vendor, account: &str) -> Child {
    let mut cmd = vendor.issuer();
    cmd.arg("issue").arg("--key").arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
    cmd.arg("--catalog").arg(&vendor.catalog).arg("--json");
    cmd.args(["--account", account, "--licensee", "Race Ltd", "--region", "cn-hangzhou", "--edition", "basic_rnd"]);
    cmd.args(["--engine", "maxcompute", "--plan", "subscription", "--quota", "processing_units=20"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Whether a `--json` failure says the instance is in force.
fn in_force(stdout: &[u8]) -> bool {
    let v: serde_json::Value = serde_json::from_slice(stdout).unwrap_or_default();
    v["error"]["case"] == "IssuerError::InstanceInForce"
}

/// Every (account, region, sequence) of the ledger: each at most once.
fn chain_sequences(vendor: &Vendor) -> Vec<(String, String, u64)> {
    let mut list = vendor.issuer();
    list.args(["ledger", "list", "--json"]);
    let listed = license_tests::run(list, None).json();
    let mut all: Vec<(String, String, u64)> = listed["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_owned();
            (s("account"), s("region"), e["sequence"].as_u64().unwrap())
        })
        .collect();
    all.sort();
    let before = all.len();
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(unique.len(), before, "a sequence given twice in one chain: {all:?}");
    all
}

#[test]
fn sixteen_issuer_processes_on_one_new_ledger_all_succeed() {
    let vendor = Vendor::new();
    let children: Vec<Child> = (0..16).map(|i| spawn_issue(&vendor, &format!("acct-c{i}"))).collect();
    let mut ids = std::collections::BTreeSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "exit {:?}: {said} {err}", out.status.code());
        let issued: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(issued["license"]["sequence"], 1);
        ids.insert(issued["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 16);
    assert_eq!(chain_sequences(&vendor).len(), 16);

    // Sixteen at once for one instance: one wins, fifteen are told it is in force.
    let children: Vec<Child> = (0..16).map(|_| spawn_issue(&vendor, "acct-race")).collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let code = out.status.code().unwrap();
            assert!(
                code == 0 || code == 40 && in_force(&out.stdout),
                "{code}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            code
        })
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(chain_sequences(&vendor).len(), 17);
    let mut verify = vendor.issuer();
    verify.args(["ledger", "verify", "--pub"]).arg(&vendor.public);
    assert!(license_tests::run(verify, None).ok().contains("0 problems"));
}

#[test]
fn a_batch_and_single_issues_for_the_same_accounts_never_share_a_sequence() {
    let vendor = Vendor::new();
    // Forty instances whose chains were revoked at sequence 1: the next
    // license of each is sequence 2, whoever signs it.
    {
        let key = vendor.signing_key();
        let catalog = license_issuer::catalogs::load(&vendor.catalog).unwrap();
        let mut ledger = vendor.open_ledger();
        let now = license_common::Timestamp::now();
        for i in 0..40 {
            let order = license_issuer::order::Order {
                account: format!("acct-s{i}"),
                licensee: "Race Ltd".into(),
                region: "cn-hangzhou".into(),
                edition: "basic_rnd".into(),
                engine: Some("maxcompute".into()),
                plan: Some(license_common::license::Plan::Subscription),
                quotas: [("processing_units".to_string(), 20)].into(),
                ..Default::default()
            };
            let issued = ledger.issue(&key, order.validate(&catalog, now).unwrap(), now).unwrap();
            ledger.revoke(&issued.id, "reissue", now).unwrap();
        }
    }
    // A batch for the forty (and many more, so that it runs a while), and
    // single issues for eight of them, at once.
    let orders: String = (0..40)
        .map(|i| format!("acct-s{i}"))
        .chain((0..2000).map(|i| format!("acct-fresh{i}")))
        .map(|a| {
            format!(
                "{{\"account\":\"{a}\",\"licensee\":\"Race Ltd\",\"region\":\"cn-hangzhou\",\"edition\":\"basic_rnd\",\"engine\":\"maxcompute\",\"plan\":\"subscription\",\"quotas\":{{\"processing_units\":20}}}}\n"
            )
        })
        .collect();
    let file = vendor.dir.path().join("orders.jsonl");
    std::fs::write(&file, orders).unwrap();
    let mut batch = vendor.issuer();
    batch.arg("issue").arg("--key").arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
    batch.arg("--catalog").arg(&vendor.catalog).arg("--batch").arg(&file).arg("--keep-going");
    batch.arg("--out").arg(vendor.dir.path().join("out.jsonl"));
    let batch = batch.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let singles: Vec<Child> = (0..8).map(|i| spawn_issue(&vendor, &format!("acct-s{}", i * 5))).collect();
    let out = batch.wait_with_output().unwrap();
    assert!(out.status.success(), "batch: {}", String::from_utf8_lossy(&out.stderr));
    for child in singles {
        let out = child.wait_with_output().unwrap();
        let code = out.status.code().unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(code == 0 || code == 40 && in_force(&out.stdout), "single: {code}: {said}");
    }
    let all = chain_sequences(&vendor);
    for i in 0..40 {
        let account = format!("acct-s{i}");
        let seqs: Vec<u64> = all.iter().filter(|(a, _, _)| *a == account).map(|(_, _, s)| *s).collect();
        assert_eq!(seqs, [1, 2], "{account}: one new license, above the floor, by the batch or by a single issue");
    }
    assert_eq!(all.len(), 40 * 2 + 2000);
}
