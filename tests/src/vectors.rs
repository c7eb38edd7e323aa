//! The test vectors of `tests/vectors/`: valid and invalid envelopes of every
//! kind, each file with a header that gives the expected verdict.
//!
//! Everything here is deterministic (fixed seeds; Ed25519 signatures are
//! deterministic), so the files can be made again byte for byte: a test
//! compares them with what [`all`] makes (`UPDATE_VECTORS=1` rewrites them),
//! and another test runs every file through the verifier.
//!
//! A vector file is:
//!
//! ```text
//! expect: fail
//! kind: license
//! class: bad_signature
//! layer: signature
//! comment: one character of the payload changed after signing
//!
//! lic1.…
//! ```
//!
//! `tests/vectors/README.md` says what each header means.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use license_common::armor;
use license_common::envelope::{assemble, signing_input};
use license_common::keys::KeyId;
use license_common::license::{License, PackageGrant, Plan};
use license_common::revocation::{DistrustedKey, Floor, RetiredKey, RevocationList, Revoked};
use license_common::signing::IssuerKey;
use license_common::{Kind, Timestamp};

mod install;

use install::{duplicate_day_report, install_files, mismatched_request, swapped_request};

/// The vectors' directory in the workspace.
pub const DIR: &str = "tests/vectors";
/// The vendor key's file: every vendor-signed vector is checked with it.
pub const KEY_FILE: &str = "key.pub";

/// One vector file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vector {
    /// Its path under [`DIR`], e.g. `license/fail_signature_payload_changed.txt`.
    pub path: String,
    /// The file's whole text.
    pub text: String,
}

/// The vendor's signing key (seed 0x11…).
pub fn vendor() -> IssuerKey {
    IssuerKey::from_seed(&[0x11; 32])
}

/// A key nobody trusts (seed 0x22…).
fn stranger() -> IssuerKey {
    IssuerKey::from_seed(&[0x22; 32])
}

/// An install's key (seed 0x33…), and another's (seed 0x44…).
fn install(n: u8) -> IssuerKey {
    IssuerKey::from_seed(&[n; 32])
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse_wire(s).expect("a valid time")
}

/// The license most vectors carry. Its licensee has `???` so that the
/// payload's base64url holds `_`.
fn license() -> License {
    License {
        format: 1,
        id: "0192f7a0-0000-7000-8000-0000000000a1".into(),
        product: "data-platform".into(),
        account: "acct-1001".into(),
        licensee: "Acme Analytics ???".into(),
        region: "cn-hangzhou".into(),
        edition: "intelligent_rnd".into(),
        engine: Some("maxcompute".into()),
        plan: Plan::Subscription,
        issued_at: t("2026-01-01T00:00:00Z"),
        not_before: t("2026-01-01T00:00:00Z"),
        expires_at: Some(t("2036-01-01T00:00:00Z")),
        grace_days: 14,
        activate_by: None,
        settlement: "enterprise".into(),
        packages: BTreeMap::from([(
            "data_service".into(),
            PackageGrant {
                tier: "api.s1.small".into(),
                includes: vec!["api.base".into(), "api.s1.small".into()],
                limits: BTreeMap::from([("qps".into(), 2500)]),
            },
        )]),
        quotas: BTreeMap::from([("processing_units".into(), 40)]),
        supersedes: None,
        sequence: 1,
        notice_days: 30,
        install: None,
        usage: None,
        free_edition: None,
    }
}

/// Signs `payload` as `kind` with `key` (raw bytes, so that invalid
/// payloads can be signed too).
fn sign(kind: Kind, key: &IssuerKey, payload: &[u8]) -> String {
    key.seal(kind, payload)
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialises")
}

/// The token with its signature replaced.
fn with_signature(token: &str, edit: impl FnOnce(&mut [u8; 64])) -> String {
    let (input, sig) = token.rsplit_once('.').expect("a token");
    let mut sig: [u8; 64] = URL_SAFE_NO_PAD.decode(sig).expect("base64url").try_into().expect("64 bytes");
    edit(&mut sig);
    assemble(input, &sig)
}

/// The token with `from` replaced by `to` in its JSON payload, and the old
/// signature kept: what someone who edits a signed file makes.
fn payload_edited(token: &str, from: &str, to: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[2]).expect("base64url")).expect("UTF-8");
    assert!(json.contains(from), "{from} is not in the payload");
    parts[2] = URL_SAFE_NO_PAD.encode(json.replacen(from, to, 1));
    parts.join(".")
}

/// A signature with `R` = the identity, which only the key's holder can
/// make (`s` = H(R‖A‖M)·a): plain RFC 8032 verification accepts it,
/// `verify_strict` refuses it.
fn identity_r_signature(seed: &[u8; 32], input: &str) -> [u8; 64] {
    use curve25519_dalek::Scalar;
    use sha2::{Digest, Sha512};
    let sk = ed25519_dalek::SigningKey::from_bytes(seed);
    let mut r = [0u8; 32];
    r[0] = 1;
    let a = Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(
        Sha512::digest(sk.to_bytes())[..32].try_into().expect("32 bytes"),
    ));
    let k = Scalar::from_bytes_mod_order_wide(
        &Sha512::new()
            .chain_update(r)
            .chain_update(sk.verifying_key().as_bytes())
            .chain_update(input.as_bytes())
            .finalize()
            .into(),
    );
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32..].copy_from_slice((k * a).as_bytes());
    sig
}

/// `s` + L: the same signature equation, a non-canonical encoding.
fn non_canonical_s(sig: &mut [u8; 64]) {
    // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
}

fn armored(kind: Kind, token: &str) -> String {
    armor::armor(kind, token, &[("Comment", "a test vector".into())])
}

struct Builder {
    vectors: Vec<Vector>,
}

impl Builder {
    /// A vector in a form mail makes of a file, which this toolkit's reader
    /// undoes (FORMAT.md §3) and the canonical recipes need not.
    fn add_mailed(&mut self, name: &str, comment: &str, body: &str) {
        self.add(Kind::License, name, "success", "valid", false, comment, body);
        let last = self.vectors.last_mut().expect("just added");
        last.text = last.text.replacen("layer: valid\n", "layer: valid\nmailed: yes\n", 1);
    }

    #[allow(clippy::too_many_arguments)]
    fn add(&mut self, kind: Kind, name: &str, class: &str, layer: &str, strict_only: bool, comment: &str, body: &str) {
        let dir = kind.name().replace(' ', "_");
        let expect = if class == "success" { "valid" } else { "fail" };
        let mut text = format!("expect: {expect}\nkind: {}\nclass: {class}\nlayer: {layer}\n", kind.name());
        if strict_only {
            text.push_str("strict-only: yes\n");
        }
        text.push_str(&format!("comment: {comment}\n\n{body}"));
        self.vectors.push(Vector { path: format!("{dir}/{name}.txt"), text });
    }
}

/// Every vector, and the vendor key's SPKI PEM.
pub fn all() -> (String, Vec<Vector>) {
    let key = vendor();
    let mut b = Builder { vectors: Vec::new() };
    let lic = Kind::License;
    let good = sign(lic, &key, &json(&license()));

    // Licenses: the envelope.
    b.add(
        lic,
        "valid_compact",
        "success",
        "valid",
        false,
        "a license, the compact token on one line",
        &format!("{good}\n"),
    );
    b.add(
        lic,
        "valid_armored",
        "success",
        "valid",
        false,
        "the same license armored, with an unsigned header line",
        &armored(lic, &good),
    );
    b.add(
        lic,
        "valid_armored_crlf",
        "success",
        "valid",
        false,
        "armored with CRLF line endings",
        &armored(lic, &good).replace('\n', "\r\n"),
    );
    b.add(
        lic,
        "valid_surrounding_whitespace",
        "success",
        "valid",
        false,
        "spaces and blank lines around the token are not part of it",
        &format!("\n  {good}  \n\n"),
    );
    b.add(lic, "fail_envelope_empty", "malformed", "envelope", false, "nothing but whitespace", "\n");
    b.add(
        lic,
        "fail_envelope_truncated",
        "malformed",
        "envelope",
        false,
        "the last five characters cut off",
        &format!("{}\n", &good[..good.len() - 5]),
    );
    b.add(
        lic,
        "fail_envelope_version_2",
        "malformed",
        "envelope",
        false,
        "format version 2, which this version of the format does not read",
        &format!("{}\n", good.replacen("lic1.", "lic2.", 1)),
    );
    let parts: Vec<&str> = good.split('.').collect();
    b.add(
        lic,
        "fail_envelope_padded_base64",
        "malformed",
        "envelope",
        false,
        "the payload with base64 `=` padding added",
        &format!("{}.{}.{}=.{}\n", parts[0], parts[1], parts[2], parts[3]),
    );
    let standard = good.replacen('_', "/", 1);
    assert_ne!(standard, good, "the payload holds a `_`");
    b.add(
        lic,
        "fail_envelope_standard_base64",
        "malformed",
        "envelope",
        false,
        "a `_` of the payload written `/`, standard base64 rather than base64url",
        &format!("{standard}\n"),
    );
    b.add(
        lic,
        "fail_envelope_space_inside",
        "malformed",
        "envelope",
        false,
        "a space inside the token",
        &format!("{} {}\n", &good[..40], &good[40..]),
    );
    b.add(
        lic,
        "fail_envelope_kid_upper_case",
        "malformed",
        "envelope",
        false,
        "the key id in upper-case hex",
        &format!("{}.{}.{}.{}\n", parts[0], parts[1].to_uppercase(), parts[2], parts[3]),
    );
    b.add(
        lic,
        "fail_envelope_too_large",
        "malformed",
        "envelope",
        false,
        "70,000 characters: more than any license token (64 KiB)",
        &format!("lic1.{}\n", "a".repeat(70_000)),
    );
    let receipt_token = install_files().1;
    b.add(
        lic,
        "fail_envelope_wrong_kind",
        "malformed",
        "envelope",
        false,
        "a valid activation receipt where a license is expected",
        &format!("{receipt_token}\n"),
    );
    b.add_mailed(
        "valid_mailed_in_a_letter",
        "the armored license inside a letter: text before the BEGIN line and after the END line",
        &format!("Hello,\n\nyour license:\n\n{}thanks, Sam\n", armored(lic, &good)),
    );
    b.add_mailed(
        "valid_mailed_quoted",
        "the armored license quoted in a reply: `> ` before every line, trailing spaces",
        &armored(lic, &good).lines().map(|l| format!("> {l}  \n")).collect::<String>(),
    );
    let mut rewrapped = String::from("-----BEGIN LICENSE-----\n");
    for chunk in good.as_bytes().chunks(76) {
        rewrapped.push_str(std::str::from_utf8(chunk).expect("ASCII"));
        rewrapped.push('\n');
    }
    rewrapped.push_str("-----END LICENSE-----\n");
    b.add_mailed("valid_mailed_rewrapped", "the token lines re-wrapped at 76 columns", &rewrapped);
    let mut inside = armored(lic, &good);
    let cut = inside.find(&good[..64]).expect("the first token line") + 64;
    inside.insert_str(cut, "\nSent from my phone");
    b.add(
        lic,
        "fail_armor_text_inside_token",
        "malformed",
        "envelope",
        false,
        "a line of text between two token lines",
        &inside,
    );
    b.add(
        lic,
        "fail_armor_wrong_label",
        "malformed",
        "envelope",
        false,
        "a license inside ACTIVATION RECEIPT armor",
        &armored(lic, &good).replace("LICENSE", "ACTIVATION RECEIPT"),
    );
    b.add(
        lic,
        "fail_armor_missing_end",
        "malformed",
        "envelope",
        false,
        "the END line is missing (the file was cut short)",
        &armored(lic, &good).replace("-----END LICENSE-----\n", ""),
    );

    // Licenses: the signature.
    b.add(
        lic,
        "fail_signature_payload_changed",
        "bad_signature",
        "signature",
        false,
        "the account changed from acct-1001 to acct-1002 after signing",
        &format!("{}\n", payload_edited(&good, "acct-1001", "acct-1002")),
    );
    b.add(
        lic,
        "fail_signature_s_changed",
        "bad_signature",
        "signature",
        false,
        "one bit of the signature's S changed",
        &format!("{}\n", with_signature(&good, |s| s[40] ^= 1)),
    );
    b.add(
        lic,
        "fail_signature_s_not_canonical",
        "bad_signature",
        "signature",
        false,
        "S replaced by S + L: the same equation, a malleable encoding",
        &format!("{}\n", with_signature(&good, non_canonical_s)),
    );
    let input = signing_input(lic, key.kid(), &json(&license()));
    b.add(lic, "fail_signature_small_order_r", "bad_signature", "signature", true, "R is the identity point, made by the key's holder: plain RFC 8032 (e.g. OpenSSL) accepts it, verify_strict refuses it", &format!("{}\n", assemble(&input, &identity_r_signature(&[0x11; 32], &input))));
    let relabelled = sign(Kind::ActivationReceipt, &key, &json(&license())).replacen("rct1.", "lic1.", 1);
    b.add(
        lic,
        "fail_signature_relabelled",
        "bad_signature",
        "signature",
        false,
        "signed by the vendor key as an activation receipt, then relabelled `lic1.`: the type tag is signed",
        &format!("{relabelled}\n"),
    );
    b.add(
        lic,
        "fail_signature_untrusted_key",
        "untrusted_key",
        "signature",
        false,
        "a valid license signed by another key than key.pub",
        &format!("{}\n", sign(lic, &stranger(), &json(&license()))),
    );

    // Licenses: the signed content.
    let mut unknown = serde_json::to_value(license()).expect("serialises");
    unknown["admin"] = true.into();
    b.add(
        lic,
        "fail_content_unknown_field",
        "malformed",
        "content",
        false,
        "a signed payload with a field the format does not have",
        &format!("{}\n", sign(lic, &key, &json(&unknown))),
    );
    let text = String::from_utf8(json(&license())).expect("UTF-8").replacen('{', "{\"sequence\":99,", 1);
    b.add(
        lic,
        "fail_content_duplicate_field",
        "malformed",
        "content",
        false,
        "a signed payload with `sequence` twice",
        &format!("{}\n", sign(lic, &key, text.as_bytes())),
    );
    b.add(
        lic,
        "fail_content_not_json",
        "malformed",
        "content",
        false,
        "a signed payload that is not JSON",
        &format!("{}\n", sign(lic, &key, b"not json")),
    );
    let mut zero = license();
    zero.sequence = 0;
    b.add(
        lic,
        "fail_content_sequence_zero",
        "malformed",
        "content",
        false,
        "a signed license with sequence 0: sequences start at 1",
        &format!("{}\n", sign(lic, &key, &json(&zero))),
    );
    let mut backwards = license();
    backwards.expires_at = Some(t("2025-01-01T00:00:00Z"));
    b.add(
        lic,
        "fail_content_expires_before_start",
        "malformed",
        "content",
        false,
        "a signed license that expires before it starts",
        &format!("{}\n", sign(lic, &key, &json(&backwards))),
    );

    // Revocation lists.
    let rev = Kind::RevocationList;
    let list = RevocationList {
        format: 1,
        sequence: 3,
        issued_at: t("2026-06-01T00:00:00Z"),
        revoked: vec![Revoked {
            license_id: "0192f7a0-0000-7000-8000-0000000000a1".into(),
            reason: "chargeback on order 7731".into(),
            revoked_at: t("2026-05-30T00:00:00Z"),
        }],
        retired_keys: vec![RetiredKey {
            kid: KeyId::of(stranger().public().verifying_key()),
            not_after: t("2026-01-01T00:00:00Z"),
            reason: "rotated".into(),
        }],
        floors: Vec::new(),
        distrusted_keys: Vec::new(),
    };
    let list_token = sign(rev, &key, &json(&list));
    b.add(
        rev,
        "valid",
        "success",
        "valid",
        false,
        "a revocation list of format 1: one license revoked, one key retired",
        &armored(rev, &list_token),
    );
    let v2 = RevocationList {
        format: 2,
        sequence: 4,
        floors: vec![Floor {
            product: "data-platform".into(),
            account: "acct-1001".into(),
            region: "cn-hangzhou".into(),
            sequence: 2,
            reason: "chargeback on order 7731".into(),
            revoked_at: t("2026-05-30T00:00:00Z"),
        }],
        distrusted_keys: vec![DistrustedKey {
            kid: KeyId::of(stranger().public().verifying_key()),
            distrusted_at: t("2026-06-01T00:00:00Z"),
            reason: "key stolen".into(),
        }],
        ..list.clone()
    };
    b.add(
        rev,
        "valid_format_2",
        "success",
        "valid",
        false,
        "a revocation list of format 2: also a chain voided up to sequence 2, and a distrusted key",
        &armored(rev, &sign(rev, &key, &json(&v2))),
    );
    b.add(
        rev,
        "fail_signature_payload_changed",
        "bad_signature",
        "signature",
        false,
        "the list's sequence changed from 3 to 9 after signing",
        &format!("{}\n", payload_edited(&list_token, "\"sequence\":3", "\"sequence\":9")),
    );
    let mut extra = serde_json::to_value(&list).expect("serialises");
    extra["revoked"][0]["restore"] = true.into();
    b.add(
        rev,
        "fail_content_unknown_field",
        "malformed",
        "content",
        false,
        "a signed list with a field the format does not have",
        &format!("{}\n", sign(rev, &key, &json(&extra))),
    );

    // A time attestation for one install.
    let att = Kind::TimeAttestation;
    let attestation = license_common::exchange::TimeAttestation {
        format: license_common::exchange::ATTESTATION_FORMAT,
        // The request it answers (install 0x33's, below): what the install
        // checks against the newest request it made.
        request: Some(license_common::exchange::chain_hash(&install_files().0)),
        install_id: install(0x33).public().kid().to_string(),
        product: "data-platform".into(),
        time: t("2026-12-01T08:00:00Z"),
    };
    b.add(
        att,
        "valid",
        "success",
        "valid",
        false,
        "the vendor's time for install 0x33's request",
        &armored(att, &sign(att, &key, &json(&attestation))),
    );
    b.add(
        att,
        "fail_signature_untrusted_key",
        "untrusted_key",
        "signature",
        false,
        "an attestation signed by a key nobody trusts",
        &format!("{}\n", sign(att, &stranger(), &json(&attestation))),
    );

    // Files signed by an install, with the key they carry.
    let (request, receipt, usage, deactivation) = install_files();
    b.add(
        Kind::ActivationRequest,
        "valid",
        "success",
        "valid",
        false,
        "an install's activation request, signed by the key it carries",
        &armored(Kind::ActivationRequest, &request),
    );
    b.add(
        Kind::ActivationReceipt,
        "valid",
        "success",
        "valid",
        false,
        "an activation receipt",
        &armored(Kind::ActivationReceipt, &receipt),
    );
    b.add(
        Kind::UsageReport,
        "valid",
        "success",
        "valid",
        false,
        "a usage report of three days",
        &armored(Kind::UsageReport, &usage),
    );
    b.add(
        Kind::DeactivationReceipt,
        "valid",
        "success",
        "valid",
        false,
        "a deactivation receipt",
        &armored(Kind::DeactivationReceipt, &deactivation),
    );
    b.add(
        Kind::ActivationRequest,
        "fail_signature_payload_changed",
        "bad_signature",
        "signature",
        false,
        "the host name changed from node-1 to node-2 after signing",
        &format!("{}\n", payload_edited(&request, "node-1", "node-2")),
    );
    b.add(
        Kind::UsageReport,
        "fail_signature_payload_changed",
        "bad_signature",
        "signature",
        false,
        "a day's count lowered from 30 to 3 after signing",
        &format!("{}\n", payload_edited(&usage, ":30,", ":3,")),
    );
    b.add(
        Kind::ActivationRequest,
        "fail_signature_key_swapped",
        "bad_signature",
        "signature",
        false,
        "the payload carries another install's key than the one that signed it",
        &format!("{}\n", swapped_request()),
    );
    b.add(
        Kind::ActivationRequest,
        "fail_content_install_id_mismatch",
        "malformed",
        "content",
        false,
        "`install_id` is not the key id of `install_key`",
        &format!("{}\n", mismatched_request()),
    );
    b.add(
        Kind::UsageReport,
        "fail_content_duplicate_day",
        "malformed",
        "content",
        false,
        "a signed report with the same day twice in `days`",
        &format!("{}\n", duplicate_day_report()),
    );
    b.add(
        Kind::ActivationReceipt,
        "fail_envelope_wrong_kind",
        "malformed",
        "envelope",
        false,
        "a license where an activation receipt is expected",
        &format!("{good}\n"),
    );

    (key.public().to_pem(), b.vectors)
}
