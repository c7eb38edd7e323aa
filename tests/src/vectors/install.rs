//! The vectors' files signed by an install: requests, receipts, usage
//! reports and deactivation receipts, and the ways they go wrong.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use license_common::Kind;
use license_common::envelope::{assemble, signing_input};
use license_common::exchange::{
    ActivationReceipt, ActivationRequest, DeactivationReceipt, EXCHANGE_FORMAT, UsageReport, encode_key,
};
use license_common::keys::PublicKey;
use license_common::signing::IssuerKey;

use super::{install, json, sign, t};

fn request_of(key: &IssuerKey) -> ActivationRequest {
    let public: PublicKey = *key.public();
    ActivationRequest {
        format: EXCHANGE_FORMAT,
        install_id: public.kid().to_string(),
        install_key: encode_key(&public),
        product: "data-platform".into(),
        hostname: "node-1".into(),
        host_fingerprint: "ab".repeat(16),
        created_at: t("2026-11-23T08:00:00Z"),
        nonce: Some("5e1f0c2d9a8b7766554433221100ffee".into()),
    }
}

/// The four files of one install (seed 0x33…): request, receipt, usage
/// report, deactivation receipt; the last three form the install's hash
/// chain (counters 1 to 3, each with the SHA-256 of the one before).
pub(super) fn install_files() -> (String, String, String, String) {
    let key = install(0x33);
    let public = *key.public();
    let (id, key_text) = (public.kid().to_string(), encode_key(&public));
    let request = sign(Kind::ActivationRequest, &key, &json(&request_of(&key)));
    let receipt = ActivationReceipt {
        format: EXCHANGE_FORMAT,
        install_id: id.clone(),
        install_key: key_text.clone(),
        product: "data-platform".into(),
        license_id: "0192f7a0-0000-7000-8000-0000000000a1".into(),
        account: "acct-1001".into(),
        region: Some("cn-hangzhou".into()),
        activated_at: t("2026-11-23T09:00:00Z"),
        created_at: t("2026-11-23T09:00:05Z"),
        counter: Some(1),
        prev: None,
    };
    let receipt = sign(Kind::ActivationReceipt, &key, &json(&receipt));
    let usage = UsageReport {
        format: EXCHANGE_FORMAT,
        install_id: id.clone(),
        install_key: key_text.clone(),
        product: "data-platform".into(),
        license_id: "0192f7a0-0000-7000-8000-0000000000a1".into(),
        account: "acct-1001".into(),
        region: Some("cn-hangzhou".into()),
        from: "2026-11-01".parse().expect("a date"),
        to: "2026-11-03".parse().expect("a date"),
        days: BTreeMap::from([
            ("2026-11-01".parse().expect("a date"), 30),
            ("2026-11-02".parse().expect("a date"), 19),
            ("2026-11-03".parse().expect("a date"), 21),
        ]),
        created_at: t("2026-11-04T00:00:00Z"),
        counter: Some(2),
        prev: Some(license_common::exchange::chain_hash(&receipt)),
    };
    let usage = sign(Kind::UsageReport, &key, &json(&usage));
    let deactivation = DeactivationReceipt {
        format: EXCHANGE_FORMAT,
        install_id: id,
        install_key: key_text,
        product: "data-platform".into(),
        license_id: "0192f7a0-0000-7000-8000-0000000000a1".into(),
        account: "acct-1001".into(),
        region: Some("cn-hangzhou".into()),
        deactivated_at: t("2026-12-01T00:00:00Z"),
        counter: Some(3),
        prev: Some(license_common::exchange::chain_hash(&usage)),
    };
    (request, receipt, usage, sign(Kind::DeactivationReceipt, &key, &json(&deactivation)))
}

/// A request that carries install 0x44's key and id, signed by install 0x33.
pub(super) fn swapped_request() -> String {
    let claimed = request_of(&install(0x44));
    let signer = install(0x33);
    let input = signing_input(Kind::ActivationRequest, signer.kid(), &json(&claimed));
    assemble(&input, &signer.sign(input.as_bytes()))
}

/// A request whose `install_id` is not the key id of its key.
pub(super) fn mismatched_request() -> String {
    let key = install(0x33);
    let mut request = request_of(&key);
    request.install_id = "0000000000000000".into();
    sign(Kind::ActivationRequest, &key, &json(&request))
}

/// A usage report with `2026-11-01` twice in `days`, properly signed.
pub(super) fn duplicate_day_report() -> String {
    let key = install(0x33);
    let (_, _, usage, _) = install_files();
    let payload = URL_SAFE_NO_PAD.decode(usage.split('.').nth(2).expect("a payload")).expect("base64url");
    let text = String::from_utf8(payload).expect("UTF-8").replacen("\"days\":{", "\"days\":{\"2026-11-01\":1,", 1);
    sign(Kind::UsageReport, &key, text.as_bytes())
}
