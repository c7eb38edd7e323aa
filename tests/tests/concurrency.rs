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
    let first = vendor.issue(&[]);
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
            let day = format!("2026-10-{:02}", i + 1);
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
    let usage = activator.usage("2026-10-01".parse().unwrap(), "2026-10-31".parse().unwrap());
    let expected: Vec<(String, u64)> = (0..8).map(|i| (format!("2026-10-{:02}", i + 1), 10 + i as u64)).collect();
    let got: Vec<(String, u64)> = usage.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    assert_eq!(got, expected, "no usage record was lost");
    // The history is consistent: each entry replaced the one before.
    let history = activator.history().to_vec();
    for pair in history.windows(2) {
        assert_eq!(pair[1].replaced.as_deref(), Some(pair[0].license.as_str()));
        assert!(pair[1].sequence > pair[0].sequence);
    }
}
