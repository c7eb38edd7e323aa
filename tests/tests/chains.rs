//! One chain per instance, revocation floors, keys the ledger knows, and
//! bound licenses that move only when let go — through the real binaries.
//!
//! Each test is one of the cases issue 13 reproduced on the earlier main,
//! plus the neighbours of its rule.

use std::path::{Path, PathBuf};

use license_tests::{Install, Run, Vendor, run};

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `issuer ARGS` with the vendor's key, passphrase and catalog.
fn signing(v: &Vendor, args: &[&str]) -> Run {
    let mut cmd = v.issuer();
    cmd.args(args).arg("--key").arg(&v.key).arg("--passphrase-file").arg(&v.pass_file);
    cmd.arg("--catalog").arg(&v.catalog);
    run(cmd, None)
}

/// `issuer ARGS` on the vendor's ledger.
fn plain(v: &Vendor, args: &[&str]) -> Run {
    let mut cmd = v.issuer();
    cmd.args(args);
    run(cmd, None)
}

fn file(v: &Vendor, name: &str) -> PathBuf {
    v.dir.path().join(name)
}

/// The id of the license in `path`.
fn id_of(v: &Vendor, path: &Path) -> String {
    let mut cmd = v.issuer();
    cmd.arg("inspect").arg(path).arg("--pub").arg(&v.public).arg("--json");
    run(cmd, None).json()["license"]["id"].as_str().unwrap().to_owned()
}

fn ledger_count(v: &Vendor) -> usize {
    plain(v, &["ledger", "list", "--json"]).json()["total"].as_u64().unwrap() as usize
}

/// Exports a revocation list to a new file and returns its path.
fn export_list(v: &Vendor, name: &str) -> PathBuf {
    let out = file(v, name);
    let mut cmd = v.issuer();
    cmd.args(["revocations", "export", "--key"]).arg(&v.key).arg("--passphrase-file").arg(&v.pass_file);
    cmd.arg("--out").arg(&out);
    run(cmd, None).ok();
    out
}

#[test]
fn a_revoked_chain_cannot_be_renewed_or_upgraded_and_its_older_licenses_stay_void() {
    let v = Vendor::new();
    let (l1, l2) = (file(&v, "l1.lic"), file(&v, "l2.lic"));
    v.issue_run(&["--out", p(&l1)]).ok();
    signing(&v, &["upgrade", "--from", p(&l1), "--package", "data_service=api.s1.medium", "--out", p(&l2)]).ok();
    let install = Install::new(&v);
    install.run(&["activate", p(&l1)], None).ok();
    plain(&v, &["revoke", &id_of(&v, &l2), "--reason", "chargeback"]).ok();

    // Renewing or upgrading the revoked license, or anything older, is refused.
    for (args, what) in [
        (vec!["renew", "--from", p(&l2), "--months", "12"], "renew the revoked license"),
        (vec!["upgrade", "--from", p(&l2), "--quota", "processing_units=60"], "upgrade the revoked license"),
        (vec!["renew", "--from", p(&l1), "--months", "12"], "renew an older license of the chain"),
        (vec!["upgrade", "--from", p(&l1), "--package", "data_service=api.s2.large"], "upgrade an older one"),
    ] {
        let err = signing(&v, &args).fails_with(18).to_owned();
        assert!(err.contains("its chain is revoked up to sequence 2 (chargeback)"), "{what}: {err}");
    }
    assert_eq!(ledger_count(&v), 2, "nothing was signed");

    // The list carries the chain's floor: the install drops the older
    // license too, although its own id was never revoked.
    let list = export_list(&v, "rev.txt");
    let imported = install.run(&["--json", "revocations", "import", p(&list)], None).json();
    assert_eq!(imported["floors"], 1, "{imported}");
    assert_eq!(imported["revokes_current"], id_of(&v, &l1).as_str(), "{imported}");
    let fresh = Install::new(&v);
    fresh.run(&["revocations", "import", p(&list)], None).ok();
    let err = fresh.run(&["activate", p(&l1)], None).fails_with(18).to_owned();
    assert!(err.contains("revoked up to sequence 2"), "{err}");

    // Once no license of the instance is in force, a new order starts above the floor.
    let again = v.issue_run(&["--account", "acct-1001", "--json"]).json();
    assert_eq!(again["license"]["sequence"], 3);
    fresh.activate(again["token"].as_str().unwrap()).ok();
}

#[test]
fn a_new_order_for_an_instance_in_force_is_refused_naming_its_newest_license() {
    let mut v = Vendor::new();
    let (l1, l2) = (file(&v, "l1.lic"), file(&v, "l2.lic"));
    v.issue_run(&["--account", "acct-9", "--out", p(&l1)]).ok();
    signing(&v, &["upgrade", "--from", p(&l1), "--package", "data_service=api.s1.medium", "--out", p(&l2)]).ok();
    let newest = id_of(&v, &l2);

    // Lower content, the same content, another plan: each would be a second license.
    for extra in [&["--edition", "basic_rnd", "--quota", "processing_units=20"][..], &[], &["--plan", "pay_as_you_go"]]
    {
        let mut args = vec!["--account", "acct-9"];
        args.extend_from_slice(extra);
        let err = v.issue_run(&args).fails_with(40).to_owned();
        assert!(err.contains(&format!("already holds license {newest} (sequence 2, active)")), "{err}");
        assert!(err.contains("upgrade or renew it"), "{err}");
    }
    let active = plain(&v, &["ledger", "list", "--account", "acct-9", "--status", "active", "--json"]).json();
    let ids: Vec<&str> = active["licenses"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [newest.as_str()], "one license in force for the instance");

    // Another region is another instance of the account: its own chain.
    let other = v.issue_run(&["--account", "acct-9", "--region", "cn-shanghai", "--json"]).json();
    assert_eq!(other["license"]["sequence"], 1);
    // A community upgrade is a first license too, and refused the same way
    // (on a copy of the catalog with a community edition: the data platform
    // has none, so its own catalog refuses the upgrade before the ledger).
    v.with_community_edition();
    let err = signing(
        &v,
        &[
            "upgrade",
            "--account",
            "acct-9",
            "--licensee",
            "X",
            "--region",
            "cn-hangzhou",
            "--edition",
            "basic_rnd",
            "--engine",
            "maxcompute",
            "--plan",
            "subscription",
            "--quota",
            "processing_units=20",
        ],
    )
    .fails_with(40)
    .to_owned();
    assert!(err.contains(&newest), "{err}");
}

#[test]
fn the_superseded_hint_names_the_newest_license_of_the_chain() {
    let v = Vendor::new();
    let (l1, l2, l3) = (file(&v, "l1.lic"), file(&v, "l2.lic"), file(&v, "l3.lic"));
    v.issue_run(&["--out", p(&l1)]).ok();
    signing(&v, &["upgrade", "--from", p(&l1), "--package", "data_service=api.s1.medium", "--out", p(&l2)]).ok();
    signing(&v, &["renew", "--from", p(&l2), "--months", "6", "--out", p(&l3)]).ok();
    let newest = id_of(&v, &l3);
    let err = signing(&v, &["renew", "--from", p(&l1), "--months", "6"]).fails_with(17).to_owned();
    let hint = err.lines().find(|l| l.starts_with("hint: ")).unwrap();
    assert!(hint.contains(&newest) && !hint.contains(&id_of(&v, &l2)), "{err}");
}

#[test]
fn revoke_and_retire_key_refuse_what_the_ledger_does_not_know() {
    let v = Vendor::new();
    let token = v.issue(&[]);
    let err = plain(&v, &["revoke", "0000-typo", "--reason", "x"]).fails_with(30).to_owned();
    assert!(err.contains("license 0000-typo is not in the ledger"), "{err}");
    let err = plain(&v, &["retire-key", "0123456789abcdef", "--not-after", "2030-01-01", "--reason", "x"])
        .fails_with(50)
        .to_owned();
    assert!(err.contains("key 0123456789abcdef is not in the ledger"), "{err}");
    let export = plain(&v, &["ledger", "export", "--json"]).json();
    assert!(export["revocations"].as_array().unwrap().is_empty(), "nothing was recorded");
    assert!(export["keys"][0]["retired_at"].is_null());

    // A key retired in the ledger signs nothing after its date.
    let kid = token.split('.').nth(1).unwrap();
    plain(&v, &["retire-key", kid, "--not-after", "2020-01-01", "--reason", "rotated"]).ok();
    let err = v.issue_run(&[]).fails_with(50).to_owned();
    assert!(err.contains(&format!("key {kid} was retired: it signs nothing after 2020-01-01")), "{err}");
    assert_eq!(ledger_count(&v), 1);
}

#[test]
fn a_term_beyond_the_horizon_is_refused_and_the_ledger_stays_readable() {
    let v = Vendor::new();
    let l1 = file(&v, "l1.lic");
    v.issue_run(&["--out", p(&l1)]).ok();
    for args in
        [&["--months", "120000"][..], &["--until", "2400-01-01"], &["--not-before", "2300-01-01", "--months", "1"]]
    {
        let err = v.issue_run(args).fails_with(40).to_owned();
        assert!(err.contains("more than 100 years after the time of issue"), "{args:?}: {err}");
    }
    let err = signing(&v, &["renew", "--from", p(&l1), "--months", "1300"]).fails_with(40).to_owned();
    assert!(err.contains("more than 100 years"), "{err}");
    let listed = plain(&v, &["ledger", "list", "--json"]).json();
    assert_eq!(listed["total"], 1, "{listed}");
}

#[test]
fn a_bound_license_moves_only_once_its_install_let_it_go() {
    let v = Vendor::new();
    let (old, new) = (Install::new(&v), Install::new(&v));
    let (old_req, new_req) = (file(&v, "old.req"), file(&v, "new.req"));
    old.run(&["request", "--out", p(&old_req)], None).ok();
    new.run(&["request", "--out", p(&new_req)], None).ok();
    let l1 = file(&v, "l1.lic");
    v.issue_run(&["--bind", p(&old_req), "--out", p(&l1)]).ok();
    old.run(&["activate", p(&l1)], None).ok();

    // Moving it while the old install still holds it: refused.
    let l2 = file(&v, "l2.lic");
    let err =
        signing(&v, &["upgrade", "--from", p(&l1), "--bind", p(&new_req), "--out", p(&l2)]).fails_with(40).to_owned();
    assert!(err.contains("has not released it") && err.contains("deactivations import"), "{err}");

    // The old install releases it; its receipt is imported; the move is signed.
    let released = file(&v, "released.txt");
    old.run(&["deactivate", "--out", p(&released)], None).ok();
    let imported = plain(&v, &["--json", "deactivations", "import", p(&released)]).json();
    assert_eq!(imported["imported"][0]["new"], true, "{imported}");
    assert_eq!(plain(&v, &["--json", "deactivations", "import", p(&released)]).json()["imported"][0]["new"], false);
    signing(&v, &["upgrade", "--from", p(&l1), "--bind", p(&new_req), "--out", p(&l2)]).ok();
    new.run(&["activate", p(&l2)], None).ok();
    let chain = plain(&v, &["ledger", "show", &id_of(&v, &l2), "--json"]).json();
    assert_eq!(chain["deactivations"].as_array().unwrap().len(), 1, "{chain}");

    // Without a receipt, only with the old binding revoked in the same step.
    let (third, third_req, l3) = (Install::new(&v), file(&v, "third.req"), file(&v, "l3.lic"));
    third.run(&["request", "--out", p(&third_req)], None).ok();
    signing(&v, &["upgrade", "--from", p(&l2), "--bind", p(&third_req), "--out", p(&l3)]).fails_with(40);
    signing(&v, &["upgrade", "--from", p(&l2), "--bind", p(&third_req), "--revoke-old-binding", "--out", p(&l3)]).ok();
    third.run(&["activate", p(&l3)], None).ok();
    let list = export_list(&v, "rev.txt");
    new.run(&["revocations", "import", p(&list)], None).ok();
    let status = new.run(&["status", "--json"], None).json();
    assert!(status["license"].is_null(), "the old binding is revoked: {status}");
}

#[test]
fn a_deactivation_receipt_is_checked_like_every_file_from_an_install() {
    let v = Vendor::new();
    let install = Install::new(&v);
    let l1 = file(&v, "l1.lic");
    v.issue_run(&["--out", p(&l1)]).ok();
    install.run(&["activate", p(&l1)], None).ok();
    let released = file(&v, "released.txt");
    install.run(&["deactivate", "--out", p(&released)], None).ok();
    // The same install's release, but the ledger never saw its receipt of the license.
    let err = plain(&v, &["deactivations", "import", p(&released)]).fails_with(16).to_owned();
    assert!(err.contains("sent no activation receipt"), "{err}");
    // Another vendor's ledger does not know the license at all.
    let other = Vendor::new();
    other.issue(&[]); // its ledger exists: a path with no ledger at all is refused sooner
    let err = plain(&other, &["deactivations", "import", p(&released)]).fails_with(30).to_owned();
    assert!(err.contains("is not in the ledger"), "{err}");
    assert!(plain(&other, &["ledger", "export", "--json"]).json()["deactivations"].as_array().unwrap().is_empty());
}

#[test]
fn an_unbound_license_run_by_more_installs_than_it_allows_is_listed() {
    let v = Vendor::new();
    let l1 = file(&v, "l1.lic");
    v.issue_run(&["--max-installs", "2", "--out", p(&l1)]).ok();
    let id = id_of(&v, &l1);
    let listed = plain(&v, &["ledger", "list", "--json"]).json();
    assert_eq!(listed["licenses"][0]["max_installs"], 2);
    let mut receipts = Vec::new();
    for i in 0..3 {
        let install = Install::new(&v);
        install.run(&["activate", p(&l1)], None).ok();
        let receipt = file(&v, &format!("receipt-{i}.txt"));
        install.run(&["receipt", "--out", p(&receipt)], None).ok();
        receipts.push(receipt);
        plain(&v, &["receipts", "import", p(receipts.last().unwrap())]).ok();
        let over = plain(&v, &["ledger", "overuse", "--json"]).json();
        let licenses = over["licenses"].as_array().unwrap();
        if i < 2 {
            assert!(licenses.is_empty(), "{i}: {over}");
        } else {
            assert_eq!(licenses.len(), 1, "{over}");
            assert_eq!(licenses[0]["license_id"], id.as_str());
            assert_eq!(licenses[0]["installs"].as_array().unwrap().len(), 3);
        }
    }
    let text = plain(&v, &["ledger", "overuse"]).ok().to_owned();
    assert!(text.contains("3 installs for at most 2"), "{text}");
    // A plan cap in the order is checked against the catalog's, and 0 is refused.
    let err = v.issue_run(&["--max-installs", "0"]).fails_with(40).to_owned();
    assert!(err.contains("max_installs is zero"), "{err}");
}

#[test]
fn a_distrusted_key_voids_all_it_signed_and_its_live_chains_are_signed_again() {
    let v = Vendor::new();
    let (l1, gone) = (file(&v, "l1.lic"), file(&v, "gone.lic"));
    v.issue_run(&["--out", p(&l1)]).ok();
    v.issue_run(&["--out", p(&gone)]).ok();
    plain(&v, &["revoke", &id_of(&v, &gone), "--reason", "closed"]).ok();
    let old_kid = std::fs::read_to_string(&l1).unwrap();
    let old_kid = license_common::armor::read(&old_kid, license_common::Kind::License).unwrap();
    let old_kid = old_kid.split('.').nth(1).unwrap().to_owned();

    // A new key, trusted by the install beside the old one.
    let new_keys = v.dir.path().join("new-keys");
    let mut keygen = v.issuer();
    keygen.args(["keygen", "--out", p(&new_keys), "--passphrase-file", p(&v.pass_file)]);
    run(keygen, None).ok();
    let install = Install::new(&v);
    install.run(&["trust", "add", p(&new_keys.join("issuer.pub")), "--yes"], None).ok();
    install.run(&["activate", p(&l1)], None).ok();

    // The same key cannot replace itself; an unknown key id is refused.
    let mut same = v.issuer();
    same.args(["distrust-key", &old_kid, "--key", p(&v.key), "--passphrase-file", p(&v.pass_file), "--reason", "x"]);
    run(same, None).fails_with(2);
    let out_dir = v.dir.path().join("resigned");
    let distrust = |kid: &str| {
        let mut cmd = v.issuer();
        cmd.args(["--json", "distrust-key", kid, "--key", p(&new_keys.join("issuer.key"))]);
        cmd.args(["--passphrase-file", p(&v.pass_file), "--reason", "laptop stolen", "--out-dir", p(&out_dir)]);
        run(cmd, None)
    };
    assert_eq!(distrust("0123456789abcdef").code, 50);
    let done = distrust(&old_kid).json();
    let resigned = done["resigned"].as_array().unwrap();
    assert_eq!(resigned.len(), 1, "only the live chain: {done}");
    let new_id = resigned[0]["id"].as_str().unwrap();
    assert_eq!(resigned[0]["license"]["supersedes"], id_of(&v, &l1).as_str());
    assert_eq!(resigned[0]["license"]["sequence"], 2);
    let new_file = out_dir.join(format!("{new_id}.lic"));
    assert!(new_file.exists());

    // The old key signs nothing more; the list distrusts it; the install
    // drops the old license and takes the new one.
    let err = v.issue_run(&[]).fails_with(50).to_owned();
    assert!(err.contains("was distrusted"), "{err}");
    // Nor can it be retired afterwards: it already signs nothing.
    let err =
        plain(&v, &["retire-key", &old_kid, "--not-after", "2030-01-01", "--reason", "late"]).fails_with(50).to_owned();
    assert!(err.contains("was distrusted"), "{err}");
    let mut export = v.issuer();
    export.args(["--json", "revocations", "export", "--key", p(&new_keys.join("issuer.key"))]);
    export.args(["--passphrase-file", p(&v.pass_file), "--out", p(&file(&v, "rev.txt"))]);
    assert_eq!(run(export, None).json()["distrusted_keys"], 1);
    install.run(&["revocations", "import", p(&file(&v, "rev.txt"))], None).ok();
    let err = install.run(&["activate", p(&l1)], None).fails_with(18).to_owned();
    assert!(err.contains("is distrusted (laptop stolen)"), "{err}");
    install.run(&["activate", p(&new_file)], None).ok();
    let listed = plain(&v, &["ledger", "list", "--status", "revoked", "--json"]).json();
    assert_eq!(listed["total"], 2, "both licenses of the old key: {listed}");
}
