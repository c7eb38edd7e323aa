//! The `issuer` command line's contract: help, exit codes, no secrets in argv.

use assert_cmd::Command;

fn issuer() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_issuer"));
    cmd.env_remove("ISSUER_PASSPHRASE");
    cmd
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let out = issuer().arg("--help").assert().success().get_output().stdout.clone();
    let help = String::from_utf8(out).unwrap();
    for word in ["keygen", "issue", "inspect", "demo", "completions", "Exit status"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}

#[test]
fn there_is_no_passphrase_flag() {
    issuer().args(["keygen", "--out", "x", "--passphrase", "secret"]).assert().code(2);
}

#[test]
fn keygen_without_a_passphrase_source_and_no_terminal_is_a_key_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = issuer()
        .args(["keygen", "--out"])
        .arg(dir.path().join("k"))
        .write_stdin("")
        .assert()
        .code(50)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("ISSUER_PASSPHRASE"), "{err}");
    assert!(!dir.path().join("k/issuer.key").exists());
}

#[test]
fn completions_are_generated() {
    let out = issuer().args(["completions", "bash"]).assert().success().get_output().stdout.clone();
    assert!(String::from_utf8_lossy(&out).contains("_issuer()"));
}
