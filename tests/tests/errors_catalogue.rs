//! The error catalogue, docs/ERRORS.md, is complete and true.
//!
//! * It is generated from the error types (`license_tests::errors_doc`): a
//!   test makes it again and fails on any difference, and every case of
//!   every error type has an example in it (the variants are listed by
//!   strum, so a new variant without an example is caught).
//! * Every exit status of the table in docs/CLI.md but 1 (`internal`: only a
//!   bug produces it, and its rows say so) is produced here through the real
//!   binaries, by a test named `status_<code>_<class>`, and the `error:` and
//!   `hint:` lines printed match a row of the catalogue with that status.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use license_common::exit::{Examples, ExitClass, Explain};
use license_common::{Plan, Timestamp};
use license_tests::catalogue::*;
use license_tests::{Install, Run, Vendor, bin, errors_doc, run};
use strum::VariantNames;

#[test]
fn errors_md_is_generated_from_the_error_types() {
    let generated = errors_doc::generate();
    let path = license_tests::workspace().join(errors_doc::PATH);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = read(CATALOGUE);
    if on_disk != generated {
        let first = on_disk.lines().zip(generated.lines()).position(|(a, b)| a != b);
        panic!(
            "{CATALOGUE} is not what the error types make (first difference at line {}); run `UPDATE_DOCS=1 cargo test -p license-tests --test errors_catalogue` and commit it",
            first.map_or(on_disk.lines().count().min(generated.lines().count()) + 1, |i| i + 1)
        );
    }
}

/// The cases of `T`'s examples, without the type prefix.
fn cases<T: Examples>(ty: &str) -> BTreeSet<String> {
    T::examples().iter().filter_map(|x| x.error.case().strip_prefix(&format!("{ty}::")).map(str::to_owned)).collect()
}

/// Every variant of `T` but its wrappers has an example.
fn all_have_examples<T: Examples + VariantNames>(ty: &str, wrappers: &[&str]) {
    let have = cases::<T>(ty);
    let missing: Vec<&str> =
        T::VARIANTS.iter().copied().filter(|v| !wrappers.contains(v) && !have.contains(*v)).collect();
    assert!(missing.is_empty(), "{ty}: no example of {missing:?}, so {CATALOGUE} cannot document them");
    for w in wrappers {
        assert!(T::VARIANTS.contains(w), "{ty}::{w} is not a variant");
    }
}

#[test]
fn every_case_of_every_error_type_has_an_example() {
    use license_activator::credentials::CredentialsError;
    use license_activator::gateway::GatewayError;
    use license_common::envelope::EnvelopeError;
    use license_common::fsio::OutputError;
    use license_common::input::InputError;
    use license_common::keys::KeyError;
    all_have_examples::<EnvelopeError>("EnvelopeError", &[]);
    all_have_examples::<InputError>("InputError", &[]);
    all_have_examples::<OutputError>("OutputError", &[]);
    all_have_examples::<KeyError>("KeyError", &["Random"]);
    all_have_examples::<license_issuer::order::OrderError>("OrderError", &[]);
    all_have_examples::<license_issuer::IssuerError>(
        "IssuerError",
        &["Key", "Order", "Input", "Output", "Envelope", "Sign", "Random", "Hsm"],
    );
    all_have_examples::<license_issuer::hsm::HsmError>("HsmError", &[]);
    all_have_examples::<license_activator::ActivatorError>(
        "ActivatorError",
        &["Envelope", "Input", "Key", "Gateway", "Credentials", "Random"],
    );
    all_have_examples::<GatewayError>("GatewayError", &[]);
    all_have_examples::<CredentialsError>("CredentialsError", &[]);
    all_have_examples::<license_activator::Denied>("Denied", &[]);
    all_have_examples::<issuer_cli::Error>("issuer", &["Issuer", "Activator", "Service"]);
    all_have_examples::<license_issuer_service::ServiceError>("ServiceError", &["Issuer", "Listen", "Refused"]);
    all_have_examples::<activator_cli::Error>("activator", &["Activator", "Denied", "Output", "Service"]);
    all_have_examples::<license_activator_service::ApiError>("ApiError", &["Activator", "Denied", "Listen", "Refused"]);
    all_have_examples::<license_http::ListenError>("ListenError", &[]);
    all_have_examples::<license_http::refusal::Refused>("Refused", &[]);
    // And the rows: every case of the command lines is in the catalogue.
    let rows = rows(&read(CATALOGUE));
    let documented: BTreeSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    for x in issuer_cli::Error::examples() {
        assert!(documented.contains(x.error.case().as_str()), "{} has no row", x.error.case());
    }
    for x in activator_cli::Error::examples() {
        assert!(documented.contains(x.error.case().as_str()), "{} has no row", x.error.case());
    }
}

#[test]
fn no_library_message_or_hint_names_a_command_line_flag_or_command() {
    // A launcher that embeds the libraries never shows advice about a CLI
    // its users do not have: the libraries' messages and hints name no
    // flag, no binary.
    for row in errors_doc::rows() {
        if row.case.starts_with("issuer::") || row.case.starts_with("activator::") {
            continue;
        }
        let hint = row.library_hint.clone().unwrap_or(row.hint.clone());
        for (what, text) in [("message", &row.message), ("hint", &hint)] {
            for word in [" --", "`issuer ", "`activator ", "ISSUER_", "ACTIVATOR_STATE", "--help"] {
                assert!(!text.contains(word), "{}: the library's {what} names `{word}`: {text}", row.case);
            }
        }
    }
}

#[test]
fn every_row_has_a_real_exit_status_and_both_texts() {
    let rows = rows(&read(CATALOGUE));
    assert!(rows.len() > 90, "{CATALOGUE}: too few rows were read: {}", rows.len());
    for row in &rows {
        assert!(
            ExitClass::ALL.iter().any(|c| c.code() == row.code && c.name() == row.class),
            "{CATALOGUE}: {}: `{} {}` is not an exit status and class of docs/CLI.md",
            row.name,
            row.code,
            row.class
        );
        assert!(
            row.code != ExitClass::Internal.code() || row.hint.contains("bug"),
            "{}: status 1 is for bugs only, and the hint must say so",
            row.name
        );
        assert!(!row.message.is_empty() && !row.hint.is_empty(), "{CATALOGUE}: {} lacks a text: {row:?}", row.name);
    }
}

// ---------------------------------------------------------------------------
// (a) Every documented exit status can be produced.

/// The (status, class) rows of the table in docs/CLI.md.
fn cli_statuses() -> Vec<(u8, String)> {
    read("docs/CLI.md")
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<u8>().ok()?;
            Some((code, cells.get(2)?.trim_matches('`').to_owned()))
        })
        .collect()
}

#[test]
fn every_exit_status_of_cli_md_but_internal_has_a_test_here() {
    let this = include_str!("errors_catalogue.rs");
    let statuses = cli_statuses();
    assert!(statuses.len() >= 18, "docs/CLI.md: the exit status table was not found: {statuses:?}");
    let test = |code: &u8, class: &str| format!("fn status_{code}_{class}() {{");
    let missing: Vec<String> = statuses
        .iter()
        .filter(|(code, _)| *code != ExitClass::Internal.code())
        .map(|(code, class)| test(code, class))
        .filter(|f| !this.contains(f.as_str()))
        .collect();
    assert!(missing.is_empty(), "no test produces these statuses: {missing:?}");
    let internal = ExitClass::Internal;
    assert!(!this.contains(&test(&internal.code(), internal.name())), "no error has status 1: nothing can test it");
    let doc = read(CATALOGUE);
    assert!(
        doc.contains("| 1 | `internal` |") || doc.contains("status 1"),
        "{CATALOGUE} must say what becomes of status 1"
    );
}

/// Asserts that `run` failed with `code` in the two-line format, and that
/// its message and hint are those of a row of the catalogue with that status.
#[track_caller]
fn documented(run: &Run, code: i32) -> String {
    let stderr = run.fails_with(code).to_owned();
    let mut lines = stderr.lines();
    let message = lines.next().and_then(|l| l.strip_prefix("error: ")).unwrap();
    let hint = lines.find_map(|l| l.strip_prefix("hint: ")).unwrap();
    let rows = rows(&read(CATALOGUE));
    let same_message: Vec<&Row> = rows.iter().filter(|r| matches(&r.message, message)).collect();
    assert!(
        same_message.iter().any(|r| i32::from(r.code) == code && matches(&r.hint, hint)),
        "no row of {CATALOGUE} with status {code} matches\nerror: {message}\nhint: {hint}\nrows with this message: {same_message:#?}"
    );
    stderr
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn status_0_success() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let out = install.run(&["check", "data_service"], None);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    out.ok();
}

#[test]
fn status_2_usage() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let err = documented(&install.run(&["gateway", "set", "gw.example.com/v1/write?token={}"], None), 2);
    assert!(err.contains("no scheme (it looks like a host name)"), "{err}");
    let err = documented(&install.run(&["gateway", "set", "https://gw.example.com/v1/write"], None), 2);
    assert!(err.contains("no `token` query parameter"), "{err}");
    let err = documented(&install.run(&["activate"], None), 2);
    assert!(err.contains("no license given"), "{err}");
    // Clap's own refusals share the status, in clap's format.
    let r = install.run(&["activate", "--no-such-flag"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
}

#[test]
fn status_3_io() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let missing = install.dir.path().join("no-such-license.txt");
    let err = documented(&install.run(&["activate", path(&missing)], None), 3);
    assert!(err.contains("cannot read") && err.contains("no-such-license.txt"), "{err}");
    let err = documented(&install.run(&["activate", path(install.dir.path())], None), 3);
    assert!(err.contains("is a directory"), "{err}");
    let mut keygen = vendor.issuer();
    keygen.arg("keygen").arg("--out").arg(vendor.key.parent().unwrap()).arg("--passphrase-file").arg(&vendor.pass_file);
    let err = documented(&run(keygen, None), 3);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn status_10_malformed() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let good = vendor.issue(&[]);
    let err = documented(&install.activate(""), 10);
    assert!(err.contains("the license is empty"), "{err}");
    let err = documented(&install.activate(&good.replacen("lic1.", "rct1.", 1)), 10);
    assert!(err.contains("not a license"), "{err}");
    let err = documented(&install.activate(&good[..good.len() - 20]), 10);
    assert!(err.contains("not a well-formed license"), "{err}");
    let err = documented(&install.activate(&good.replacen("lic1.", "lic9.", 1)), 10);
    assert!(err.contains("format version 9"), "{err}");
}

#[test]
fn status_11_bad_signature() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let good = vendor.issue(&[]);
    let mut bytes = good.clone().into_bytes();
    let i = good.find('.').unwrap() + 18 + 10; // inside the payload
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let err = documented(&install.activate(&String::from_utf8(bytes).unwrap()), 11);
    assert!(err.contains("changed after it was signed"), "{err}");
}

#[test]
fn status_12_untrusted_key() {
    let vendor = Vendor::new();
    let stranger = Vendor::new();
    let install = Install::new(&vendor);
    let err = documented(&install.activate(&stranger.issue(&[])), 12);
    assert!(err.contains("not a trusted key"), "{err}");
}

#[test]
fn status_13_expired() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let expired = vendor.sign_custom(|l| {
        l.not_before = Timestamp::parse("2024-01-01").unwrap();
        l.expires_at = Some(Timestamp::parse("2025-01-01").unwrap());
    });
    let err = documented(&install.activate(&expired), 13);
    assert!(err.contains("expired on 2025-01-01"), "{err}");
}

#[test]
fn status_14_not_yet_valid() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let later = vendor.issue(&["--not-before", "2031-01-01", "--until", "2032-01-01"]);
    let err = documented(&install.activate(&later), 14);
    assert!(err.contains("not valid before 2031-01-01"), "{err}");
}

#[test]
fn status_15_activation_window_closed() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let lapsed = vendor.sign_custom(|l| {
        l.plan = Plan::PayAsYouGo;
        l.activate_by = Some(Timestamp::parse("2025-06-01").unwrap());
    });
    let err = documented(&install.activate(&lapsed), 15);
    assert!(err.contains("activated by 2025-06-01"), "{err}");
}

#[test]
fn status_16_mismatch() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let err = documented(&install.activate(&vendor.issue(&["--account", "acct-2002"])), 16);
    assert!(err.contains("for account `acct-2002`") && err.contains("--replace"), "{err}");
    let other_product = vendor.sign_custom(|l| l.product = "observability".into());
    let err = documented(&install.activate(&other_product), 16);
    assert!(err.contains("for product `observability`"), "{err}");
}

#[test]
fn status_17_superseded() {
    let vendor = Vendor::new();
    // The ledger numbers an instance's licenses: the renewal is sequence 2.
    let first = vendor.issue(&[]);
    let second = vendor.renew(&first);
    let install = Install::new(&vendor);
    install.activate(&second).ok();
    let err = documented(&install.activate(&first), 17);
    assert!(err.contains("(sequence 1) is not newer than license") && err.contains("(sequence 2)"), "{err}");
    // Once replaced, a license cannot come back.
    let replaced = Install::new(&vendor);
    replaced.activate(&first).ok();
    replaced.activate(&second).ok();
    let err = documented(&replaced.activate(&first), 17);
    assert!(err.contains("has since been replaced by license"), "{err}");
}

#[test]
fn status_18_revoked() {
    let vendor = Vendor::new();
    let issued = vendor.issue_run(&["--json"]).json();
    let (id, token) = (issued["id"].as_str().unwrap(), issued["token"].as_str().unwrap());
    let mut revoke = vendor.issuer();
    revoke.args(["revoke", id, "--reason", "chargeback on order 7731"]);
    run(revoke, None).ok();
    let list = vendor.dir.path().join("revocations.txt");
    let mut export = vendor.issuer();
    export.args(["revocations", "export", "--key", path(&vendor.key), "--passphrase-file", path(&vendor.pass_file)]);
    export.args(["--out", path(&list)]);
    run(export, None).ok();

    let install = Install::new(&vendor);
    install.run(&["revocations", "import", path(&list)], None).ok();
    let err = documented(&install.activate(token), 18);
    assert!(err.contains("was revoked on") && err.contains("chargeback on order 7731"), "{err}");
    let err = documented(&install.run(&["revocations", "import", path(&list)], None), 18);
    assert!(err.contains("is not newer than list"), "{err}");
}

#[test]
fn status_20_not_entitled() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let err = documented(&install.run(&["check", "data_service"], None), 20);
    assert!(err.contains("community edition"), "{err}");
    install.activate(&vendor.issue(&[])).ok();
    let err = documented(&install.run(&["check", "data_service", "--tier", "api.s1.medium"], None), 20);
    assert!(err.contains("at tier `api.s1.small`"), "{err}");
}

#[test]
fn status_30_state() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let mut status = Command::new(bin("activator"));
    status.arg("--state").arg(dir.path().join("nothing-here")).arg("status");
    let err = documented(&run(status, None), 30);
    assert!(err.contains("not an activator state directory"), "{err}");
    let install = Install::new(&vendor);
    let err = documented(&install.run(&["gateway", "show"], None), 30);
    assert!(err.contains("no data gateway address"), "{err}");
    let err = documented(&install.run(&["receipt", "--out", path(&install.dir.path().join("r.txt"))], None), 30);
    assert!(err.contains("no license is in force"), "{err}");
}

#[test]
fn status_40_order_refused() {
    let vendor = Vendor::new();
    let err = documented(&vendor.issue_run(&["--edition", "platinum"]), 40);
    assert!(err.contains("edition `platinum` is not in the catalog"), "{err}");
    let err = documented(&vendor.issue_run(&["--quota", "processing_units=41"]), 40);
    assert!(err.contains("sold in steps of"), "{err}");
}

#[test]
fn status_41_catalog() {
    let vendor = Vendor::new();
    let bad = write(vendor.dir.path(), "bad.toml", "format = 1\n[product]\nid = 3\n");
    let mut check = vendor.issuer();
    check.args(["catalog", "check", path(&bad)]);
    let err = documented(&run(check, None), 41);
    assert!(err.contains("bad.toml: line 3:"), "{err}");
}

#[test]
fn status_50_key() {
    let vendor = Vendor::new();
    let wrong = write(vendor.dir.path(), "wrong.txt", "not the passphrase\n");
    let mut issue = vendor.issuer();
    issue.args(["revocations", "export", "--key", path(&vendor.key), "--passphrase-file", path(&wrong)]);
    issue.args(["--out", path(&vendor.dir.path().join("rev.txt"))]);
    let err = documented(&run(issue, None), 50);
    assert!(err.contains("the passphrase does not open this private key"), "{err}");
    let mut none = vendor.issuer();
    none.args(["revocations", "export", "--key", path(&vendor.key), "--out", path(&vendor.dir.path().join("r.txt"))]);
    let err = documented(&run(none, None), 50);
    assert!(err.contains("no passphrase"), "{err}");
    let mut init = Command::new(bin("activator"));
    init.arg("--state").arg(vendor.dir.path().join("state")).args(["init", "--product", "data-platform", "--trust"]);
    init.arg(&vendor.key);
    let err = documented(&run(init, None), 50);
    assert!(err.contains("not an Ed25519 public key"), "{err}");
}
