//! Crash safety: `activator activate` killed with SIGKILL at any moment
//! leaves the old license or the new one in force, never a broken state,
//! and no temporary file that troubles the next run.
//!
//! Half of the runs pause the process at a named point inside the atomic
//! write (test builds only, `LICENSE_FAULT_PAUSE`) and kill it there; the
//! others kill it after a random delay.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use license_common::envelope::{self, Kind};
use license_common::license::License;
use license_tests::{Install, Vendor, bin};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A tiny deterministic generator, so a failing run can be repeated.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn sigkill_during_activate_leaves_the_old_or_the_new_license() {
    const RUNS: u32 = 240;
    let vendor = Vendor::new();
    let template = Install::new(&vendor);
    let old = vendor.issue(&[]);
    template.activate(&old).ok();
    // The new license continues the account with a higher sequence.
    let key = vendor.signing_key();
    let ring = license_common::Keyring::from_keys([*key.public()]);
    let mut next = envelope::open::<License>(&old, Kind::License, &ring).unwrap().content;
    let old_id = next.id.clone();
    next.id = format!("{old_id}-next");
    next.sequence += 1;
    next.supersedes = Some(old_id.clone());
    let new = license_tests::sign(&key, &next);
    let new_id = format!("{old_id}-next");
    let license_file = vendor.dir.path().join("new.lic");
    std::fs::write(&license_file, &new).unwrap();

    let points = ["half-written", "before-rename", "after-rename"];
    let mut rng = Lcg(0x5eed);
    let (mut saw_old, mut saw_new) = (0, 0);
    for run in 0..RUNS {
        let state = vendor.dir.path().join(format!("state-{run}"));
        copy_dir(&template.state, &state);
        let mut cmd = Command::new(bin("activator"));
        cmd.arg("--state").arg(&state).arg("activate").arg(&license_file);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let pause = run % 2 == 0;
        if pause {
            let point = points[(run / 2) as usize % points.len()];
            cmd.env("LICENSE_FAULT_PAUSE", format!("{point}:400"));
        }
        let mut child = cmd.spawn().unwrap();
        let delay = if pause { 40 + rng.next(200) } else { rng.next(12_000) / 1000 };
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        child.wait().unwrap();

        // The next run sees the old or the new license, and works.
        let status =
            Command::new(bin("activator")).arg("--state").arg(&state).args(["status", "--json"]).output().unwrap();
        assert!(status.status.success(), "run {run}: status failed: {}", String::from_utf8_lossy(&status.stderr));
        let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert!(v["warnings"].as_array().unwrap().is_empty(), "run {run}: {v}");
        let id = v["license"]["id"].as_str().unwrap();
        if id == old_id {
            saw_old += 1;
        } else {
            assert_eq!(id, new_id, "run {run}");
            saw_new += 1;
        }
        // A left-over temporary file does not trouble the next write.
        let again = Command::new(bin("activator"))
            .arg("--state")
            .arg(&state)
            .arg("activate")
            .arg(&license_file)
            .output()
            .unwrap();
        assert!(
            again.status.success(),
            "run {run}: activating again failed: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        let leftovers = std::fs::read_dir(&state)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(license_common::fsio::TEMP_PREFIX))
            .count();
        assert_eq!(leftovers, 0, "run {run}: the next writer cleans up temporary files");
        std::fs::remove_dir_all(&state).unwrap();
    }
    println!("{RUNS} runs killed: {saw_old} left the old license in force, {saw_new} the new one");
    assert!(saw_old > 0 && saw_new > 0, "both outcomes occur: old {saw_old}, new {saw_new}");
}

/// `activator deactivate` killed at any moment leaves the license in force,
/// or the license released with its receipt kept in the state, which
/// `deactivate --out` writes again: never a released license without a
/// receipt.
#[test]
fn sigkill_during_deactivate_leaves_the_license_or_its_kept_receipt() {
    const RUNS: u32 = 200;
    let vendor = Vendor::new();
    let template = Install::new(&vendor);
    let token = vendor.issue(&[]);
    template.activate(&token).ok();
    let key = vendor.signing_key();
    let ring = license_common::Keyring::from_keys([*key.public()]);
    let license_id = envelope::open::<License>(&token, Kind::License, &ring).unwrap().content.id;
    let points = ["half-written", "before-rename", "after-rename", "state-written"];
    let mut rng = Lcg(0xdea1);
    let (mut in_force, mut released) = (0, 0);
    for run in 0..RUNS {
        let state = vendor.dir.path().join(format!("dea-state-{run}"));
        copy_dir(&template.state, &state);
        let out = vendor.dir.path().join(format!("dea-{run}.txt"));
        let mut cmd = Command::new(bin("activator"));
        cmd.arg("--state").arg(&state).arg("deactivate").arg("--out").arg(&out);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let pause = run % 2 == 0;
        if pause {
            let point = points[(run / 2) as usize % points.len()];
            cmd.env("LICENSE_FAULT_PAUSE", format!("{point}:400"));
        }
        let mut child = cmd.spawn().unwrap();
        let delay = if pause { 40 + rng.next(200) } else { rng.next(15_000) / 1000 };
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        child.wait().unwrap();

        let status =
            Command::new(bin("activator")).arg("--state").arg(&state).args(["status", "--json"]).output().unwrap();
        assert!(status.status.success(), "run {run}: {}", String::from_utf8_lossy(&status.stderr));
        let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        if v["license"]["id"] == license_id.as_str() {
            in_force += 1;
        } else {
            // Released: its receipt is kept, and written out (again) on request.
            assert!(v["license"].is_null(), "run {run}: {v}");
            let again = vendor.dir.path().join(format!("dea-{run}-again.txt"));
            let done = Command::new(bin("activator"))
                .arg("--state")
                .arg(&state)
                .args(["--json", "deactivate", "--out"])
                .arg(&again)
                .output()
                .unwrap();
            assert!(done.status.success(), "run {run}: {}", String::from_utf8_lossy(&done.stdout));
            let done: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
            assert_eq!((done["license_id"].as_str(), done["again"].as_bool()), (Some(license_id.as_str()), Some(true)));
            let text = std::fs::read_to_string(&again).unwrap();
            let receipt = license_common::armor::read(&text, Kind::DeactivationReceipt).unwrap();
            let content = license_common::exchange::open_self_signed::<license_common::exchange::DeactivationReceipt>(
                &receipt,
                Kind::DeactivationReceipt,
            )
            .unwrap()
            .content;
            assert_eq!(content.license_id, license_id, "run {run}");
            released += 1;
        }
        std::fs::remove_dir_all(&state).unwrap();
    }
    println!(
        "{RUNS} deactivations killed: {in_force} left the license in force, {released} released it with its receipt"
    );
    assert!(in_force > 0 && released > 0, "both outcomes occur: {in_force} in force, {released} released");
}

/// `activator init` killed after it made the install key but before it
/// wrote the state: the directory is not half-usable, and `init` run again
/// finishes it (the unused key is made again, never adopted). A key file
/// planted in a directory no init was working on is still refused.
#[test]
fn an_init_killed_half_way_can_be_run_again() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let init = || {
        let mut cmd = Command::new(bin("activator"));
        cmd.arg("--state").arg(&state).args(["init", "--product", "data-platform", "--trust"]).arg(&vendor.public);
        cmd
    };
    let mut child = init()
        .env("LICENSE_FAULT_PAUSE", "init-key-made:20000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !state.join("install.key").exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "init never made its key");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!state.join("state.json").exists(), "killed before the state was written");
    let first_key = std::fs::read(state.join("install.key")).unwrap();
    let again = license_tests::run(init(), None);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_ne!(
        std::fs::read(state.join("install.key")).unwrap(),
        first_key,
        "the unfinished init's key is not adopted"
    );
    assert!(!state.join(".init-pending").exists());
    let install = Install { dir, state: state.clone() };
    install.activate(&vendor.issue(&[])).ok();
    install.run(&["check", "data_service"], None).ok();

    // Without an unfinished init, a key file found is refused as before.
    let planted = tempfile::tempdir().unwrap();
    let other = planted.path().join("state");
    license_common::fsio::create_private_dir(&other).unwrap();
    std::fs::write(other.join("install.key"), b"planted").unwrap();
    let mut cmd = Command::new(bin("activator"));
    cmd.arg("--state").arg(&other).args(["init", "--product", "data-platform", "--trust"]).arg(&vendor.public);
    let refused = license_tests::run(cmd, None);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("install.key"), "{}", refused.stderr);
    assert_eq!(std::fs::read(other.join("install.key")).unwrap(), b"planted");
}
