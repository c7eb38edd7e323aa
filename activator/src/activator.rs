//! The activator handle: one open state directory.

use std::path::Path;

use license_common::armor;
use license_common::envelope::{self, Kind, Verified};
use license_common::keys::{KeyId, Keyring, PublicKey};
use license_common::license::{License, Phase};
use license_common::time::Timestamp;

use crate::credentials::{Credentials, SealKey, SealedCredentials};
use crate::entitlement::{self, Grant};
use crate::error::{ActivatorError, Denied};
use crate::gateway::GatewayTemplate;
use crate::history::{HistoryEntry, MAX_HISTORY};
use crate::replay;
use crate::status::Status;
use crate::store::{STORE_FORMAT, StateFile, Store, StoredLicense};
use license_common::fsio::{self, DirLock};

/// The license in force on this install, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveLicense {
    /// The license content.
    pub license: License,
    /// The key that signed it.
    pub kid: KeyId,
    /// When this install activated it.
    pub activated_at: Timestamp,
}

/// What [`Activator::activate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// The license now in force.
    pub license: License,
    /// True when this very license was already in force: nothing was written.
    pub already_active: bool,
    /// The id of the license it replaced, if any.
    pub replaced: Option<String>,
    /// Things the operator should know (e.g. how the gateway address was read).
    pub notes: Vec<String>,
    /// True when the state directory was written.
    pub changed: bool,
}

/// The outcome of [`Activator::apply`].
pub(crate) struct Applied {
    pub activation: Option<Activation>,
    pub notes: Vec<String>,
}

/// An open state directory: its product, trusted keys and activated license.
///
/// Reading (`status`, `check`) needs no lock: files are replaced atomically,
/// so a reader sees the old state or the new one. Writing (`activate`) takes
/// the directory's lock, reads the state again under it, and replaces
/// `state.json` atomically; any refusal leaves the directory untouched.
#[derive(Debug)]
pub struct Activator {
    pub(crate) store: Store,
    product: String,
    keyring: Keyring,
    current: Option<ActiveLicense>,
    problems: Vec<String>,
    pub(crate) gateway: Option<GatewayTemplate>,
    pub(crate) credentials: Option<SealedCredentials>,
    history: Vec<HistoryEntry>,
    pub(crate) usage: std::collections::BTreeMap<chrono::NaiveDate, u64>,
    pub(crate) high_water: Option<Timestamp>,
    revocations: Option<license_common::revocation::RevocationList>,
    region: Option<String>,
}

/// How far the clock may read behind the newest trusted time seen before it
/// counts as set back: one hour (clock corrections and small drifts pass).
pub const CLOCK_TOLERANCE: chrono::Duration = chrono::Duration::hours(1);

/// The rest of an activation: gateway, credentials, and whether a license of
/// another account may replace the one in force.
#[derive(Debug, Default)]
pub struct Setup<'a> {
    /// The data gateway address template (`...?token={}`).
    pub gateway: Option<&'a str>,
    /// The access key pair, sealed when stored.
    pub credentials: Option<Credentials>,
    /// Allow a license of another account to replace the one in force (a
    /// deliberate account change); the activation's notes say what was
    /// thrown away.
    pub replace_account: bool,
}

impl Activator {
    /// Creates a state directory for `product` that trusts `keys`, in the
    /// community edition. Refuses a directory that is already initialised.
    pub fn init(dir: &Path, product: &str, keys: &[PublicKey]) -> Result<Self, ActivatorError> {
        let product = product.trim();
        if product.is_empty() || product.chars().any(char::is_control) {
            return Err(ActivatorError::InvalidArgument("the product id is empty or has control characters".into()));
        }
        if keys.is_empty() {
            return Err(ActivatorError::InvalidArgument(
                "at least one trusted vendor public key is needed (--trust VENDOR.pub)".into(),
            ));
        }
        fsio::create_private_dir(dir).map_err(ActivatorError::io("create", dir))?;
        let store = Store::new(dir);
        store.check_owner()?;
        let _lock = DirLock::acquire(dir).map_err(ActivatorError::io("lock", dir))?;
        if store.is_initialised() {
            return Err(ActivatorError::AlreadyInitialised { dir: dir.to_path_buf() });
        }
        let keyring = Keyring::from_keys(keys.iter().copied());
        store.write_keyring(&keyring)?;
        crate::identity::InstallKey::load(dir, true)?;
        store.write_state(&StateFile {
            format: STORE_FORMAT,
            product: product.to_owned(),
            license: None,
            gateway: None,
            credentials: None,
            history: Vec::new(),
            usage: Default::default(),
            high_water: None,
            region: None,
            revocations: None,
        })?;
        Ok(Activator::blank(store, product.to_owned(), keyring))
    }

    /// A handle with nothing loaded yet.
    fn blank(store: Store, product: String, keyring: Keyring) -> Self {
        Activator {
            store,
            product,
            keyring,
            current: None,
            problems: Vec::new(),
            gateway: None,
            credentials: None,
            history: Vec::new(),
            usage: Default::default(),
            high_water: None,
            revocations: None,
            region: None,
        }
    }

    /// Opens an initialised state directory.
    ///
    /// The stored license is verified again with the stored keyring; if it no
    /// longer verifies (its key was removed, the file was edited) the install
    /// is in the community edition and [`Status::warnings`] says why.
    pub fn open(dir: &Path) -> Result<Self, ActivatorError> {
        let store = Store::new(dir);
        store.check_owner()?;
        let state = store.read_state()?;
        let keyring = store.read_keyring()?;
        let mut activator = Activator::blank(store, state.product.clone(), keyring);
        activator.load(state);
        Ok(activator)
    }

    /// Opens `dir` for a launcher whose trusted keys are compiled in: the
    /// directory is initialised (community edition) if it is not yet, and
    /// licenses are verified with `keyring`, not with the keyring file.
    pub fn open_with_keyring(dir: &Path, product: &str, keyring: Keyring) -> Result<Self, ActivatorError> {
        if !Store::new(dir).is_initialised() {
            let keys: Vec<PublicKey> = keyring.keys().iter().map(|k| k.key).collect();
            match Activator::init(dir, product, &keys) {
                Ok(_) | Err(ActivatorError::AlreadyInitialised { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut activator = Activator::open(dir)?;
        if activator.product != product {
            return Err(ActivatorError::OtherProduct {
                dir: dir.to_path_buf(),
                found: activator.product.clone(),
                wanted: product.to_owned(),
            });
        }
        activator.keyring = keyring;
        let state = activator.store.read_state()?;
        activator.load(state);
        Ok(activator)
    }

    fn load(&mut self, state: StateFile) {
        self.product = state.product;
        self.current = None;
        self.problems.clear();
        self.credentials = state.credentials;
        self.history = state.history;
        self.usage = state.usage;
        self.high_water = state.high_water;
        self.gateway = None;
        if let Some(text) = state.gateway {
            match GatewayTemplate::from_stored(&text) {
                Ok(template) => self.gateway = Some(template),
                Err(e) => self.problems.push(format!("the stored gateway address is not valid ({e})")),
            }
        }
        self.revocations = state.revocations;
        self.region = state.region;
        if let Some(stored) = state.license {
            let accepted = envelope::open::<License>(&stored.token, Kind::License, &self.keyring)
                .map_err(ActivatorError::from)
                .and_then(|v| v.content.check_shape().map(|()| v).map_err(ActivatorError::InvalidLicense))
                .and_then(|v| self.still_valid(&v.content, v.kid).map(|()| v));
            match accepted {
                Ok(Verified { content, kid }) => {
                    self.current = Some(ActiveLicense { license: content, kid, activated_at: stored.activated_at })
                }
                Err(e) => self.problems.push(format!(
                    "the stored license is no longer accepted: {e}; the install runs the community edition"
                )),
            }
        }
    }

    /// Checks what can change after a license was first verified: its key's
    /// retirement date and the vendor's revocations.
    fn still_valid(&self, license: &License, kid: KeyId) -> Result<(), ActivatorError> {
        if let Some(not_after) = self.keyring.get(&kid).and_then(|k| k.not_after)
            && license.issued_at > not_after
        {
            return Err(ActivatorError::KeyRetired {
                id: license.id.clone(),
                issued_at: license.issued_at,
                kid,
                not_after,
            });
        }
        if let Some(r) = self.revocations.as_ref().and_then(|list| list.find(&license.id)) {
            return Err(ActivatorError::Revoked {
                id: license.id.clone(),
                reason: r.reason.clone(),
                revoked_at: r.revoked_at,
            });
        }
        Ok(())
    }

    /// Replaces the keyring in use and verifies the state again with it.
    pub(crate) fn set_keyring(&mut self, keyring: Keyring) -> Result<(), ActivatorError> {
        self.keyring = keyring;
        let state = self.store.read_state()?;
        self.load(state);
        Ok(())
    }

    /// Takes `state` (just written) as the state in force.
    pub(crate) fn reload(&mut self, state: StateFile) {
        self.load(state);
    }

    /// The newest revocation list imported, if any.
    pub fn revocations(&self) -> Option<&license_common::revocation::RevocationList> {
        self.revocations.as_ref()
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.store.dir
    }

    /// The product this install runs.
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The trusted keys.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Sets the install's region or site: from now on a license for another
    /// region is refused (the license in force must match it).
    pub fn set_region(&mut self, region: &str) -> Result<(), ActivatorError> {
        let region = region.trim();
        if region.is_empty() || region.chars().any(char::is_control) {
            return Err(ActivatorError::InvalidArgument("the region is empty or has control characters".into()));
        }
        self.update(|state, current| {
            if let Some(c) = current
                && c.license.region != region
            {
                return Err(ActivatorError::WrongRegion {
                    id: c.license.id.clone(),
                    license: c.license.region.clone(),
                    install: region.to_owned(),
                });
            }
            state.region = Some(region.to_owned());
            Ok(())
        })
    }

    /// The install's region, if set.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// What was activated when, oldest first.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    /// The license in force, if any (whatever its phase).
    pub fn current(&self) -> Option<&ActiveLicense> {
        self.current.as_ref()
    }

    /// Verifies a license text (armored or compact) for activation at `now`,
    /// without changing anything: signature by a trusted key, the rules
    /// every license follows, this product, `not_before`, `activate_by` and
    /// expiry.
    pub fn verify(&self, text: &str, now: Timestamp) -> Result<Verified<License>, ActivatorError> {
        let (_, verified) = self.verify_token(text, now)?;
        replay::admit(self.current.as_ref(), &self.history, &verified.content, false, now)?;
        Ok(verified)
    }

    fn verify_token(&self, text: &str, now: Timestamp) -> Result<(String, Verified<License>), ActivatorError> {
        let token = armor::read(text, Kind::License)?;
        let verified: Verified<License> = envelope::open(&token, Kind::License, &self.keyring)?;
        let license = &verified.content;
        license.check_shape().map_err(ActivatorError::InvalidLicense)?;
        self.still_valid(license, verified.kid)?;
        if license.product != self.product {
            return Err(ActivatorError::WrongProduct {
                id: license.id.clone(),
                license: license.product.clone(),
                install: self.product.clone(),
            });
        }
        if let Some(region) = &self.region
            && &license.region != region
        {
            return Err(ActivatorError::WrongRegion {
                id: license.id.clone(),
                license: license.region.clone(),
                install: region.clone(),
            });
        }
        match license.phase_at(now) {
            Phase::NotYetValid { starts_at } => {
                return Err(ActivatorError::NotYetValid { id: license.id.clone(), starts_at });
            }
            Phase::Grace { expired_at, .. } | Phase::Released { expired_at, .. } => {
                return Err(ActivatorError::Expired { id: license.id.clone(), expired_at });
            }
            Phase::Active { .. } => {}
        }
        if let Some(bound) = &license.install {
            let this = crate::identity::InstallKey::load(self.dir(), false)?.map(|k| k.id());
            if this.as_deref() != Some(bound.as_str()) {
                return Err(ActivatorError::OtherInstall {
                    id: license.id.clone(),
                    bound: bound.clone(),
                    this: this.unwrap_or_else(|| "none: no install key yet".into()),
                });
            }
        }
        if let Some(mark) = self.clock_set_back(now) {
            return Err(ActivatorError::ClockSetBack { now, mark });
        }
        Ok((token, verified))
    }

    /// Verifies and activates a license: all or nothing.
    ///
    /// Applying the license already in force again is not an error; it
    /// reports `already_active` and writes nothing.
    pub fn activate(&mut self, text: &str, now: Timestamp) -> Result<Activation, ActivatorError> {
        self.activate_with(text, Setup::default(), now)
    }

    /// Activates a license together with the gateway address and the access
    /// key pair, in one atomic step: if any of them is refused, none is
    /// stored and the previous license, gateway and credentials stay.
    pub fn activate_with(
        &mut self,
        text: &str,
        setup: Setup<'_>,
        now: Timestamp,
    ) -> Result<Activation, ActivatorError> {
        let applied = self.apply(Some((text, now, setup.replace_account)), setup.gateway, setup.credentials)?;
        let mut activation = applied.activation.expect("a license was given");
        activation.notes = applied.notes;
        Ok(activation)
    }

    /// Applies a change atomically, under the directory lock. Everything
    /// that can be checked is checked before the lock is taken.
    pub(crate) fn apply(
        &mut self,
        license: Option<(&str, Timestamp, bool)>,
        gateway: Option<&str>,
        credentials: Option<Credentials>,
    ) -> Result<Applied, ActivatorError> {
        let license =
            license.map(|(text, now, replace)| self.verify_token(text, now).map(|v| (v, now, replace))).transpose()?;
        let gateway = gateway.map(GatewayTemplate::parse).transpose()?;
        let _lock = DirLock::acquire(self.dir()).map_err(ActivatorError::io("lock", self.dir().to_path_buf()))?;
        // Another process may have written since we opened: decide on the
        // state as it is now, under the lock.
        let state = self.store.read_state()?;
        self.load(state.clone());
        let mut next = state.clone();
        let mut activation = None;
        let mut notes = Vec::new();
        if let Some(((token, verified), now, replace)) = license {
            let license = verified.content;
            let admission = replay::admit(self.current.as_ref(), &self.history, &license, replace, now)?;
            next.high_water = next.high_water.max(Some(now)).max(Some(license.issued_at));
            if !admission.already_active {
                next.license = Some(StoredLicense { token, activated_at: now });
                next.history.push(HistoryEntry {
                    at: now,
                    license: license.id.clone(),
                    account: license.account.clone(),
                    edition: license.edition.clone(),
                    sequence: license.sequence,
                    expires_at: license.expires_at,
                    replaced: admission.replaced.clone(),
                    account_change: admission.account_change,
                    event: crate::history::HistoryEvent::Activated,
                });
                let excess = next.history.len().saturating_sub(MAX_HISTORY);
                next.history.drain(..excess);
            }
            notes.extend(admission.notes);
            activation = Some(Activation {
                license,
                already_active: admission.already_active,
                replaced: if admission.already_active { None } else { admission.replaced },
                notes: Vec::new(),
                changed: false,
            });
        }
        if let Some(parsed) = gateway {
            next.gateway = Some(parsed.template.as_str().to_owned());
            notes.extend(parsed.notes);
        }
        if let Some(credentials) = credentials {
            let key = SealKey::load(self.dir(), true)?.expect("created when missing");
            next.credentials = Some(key.seal(&credentials));
        }
        let changed = next != state;
        if changed {
            self.store.write_state(&next)?;
            self.load(next);
        }
        if let Some(a) = activation.as_mut() {
            a.changed = changed;
        }
        Ok(Applied { activation, notes })
    }

    /// A locked read-modify-write of the state: `change` sees the state as
    /// it is on disk now and the license in force; the file is replaced
    /// atomically only when `change` succeeds and changed something.
    pub(crate) fn update<T>(
        &mut self,
        change: impl FnOnce(&mut StateFile, Option<&ActiveLicense>) -> Result<T, ActivatorError>,
    ) -> Result<T, ActivatorError> {
        let _lock = DirLock::acquire(self.dir()).map_err(ActivatorError::io("lock", self.dir().to_path_buf()))?;
        let state = self.store.read_state()?;
        self.load(state.clone());
        let mut next = state.clone();
        let out = change(&mut next, self.current.as_ref())?;
        if next != state {
            self.store.write_state(&next)?;
            self.load(next);
        }
        Ok(out)
    }

    /// Records that the activator ran at `now`, raising the high-water mark
    /// of trusted time (written at most every ten minutes). Call it whenever
    /// the product starts or checks in; it never lowers the mark.
    pub fn observe_clock(&mut self, now: Timestamp) -> Result<(), ActivatorError> {
        let stale = self.high_water.is_none_or(|mark| now > mark.plus(chrono::Duration::minutes(10)));
        if !stale {
            return Ok(());
        }
        self.update(|state, _| {
            state.high_water = state.high_water.max(Some(now));
            Ok(())
        })
    }

    /// `Some(mark)` when `now` is earlier than the newest trusted time seen
    /// by more than [`CLOCK_TOLERANCE`]: the clock was set back.
    pub fn clock_set_back(&self, now: Timestamp) -> Option<Timestamp> {
        let mark = self.high_water?;
        (now.plus(CLOCK_TOLERANCE) < mark).then_some(mark)
    }

    /// Where this install stands at `now`.
    pub fn status(&self, now: Timestamp) -> Status {
        Status::new(self, now)
    }

    /// Is package `feature` (at `tier` or above, if given) entitled at `now`?
    pub fn check<'a>(&'a self, feature: &'a str, tier: Option<&str>, now: Timestamp) -> Result<Grant<'a>, Denied> {
        if let Some(mark) = self.clock_set_back(now) {
            return Err(Denied::ClockSetBack { now, mark });
        }
        entitlement::check(self.current.as_ref().map(|c| &c.license), feature, tier, now)
    }

    pub(crate) fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl std::fmt::Display for Activation {
    /// One line saying what happened (two when a license was replaced).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use license_common::text::escape;
        let l = &self.license;
        if self.already_active {
            let what = if self.changed { "; the other settings were updated" } else { "; nothing changed" };
            writeln!(f, "license {} is already active{what}", escape(&l.id))?;
        } else {
            writeln!(
                f,
                "activated license {} ({} edition, {}) for account {}",
                escape(&l.id),
                escape(&l.edition),
                l.plan,
                escape(&l.account)
            )?;
        }
        if let Some(old) = &self.replaced {
            writeln!(f, "it replaces license {}", escape(old))?;
        }
        for note in &self.notes {
            writeln!(f, "note: {}", escape(note))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
