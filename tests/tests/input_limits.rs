//! Hostile inputs: a 1 GiB standard input, an endless device, a binary file,
//! a directory. Each gets a clear error, memory stays bounded, and nothing
//! in the state directory changes.

use std::io::Write;
use std::process::{Command, Stdio};

use license_tests::{Install, Vendor, bin, run};

/// Runs `activator ARGS` under /usr/bin/time, feeding `stdin_bytes` of 'A'
/// until the child stops reading; returns (exit code, stderr, peak RSS KiB).
fn activator_under_time(install: &Install, args: &[&str], stdin_bytes: usize) -> (i32, String, u64) {
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "peak-rss-kib=%M"])
        .arg(bin("activator"))
        .arg("--state")
        .arg(&install.state)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/time (Debian package `time`)");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'A'; 1 << 20];
        let mut sent = 0;
        while sent < stdin_bytes {
            if stdin.write_all(&chunk).is_err() {
                break; // the reader stopped reading: exactly what we want
            }
            sent += chunk.len();
        }
        sent
    });
    let out = child.wait_with_output().unwrap();
    let sent = writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss =
        stderr.lines().find_map(|l| l.strip_prefix("peak-rss-kib=")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    assert!(sent < stdin_bytes, "the activator read all {sent} bytes instead of stopping early");
    (out.status.code().unwrap_or(-1), stderr, rss)
}

#[test]
fn a_gigabyte_on_stdin_is_refused_early_with_bounded_memory() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let before = install.snapshot();
    let (code, stderr, rss) = activator_under_time(&install, &["activate", "-"], 1 << 30);
    assert_eq!(code, 10, "{stderr}");
    assert!(stderr.contains("larger than") && stderr.contains("hint:"), "{stderr}");
    assert!(rss > 0 && rss < 64 * 1024, "peak memory {rss} KiB");
    assert_eq!(install.snapshot(), before);
    println!("1 GiB offered on stdin: refused after at most 2 MiB, peak RSS {rss} KiB");
}

#[test]
fn endless_binary_and_directory_inputs_get_clear_errors() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let before = install.snapshot();
    let binary = vendor.dir.path().join("binary.lic");
    std::fs::write(&binary, (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let cases: [(&str, i32, &str); 3] =
        [("/dev/zero", 10, "larger than"), (binary.to_str().unwrap(), 10, "not text"), ("/tmp", 3, "is a directory")];
    for (path, code, message) in cases {
        let err = install.run(&["activate", path], None).fails_with(code).to_owned();
        assert!(err.contains(message), "{path}: {err}");
        let mut inspect = Command::new(bin("issuer"));
        inspect.args(["inspect", path, "--pub"]).arg(&vendor.public);
        let r = run(inspect, None);
        assert!(r.fails_with(code).contains(message), "issuer inspect {path}: {}", r.stderr);
    }
    assert_eq!(install.snapshot(), before, "nothing changed");
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

fn sh(args: &[&str]) {
    let ok = Command::new(args[0]).args(&args[1..]).status().unwrap().success();
    assert!(ok, "{args:?} failed");
}

#[test]
#[ignore = "needs root (chown): .ci/run runs it with --ignored"]
fn a_state_directory_of_another_user_is_refused_untouched() {
    assert!(is_root(), "giving a directory to another user needs root: run this test as root");
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let before = install.snapshot();
    sh(&["chown", "65534:65534", install.state.to_str().unwrap()]);
    let err = install.run(&["status"], None).fails_with(30).to_owned();
    assert!(err.contains("belongs to user id 65534") && err.contains("runs as user id 0"), "{err}");
    install.run(&["activate", "-"], Some(vendor.issue(&[]).as_bytes())).fails_with(30);
    sh(&["chown", "0:0", install.state.to_str().unwrap()]);
    assert_eq!(install.snapshot(), before, "nothing was written");
}

/// Unmounts when dropped, even if the test fails.
struct Mount(std::path::PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root (mount): .ci/run runs it with --ignored"]
fn a_state_directory_on_a_read_only_mount_still_reads_and_refuses_writes_clearly() {
    assert!(is_root(), "mounting a file system needs root: run this test as root");
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    sh(&["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt.to_str().unwrap()]);
    let _guard = Mount(mnt.clone());
    let state = mnt.join("state");
    let activator = |args: &[&str], stdin: Option<&[u8]>| {
        let mut cmd = Command::new(bin("activator"));
        cmd.arg("--state").arg(&state).args(args);
        run(cmd, stdin)
    };
    let mut init = Command::new(bin("activator"));
    init.arg("--state").arg(&state).args(["init", "--product", "data-platform", "--trust"]).arg(&vendor.public);
    run(init, None).ok();
    activator(&["activate", "-"], Some(vendor.issue(&[]).as_bytes())).ok();
    sh(&["mount", "-o", "remount,ro", mnt.to_str().unwrap()]);
    let before = license_tests::snapshot(&state);
    let status = activator(&["status", "--json"], None).json();
    assert_eq!(status["phase"], "active", "reading works on a read-only mount");
    let r = activator(&["activate", "-"], Some(vendor.issue(&["--account", "acct-9"]).as_bytes()));
    let err = r.fails_with(3);
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(license_tests::snapshot(&state), before);
}

#[test]
fn a_license_file_the_user_cannot_read_gets_a_permission_hint() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let file = vendor.dir.path().join("locked.lic");
    std::fs::write(&file, vendor.issue(&[])).unwrap();
    sh(&["chmod", "000", file.to_str().unwrap()]);
    let r = if is_root() {
        // Root reads anything: run as `nobody`, who owns the state directory.
        for p in [install.dir.path(), vendor.dir.path()] {
            sh(&["chmod", "755", p.to_str().unwrap()]);
        }
        sh(&["chown", "-R", "65534:65534", install.state.to_str().unwrap()]);
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(bin("activator"));
        cmd.arg("--state").arg(&install.state).arg("activate").arg(&file);
        run(cmd, None)
    } else {
        install.run(&["activate", file.to_str().unwrap()], None)
    };
    let err = r.fails_with(3);
    assert!(err.contains("Permission denied") && err.contains("check the file's permissions"), "{err}");
    if is_root() {
        sh(&["chown", "-R", "0:0", install.state.to_str().unwrap()]);
    }
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["edition"], "community", "nothing was activated");
}

/// Files saved by Windows editors and PowerShell start with a UTF-8
/// byte-order mark: an order, a batch and a license each read as without.
#[test]
fn files_saved_with_a_byte_order_mark_read_as_without_it() {
    let vendor = Vendor::new();
    let dir = vendor.dir.path();
    let bom = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat()).unwrap();
        path
    };
    let order = |account: &str| {
        serde_json::json!({"account": account, "licensee": "BOM Ltd", "region": "cn-hangzhou",
            "edition": "intelligent_rnd", "engine": "maxcompute", "plan": "subscription",
            "packages": {"data_service": "api.s1.small"}, "quotas": {"processing_units": 40}, "months": 12})
        .to_string()
    };
    let with_key = |cmd: &mut Command| {
        cmd.arg("--key").arg(&vendor.key).arg("--passphrase-file").arg(&vendor.pass_file);
        cmd.arg("--catalog").arg(&vendor.catalog);
    };
    // One order file (JSON is told from TOML by its first character).
    let mut cmd = vendor.issuer();
    cmd.arg("issue");
    with_key(&mut cmd);
    cmd.arg("--order").arg(bom("order.json", &order("acct-bom-1"))).arg("--out").arg(dir.join("one.lic"));
    run(cmd, None).ok();
    // A batch.
    let mut cmd = vendor.issuer();
    cmd.arg("issue");
    with_key(&mut cmd);
    let lines = format!("{}\r\n{}\r\n", order("acct-bom-2"), order("acct-bom-3"));
    cmd.arg("--batch").arg(bom("orders.jsonl", &lines)).arg("--out").arg(dir.join("out.jsonl"));
    assert!(run(cmd, None).ok().contains("issued 2 licenses"));
    // The license, as a Windows editor would save it, and the vendor's key.
    let install = Install::new(&vendor);
    let license = std::fs::read_to_string(dir.join("one.lic")).unwrap();
    let saved = bom("saved.lic", &license.replace('\n', "\r\n"));
    let activated = install.run(&["activate", saved.to_str().unwrap()], None);
    assert!(activated.ok().contains("acct-bom-1"), "{}", activated.stdout);
    let public = std::fs::read_to_string(&vendor.public).unwrap();
    let state = dir.join("fresh-state");
    let mut init = Command::new(bin("activator"));
    init.arg("--state").arg(&state).args(["init", "--product", "data-platform", "--trust"]);
    init.arg(bom("vendor.pub", &public));
    assert!(run(init, None).ok().contains("trusting key"));
    // A mark anywhere else is still refused as part of the text.
    let inner = dir.join("inner.json");
    std::fs::write(&inner, "{\"account\": \"acct-\u{feff}x\"}").unwrap();
    let mut cmd = vendor.issuer();
    cmd.arg("issue");
    with_key(&mut cmd);
    cmd.arg("--order").arg(&inner);
    run(cmd, None).fails_with(40);
}
