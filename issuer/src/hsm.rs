//! Signing keys in a hardware security module, through PKCS#11.
//!
//! A key is named by an RFC 7512 URI, `pkcs11:token=<label>;object=<label>`,
//! with the module to load in its query (`?module-path=/usr/lib/softhsm/libsofthsm2.so`)
//! or set by the caller ([`Pkcs11Uri::module_path`]; the command line takes
//! `ISSUER_PKCS11_MODULE`). [`HsmKey::generate`] makes an Ed25519 key
//! pair inside the token (`CKM_EC_EDWARDS_KEY_PAIR_GEN`, private key
//! sensitive and not extractable); [`HsmKey::open`] finds it and signs with
//! `CKM_EDDSA`. The private key never leaves the module: only its public
//! key is read, to check it and to record it in the ledger.
//!
//! The PIN is given by the caller (a prompt, a file or an environment
//! variable, never a command-line argument): a URI with `pin-value` is
//! refused, and `pin-source=file:PATH` is read by [`Pkcs11Uri::pin_file`]'s
//! caller like any other PIN file.

use std::path::PathBuf;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use license_common::envelope::{SIGNATURE_LEN, SignError, Signer};
use license_common::exit::{Example, Examples, ExitClass, Explain};
use license_common::keys::{KeyId, PublicKey};
use zeroize::Zeroizing;

/// The Ed25519 curve as `CKA_EC_PARAMS`: the printable string
/// `edwards25519` (PKCS#11 3.0, 2.3.5), which SoftHSM2 and most modules take.
const ED25519_PARAMS: &[u8] = &[0x13, 0x0c, b'e', b'd', b'w', b'a', b'r', b'd', b's', b'2', b'5', b'5', b'1', b'9'];

/// What went wrong with a key in a hardware module.
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[non_exhaustive]
pub enum HsmError {
    /// Not an RFC 7512 URI this tool can use.
    #[error("`{uri}` is not a PKCS#11 key URI this tool can use: {detail}")]
    BadUri {
        /// The URI, without any PIN.
        uri: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A PIN written into the URI.
    #[error("the PKCS#11 URI carries the PIN (`pin-value`), which would show in the process list and shell history")]
    PinInUri,
    /// No module named.
    #[error("no PKCS#11 module is named: the URI has no `module-path`")]
    NoModule,
    /// The module cannot be loaded or initialised.
    #[error("the PKCS#11 module {} cannot be used: {detail}", module.display())]
    Module {
        /// The module's path.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        module: PathBuf,
        /// What the module or loader said.
        detail: String,
    },
    /// No token with that label.
    #[error("no token labelled `{token}` is present in the PKCS#11 module (tokens: {present})")]
    NoToken {
        /// The label asked for.
        token: String,
        /// The labels present.
        present: String,
    },
    /// The PIN was refused.
    #[error("the token `{token}` refused the PIN")]
    WrongPin {
        /// The token.
        token: String,
    },
    /// No such key in the token.
    #[error("the token `{token}` holds no Ed25519 private key labelled `{object}`")]
    NoKey {
        /// The token.
        token: String,
        /// The key's label.
        object: String,
    },
    /// A key with that label exists already (keygen).
    #[error("the token `{token}` already holds a key labelled `{object}`")]
    KeyExists {
        /// The token.
        token: String,
        /// The key's label.
        object: String,
    },
    /// The module failed an operation.
    #[error("the PKCS#11 module failed to {action}: {detail}")]
    Operation {
        /// What it was asked to do.
        action: &'static str,
        /// What it said.
        detail: String,
    },
}

impl Explain for HsmError {
    fn class(&self) -> ExitClass {
        match self {
            HsmError::BadUri { .. } | HsmError::PinInUri | HsmError::NoModule => ExitClass::Usage,
            HsmError::Module { .. } | HsmError::Operation { .. } => ExitClass::Io,
            HsmError::NoToken { .. }
            | HsmError::WrongPin { .. }
            | HsmError::NoKey { .. }
            | HsmError::KeyExists { .. } => ExitClass::Key,
        }
    }

    fn hint(&self) -> String {
        match self {
            HsmError::BadUri { .. } => {
                "write it as pkcs11:token=LABEL;object=LABEL (RFC 7512), with ?module-path=PATH if needed".into()
            }
            HsmError::PinInUri => "remove pin-value; give the PIN from a file, the environment or the prompt".into(),
            HsmError::NoModule => "add ?module-path=/path/to/module.so to the URI".into(),
            HsmError::Module { .. } => "check that the module's path is right and that its token is set up".into(),
            HsmError::NoToken { .. } => "name one of the tokens present, by its label".into(),
            HsmError::WrongPin { .. } => "give the token's user PIN; too many wrong PINs lock the token".into(),
            HsmError::NoKey { .. } => "make the key in the token first, or name the label it has".into(),
            HsmError::KeyExists { .. } => "choose another label; a key in a token is never overwritten".into(),
            HsmError::Operation { .. } => "check the module's log; nothing was signed or recorded".into(),
        }
    }

    fn case(&self) -> String {
        license_common::exit::case_of("HsmError", self)
    }

    fn fields(&self) -> serde_json::Value {
        license_common::exit::fields_of(self)
    }
}

impl Examples for HsmError {
    fn examples() -> Vec<Example<Self>> {
        let s = |v: &str| v.to_owned();
        vec![
            Example {
                error: HsmError::BadUri { uri: s("<uri>"), detail: s("<detail>") },
                when: "A `pkcs11:` key that is not an RFC 7512 URI with a token and an object label.",
            },
            Example { error: HsmError::PinInUri, when: "A `pkcs11:` URI with `pin-value=`." },
            Example {
                error: HsmError::NoModule,
                when: "A `pkcs11:` URI without `module-path`, and no ISSUER_PKCS11_MODULE (`issuer`).",
            },
            Example {
                error: HsmError::Module { module: PathBuf::from("<path>"), detail: s("<detail>") },
                when: "The module file does not exist, is not a PKCS#11 module, or failed to initialise.",
            },
            Example {
                error: HsmError::NoToken { token: s("<token>"), present: s("<labels>") },
                when: "No token with the URI's label is in the module.",
            },
            Example { error: HsmError::WrongPin { token: s("<token>") }, when: "The token refused the PIN." },
            Example {
                error: HsmError::NoKey { token: s("<token>"), object: s("<object>") },
                when: "The token has no Ed25519 private key with the URI's object label.",
            },
            Example {
                error: HsmError::KeyExists { token: s("<token>"), object: s("<object>") },
                when: "`keygen` into a token that already holds a key with that label.",
            },
            Example {
                error: HsmError::Operation { action: "sign", detail: s("<detail>") },
                when: "The module failed a call (the token was removed, its session closed).",
            },
        ]
    }
}

/// A parsed `pkcs11:` URI (RFC 7512): the token and key labels, and
/// where the module and the PIN come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// The token's label (`token=`).
    pub token: String,
    /// The key's label (`object=`).
    pub object: String,
    /// The module (`module-path=`), if the URI names it.
    pub module_path: Option<PathBuf>,
    /// A file holding the PIN (`pin-source=file:…` or a plain path), if named.
    pub pin_file: Option<PathBuf>,
}

impl Pkcs11Uri {
    /// True if `text` is meant as a PKCS#11 URI.
    pub fn is_uri(text: &str) -> bool {
        text.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("pkcs11:"))
    }

    /// Parses `text`. Refuses a PIN in the URI, attributes this tool does
    /// not know (so a typo is not ignored), and a URI without a token or an
    /// object label.
    pub fn parse(text: &str) -> Result<Pkcs11Uri, HsmError> {
        let url = url::Url::parse(text).map_err(|e| bad(text, &e.to_string()))?;
        if url.scheme() != "pkcs11" {
            return Err(bad(text, "it does not start with `pkcs11:`"));
        }
        let (mut token, mut object, mut module_path, mut pin_file) = (None, None, None, None);
        // RFC 7512: `%` starts two hex digits, and an attribute appears at
        // most once (a second `token` must not quietly win or lose).
        let decode = |name: &str, v: &str| {
            let escapes = v.split('%').skip(1);
            if escapes.clone().any(|e| e.len() < 2 || !e.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit)) {
                return Err(bad(text, &format!("`{name}` has a `%` that is not followed by two hex digits")));
            }
            let value = percent_encoding::percent_decode_str(v).decode_utf8();
            value.map(|c| c.into_owned()).map_err(|_| bad(text, &format!("`{name}` is not UTF-8")))
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut once = |part: &str, name: &str| {
            let first = seen.insert((part.to_owned(), name.to_owned()));
            if first { Ok(()) } else { Err(bad(text, &format!("`{name}` is given twice"))) }
        };
        let path = url.path().to_owned();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr.split_once('=').ok_or_else(|| bad(text, &format!("`{attr}` has no `=`")))?;
            once("path", name)?;
            let value = decode(name, value)?;
            match name {
                "token" => token = Some(value),
                "object" => object = Some(value),
                "type" if value == "private" => {}
                "pin-value" => return Err(HsmError::PinInUri),
                "id"
                | "manufacturer"
                | "model"
                | "serial"
                | "library-description"
                | "library-manufacturer"
                | "library-version"
                | "slot-description"
                | "slot-id"
                | "slot-manufacturer"
                | "type" => {
                    return Err(bad(
                        text,
                        &format!("`{name}` is not supported here: name the key by token and object"),
                    ));
                }
                other => return Err(bad(text, &format!("unknown attribute `{other}`"))),
            }
        }
        for (name, value) in url.query_pairs() {
            once("query", &name)?;
            match &*name {
                "module-path" => module_path = Some(PathBuf::from(value.into_owned())),
                "pin-source" => {
                    let v = value.into_owned();
                    pin_file = Some(PathBuf::from(v.strip_prefix("file:").unwrap_or(&v)));
                }
                "pin-value" => return Err(HsmError::PinInUri),
                other => return Err(bad(text, &format!("unknown query attribute `{other}`"))),
            }
        }
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| bad(text, "it names no `token`"))?;
        let object = object.filter(|o| !o.is_empty()).ok_or_else(|| bad(text, "it names no `object`"))?;
        Ok(Pkcs11Uri { token, object, module_path, pin_file })
    }

    /// The module to load.
    pub fn module(&self) -> Result<PathBuf, HsmError> {
        self.module_path.clone().ok_or(HsmError::NoModule)
    }
}

impl std::fmt::Display for Pkcs11Uri {
    /// The URI without its query: `pkcs11:token=…;object=…`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SET: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
        let enc = |v: &str| percent_encoding::utf8_percent_encode(v, SET).to_string();
        write!(f, "pkcs11:token={};object={}", enc(&self.token), enc(&self.object))
    }
}

fn bad(uri: &str, detail: &str) -> HsmError {
    // Never echo a PIN: cut the URI at any `pin-value`.
    let shown = uri.split("pin-value").next().unwrap_or_default();
    HsmError::BadUri { uri: shown.to_owned(), detail: detail.to_owned() }
}

fn op(action: &'static str) -> impl Fn(cryptoki::error::Error) -> HsmError {
    move |e| HsmError::Operation { action, detail: e.to_string() }
}

/// A logged-in session on the URI's token.
fn session(uri: &Pkcs11Uri, pin: &str) -> Result<(Pkcs11, Session), HsmError> {
    let module = uri.module()?;
    let fail = |e: cryptoki::error::Error| HsmError::Module { module: module.clone(), detail: e.to_string() };
    if !module.is_file() {
        return Err(HsmError::Module { module: module.clone(), detail: "no such file".into() });
    }
    let pkcs11 = Pkcs11::new(&module).map_err(fail)?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(fail(e)),
    }
    let mut present = Vec::new();
    let mut found = None;
    for slot in pkcs11.get_slots_with_token().map_err(fail)? {
        let label = pkcs11.get_token_info(slot).map_err(fail)?.label().trim_end().to_owned();
        if label == uri.token && found.is_none() {
            found = Some(slot);
        }
        if !label.is_empty() {
            present.push(label);
        }
    }
    let slot = found.ok_or_else(|| HsmError::NoToken { token: uri.token.clone(), present: present.join(", ") })?;
    let session = pkcs11.open_rw_session(slot).map_err(op("open a session"))?;
    let pin = AuthPin::new(pin.to_owned().into());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) => {}
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
        Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::PinIncorrect | cryptoki::error::RvError::PinLenRange,
            _,
        )) => return Err(HsmError::WrongPin { token: uri.token.clone() }),
        Err(e) => return Err(op("log in")(e)),
    }
    Ok((pkcs11, session))
}

fn find(session: &Session, class: ObjectClass, label: &str) -> Result<Vec<ObjectHandle>, HsmError> {
    let template = [Attribute::Class(class), Attribute::KeyType(KeyType::EC_EDWARDS), Attribute::Label(label.into())];
    session.find_objects(&template).map_err(op("find the key"))
}

/// The public key of a `CKA_EC_POINT`: the 32 bytes, DER-wrapped in an
/// OCTET STRING (as PKCS#11 specifies) or bare (as some modules give them).
fn public_of(session: &Session, handle: ObjectHandle) -> Result<PublicKey, HsmError> {
    let attrs = session.get_attributes(handle, &[AttributeType::EcPoint]).map_err(op("read the public key"))?;
    let point = attrs
        .into_iter()
        .find_map(|a| if let Attribute::EcPoint(p) = a { Some(p) } else { None })
        .ok_or_else(|| HsmError::Operation { action: "read the public key", detail: "no CKA_EC_POINT".into() })?;
    let raw: &[u8] = match point.as_slice() {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        bare if bare.len() == 32 => bare,
        _ => {
            return Err(HsmError::Operation {
                action: "read the public key",
                detail: format!("CKA_EC_POINT of {} bytes is not an Ed25519 key", point.len()),
            });
        }
    };
    let bytes: [u8; 32] = raw.try_into().expect("32 bytes");
    PublicKey::from_bytes(&bytes)
        .map_err(|e| HsmError::Operation { action: "read the public key", detail: e.to_string() })
}

/// An Ed25519 signing key inside a PKCS#11 token.
pub struct HsmKey {
    // The module stays loaded as long as the key is used.
    _pkcs11: Pkcs11,
    session: Mutex<Session>,
    handle: ObjectHandle,
    public: PublicKey,
}

impl std::fmt::Debug for HsmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmKey").field("kid", &self.public.kid()).finish_non_exhaustive()
    }
}

impl HsmKey {
    /// Makes an Ed25519 key pair labelled `uri.object` inside the token:
    /// the private key sensitive, never extractable, for signing only.
    /// Refuses a label the token already has. Returns the public key.
    pub fn generate(uri: &Pkcs11Uri, pin: &str) -> Result<PublicKey, HsmError> {
        let (_pkcs11, session) = session(uri, pin)?;
        let taken = |class| find(&session, class, &uri.object).map(|v| !v.is_empty());
        if taken(ObjectClass::PRIVATE_KEY)? || taken(ObjectClass::PUBLIC_KEY)? {
            return Err(HsmError::KeyExists { token: uri.token.clone(), object: uri.object.clone() });
        }
        let id = license_common::random::bytes::<16>()
            .map_err(|e| HsmError::Operation { action: "make a key id", detail: e.to_string() })?;
        let public = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(ED25519_PARAMS.to_vec()),
            Attribute::Label(uri.object.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(uri.object.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        let (public, _) = session
            .generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private)
            .map_err(op("make the key pair"))?;
        public_of(&session, public)
    }

    /// Opens the key `uri` names, logged in with `pin`.
    pub fn open(uri: &Pkcs11Uri, pin: &str) -> Result<HsmKey, HsmError> {
        let (pkcs11, session) = session(uri, pin)?;
        let no_key = || HsmError::NoKey { token: uri.token.clone(), object: uri.object.clone() };
        let handle = *find(&session, ObjectClass::PRIVATE_KEY, &uri.object)?.first().ok_or_else(no_key)?;
        let public_handle = *find(&session, ObjectClass::PUBLIC_KEY, &uri.object)?.first().ok_or_else(no_key)?;
        let public = public_of(&session, public_handle)?;
        let key = HsmKey { _pkcs11: pkcs11, session: Mutex::new(session), handle, public };
        // A private key that does not match its public key would sign
        // licenses nobody can verify: check once before the first use.
        let probe = b"license-issuer pkcs11 probe";
        let signature = key.sign(probe).map_err(|e| HsmError::Operation { action: "sign", detail: e.detail })?;
        let verified = ed25519_dalek::Signature::from_bytes(&signature);
        if key.public.verifying_key().verify_strict(probe, &verified).is_err() {
            return Err(HsmError::Operation {
                action: "sign",
                detail: format!("the private key labelled `{}` does not match its public key", uri.object),
            });
        }
        Ok(key)
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }
}

impl Signer for HsmKey {
    type Error = SignError;

    fn kid(&self) -> KeyId {
        self.public.kid()
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignError> {
        let fail = |detail: String| SignError { kid: self.public.kid(), detail };
        let session = self.session.lock().map_err(|_| fail("a signing thread panicked".into()))?;
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let signature =
            Zeroizing::new(session.sign(&mechanism, self.handle, message).map_err(|e| fail(e.to_string()))?);
        signature[..].try_into().map_err(|_| fail(format!("a signature of {} bytes, not 64", signature.len())))
    }
}

impl crate::ledger::LedgerSigner for HsmKey {
    fn public_key(&self) -> PublicKey {
        self.public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_name_a_token_and_an_object_and_never_a_pin() {
        let u =
            Pkcs11Uri::parse("pkcs11:token=Vendor%20CA;object=issuer-2026?module-path=/usr/lib/softhsm/libsofthsm2.so")
                .unwrap();
        assert_eq!(u.token, "Vendor CA");
        assert_eq!(u.object, "issuer-2026");
        assert_eq!(u.module_path.as_deref(), Some(std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so")));
        let u = Pkcs11Uri::parse("pkcs11:object=k;token=t;type=private?pin-source=file:/etc/issuer/pin").unwrap();
        assert_eq!(u.pin_file.as_deref(), Some(std::path::Path::new("/etc/issuer/pin")));
        assert!(Pkcs11Uri::is_uri("PKCS11:token=t;object=k") && !Pkcs11Uri::is_uri("keys/issuer.key"));
        for (text, want) in [
            ("pkcs11:token=t", "names no `object`"),
            ("pkcs11:object=k", "names no `token`"),
            ("pkcs11:token=t;object=k;colour=red", "unknown attribute `colour`"),
            ("pkcs11:token=t;object=k?modulepath=/x", "unknown query attribute"),
            ("pkcs11:token=t;id=%01;object=k", "`id` is not supported"),
            ("pkcs11:token=t;object", "has no `=`"),
            ("pkcs11:token=a;token=b;object=k", "`token` is given twice"),
            ("pkcs11:token=t;object=k?module-path=/a.so&module-path=/b.so", "`module-path` is given twice"),
            ("pkcs11:token=%zz;object=k", "`token` has a `%` that is not followed by two hex digits"),
            ("pkcs11:token=t;object=k%4", "`object` has a `%`"),
            ("pkcs11:token=t;object=%ff", "`object` is not UTF-8"),
        ] {
            let e = Pkcs11Uri::parse(text).unwrap_err();
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
        for text in ["pkcs11:token=t;object=k;pin-value=1234", "pkcs11:token=t;object=k?pin-value=1234"] {
            let e = Pkcs11Uri::parse(text).unwrap_err();
            assert!(matches!(e, HsmError::PinInUri), "{text}: {e}");
            assert!(!e.to_string().contains("1234"));
        }
    }

    #[test]
    fn a_missing_module_is_named_and_nothing_is_loaded() {
        let u = Pkcs11Uri::parse("pkcs11:token=t;object=k?module-path=/nonexistent/module.so").unwrap();
        let e = HsmKey::open(&u, "1234").unwrap_err();
        assert!(matches!(e, HsmError::Module { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/module.so"), "{e}");
    }
}
