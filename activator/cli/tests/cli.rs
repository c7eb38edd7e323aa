//! The `activator` command line's contract: help, usage errors, sources.

use assert_cmd::Command;

fn activator() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_activator"));
    for var in ["ACTIVATOR_STATE", "ACTIVATOR_LICENSE", "ACTIVATOR_LICENSE_FILE"] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let out = activator().arg("--help").assert().success().get_output().stdout.clone();
    let help = String::from_utf8(out).unwrap();
    for word in ["init", "activate", "status", "check", "Exit status"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}

#[test]
fn status_of_a_missing_state_dir_says_how_to_init() {
    let dir = tempfile::tempdir().unwrap();
    let out = activator().arg("--state").arg(dir.path().join("nope")).arg("status").assert().code(30);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("activator init"), "{err}");
    assert!(!dir.path().join("nope").exists(), "status must not create the directory");
}

#[test]
fn two_license_sources_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    activator()
        .arg("--state")
        .arg(dir.path())
        .args(["activate", "lic.txt"])
        .env("ACTIVATOR_LICENSE", "lic1.x")
        .assert()
        .code(2);
}
