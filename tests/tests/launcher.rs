//! The launcher's activation dialog through the `activator` binary: license,
//! gateway address and access key pair in one atomic call; a bad gateway
//! changes nothing; no secret or token ever lands in the state directory or
//! in any output.

use license_tests::{Install, Vendor};

const SECRET: &str = "SK-9f8e7d6c5b4a3210-topsecret";
const TOKEN: &str = "tkn_workspace_5e4d3c2b1a";
const GATEWAY: &str = "https://gw.example.com:8443/v1/write?precision=ms&token={}";

fn grep_dir(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            hits.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    hits
}

#[test]
fn license_gateway_and_credentials_in_one_call_and_all_or_nothing() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let sk = install.dir.path().join("sk.txt");
    std::fs::write(&sk, format!("{SECRET}\n")).unwrap();
    let sk = sk.to_str().unwrap();
    let license = vendor.dir.path().join("first.lic");
    vendor.issue_run(&["--out", license.to_str().unwrap()]).ok();
    let license = license.to_str().unwrap();

    let r =
        install.run(&["activate", license, "--gateway", GATEWAY, "--ak", "AKID-0001", "--sk-file", sk, "--json"], None);
    let v = r.json();
    assert_eq!(v["activated"], true);
    assert_eq!(v["status"]["gateway"], GATEWAY);
    assert_eq!(v["status"]["credentials"]["access_key"], "AKID-0001");
    assert_eq!(v["status"]["credentials"]["secret_key"], "****cret");
    let before = install.snapshot();

    // A second activation with a bad gateway: nothing of the three changes.
    let newer = vendor.dir.path().join("second.lic");
    vendor.issue_run(&["--out", newer.to_str().unwrap(), "--package", "data_service=api.s2.large"]).ok();
    std::fs::write(install.dir.path().join("sk2.txt"), "SK-other-secret-value-77\n").unwrap();
    for bad in [
        "https://gw.example.com/v1/write?token=",
        "https://gw.example.com/v1/write?token=tkn_live_0123456789",
        "gw.example.com/v1/write?token={}",
        "\"https://gw.example.com/v1/write?token={}\"",
        "https://gw.example.com/v1/write?token={}&token={}",
    ] {
        let sk2 = install.dir.path().join("sk2.txt");
        let r = install.run(
            &[
                "activate",
                newer.to_str().unwrap(),
                "--gateway",
                bad,
                "--ak",
                "AKID-0002",
                "--sk-file",
                sk2.to_str().unwrap(),
            ],
            None,
        );
        let err = r.fails_with(2);
        assert!(err.contains("gateway address"), "{bad}: {err}");
        assert!(!err.contains("tkn_live_0123456789"), "a typed token is never echoed in full: {err}");
        assert_eq!(install.snapshot(), before, "{bad}: the state directory changed");
    }
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["license"]["packages"]["data_service"]["tier"], "api.s1.small", "the old license stays");
    assert_eq!(status["gateway"], GATEWAY);
    assert_eq!(status["credentials"]["access_key"], "AKID-0001");

    // The secret is sealed, and no output shows it.
    let rendered = install.run(&["gateway", "render", "--token", TOKEN], None);
    assert_eq!(rendered.ok().trim(), format!("https://gw.example.com:8443/v1/write?precision=ms&token={TOKEN}"));
    assert_eq!(grep_dir(&install.state, SECRET), Vec::<String>::new(), "secret key found in the state dir");
    assert_eq!(grep_dir(&install.state, &SECRET[..12]), Vec::<String>::new());
    assert_eq!(grep_dir(&install.state, TOKEN), Vec::<String>::new(), "workspace token found in the state dir");
    for args in [&["status"][..], &["status", "--json"], &["credentials", "show"], &["credentials", "show", "--json"]] {
        let r = install.run(args, None);
        assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET), "{args:?} printed the secret");
    }
    let shown = install.run(&["gateway", "show"], None);
    assert_eq!(shown.ok(), format!("{GATEWAY}\n"), "shown byte for byte as stored");
}

#[test]
fn gateway_set_canonicalises_the_encoded_placeholder_and_says_so() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let r = install.run(&["gateway", "set", "https://[2001:db8::1]:9529/v1/write?token=%7B%7D"], None);
    let out = r.ok();
    assert!(out.contains("note: `token=%7B%7D` was read as the placeholder"), "{out}");
    let shown = install.run(&["gateway", "show", "--json"], None).json();
    assert_eq!(shown["gateway"], "https://[2001:db8::1]:9529/v1/write?token={}");
    let err = install.run(&["gateway", "render", "--token", ""], None).fails_with(2).to_owned();
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn credentials_from_stdin_and_refusals_without_echo() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let r = install.run(&["credentials", "set", "--ak", "AKID-9"], Some(format!("{SECRET}\n").as_bytes()));
    assert!(r.ok().contains("****cret"), "{}", r.stdout);
    let v = install.run(&["credentials", "show", "--json"], None).json();
    assert_eq!(v["credentials"]["secret_key"], "****cret");
    let r = install.run(&["credentials", "set", "--ak", "AKID-9"], Some(b"has a space-secret\n"));
    let err = r.fails_with(2);
    assert!(err.contains("secret key contains spaces") && !err.contains("space-secret"), "{err}");
    assert_eq!(grep_dir(&install.state, SECRET), Vec::<String>::new());
    // There is no flag that takes the secret on the command line.
    let r = install.run(&["credentials", "set", "--ak", "AKID-9", "--sk", SECRET], None);
    assert_eq!(r.code, 2, "clap refuses the unknown flag: {}", r.stderr);
}

#[test]
fn gateway_render_without_a_gateway_says_how_to_set_one() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let err = install.run(&["gateway", "render", "--token", TOKEN], None).fails_with(30).to_owned();
    assert!(err.contains("activator gateway set"), "{err}");
}
