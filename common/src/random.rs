//! Random bytes: the one way this toolkit makes them.
//!
//! Every key, seal key, nonce and generated passphrase comes from
//! [`fill`], which reads the operating system's random source (`getrandom`).
//! Nothing here is seeded or buffered, so a fork or a restored snapshot never
//! repeats bytes.

use zeroize::Zeroizing;

use crate::exit::{ExitClass, Explain};

/// Fills `buf` with random bytes from the operating system.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|e| RandomError { detail: e.to_string() })
}

/// `N` random bytes, wiped from memory when dropped (for key material).
pub fn secret<const N: usize>() -> Result<Zeroizing<[u8; N]>, RandomError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    fill(&mut bytes[..])?;
    Ok(bytes)
}

/// `N` random bytes that are not secret (nonces, salts).
pub fn bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    fill(&mut bytes)?;
    Ok(bytes)
}

/// The operating system could not give random bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("the operating system's random number source failed: {detail}")]
pub struct RandomError {
    /// What the operating system said.
    pub detail: String,
}

impl Explain for RandomError {
    fn class(&self) -> ExitClass {
        ExitClass::Io
    }

    fn hint(&self) -> String {
        "this machine cannot make random numbers now; check that the kernel provides getrandom(2), then try again"
            .into()
    }

    fn case(&self) -> String {
        "RandomError".into()
    }

    fn fields(&self) -> serde_json::Value {
        crate::exit::fields_of(self)
    }
}

impl crate::exit::Examples for RandomError {
    fn examples() -> Vec<crate::exit::Example<Self>> {
        vec![crate::exit::Example {
            error: RandomError { detail: "<detail>".into() },
            when: "A new key, seal key, nonce or passphrase needs random bytes and the kernel's random source refused.",
        }]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_draws_differ() {
        let a = super::bytes::<16>().unwrap();
        let b = super::bytes::<16>().unwrap();
        assert_ne!(a, b);
        assert_ne!(*super::secret::<32>().unwrap(), [0u8; 32]);
    }
}
