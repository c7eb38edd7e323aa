//! Signing through a PKCS#11 module (SoftHSM2) against signing in memory,
//! in the same run: signatures per second of a typical license's signing
//! input, and a batch of licenses issued into a fresh ledger with each key.
//!
//! `cargo bench -p license-issuer --bench hsm` (release build; needs
//! Debian's `softhsm2`). `BENCH_SIGNS` sets the number of signatures
//! (default 5000) and `BENCH_ORDERS` the batch size (default 5000).

mod fixture;

use std::time::Instant;

use license_common::envelope::{Kind, Signer, signing_input};
use license_common::signing::IssuerKey;
use license_common::time::Timestamp;
use license_issuer::catalogs;
use license_issuer::hsm::{HsmKey, Pkcs11Uri};
use license_issuer::keyfile::SigningKey;
use license_issuer::ledger::{BatchOutput, Ledger, LedgerSigner};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rate(n: usize, work: impl FnOnce()) -> f64 {
    let start = Instant::now();
    work();
    n as f64 / start.elapsed().as_secs_f64()
}

fn batch<S>(key: &S, n: usize) -> f64
where
    S: LedgerSigner + Sync,
    S::Error: Send,
    license_issuer::IssuerError: From<S::Error>,
{
    let catalog = catalogs::data_platform();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    let output = BatchOutput::JsonLines { path: dir.path().join("licenses.jsonl"), replace: false };
    let lines = fixture::lines(n);
    rate(n, || {
        let done = ledger.issue_batch(key, &catalog, lines, Vec::new(), &output, false, Timestamp::now(), &|_| {});
        assert_eq!(done.unwrap().issued, n);
    })
}

fn main() {
    let signs = env("BENCH_SIGNS", 5000);
    let orders = env("BENCH_ORDERS", 5000);
    // A token of its own, in a temporary directory, before any thread starts.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    std::fs::write(&conf, format!("directories.tokendir = {}\n", dir.path().join("tokens").display())).unwrap();
    // SAFETY: no other thread exists yet.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let init = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "bench", "--so-pin", "1111", "--pin", "2222"])
        .output()
        .expect("softhsm2-util (Debian's softhsm2)");
    assert!(init.status.success());
    let uri = Pkcs11Uri::parse(&format!("pkcs11:token=bench;object=issuer?module-path={MODULE}")).unwrap();
    HsmKey::generate(&uri, "2222").unwrap();
    let hsm = SigningKey::Hsm(HsmKey::open(&uri, "2222").unwrap());
    let file = SigningKey::File(IssuerKey::from_seed(&[11; 32]));

    let catalog = catalogs::data_platform();
    let license = fixture::license(&catalog, 0, "0".repeat(36), Timestamp::now());
    let input = signing_input(Kind::License, hsm.kid(), &serde_json::to_vec(&license).unwrap());
    let sign_rate = |key: &SigningKey| {
        rate(signs, || {
            for _ in 0..signs {
                std::hint::black_box(key.sign(std::hint::black_box(input.as_bytes())).unwrap());
            }
        })
    };
    let (memory, module) = (sign_rate(&file), sign_rate(&hsm));
    let (batch_memory, batch_module) = (batch(&file, orders), batch(&hsm, orders));
    println!("signing input: {} bytes", input.len());
    println!("sign, in memory (one core):         {memory:>9.0} /s");
    println!("sign, through SoftHSM2 (one session): {module:>7.0} /s  ({:.1}% of in memory)", 100.0 * module / memory);
    println!("batch of {orders}, key in memory:      {batch_memory:>7.0} licenses/s");
    println!(
        "batch of {orders}, key in SoftHSM2:     {batch_module:>7.0} licenses/s  ({:.1}% of in memory)",
        100.0 * batch_module / batch_memory
    );
}
