//! Verify + decode of one typical license, against the floor (raw
//! `verify_strict` on the same bytes) and peer formats carrying the same
//! claims (JWT EdDSA with jsonwebtoken, PASETO v4.public with pasetors);
//! `check` on an open activator; signing against raw signing; token sizes.
//!
//! `cargo bench --manifest-path bench/Cargo.toml`

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use license_bench::{key, sign, typical_license};
use license_common::envelope::{self, Kind};
use license_common::{Keyring, License, Timestamp};
use std::hint::black_box;

/// The time of `a` over the time of `b`, measured in alternating short
/// rounds (`a` first in even rounds, `b` first in odd ones) so that the
/// drift of a shared virtual machine falls on both alike: (p10, median, p90).
fn interleaved(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64, f64) {
    const ROUNDS: usize = 400;
    const EACH: usize = 40;
    let time = |f: &mut dyn FnMut()| {
        let start = std::time::Instant::now();
        for _ in 0..EACH {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            if round % 2 == 0 {
                let ta = time(&mut a);
                ta / time(&mut b)
            } else {
                let tb = time(&mut b);
                time(&mut a) / tb
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    (ratios[ROUNDS / 10], ratios[ROUNDS / 2], ratios[ROUNDS * 9 / 10])
}

fn benches(c: &mut Criterion) {
    let key = key();
    let license = typical_license();
    let payload = serde_json::to_vec(&license).unwrap();
    let token = key.seal(Kind::License, &payload);
    let keyring = Keyring::from_keys([*key.public()]);

    // The floor: verify_strict over the same signed bytes, key already parsed.
    let signing = SigningKey::from_bytes(&[42; 32]);
    let verifying: VerifyingKey = signing.verifying_key();
    let (signed, sig_b64) = token.rsplit_once('.').unwrap();
    let signature = Signature::from_bytes(&signing.sign(signed.as_bytes()).to_bytes());
    assert!(verifying.verify_strict(signed.as_bytes(), &signature).is_ok());
    let _ = sig_b64;

    // JWT (EdDSA) with the same claims.
    let pkcs8 = {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        signing.to_pkcs8_der().unwrap()
    };
    let jwt_key = jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_bytes());
    let jwt =
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA), &license, &jwt_key).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let jwt_public = verifying.to_bytes();

    // PASETO v4.public with the same claims as its message.
    let paseto_sk =
        pasetors::keys::AsymmetricSecretKey::<pasetors::version4::V4>::from(&signing.to_keypair_bytes()).unwrap();
    let paseto_pk = pasetors::keys::AsymmetricPublicKey::<pasetors::version4::V4>::from(&verifying.to_bytes()).unwrap();
    let paseto = pasetors::version4::PublicToken::sign(&paseto_sk, &payload, None, None).unwrap();

    println!(
        "token sizes for the same claims: ours {} bytes, JWT EdDSA {} bytes, PASETO v4.public {} bytes",
        token.len(),
        jwt.len(),
        paseto.len()
    );

    let ours = || {
        black_box(envelope::open::<License>(black_box(&token), Kind::License, &keyring).unwrap());
    };
    let floor = || {
        verifying.verify_strict(black_box(signed.as_bytes()), &signature).unwrap();
    };
    let jwt_decode = || {
        let key = jsonwebtoken::DecodingKey::from_ed_der(&jwt_public);
        black_box(jsonwebtoken::decode::<License>(black_box(&jwt), &key, &validation).unwrap());
    };
    let paseto_decode = || {
        let untrusted = pasetors::token::UntrustedToken::<pasetors::token::Public, pasetors::version4::V4>::try_from(
            black_box(&paseto),
        )
        .unwrap();
        let trusted = pasetors::version4::PublicToken::verify(&paseto_pk, &untrusted, None, None).unwrap();
        black_box(serde_json::from_str::<License>(trusted.payload()).unwrap());
    };
    for (name, (p10, median, p90)) in [
        ("verify + decode: ours / raw verify_strict", interleaved(ours, floor)),
        ("verify + decode: ours / jsonwebtoken", interleaved(ours, jwt_decode)),
        ("verify + decode: ours / pasetors", interleaved(ours, paseto_decode)),
        (
            "sign: ours / raw sign",
            interleaved(
                || {
                    black_box(sign(&key, black_box(&license)));
                },
                || {
                    black_box(signing.sign(black_box(signed.as_bytes())));
                },
            ),
        ),
    ] {
        println!("interleaved ratio, {name}: median {median:.3} (p10 {p10:.3}, p90 {p90:.3})");
    }

    let mut g = c.benchmark_group("verify_and_decode");
    g.bench_function("ours: envelope::open::<License>", |b| {
        b.iter(|| envelope::open::<License>(black_box(&token), Kind::License, &keyring).unwrap())
    });
    g.bench_function("floor: raw verify_strict", |b| {
        b.iter(|| verifying.verify_strict(black_box(signed.as_bytes()), &signature).unwrap())
    });
    g.bench_function("peer: jsonwebtoken EdDSA decode::<License>", |b| {
        b.iter(|| {
            let key = jsonwebtoken::DecodingKey::from_ed_der(&jwt_public);
            jsonwebtoken::decode::<License>(black_box(&jwt), &key, &validation).unwrap()
        })
    });
    g.bench_function("peer: pasetors v4.public verify + decode", |b| {
        b.iter(|| {
            let untrusted =
                pasetors::token::UntrustedToken::<pasetors::token::Public, pasetors::version4::V4>::try_from(
                    black_box(&paseto),
                )
                .unwrap();
            let trusted = pasetors::version4::PublicToken::verify(&paseto_pk, &untrusted, None, None).unwrap();
            serde_json::from_str::<License>(trusted.payload()).unwrap()
        })
    });
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let mut activator =
        license_activator::Activator::open_with_keyring(dir.path(), "data-platform", keyring.clone()).unwrap();
    let now = Timestamp::parse("2026-12-01").unwrap();
    activator.activate(&token, now).unwrap();
    c.bench_function("check(feature, tier) on an open activator", |b| {
        b.iter(|| activator.check(black_box("data_service"), Some(black_box("api.base")), now).unwrap())
    });

    let mut g = c.benchmark_group("sign");
    g.bench_function("ours: issue signing (serialise + envelope)", |b| {
        b.iter(|| sign(&key, black_box(&license)))
    });
    g.bench_function("floor: raw Ed25519 sign of the same bytes", |b| {
        b.iter(|| signing.sign(black_box(signed.as_bytes())))
    });
    g.finish();
}

criterion_group!(tokens, benches);
criterion_main!(tokens);
