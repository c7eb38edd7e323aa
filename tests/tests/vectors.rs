//! Every file of `tests/vectors/` gets the verdict its header says, from the
//! library and, for licenses, from the two standalone recipes of FORMAT.md
//! §7; and the files are what the generator makes, byte for byte.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use license_common::exchange::{
    ActivationReceipt, ActivationRequest, DeactivationReceipt, UsageReport, open_self_signed,
};
use license_common::exit::Explain;
use license_common::keys::{Keyring, PublicKey};
use license_common::license::License;
use license_common::revocation::RevocationList;
use license_common::{Kind, armor, envelope};
use license_tests::{vectors, workspace};

fn dir() -> PathBuf {
    workspace().join(vectors::DIR)
}

/// A vector file: its header and its body (the text after the first blank line).
struct File {
    path: PathBuf,
    header: BTreeMap<String, String>,
    body: String,
}

fn files() -> Vec<File> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(dir()).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for d in dirs {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&d).unwrap().flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let (head, body) =
                text.split_once("\n\n").unwrap_or_else(|| panic!("{}: no blank line after the header", path.display()));
            let header = head
                .lines()
                .map(|l| {
                    let (k, v) =
                        l.split_once(": ").unwrap_or_else(|| panic!("{}: `{l}` is not `name: value`", path.display()));
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            out.push(File { path, header, body: body.to_owned() });
        }
    }
    out
}

/// The verdict of the library: `success` or the exit class of the refusal.
fn verdict(kind: Kind, body: &str, keyring: &Keyring) -> String {
    let outcome: Result<(), Box<dyn Explain>> = (|| {
        let token = armor::read(body, kind).map_err(|e| Box::new(e) as Box<dyn Explain>)?;
        let boxed = |e: license_common::EnvelopeError| Box::new(e) as Box<dyn Explain>;
        match kind {
            Kind::License => {
                let license = envelope::open::<License>(&token, kind, keyring).map_err(boxed)?.content;
                // The rules every license follows are part of its verdict.
                license
                    .check_shape()
                    .map_err(|detail| Box::new(license_issuer::IssuerError::invalid(detail)) as Box<dyn Explain>)?;
            }
            Kind::RevocationList => drop(envelope::open::<RevocationList>(&token, kind, keyring).map_err(boxed)?),
            Kind::ActivationRequest => drop(open_self_signed::<ActivationRequest>(&token, kind).map_err(boxed)?),
            Kind::ActivationReceipt => drop(open_self_signed::<ActivationReceipt>(&token, kind).map_err(boxed)?),
            Kind::UsageReport => drop(open_self_signed::<UsageReport>(&token, kind).map_err(boxed)?),
            Kind::TimeAttestation => drop(
                envelope::open::<license_common::exchange::TimeAttestation>(&token, kind, keyring).map_err(boxed)?,
            ),
            _ => drop(open_self_signed::<DeactivationReceipt>(&token, kind).map_err(boxed)?),
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => "success".into(),
        Err(e) => e.class().name().to_owned(),
    }
}

fn keyring() -> Keyring {
    let pem = std::fs::read_to_string(dir().join(vectors::KEY_FILE)).unwrap();
    Keyring::from_keys([PublicKey::from_pem(&pem).unwrap()])
}

#[test]
fn every_vector_gets_the_verdict_its_header_says() {
    let ring = keyring();
    let files = files();
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in &files {
        let kind_name = &f.header["kind"];
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.name() == kind_name)
            .unwrap_or_else(|| panic!("{}: unknown kind", f.path.display()));
        let expected = &f.header["class"];
        assert_eq!(
            f.header["expect"] == "valid",
            expected == "success",
            "{}: expect and class disagree",
            f.path.display()
        );
        assert_eq!(&verdict(kind, &f.body, &ring), expected, "{}: {}", f.path.display(), f.header["comment"]);
        let counts = by_kind.entry(kind_name.clone()).or_default();
        if expected == "success" { counts.0 += 1 } else { counts.1 += 1 }
    }
    for kind in Kind::ALL {
        let (valid, invalid) = by_kind.get(kind.name()).copied().unwrap_or_default();
        assert!(valid >= 1, "no valid {kind} vector");
        let installs_or_vendor =
            kind == Kind::License || kind == Kind::RevocationList || kind == Kind::ActivationRequest;
        assert!(!installs_or_vendor || invalid >= 2, "too few invalid {kind} vectors: {invalid}");
    }
    println!("{} vectors: {by_kind:?}", files.len());
}

#[test]
fn the_vectors_are_what_the_generator_makes() {
    let (pem, made) = vectors::all();
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        for kind in Kind::ALL {
            let _ = std::fs::remove_dir_all(dir().join(kind.name().replace(' ', "_")));
        }
        for v in &made {
            let path = dir().join(&v.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &v.text).unwrap();
        }
        std::fs::write(dir().join(vectors::KEY_FILE), &pem).unwrap();
    }
    assert_eq!(std::fs::read_to_string(dir().join(vectors::KEY_FILE)).unwrap(), pem, "key.pub");
    let on_disk: Vec<PathBuf> = files().into_iter().map(|f| f.path).collect();
    assert_eq!(on_disk.len(), made.len(), "files on disk that the generator does not make, or the other way round");
    for v in &made {
        let text = std::fs::read_to_string(dir().join(&v.path))
            .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_VECTORS=1", v.path));
        assert_eq!(text, v.text, "{} is not what the generator makes; run with UPDATE_VECTORS=1", v.path);
    }
}

/// Runs a recipe on `body` (the vector without its header), in a file of its own.
fn recipe(interpreter: &str, script: &str, body: &str) -> i32 {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("license.txt");
    std::fs::write(&file, body).unwrap();
    let out = Command::new(interpreter)
        .arg(workspace().join("docs/recipes").join(script))
        .arg(dir().join(vectors::KEY_FILE))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{interpreter}: {e}"));
    out.status.code().unwrap_or(-1)
}

/// The recipes check the envelope and the signature, not the content's
/// schema (FORMAT.md §7.4), plain RFC 8032 verification accepts what only
/// `verify_strict` refuses (the `strict-only` vectors), and they read the
/// canonical armor only (not the `mailed` vectors).
#[test]
fn the_standalone_recipes_agree_on_the_license_vectors() {
    let mut tried = 0;
    for f in files() {
        let layer = f.header["layer"].as_str();
        if f.header["kind"] != "license"
            || layer == "content"
            || f.header.contains_key("strict-only")
            || f.header.contains_key("mailed")
        {
            continue;
        }
        let class = license_common::exit::ExitClass::ALL.into_iter().find(|c| c.name() == f.header["class"]).unwrap();
        for (interpreter, script) in [("python3", "verify.py"), ("bash", "verify-openssl.sh")] {
            let code = recipe(interpreter, script, &f.body);
            assert_eq!(code, i32::from(class.code()), "{script} on {}: {}", f.path.display(), f.header["comment"]);
        }
        tried += 1;
    }
    assert!(tried >= 15, "only {tried} license vectors were run through the recipes");
}
