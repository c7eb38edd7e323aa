//! Many signatures at once, for the ledger audit: [`verify_batch`], with
//! `verify_strict`'s verdicts, and the list of small-order encodings that
//! lets it (and the audit's one-by-one re-check) skip decompressing `R`.
//! Activation never comes here: [`Envelope::verify`](super::Envelope::verify)
//! calls ed25519-dalek's `verify_strict` itself.

#[cfg(feature = "batch")]
use ed25519_dalek::Signature;

#[cfg(feature = "batch")]
use super::{Envelope, EnvelopeError};
#[cfg(feature = "batch")]
use crate::keys::Keyring;

/// How many signatures one batch equation covers in [`verify_batch`]: large
/// enough for the multi-scalar multiplication to amortise, small enough that
/// a batch with a bad signature costs little to re-check one by one.
#[cfg(feature = "batch")]
pub const BATCH_SIZE: usize = 1024;

/// Every 32-byte string that decodes to a point of small order, with the
/// sign bit (bit 255) cleared: the `y` of the eight torsion points (0, 1,
/// p - 1 and the two of order 8), and the non-canonical `y + p` of 0 and 1.
/// The same list as libsodium's `ge25519_has_small_order`; a test derives
/// it from curve25519-dalek's `EIGHT_TORSION`. Matching it costs a few
/// comparisons where decompressing `R` would cost a field exponentiation.
pub(super) const SMALL_ORDER_ENCODINGS: [[u8; 32]; 7] = [
    [0; 32],
    {
        let mut one = [0; 32];
        one[0] = 1;
        one
    },
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf,
        0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20,
        0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
    ],
    p_plus(-1),
    p_plus(0),
    p_plus(1),
];

/// The little-endian bytes of p + `k` = 2^255 - 19 + `k`, for small `k`.
const fn p_plus(k: i8) -> [u8; 32] {
    let mut bytes = [0xff; 32];
    bytes[0] = (0xed_i16 + k as i16) as u8;
    bytes[31] = 0x7f;
    bytes
}

/// Whether `r` encodes a point of small order (whatever its sign bit).
pub(super) fn is_small_order_encoding(r: &[u8]) -> bool {
    let Ok(mut y) = <[u8; 32]>::try_from(r) else { return false };
    y[31] &= 0x7f;
    SMALL_ORDER_ENCODINGS.contains(&y)
}

/// Verifies many envelopes at once with Ed25519 batch verification, giving
/// each the result [`Envelope::verify`] would give (but for the case below).
///
/// Before the batch equation, each envelope must pass what `verify_strict`
/// checks outside it: a trusted key for its kind (weak keys never enter a
/// [`Keyring`]), an `R` that is not an encoding of a small-order point, and a
/// canonical `s`. A batch whose equation fails is re-checked one envelope at
/// a time, so a bad signature is named exactly as by `verify`.
///
/// The one difference from `verify_strict`: the batch equation is
/// randomised and not multiplied by the cofactor, so a signature whose `R`
/// was deliberately given a small-order component *by the holder of the
/// signing key* passes the batch with probability 1/8 where `verify_strict`
/// refuses it. That cannot help anyone without the key to forge, which is
/// why an audit of one's own ledger may use it, and why licenses presented
/// to an activator never go through it.
///
/// ```
/// # use license_common::envelope::{Envelope, Kind, verify_batch};
/// # use license_common::keys::Keyring;
/// let tokens: Vec<String> = Vec::new(); // e.g. every license of a ledger
/// let envelopes: Vec<Envelope> = tokens.iter().filter_map(|t| Envelope::parse(t, Kind::License).ok()).collect();
/// let results = verify_batch(&envelopes, &Keyring::new());
/// assert_eq!(results.len(), envelopes.len());
/// ```
#[cfg(feature = "batch")]
pub fn verify_batch<'e>(envelopes: &'e [Envelope<'_>], keyring: &Keyring) -> Vec<Result<&'e [u8], EnvelopeError>> {
    use curve25519_dalek::Scalar;

    let mut results = Vec::with_capacity(envelopes.len());
    for chunk in envelopes.chunks(BATCH_SIZE) {
        let start = results.len();
        let (mut messages, mut signatures, mut keys, mut members) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, envelope) in chunk.iter().enumerate() {
            let checked = (|| {
                let trusted = keyring.get(&envelope.kid)?;
                let (r, s) = envelope.signature.split_at(32);
                let s_canonical = bool::from(Scalar::from_canonical_bytes(s.try_into().ok()?).is_some());
                (trusted.usage.allows(envelope.kind) && !is_small_order_encoding(r) && s_canonical).then_some(trusted)
            })();
            match checked {
                Some(trusted) => {
                    messages.push(envelope.signed.as_bytes());
                    signatures.push(Signature::from_bytes(&envelope.signature));
                    keys.push(*trusted.key.verifying_key());
                    members.push(i);
                    results.push(Ok(envelope.payload.as_slice()));
                }
                // Outside the batch: the single check gives the precise error.
                None => results.push(envelope.verify_fast(keyring)),
            }
        }
        if !members.is_empty() && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err() {
            for i in members {
                results[start + i] = chunk[i].verify_fast(keyring);
            }
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::{Signature, SigningKey, Verifier as _};
    use proptest::prelude::*;

    use super::*;
    #[cfg(feature = "batch")]
    use crate::envelope::EnvelopeError;
    use crate::envelope::tests::{key, sign};
    use crate::envelope::{Envelope, Kind, SIGNATURE_LEN, assemble, signing_input};
    use crate::keys::KeyId;
    #[cfg(feature = "batch")]
    use crate::keys::Keyring;

    /// How a signature is spoiled for the verification tests.
    fn spoil(token: &str, how: u8) -> String {
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig: [u8; SIGNATURE_LEN] = URL_SAFE_NO_PAD.decode(sig).unwrap().try_into().unwrap();
        match how {
            0 => sig[40] ^= 1, // s changed
            1 => sig[3] ^= 4,  // R changed
            2 => {
                // R = the identity, a point of small order
                sig[..32].fill(0);
                sig[0] = 1;
            }
            3 => sig[63] |= 0xf0,                        // s not canonical
            _ => sig[..32].copy_from_slice(&[0xff; 32]), // R not a point
        }
        assemble(input, &sig)
    }

    #[cfg(feature = "batch")]
    fn batch_matches_single(tokens: &[String], ring: &Keyring) {
        let envelopes: Vec<Envelope> = tokens.iter().map(|t| Envelope::parse(t, Kind::License).unwrap()).collect();
        let batch = verify_batch(&envelopes, ring);
        assert_eq!(batch.len(), envelopes.len());
        for (i, (e, b)) in envelopes.iter().zip(&batch).enumerate() {
            assert_eq!(&e.verify(ring), b, "envelope {i}");
        }
    }

    #[cfg(feature = "batch")]
    #[test]
    fn batch_verification_gives_each_envelope_the_single_result() {
        let (a, mut ring) = key(1);
        let (b, ring_b) = key(2);
        let (stranger, _) = key(3);
        ring.add(ring_b.get(&KeyId::of(&b.verifying_key())).unwrap().clone());
        let mut tokens: Vec<String> = (0..1300)
            .map(|i| sign(Kind::License, if i % 3 == 0 { &b } else { &a }, format!(r#"{{"n":{i}}}"#).as_bytes()))
            .collect();
        batch_matches_single(&tokens, &ring);
        assert!(
            verify_batch(&tokens.iter().map(|t| Envelope::parse(t, Kind::License).unwrap()).collect::<Vec<_>>(), &ring)
                .iter()
                .all(Result::is_ok)
        );
        // Every way of spoiling a signature, spread over several batches,
        // plus a key nobody trusts: each refused exactly as `verify` does,
        // and the good envelopes of the same batches still pass.
        for (n, i) in [5usize, 77, 600, 601, 1024, 1299].iter().enumerate() {
            tokens[*i] = spoil(&tokens[*i], u8::try_from(n % 5).unwrap());
        }
        tokens[900] = sign(Kind::License, &stranger, b"{}");
        batch_matches_single(&tokens, &ring);
        let envelopes: Vec<Envelope> = tokens.iter().map(|t| Envelope::parse(t, Kind::License).unwrap()).collect();
        let refused = verify_batch(&envelopes, &ring).iter().filter(|r| r.is_err()).count();
        assert_eq!(refused, 7);
    }

    /// A signature the key holder can make with `R` = the identity
    /// (`s` = H(R‖A‖M)·a): it satisfies both the bare batch equation and
    /// dalek's non-strict `verify`, and `verify_strict` refuses it.
    fn identity_r_signature(sk: &SigningKey, input: &str) -> [u8; SIGNATURE_LEN] {
        use curve25519_dalek::Scalar;
        use sha2::{Digest, Sha512};
        let mut r = [0u8; 32];
        r[0] = 1;
        let a = Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(
            Sha512::digest(sk.to_bytes())[..32].try_into().unwrap(),
        ));
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(r)
                .chain_update(sk.verifying_key().as_bytes())
                .chain_update(input.as_bytes())
                .finalize()
                .into(),
        );
        let mut sig = [0u8; SIGNATURE_LEN];
        sig[..32].copy_from_slice(&r);
        sig[32..].copy_from_slice((k * a).as_bytes());
        sig
    }

    /// `Envelope::verify` (dalek's `verify_strict`) and the audit's fast
    /// single check (dalek's `verify` behind the small-order list) give
    /// exactly `verify_strict`'s verdict: good signatures, every way of
    /// spoiling one, `R` replaced by every small-order encoding, and the
    /// holder-made identity `R` that non-strict verification accepts.
    #[test]
    fn verify_gives_the_verdicts_of_verify_strict() {
        let (sk, ring) = key(5);
        let vk = sk.verifying_key();
        let mut tokens = Vec::new();
        for i in 0..40 {
            let token = sign(Kind::License, &sk, format!("[{i}]").as_bytes());
            for how in 0..5 {
                tokens.push(spoil(&token, how));
            }
            let (input, sig) = token.rsplit_once('.').unwrap();
            let sig: [u8; SIGNATURE_LEN] = URL_SAFE_NO_PAD.decode(sig).unwrap().try_into().unwrap();
            for small in SMALL_ORDER_ENCODINGS {
                for sign_bit in [0, 0x80] {
                    let mut bad = sig;
                    bad[..32].copy_from_slice(&small);
                    bad[31] |= sign_bit;
                    tokens.push(assemble(input, &bad));
                }
            }
            tokens.push(assemble(input, &identity_r_signature(&sk, input)));
            tokens.push(token);
        }
        let (mut accepted, mut refused) = (0, 0);
        for token in &tokens {
            let (input, sig) = token.rsplit_once('.').unwrap();
            let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
            let strict = vk.verify_strict(input.as_bytes(), &sig).is_ok();
            let envelope = Envelope::parse(token, Kind::License).unwrap();
            assert_eq!(envelope.verify(&ring).is_ok(), strict, "{token}");
            assert_eq!(envelope.verify_fast(&ring).is_ok(), strict, "{token}");
            assert_eq!(envelope.verify(&ring), envelope.verify_fast(&ring), "{token}");
            if strict { accepted += 1 } else { refused += 1 }
        }
        assert_eq!((accepted, refused), (40, 40 * 20));
        // The case the list is there for: non-strict verification takes it.
        let input = signing_input(Kind::License, KeyId::of(&vk), b"{}");
        let sig = Signature::from_bytes(&identity_r_signature(&sk, &input));
        assert!(vk.verify(input.as_bytes(), &sig).is_ok());
        let token = assemble(&input, &sig.to_bytes());
        let envelope = Envelope::parse(&token, Kind::License).unwrap();
        assert!(envelope.verify(&ring).is_err() && envelope.verify_fast(&ring).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn any_signature_change_gets_the_verdict_of_verify_strict(
            payload in proptest::collection::vec(any::<u8>(), 1..64),
            at in 0usize..SIGNATURE_LEN,
            xor in 1u8..,
        ) {
            let (sk, ring) = key(6);
            let token = sign(Kind::License, &sk, &payload);
            let (input, sig) = token.rsplit_once('.').unwrap();
            let mut sig: [u8; SIGNATURE_LEN] = URL_SAFE_NO_PAD.decode(sig).unwrap().try_into().unwrap();
            sig[at] ^= xor;
            let strict = sk.verifying_key().verify_strict(input.as_bytes(), &Signature::from_bytes(&sig)).is_ok();
            let token = assemble(input, &sig);
            let envelope = Envelope::parse(&token, Kind::License).unwrap();
            prop_assert_eq!(envelope.verify(&ring).is_ok(), strict);
            prop_assert_eq!(envelope.verify_fast(&ring).is_ok(), strict);
        }
    }

    /// The identity-`R` signature satisfies the bare batch equation, and
    /// `verify_strict` refuses it.
    #[cfg(feature = "batch")]
    #[test]
    fn small_order_r_is_refused_before_the_batch_equation() {
        let (sk, ring) = key(4);
        let input = signing_input(Kind::License, KeyId::of(&sk.verifying_key()), b"{}");
        let sig = identity_r_signature(&sk, &input);
        let signature = Signature::from_bytes(&sig);
        let mut tokens: Vec<String> = (0..10).map(|i| sign(Kind::License, &sk, format!("[{i}]").as_bytes())).collect();
        tokens.push(assemble(&input, &sig));

        // The bare equation takes it; `verify_strict` and ours do not.
        let vk = sk.verifying_key();
        assert!(ed25519_dalek::verify_batch(&[input.as_bytes()], &[signature], &[vk]).is_ok());
        assert!(vk.verify_strict(input.as_bytes(), &signature).is_err());
        let envelopes: Vec<Envelope> = tokens.iter().map(|t| Envelope::parse(t, Kind::License).unwrap()).collect();
        let results = verify_batch(&envelopes, &ring);
        assert!(matches!(results[10], Err(EnvelopeError::BadSignature { .. })));
        assert!(results[..10].iter().all(Result::is_ok));
    }

    /// The list is exactly the encodings curve25519-dalek decodes to a point
    /// of small order: every `y` of its eight torsion points, and `y + p`
    /// wherever that still fits in 255 bits.
    #[test]
    fn the_small_order_list_is_every_encoding_of_a_torsion_point() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let mut derived: Vec<[u8; 32]> = Vec::new();
        for t in curve25519_dalek::constants::EIGHT_TORSION {
            let mut y = t.compress().to_bytes();
            y[31] &= 0x7f;
            // y + p < 2^255 exactly when y < 19.
            let small = y[1..].iter().all(|b| *b == 0) && y[0] < 19;
            let mut candidates = vec![y];
            if small {
                candidates.push(p_plus(i8::try_from(y[0]).unwrap()));
            }
            for c in candidates {
                if !derived.contains(&c) {
                    derived.push(c);
                }
            }
        }
        let mut listed = SMALL_ORDER_ENCODINGS.to_vec();
        listed.sort_unstable();
        derived.sort_unstable();
        assert_eq!(listed, derived);
        for y in SMALL_ORDER_ENCODINGS {
            for sign in [0, 0x80] {
                let mut bytes = y;
                bytes[31] |= sign;
                assert!(is_small_order_encoding(&bytes));
                // Each decodes (when it decodes at all) to a small-order point.
                if let Some(point) = CompressedEdwardsY(bytes).decompress() {
                    assert!(point.is_small_order(), "{bytes:02x?}");
                }
            }
        }
        // And an ordinary R is not on the list.
        let (sk, _) = key(7);
        let token = sign(Kind::License, &sk, b"{}");
        let sig = URL_SAFE_NO_PAD.decode(token.rsplit_once('.').unwrap().1).unwrap();
        assert!(!is_small_order_encoding(&sig[..32]));
    }

    #[cfg(feature = "batch")]
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn batch_and_single_verification_agree(bad in proptest::collection::vec((0usize..600, 0u8..5), 0..6)) {
            let (sk, ring) = key(9);
            let mut tokens: Vec<String> =
                (0..600).map(|i| sign(Kind::License, &sk, format!("[{i}]").as_bytes())).collect();
            for (i, how) in bad {
                tokens[i] = spoil(&tokens[i], how);
            }
            batch_matches_single(&tokens, &ring);
        }
    }
}
