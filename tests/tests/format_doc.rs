//! `docs/FORMAT.md` is a contract: someone with only OpenSSL 3 or Python's
//! `cryptography` must be able to verify a license from it. These tests run
//! the two verification recipes of the document against licenses made by the
//! real `issuer` binary, check that the document shows the recipe files
//! verbatim, and recompute its worked example with the library.
//!
//! `openssl` (3.x) and `python3` with `cryptography` are required: when they
//! are missing the tests fail (CI installs them), they never skip.

use std::path::Path;
use std::process::Command;

use license_common::License;
use license_common::armor;
use license_common::envelope::{self, Kind};
use license_common::keys::{Keyring, PublicKey};
use license_common::signing::IssuerKey;
use license_tests::{Run, Vendor, run, workspace};

const OPENSSL_RECIPE: &str = "docs/recipes/verify-openssl.sh";
const PYTHON_RECIPE: &str = "docs/recipes/verify.py";

/// The worked example's license id (§6.4 of FORMAT.md).
const EXAMPLE_ID: &str = "0192f7a0-0000-7000-8000-000000000001";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn format_doc() -> String {
    read(&workspace().join("docs/FORMAT.md"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails (never skips) when OpenSSL 3 is not installed.
fn require_openssl() {
    let out = Command::new("openssl").arg("version").output();
    match out {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                version.starts_with("OpenSSL 3"),
                "these tests need OpenSSL 3 (`openssl pkeyutl -rawin`), but `openssl version` says: {version}"
            );
        }
        _ => panic!(
            "`openssl` (OpenSSL 3) is required by the FORMAT.md recipe tests but could not be run: install it (CI does)"
        ),
    }
}

/// Fails (never skips) when Python 3 or its `cryptography` package is missing.
fn require_python_cryptography() {
    let out = Command::new("python3").args(["-c", "import cryptography"]).output();
    match out {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "Python's `cryptography` package is required by the FORMAT.md recipe tests: `python3 -c \"import cryptography\"` failed: {}\ninstall it (`pip install cryptography`; CI does)",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "`python3` is required by the FORMAT.md recipe tests but could not be run ({e}): install it with the `cryptography` package (CI does)"
        ),
    }
}

/// Runs a recipe: `<interpreter> <script> <issuer.pub> <license file>`.
fn run_recipe(interpreter: &str, script: &str, public: &Path, license: &Path) -> Run {
    let mut cmd = Command::new(interpreter);
    cmd.arg(workspace().join(script)).arg(public).arg(license);
    run(cmd, None)
}

/// Opens a license file (either form) with the library, as the reference.
fn open_license(text: &str, public: &Path) -> License {
    let key = PublicKey::from_pem(&read(public)).expect("issuer.pub");
    let token = armor::read(text, Kind::License).expect("a license file");
    envelope::open::<License>(&token, Kind::License, &Keyring::from_keys([key]))
        .expect("the issuer's license verifies with the library")
        .content
}

/// Replaces the character at `index` with another base64url character.
fn flip(text: &str, index: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Drives one recipe through valid, tampered, foreign-key and cut licenses.
fn check_recipe(interpreter: &str, script: &str) {
    let vendor = Vendor::new();
    let dir = vendor.dir.path();

    // A fresh license in both forms, from the real issuer binary.
    let token = vendor.issue(&[]);
    let compact = dir.join("license.txt");
    std::fs::write(&compact, format!("{token}\n")).unwrap();
    let armored = dir.join("license.lic");
    vendor.issue_run(&["--out", armored.to_str().unwrap()]).ok();
    let armored_text = read(&armored);
    assert!(
        armored_text.starts_with("-----BEGIN LICENSE-----\n") && armored_text.contains(": "),
        "the issuer should write an armored license with header lines:\n{armored_text}"
    );

    for file in [&compact, &armored] {
        let expected = open_license(&read(file), &vendor.public);
        let out = run_recipe(interpreter, script, &vendor.public, file);
        let printed: serde_json::Value = serde_json::from_str(out.ok())
            .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{}", out.stdout));
        assert_eq!(printed["id"], expected.id.as_str(), "{script} on {}", file.display());
        assert_eq!(printed["account"], expected.account.as_str());
        assert!(printed["account"].as_str().unwrap().starts_with("acct-1001"));
        assert_eq!(printed, serde_json::to_value(&expected).unwrap());
    }

    // One character of the payload changed: the signature no longer holds.
    let parts: Vec<&str> = token.split('.').collect();
    let middle_of_payload = parts[0].len() + 1 + parts[1].len() + 1 + parts[2].len() / 2;
    let tampered = dir.join("tampered.txt");
    std::fs::write(&tampered, flip(&token, middle_of_payload)).unwrap();
    let out = run_recipe(interpreter, script, &vendor.public, &tampered);
    assert_eq!(out.code, 11, "{script} must refuse a tampered license as bad_signature: {out:?}");
    assert!(out.stdout.is_empty(), "nothing may be printed for a tampered license: {out:?}");

    // The same in the armored file: a character of the first token line.
    let tampered_armor: String = armored_text
        .lines()
        .map(|line| if line.starts_with("lic1.") { flip(line, 40) } else { line.to_owned() })
        .map(|line| line + "\n")
        .collect();
    assert_ne!(tampered_armor, armored_text);
    std::fs::write(&tampered, tampered_armor).unwrap();
    let out = run_recipe(interpreter, script, &vendor.public, &tampered);
    assert_eq!(out.code, 11, "{script} must refuse a tampered armored license: {out:?}");

    // Another key (the worked example's): the kid does not match.
    let other = dir.join("other.pub");
    std::fs::write(&other, IssuerKey::from_seed(&[7u8; 32]).public().to_pem()).unwrap();
    let out = run_recipe(interpreter, script, &other, &compact);
    assert_eq!(out.code, 12, "{script} must refuse a license of another key as untrusted_key: {out:?}");

    // A token cut short is malformed.
    let cut = dir.join("cut.txt");
    std::fs::write(&cut, &token[..token.len() - 1]).unwrap();
    let out = run_recipe(interpreter, script, &vendor.public, &cut);
    assert_eq!(out.code, 10, "{script} must refuse a cut token as malformed: {out:?}");

    // And the worked example of FORMAT.md verifies as printed there.
    let doc = format_doc();
    let example_pub = dir.join("example.pub");
    std::fs::write(&example_pub, &blocks(&doc, "### 6.2 Public key")[0]).unwrap();
    let example = dir.join("example.txt");
    std::fs::write(&example, &blocks(&doc, "### 6.7 Token")[1]).unwrap();
    let out = run_recipe(interpreter, script, &example_pub, &example);
    let printed: serde_json::Value = serde_json::from_str(out.ok()).expect("JSON");
    assert_eq!(printed["id"], EXAMPLE_ID);
}

#[test]
fn openssl_recipe_verifies_a_fresh_license() {
    require_openssl();
    check_recipe("bash", OPENSSL_RECIPE);
}

#[test]
fn python_recipe_verifies_a_fresh_license() {
    require_python_cryptography();
    check_recipe("python3", PYTHON_RECIPE);
}

#[test]
fn recipes_in_format_doc_match_the_files() {
    let doc = format_doc();
    for (fence, path) in [("bash", OPENSSL_RECIPE), ("python", PYTHON_RECIPE)] {
        let code = read(&workspace().join(path));
        assert!(code.ends_with('\n'), "{path} should end with a newline");
        assert!(
            doc.contains(&format!("`{path}`:\n\n```{fence}\n{code}```\n")),
            "docs/FORMAT.md must show {path} verbatim in a ```{fence} block right after the line `{path}`:; copy the file into the document again"
        );
    }
}

/// The contents of the fenced blocks under the heading line `heading`, up to
/// the next heading, each exactly as written between its fences.
fn blocks(doc: &str, heading: &str) -> Vec<String> {
    let mut lines = doc.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "FORMAT.md has no heading `{heading}`");
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in lines {
        match &mut current {
            None if line.starts_with('#') => break,
            None if line.starts_with("```") => current = Some(String::new()),
            None => {}
            Some(_) if line == "```" => found.push(current.take().unwrap()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unclosed fenced block under `{heading}`");
    assert!(!found.is_empty(), "no fenced block under `{heading}`");
    found
}

/// A one-line block's text, without its newline.
fn one_line(block: &str) -> &str {
    let line = block.strip_suffix('\n').expect("a block ends with a newline");
    assert!(!line.contains('\n'), "expected a single line, got:\n{block}");
    line
}

#[test]
fn worked_example_is_reproducible() {
    let doc = format_doc();

    // 6.1: the seed is 32 bytes of 0x07.
    let seed = blocks(&doc, "### 6.1 Private key seed");
    assert_eq!(one_line(&seed[0]), "07".repeat(32));
    let key = IssuerKey::from_seed(&[7u8; 32]);

    // 6.2: the public key, SPKI PEM and raw.
    let public = blocks(&doc, "### 6.2 Public key");
    assert_eq!(public[0], key.public().to_pem(), "6.2 public key PEM");
    assert_eq!(one_line(&public[1]), hex(key.public().verifying_key().as_bytes()), "6.2 raw public key");

    // 6.3: the kid.
    let kid = blocks(&doc, "### 6.3 Key id");
    assert_eq!(one_line(&kid[0]), key.kid().to_string(), "6.3 kid");

    // 6.4: the payload is a valid license, exactly as serde_json writes it.
    let payload_blocks = blocks(&doc, "### 6.4 Payload");
    let payload = one_line(&payload_blocks[0]);
    let license: License = serde_json::from_str(payload).expect("6.4 payload is a License");
    license.check_shape().expect("6.4 payload follows the shape rules");
    assert_eq!(license.id, EXAMPLE_ID);
    assert_eq!(
        serde_json::to_string(&license).unwrap(),
        payload,
        "6.4 payload must be the compact JSON serde_json writes, fields in declaration order"
    );
    assert!(doc.contains(&format!("({} bytes of compact JSON", payload.len())));
    let pretty: serde_json::Value = serde_json::from_str(&payload_blocks[1]).unwrap();
    assert_eq!(pretty, serde_json::from_str::<serde_json::Value>(payload).unwrap());

    // 6.5: the signing input.
    let input = envelope::signing_input(Kind::License, key.kid(), payload.as_bytes());
    let doc_input = blocks(&doc, "### 6.5 Signing input");
    assert_eq!(one_line(&doc_input[0]), input, "6.5 signing input");
    assert!(doc.contains(&format!("{} ASCII bytes, no trailing", input.len())));
    let b64 = input.rsplit('.').next().unwrap();
    assert_eq!(one_line(&payload_blocks[2]), b64, "6.4 base64url payload");
    assert!(doc.contains(&format!("The payload in base64url ({} characters)", b64.len())));

    // 6.6: the signature.
    let token = key.seal(Kind::License, payload.as_bytes());
    let signature = blocks(&doc, "### 6.6 Signature");
    assert_eq!(one_line(&signature[0]), hex(&key.sign(input.as_bytes())), "6.6 signature hex");
    assert_eq!(one_line(&signature[1]), token.rsplit('.').next().unwrap(), "6.6 signature base64url");

    // 6.7: the token, compact and armored.
    let tokens = blocks(&doc, "### 6.7 Token");
    assert_eq!(one_line(&tokens[0]), token, "6.7 token");
    assert!(doc.contains(&format!("The compact token ({} characters)", token.len())));
    assert_eq!(
        tokens[1],
        armor::armor(Kind::License, &token, &[("Licensee", "Acme Analytics".into())]),
        "6.7 armored token"
    );
    assert_eq!(armor::read(&tokens[1], Kind::License).unwrap(), token);

    // The token opens with the library, signed by the example key.
    let keyring = Keyring::from_keys([*key.public()]);
    let opened = envelope::open::<License>(&token, Kind::License, &keyring).expect("opens");
    assert_eq!(opened.content, license);
    assert_eq!(opened.kid, key.kid());

    // 6.1: the unencrypted PKCS#8 PEM is the same key (checked with OpenSSL).
    require_openssl();
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("example.key");
    std::fs::write(&private, &seed[1]).unwrap();
    let mut cmd = Command::new("openssl");
    cmd.args(["pkey", "-pubout", "-in"]).arg(&private);
    assert_eq!(run(cmd, None).ok(), key.public().to_pem(), "6.1 private key PEM");
}

#[test]
fn format_doc_names_every_kind_and_label() {
    let doc = format_doc();
    for kind in Kind::ALL {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` ", kind.tag())))
            .unwrap_or_else(|| panic!("FORMAT.md §2.2 has no row for the tag `{}`", kind.tag()));
        assert!(
            row.contains(&format!(" {kind} ")) && row.contains(&format!("`{}`", kind.label())),
            "FORMAT.md §2.2: the row of `{}` should name `{kind}` and the label `{}`: {row}",
            kind.tag(),
            kind.label()
        );
        let limit = if kind.max_len() == envelope::MAX_INPUT_LEN { "1 MiB" } else { "64 KiB" };
        assert!(row.contains(limit), "FORMAT.md §2.2: `{}` is limited to {limit}: {row}", kind.tag());
    }
    assert_eq!(Kind::License.max_len(), 64 * 1024);
    assert_eq!(envelope::MAX_INPUT_LEN, 1 << 20);
}
