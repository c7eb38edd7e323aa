//! The customer's journey through both binaries: community → pay-as-you-go
//! → add a package → raise its tier → renew, with `status` and `check` at
//! every step; then every earlier license is refused, and the history says
//! what replaced what.

use std::path::{Path, PathBuf};
use std::process::Command;

use license_tests::{Install, Run, Vendor, bin, run};

struct Journey {
    vendor: Vendor,
    install: Install,
}

impl Journey {
    fn issuer(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(bin("issuer"));
        cmd.args(args).arg("--key").arg(&self.vendor.key).arg("--passphrase-file").arg(&self.vendor.pass_file);
        cmd.arg("--catalog").arg(&self.vendor.catalog);
        run(cmd, None)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.vendor.dir.path().join(name)
    }

    fn activate(&self, file: &Path) -> Run {
        self.install.run(&["activate", file.to_str().unwrap()], None)
    }

    fn check(&self, feature: &str, tier: &str) -> i32 {
        self.install.run(&["check", feature, "--tier", tier], None).code
    }

    fn status(&self) -> serde_json::Value {
        self.install.run(&["status", "--json"], None).json()
    }
}

#[test]
fn community_to_payg_add_package_raise_tier_renew_and_no_way_back() {
    // The journey starts on a community edition; the data platform has none.
    let mut vendor = Vendor::new();
    vendor.with_community_edition();
    let install = Install::new(&vendor);
    let j = Journey { vendor, install };
    assert_eq!(j.status()["edition"], "community");
    assert_eq!(j.check("data_service", "api.base"), 20);

    // 1. Community → pay-as-you-go: a first commercial license for the account.
    let l1 = j.path("1-payg.lic");
    j.issuer(&[
        "upgrade",
        "--account",
        "acct-journey",
        "--product",
        "data-platform",
        "--licensee",
        "Journey Co",
        "--region",
        "cn-hangzhou",
        "--edition",
        "basic_rnd",
        "--engine",
        "maxcompute",
        "--plan",
        "pay_as_you_go",
        "--quota",
        "processing_units=20",
        "--out",
        l1.to_str().unwrap(),
    ])
    .ok();
    j.activate(&l1).ok();
    let s = j.status();
    assert_eq!((s["edition"].as_str(), s["license"]["plan"].as_str()), (Some("basic_rnd"), Some("pay_as_you_go")));
    assert_eq!(s["license"]["sequence"], 1);
    assert_eq!(j.check("data_service", "api.base"), 20, "no package yet");

    // 2. Add a package mid-term: it expires with the instance.
    let l2 = j.path("2-add-package.lic");
    let out = j.issuer(&[
        "upgrade",
        "--from",
        l1.to_str().unwrap(),
        "--package",
        "data_service=api.base",
        "--out",
        l2.to_str().unwrap(),
    ]);
    assert!(out.ok().contains("sequence 2, supersedes"), "{}", out.stdout);
    j.activate(&l2).ok();
    let s2 = j.status();
    assert_eq!(s2["license"]["expires_at"], s["license"]["expires_at"], "the add-on expires with the instance");
    assert_eq!(j.check("data_service", "api.base"), 0);
    assert_eq!(j.check("data_service", "api.s1.small"), 20);

    // The price of raising the tier, quoted before buying.
    let mut quote = Command::new(bin("issuer"));
    quote.args(["quote", "--from", l2.to_str().unwrap(), "--pub"]).arg(&j.vendor.public);
    quote.arg("--catalog").arg(&j.vendor.catalog).args(["--package", "data_service=api.s1.medium", "--json"]);
    let q = run(quote, None).json();
    assert!(q["price"].as_i64().unwrap() > 0, "{q}");
    assert_eq!(q["price"].as_i64().unwrap(), q["new_term"].as_i64().unwrap() - q["old_term"].as_i64().unwrap());

    // 3. Raise the tier; a lower one is refused naming the item.
    let l3 = j.path("3-raise-tier.lic");
    j.issuer(&[
        "upgrade",
        "--from",
        l2.to_str().unwrap(),
        "--package",
        "data_service=api.s1.medium",
        "--out",
        l3.to_str().unwrap(),
    ])
    .ok();
    j.activate(&l3).ok();
    assert_eq!(j.check("data_service", "api.s1.small"), 0);
    assert_eq!(j.status()["license"]["packages"]["data_service"]["limits"]["qps"], 5000);
    let down = j.issuer(&["upgrade", "--from", l3.to_str().unwrap(), "--package", "data_service=api.base"]);
    assert!(down.fails_with(40).contains("cannot go from `api.s1.medium` down to `api.base`"), "{}", down.stderr);

    // 4. Renew: same content, a later expiry.
    let l4 = j.path("4-renew.lic");
    j.issuer(&["renew", "--from", l3.to_str().unwrap(), "--months", "12", "--out", l4.to_str().unwrap()]).ok();
    j.activate(&l4).ok();
    let s4 = j.status();
    assert!(s4["license"]["expires_at"].as_str() > s2["license"]["expires_at"].as_str());
    assert_eq!(s4["license"]["sequence"], 4);
    assert_eq!(j.check("data_service", "api.s1.medium"), 0);

    // No way back: every earlier license is refused and changes nothing.
    let before = j.install.snapshot();
    for old in [&l1, &l2, &l3] {
        let err = j.activate(old).fails_with(17).to_owned();
        assert!(err.contains("has since been replaced"), "{err}");
        assert_eq!(j.install.snapshot(), before);
    }
    j.activate(&l4).ok(); // the license in force again: not an error
    assert_eq!(j.install.snapshot(), before);

    let history = j.install.run(&["history", "--json"], None).json();
    let history = history["history"].as_array().unwrap();
    assert_eq!(history.len(), 4);
    for pair in history.windows(2) {
        assert_eq!(pair[1]["replaced"], pair[0]["license"], "each license replaced the one before");
    }
    let table = j.install.run(&["history"], None);
    assert_eq!(table.ok().lines().count(), 5, "{}", table.stdout);
}

#[test]
fn another_account_needs_replace_and_says_what_it_throws_away() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&["--account", "acct-old"])).ok();
    let other = vendor.issue(&["--account", "acct-new"]);
    let before = install.snapshot();
    let err = install.activate(&other).fails_with(16).to_owned();
    assert!(err.contains("account `acct-new`") && err.contains("--replace"), "{err}");
    assert_eq!(install.snapshot(), before);
    let done = install.run(&["activate", "-", "--replace"], Some(other.as_bytes()));
    let out = done.ok();
    assert!(out.contains("thrown away: license") && out.contains("acct-old"), "{out}");
    assert_eq!(install.run(&["status", "--json"], None).json()["license"]["account"], "acct-new");
}

#[test]
fn catalog_check_names_the_line() {
    let vendor = Vendor::new();
    let mut ok = Command::new(bin("issuer"));
    ok.args(["catalog", "check"]).arg(&vendor.catalog);
    assert!(run(ok, None).ok().contains("is valid: product data-platform, 3 editions"));
    let broken = vendor.dir.path().join("broken.toml");
    let text =
        std::fs::read_to_string(&vendor.catalog).unwrap().replacen("id = \"api.s1.small\"", "id = \"api.base\"", 1);
    std::fs::write(&broken, &text).unwrap();
    let mut bad = Command::new(bin("issuer"));
    bad.args(["catalog", "check"]).arg(&broken);
    let r = run(bad, None);
    let err = r.fails_with(41);
    let line = text.lines().enumerate().filter(|(_, l)| l.contains("\"api.base\"")).nth(1).unwrap().0 + 1;
    assert!(
        err.contains(&format!("line {line}: tier of package `data_service` `api.base` is declared twice")),
        "{err}"
    );
}
