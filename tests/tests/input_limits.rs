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
