//! The documentation tells the truth: the exit-status table in docs/CLI.md
//! is the one the code uses, and the README starts with the two commands.

use license_common::exit::ExitClass;
use license_tests::workspace;

#[test]
fn every_exit_class_is_documented_with_its_code_and_nothing_else_is() {
    let doc = std::fs::read_to_string(workspace().join("docs/CLI.md")).unwrap();
    let rows: Vec<(u8, String)> = doc
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<u8>().ok()?;
            Some((code, cells.get(2)?.trim_matches('`').to_owned()))
        })
        .collect();
    for class in ExitClass::ALL {
        assert!(
            rows.contains(&(class.code(), class.name().to_owned())),
            "docs/CLI.md lacks the row `| {} | `{}` |`",
            class.code(),
            class.name()
        );
    }
    assert_eq!(rows.len(), ExitClass::ALL.len(), "docs/CLI.md documents codes the code does not have: {rows:?}");
}

#[test]
fn readme_starts_with_the_two_commands() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let commands: Vec<&str> =
        readme.lines().skip_while(|l| !l.starts_with("```")).skip(1).take_while(|l| !l.starts_with("```")).collect();
    assert_eq!(commands, ["cargo run --release --bin issuer -- demo", "bash scripts/test"]);
    let ci = std::fs::read_to_string(workspace().join(".ci/run")).unwrap();
    assert!(ci.contains("\nbash scripts/test\n"), ".ci/run must run the README's test command");
    let script = std::fs::read_to_string(workspace().join("scripts/test")).unwrap();
    assert!(script.contains("\ncargo test --workspace \"$@\"\n"), "scripts/test runs every test of the workspace");
    for package in ["chromium", "chromium-driver", "openssl", "curl", "softhsm2", "opensc"] {
        assert!(script.contains(package), "scripts/test installs {package}");
    }
}
