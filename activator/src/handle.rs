//! The handle of an install's state directory: [`Activator`].
//!
//! Every change of the state goes through one primitive,
//! `Activator::transact`: take the directory's lock, read the state,
//! verify it into a [`Snapshot`], apply the change to a value of the state,
//! write it atomically (only when it changed), release the lock. Every
//! answer (status, checks, quotas) is computed from the snapshot the handle
//! holds, without I/O.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use license_common::envelope::Verified;
use license_common::keys::{KeyId, KeyUse, Keyring, PublicKey, TrustedKey};
use license_common::license::{License, Phase};
use license_common::time::Timestamp;

use crate::activation::{self, Activation, Setup};
use crate::airgap::{self, Released};
use crate::credentials::{Credentials, MaskedCredentials, SealKey};
use crate::entitlement::{self, Grant};
use crate::error::{ActivatorError, Denied};
use crate::gateway::GatewayTemplate;
use crate::history::HistoryEntry;
use crate::identity::InstallKey;
use crate::replay;
use crate::snapshot::{ActiveLicense, KeySource, Snapshot};
use crate::state::{StateFile, Store};
use crate::status::Status;
use crate::trust::{self, Imported, TrustedKeys};

/// Present while `init` runs: key files beside it are an unfinished init's,
/// removed and made again, never adopted.
const INIT_PENDING_FILE: &str = ".init-pending";

/// An open state directory: its product, trusted keys and activated license.
///
/// Reading (`status`, `check`) needs no lock: the state file is replaced
/// atomically, so a reader sees the old state or the new one. Every change
/// is one transaction (lock, read, verify, change a value, write atomically); any refusal leaves the
/// directory untouched.
#[derive(Debug)]
pub struct Activator {
    store: Store,
    keys: KeySource,
    snapshot: Snapshot,
    /// The state file as this handle last read or wrote it.
    seen: Option<service::FileStamp>,
}

/// What a new state directory is made with.
#[derive(Clone, Copy, Debug)]
pub struct Init<'a> {
    /// The product the install runs, as named in its licenses.
    pub product: &'a str,
    /// The vendor keys it trusts (at least one).
    pub keys: &'a [PublicKey],
    /// The install's region or site, if licenses for another are to be refused.
    pub region: Option<&'a str>,
    /// False for a product without a free edition: with no license in
    /// force the install runs nothing (not a community edition), and a
    /// released instance's data is due for deletion.
    pub free_edition: bool,
}

impl<'a> Init<'a> {
    /// An install of `product` trusting `keys`, in no particular region,
    /// of a product with a free (community) edition.
    pub fn new(product: &'a str, keys: &'a [PublicKey]) -> Self {
        Init { product, keys, region: None, free_edition: true }
    }

    /// The same in `region`.
    pub fn in_region(self, region: &'a str) -> Self {
        Init { region: Some(region), ..self }
    }

    /// The same for a product without a free edition.
    pub fn without_free_edition(self) -> Self {
        Init { free_edition: false, ..self }
    }
}

/// A state directory just made (`activator init --json`, format 1):
/// `{"format": 1, "state": "DIR", "product": "...", "region": "..." | null,
///   "trusted_keys": ["<kid>", …], "edition": "community", "install_id": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Initialised {
    /// Version of this JSON shape.
    pub format: u32,
    /// The state directory.
    pub state: std::path::PathBuf,
    /// The product.
    pub product: String,
    /// The region, if set.
    pub region: Option<String>,
    /// The trusted key ids.
    pub trusted_keys: Vec<KeyId>,
    /// `community` (nothing is activated yet), or `none` for a product
    /// without a free edition.
    pub edition: &'static str,
    /// The install id.
    pub install_id: String,
}

/// A text with no control characters and not empty.
fn plain(what: &'static str, text: &str) -> Result<String, ActivatorError> {
    let text = text.trim();
    if text.is_empty() || text.chars().any(char::is_control) {
        return Err(ActivatorError::InvalidName { what });
    }
    Ok(text.to_owned())
}

impl Activator {
    /// Creates a state directory (mode 0700, files 0600) in the community
    /// edition. Refuses a directory that is already initialised; checks the
    /// product and region before anything is created.
    pub fn init(dir: &Path, init: &Init<'_>) -> Result<(Activator, Initialised), ActivatorError> {
        let product = plain("product id", init.product)?;
        let region = init.region.map(|r| plain("region", r)).transpose()?;
        if init.keys.is_empty() {
            return Err(ActivatorError::NoTrustedKeys);
        }
        license_common::fsio::create_private_dir(dir).map_err(ActivatorError::io("create", dir))?;
        let store = Store::new(dir);
        store.check_owner()?;
        store.check_permissions()?;
        let _lock = store.lock()?;
        if store.is_initialised() {
            return Err(ActivatorError::AlreadyInitialised { dir: dir.to_path_buf() });
        }
        // A key found before init was not made here: never adopt it. One
        // left by an init that was killed before it wrote the state was
        // never used (nothing can open a directory without a state): it is
        // removed and made again.
        let pending = dir.join(INIT_PENDING_FILE);
        let interrupted = std::fs::symlink_metadata(&pending).is_ok();
        for name in [
            crate::identity::INSTALL_KEY_FILE,
            crate::credentials::SEAL_KEY_FILE,
            crate::integrity::STATE_KEY_FILE,
            crate::integrity::GENERATION_FILE,
        ] {
            let path = dir.join(name);
            if std::fs::symlink_metadata(&path).is_ok() {
                if !interrupted {
                    return Err(ActivatorError::KeyFilePresent { path });
                }
                std::fs::remove_file(&path).map_err(ActivatorError::io("remove", &path))?;
            }
        }
        license_common::fsio::write_atomic(dir, INIT_PENDING_FILE, b"an init is under way\n", 0o600)
            .map_err(ActivatorError::io("write", &pending))?;
        let keyring = Keyring::from_keys(init.keys.iter().copied());
        let install_id = InstallKey::load_or_create(dir)?.id();
        license_common::fsio::fault_point("init-key-made");
        let mut state = StateFile::new(&product, &keyring, region.clone());
        state.free_edition = (!init.free_edition).then_some(false);
        store.write(&state)?;
        std::fs::remove_file(&pending).map_err(ActivatorError::io("remove", &pending))?;
        license_common::fsio::sync_dir(dir).map_err(ActivatorError::io("sync", dir))?;
        let snapshot = Snapshot::verify(&state, &KeySource::Stored, Some(install_id.clone()), &store.state_path())?;
        let seen = service::FileStamp::of(&store.state_path());
        let activator = Activator { store, keys: KeySource::Stored, snapshot, seen };
        let done = Initialised {
            format: 1,
            state: dir.to_path_buf(),
            product,
            region,
            trusted_keys: keyring.keys().iter().map(|k| k.key.kid()).collect(),
            edition: if init.free_edition { "community" } else { "none" },
            install_id,
        };
        Ok((activator, done))
    }

    /// Opens an initialised state directory.
    ///
    /// The stored license is verified again with the stored keyring; if it no
    /// longer verifies (its key was removed, the file was edited) the install
    /// is in the community edition and [`Status::warnings`] says why.
    pub fn open(dir: &Path) -> Result<Self, ActivatorError> {
        Self::open_with(dir, KeySource::Stored)
    }

    /// Opens `dir` for a launcher whose trusted keys are compiled in: the
    /// directory is initialised (community edition) if it is not yet, and
    /// licenses are verified with `keyring` (with the vendor's retirement
    /// notices applied), never with the stored keyring.
    pub fn open_with_keyring(dir: &Path, product: &str, keyring: Keyring) -> Result<Self, ActivatorError> {
        if !Store::new(dir).is_initialised() {
            let keys: Vec<PublicKey> = keyring.keys().iter().map(|k| k.key).collect();
            match Activator::init(dir, &Init::new(product, &keys)) {
                Ok(_) | Err(ActivatorError::AlreadyInitialised { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let activator = Self::open_with(dir, KeySource::CompiledIn(keyring))?;
        if activator.snapshot.product != product {
            return Err(ActivatorError::OtherProduct {
                dir: dir.to_path_buf(),
                found: activator.snapshot.product.clone(),
                wanted: product.to_owned(),
            });
        }
        Ok(activator)
    }

    fn open_with(dir: &Path, keys: KeySource) -> Result<Self, ActivatorError> {
        let store = Store::new(dir);
        store.check_owner()?;
        store.check_permissions()?;
        let state = store.read()?;
        let install_id = InstallKey::load(dir, false)?.map(|k| k.id());
        let snapshot = Snapshot::verify(&state, &keys, install_id, &store.state_path())?;
        let seen = service::FileStamp::of(&store.state_path());
        Ok(Activator { store, keys, snapshot, seen })
    }

    /// The one way the state changes: under the directory's lock, the state
    /// as it is on disk now is read and verified, `change` is applied to a
    /// copy of it, and the copy replaces the file atomically when it differs.
    /// A refusal of `change` writes nothing. The handle then holds the new
    /// state.
    fn transact<T>(
        &mut self,
        change: impl FnOnce(&mut StateFile, &Snapshot, &Path) -> Result<T, ActivatorError>,
    ) -> Result<T, ActivatorError> {
        let _lock = self.store.lock()?;
        let state = self.store.read()?;
        let install_id = InstallKey::load(&self.store.dir, false)?.map(|k| k.id());
        let path = self.store.state_path();
        let snapshot = Snapshot::verify(&state, &self.keys, install_id.clone(), &path)?;
        let mut next = state.clone();
        if state.format < crate::state::STORE_FORMAT {
            // A directory of an earlier release: seed what format 3 keeps.
            if let Some(current) = &snapshot.current {
                crate::chains::saw(&mut next.chains, &current.license);
            }
            next.machine = next.machine.take().or_else(crate::identity::machine_fingerprint);
        }
        let out = change(&mut next, &snapshot, &self.store.dir)?;
        if next != state || state.format != crate::state::STORE_FORMAT {
            self.store.write(&next)?;
        }
        let install_id = InstallKey::load(&self.store.dir, false)?.map(|k| k.id()).or(install_id);
        self.snapshot = Snapshot::verify(&next, &self.keys, install_id, &path)?;
        self.seen = service::FileStamp::of(&path);
        Ok(out)
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.store.dir
    }

    /// The product this install runs.
    pub fn product(&self) -> &str {
        &self.snapshot.product
    }

    /// The keys in use (the stored keyring or the compiled-in keys), with
    /// the vendor's retirement notices applied.
    pub fn keyring(&self) -> &Keyring {
        &self.snapshot.keyring
    }

    /// The trusted keys, as `activator trust list` shows them.
    pub fn trusted_keys(&self) -> TrustedKeys {
        TrustedKeys::of(&self.snapshot)
    }

    /// The install's region, if set.
    pub fn region(&self) -> Option<&str> {
        self.snapshot.region.as_deref()
    }

    /// Whether the product has a free (community) edition to fall back to:
    /// false when `init` said it has none, or a license of the product did.
    pub fn has_free_edition(&self) -> bool {
        self.snapshot.free_edition
    }

    /// What the install runs with no license in force, for messages.
    pub fn without_license(&self) -> &'static str {
        if self.snapshot.free_edition {
            "this install runs the community edition"
        } else {
            "this install runs nothing until a license is activated (this product has no free edition)"
        }
    }

    /// What was activated when, oldest first.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.snapshot.history
    }

    /// The license in force, if any (whatever its phase).
    pub fn current(&self) -> Option<&ActiveLicense> {
        self.snapshot.current.as_ref()
    }

    /// The newest revocation list imported, if any.
    pub fn revocations(&self) -> Option<&license_common::revocation::RevocationList> {
        self.snapshot.revocations.as_ref()
    }

    /// Sets the install's region or site: from now on a license for another
    /// region is refused (the license in force must match it).
    pub fn set_region(&mut self, region: &str) -> Result<(), ActivatorError> {
        let region = plain("region", region)?;
        self.transact(|state, snapshot, _| {
            if let Some(c) = &snapshot.current
                && c.license.region != region
            {
                return Err(ActivatorError::WrongRegion {
                    id: c.license.id.clone(),
                    license: c.license.region.clone(),
                    install: region.clone(),
                });
            }
            state.region = Some(region.clone());
            Ok(())
        })
    }

    /// Verifies a license text (armored or compact) for activation at `now`,
    /// without changing anything: every check [`Activator::activate`] makes.
    pub fn verify(&self, text: &str, now: Timestamp) -> Result<Verified<License>, ActivatorError> {
        let admitted = activation::admit(&self.snapshot, text, now)?;
        let snapshot = &self.snapshot;
        let admission =
            replay::admit(snapshot.current.as_ref(), &snapshot.history, &admitted.verified.content, false, now)?;
        if !admission.already_active {
            crate::snapshot::floors_admit(&snapshot.chains, &admitted.verified.content)?;
        }
        Ok(admitted.verified)
    }

    /// Verifies and activates a license: all or nothing. Applying the license
    /// already in force again is not an error; it reports `already_active`
    /// and writes nothing.
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
        let gateway = setup.gateway.map(GatewayTemplate::parse).transpose()?;
        self.transact(|state, snapshot, dir| {
            let before = state.clone();
            let admitted = activation::admit(snapshot, text, now)?;
            let mut done = activation::apply(state, snapshot, admitted, setup.replace_account, now)?;
            if let Some(parsed) = gateway {
                state.gateway = Some(parsed.template.as_str().to_owned());
                done.notes.extend(parsed.notes);
            }
            if let Some(credentials) = &setup.credentials {
                state.credentials = Some(seal(dir, credentials)?);
            }
            done.changed = *state != before;
            Ok(done)
        })
    }

    /// Stores the gateway address template (atomically). Returns notes on
    /// how it was read, e.g. that `%7B%7D` was taken as the placeholder.
    pub fn set_gateway(&mut self, url: &str) -> Result<Vec<String>, ActivatorError> {
        let parsed = GatewayTemplate::parse(url)?;
        self.transact(|state, _, _| {
            state.gateway = Some(parsed.template.as_str().to_owned());
            Ok(parsed.notes)
        })
    }

    /// The stored gateway template, if any.
    pub fn gateway(&self) -> Option<&GatewayTemplate> {
        self.snapshot.gateway.as_ref()
    }

    /// The gateway address for one workspace token.
    pub fn render_gateway(&self, workspace_token: &str) -> Result<String, ActivatorError> {
        let template = self.snapshot.gateway.as_ref().ok_or(ActivatorError::NoGateway)?;
        Ok(template.render(workspace_token)?)
    }

    /// Seals and stores the access key pair (atomically).
    pub fn set_credentials(&mut self, credentials: Credentials) -> Result<MaskedCredentials, ActivatorError> {
        self.transact(|state, _, dir| {
            let sealed = seal(dir, &credentials)?;
            let masked = sealed.masked();
            state.credentials = Some(sealed);
            Ok(masked)
        })
    }

    /// The access key and the masked secret, if set.
    pub fn credentials(&self) -> Option<MaskedCredentials> {
        self.snapshot.credentials.as_ref().map(|c| c.masked())
    }

    /// Unseals the access key pair for the launcher's own use.
    pub fn unseal_credentials(&self) -> Result<Option<Credentials>, ActivatorError> {
        let Some(sealed) = &self.snapshot.credentials else {
            return Ok(None);
        };
        let key = SealKey::load(self.dir(), false)?.ok_or(crate::credentials::CredentialsError::Unseal)?;
        Ok(Some(key.unseal(sealed)?))
    }

    /// A quota of the license in force (e.g. `processing_units`), while it
    /// is usable at `now`.
    pub fn quota(&self, name: &str, now: Timestamp) -> Option<u64> {
        let license = &self.current()?.license;
        match license.phase_at(now) {
            Phase::Active { .. } => license.quotas.get(name).copied(),
            _ => None,
        }
    }

    /// Trusts `key` (replacing its entry if present) for `usage`, optionally
    /// only for what it signed up to `not_after`.
    pub fn trust_add(
        &mut self,
        key: PublicKey,
        not_after: Option<Timestamp>,
        usage: KeyUse,
    ) -> Result<(), ActivatorError> {
        self.transact(|state, snapshot, dir| trust::add(state, snapshot, dir, TrustedKey { key, not_after, usage }))
    }

    /// Stops trusting the key `kid`: licenses it signed are refused from now
    /// on (the stored license too, if it is one of them, which the status's
    /// warnings then say). The last key cannot be removed.
    pub fn trust_remove(&mut self, kid: KeyId) -> Result<(), ActivatorError> {
        self.transact(|state, snapshot, dir| trust::remove(state, snapshot, dir, kid))
    }

    /// Verifies and imports a revocation list (armored or compact) at `now`:
    /// it must be signed by a key trusted for revocation lists, not retired
    /// by the list's date, later than the list already imported and not
    /// later than the clock allows. A revoked license in force drops the
    /// install to community; key retirement notices end the trust of the
    /// keys they name; chain floors are kept for good. The compiled-in keys
    /// of a launcher stay the keys in use.
    pub fn import_revocations(&mut self, text: &str, now: Timestamp) -> Result<Imported, ActivatorError> {
        self.transact(|state, snapshot, _| trust::import_revocations(state, snapshot, text, now))
    }

    /// Verifies and imports the vendor's time attestation for this install
    /// (`issuer attest-time --bind REQUEST`): the clock's high-water mark
    /// becomes the vendor's time, so an install whose mark a wrong clock
    /// pushed forward works again once its clock is right. It must be for
    /// this install and product, signed by a key trusted for licenses, and
    /// newer than the attestation imported before, and answer the newest
    /// request made here ([`Activator::request`]) while the mark has not
    /// moved since; the request is then used up. Returns the new mark.
    pub fn import_time(&mut self, text: &str) -> Result<Timestamp, ActivatorError> {
        let install_id = self.install_id()?;
        self.transact(|state, snapshot, _| {
            let token = license_common::armor::read(text, license_common::Kind::TimeAttestation)?;
            let att = license_common::envelope::open::<license_common::exchange::TimeAttestation>(
                &token,
                license_common::Kind::TimeAttestation,
                &snapshot.keyring,
            )?
            .content;
            if att.install_id != install_id || att.product != snapshot.product {
                return Err(ActivatorError::AttestationMismatch {
                    install: att.install_id,
                    product: att.product,
                    this: install_id.clone(),
                });
            }
            if let Some(have) = state.attested
                && att.time <= have
            {
                return Err(ActivatorError::StaleAttestation { time: att.time, have });
            }
            // Only an answer to the newest request, while the mark is where
            // it was then: a kept attestation cannot take the mark back to
            // a time the install has passed since.
            let pending = state.pending_request.as_ref();
            if att.request.is_none() || att.request.as_deref() != pending.map(|p| p.hash.as_str()) {
                return Err(ActivatorError::AttestationUnasked);
            }
            if let Some(p) = pending
                && p.mark != state.high_water
            {
                let shown = |t: Option<Timestamp>| t.map_or_else(|| "none".to_owned(), |t| t.to_string());
                return Err(ActivatorError::AttestationOvertaken {
                    then: shown(p.mark),
                    mark: shown(state.high_water),
                });
            }
            state.pending_request = None;
            state.attested = Some(att.time);
            state.high_water = Some(att.time);
            Ok(att.time)
        })
    }

    /// The install key, made (under the lock) on first use.
    fn install_key(&mut self) -> Result<InstallKey, ActivatorError> {
        if let Some(key) = InstallKey::load(self.dir(), false)? {
            return Ok(key);
        }
        self.transact(|_, _, dir| InstallKey::load_or_create(dir))
    }

    /// This install's id (the key id of its install key), made on first use.
    pub fn install_id(&mut self) -> Result<String, ActivatorError> {
        Ok(self.install_key()?.id())
    }

    /// A signed activation request (`req1`) for the vendor, made at `now`.
    /// It is recorded (its hash and the clock mark of this moment) as the
    /// one request a time attestation may answer.
    pub fn request(&mut self, now: Timestamp) -> Result<String, ActivatorError> {
        let key = self.install_key()?;
        self.transact(|state, snapshot, _| {
            let token = airgap::request(snapshot, &key, now)?;
            state.pending_request = Some(crate::state::PendingRequest {
                hash: license_common::exchange::chain_hash(&token),
                mark: state.high_water,
            });
            Ok(token)
        })
    }

    /// A signed activation receipt (`rct1`) for the license in force, the
    /// next link of the install's chain of files (recorded in the state).
    pub fn receipt(&mut self, now: Timestamp) -> Result<String, ActivatorError> {
        let key = self.install_key()?;
        self.transact(|state, snapshot, _| airgap::receipt(state, snapshot, &key, now))
    }

    /// How the license in force meters usage (what is counted, its words,
    /// and when its days begin), if it is billed by usage.
    pub fn usage_terms(&self) -> Option<&license_common::license::UsageTerms> {
        self.current().and_then(|c| c.license.usage.as_ref())
    }

    /// The usage day `now` falls on: a calendar day in the time zone the
    /// license's billing names (China Standard Time for both example
    /// catalogs, so 07:00 in Beijing is already that day), else in UTC.
    pub fn usage_day(&self, now: Timestamp) -> NaiveDate {
        match self.current() {
            Some(current) => current.license.usage_day(now),
            None => now.as_datetime().date_naive(),
        }
    }

    /// Records `datakits` collectors for `day`, keeping the day's maximum;
    /// returns the day's count. Safe with concurrent writers.
    ///
    /// Only a day a usage report of the license in force can carry is
    /// taken: one that has begun at `now` (in the license's billing time
    /// zone), inside the license's term (from its start, or from the first
    /// activation of its account on this install if earlier, to its end),
    /// with a count of at most [`MAX_DAY_COUNT`](license_common::exchange::MAX_DAY_COUNT).
    pub fn record_usage(&mut self, day: NaiveDate, datakits: u64, now: Timestamp) -> Result<u64, ActivatorError> {
        self.transact(|state, snapshot, _| {
            airgap::recordable(snapshot, day, datakits, now)?;
            Ok(airgap::record_usage(state, day, datakits))
        })
    }

    /// The recorded daily counts from `from` to `to`, inclusive (none when
    /// `from` is after `to`).
    ///
    /// A day's count is the larger of what was recorded by hand and the
    /// distinct collectors the local service measured that day.
    pub fn usage(&self, from: NaiveDate, to: NaiveDate) -> Result<BTreeMap<NaiveDate, u64>, ActivatorError> {
        let mut days = airgap::usage(&self.snapshot, from, to);
        for (day, n) in crate::metering::measured(&self.store.dir, from, to)? {
            let entry = days.entry(day).or_insert(0);
            *entry = (*entry).max(n);
        }
        Ok(days)
    }

    /// A signed usage report (`use1`) of the days from `from` to `to`, the
    /// next link of the install's chain of files (recorded in the state).
    pub fn usage_report(&mut self, from: NaiveDate, to: NaiveDate, now: Timestamp) -> Result<String, ActivatorError> {
        let key = self.install_key()?;
        let measured = crate::metering::measured(&self.store.dir, from, to)?;
        self.transact(|state, snapshot, _| {
            // What the service measured is kept with what was recorded, so
            // the report and the state agree.
            let mut snapshot = snapshot.clone();
            for (day, n) in measured {
                let count = airgap::record_usage(state, day, n);
                snapshot.usage.insert(day, count);
            }
            airgap::usage_report(state, &snapshot, &key, from, to, now)
        })
    }

    /// Releases the license in force (back to community) and returns the
    /// signed deactivation receipt (`dea1`) for the vendor, who can then bind
    /// the license to a new machine. The receipt is kept in the state in the
    /// same atomic change, so it can be given again: with no license in
    /// force, this returns the receipt of the license released last
    /// ([`Released::now`] is then false). The released license cannot be
    /// activated on this install again.
    pub fn deactivate(&mut self, now: Timestamp) -> Result<Released, ActivatorError> {
        let key = self.install_key()?;
        self.transact(|state, snapshot, _| airgap::deactivate(state, snapshot, &key, now))
    }

    /// Records that the install ran at `now`, raising the high-water mark of
    /// trusted time (written at most every ten minutes). Call it whenever
    /// the product starts or checks in; it never lowers the mark.
    pub fn observe_clock(&mut self, now: Timestamp) -> Result<(), ActivatorError> {
        let stale = self.snapshot.high_water.is_none_or(|mark| now > mark.plus(chrono::Duration::minutes(10)));
        if !stale {
            return Ok(());
        }
        self.transact(|state, _, _| {
            state.high_water = state.high_water.max(Some(now));
            Ok(())
        })
    }

    /// `Some(mark)` when `now` is earlier than the newest trusted time seen
    /// by more than [`CLOCK_TOLERANCE`](crate::CLOCK_TOLERANCE): the clock was set back.
    pub fn clock_set_back(&self, now: Timestamp) -> Option<Timestamp> {
        self.snapshot.clock_set_back(now)
    }

    /// Where this install stands at `now`.
    pub fn status(&self, now: Timestamp) -> Status {
        Status::at(&self.snapshot, now)
    }

    /// Records the clock ([`Activator::observe_clock`]) and says where the
    /// install stands at `now`. When the time cannot be recorded (a
    /// read-only state directory), the status still comes, and its warnings
    /// say so: the failure is shown, not hidden.
    pub fn report(&mut self, now: Timestamp) -> Status {
        let recorded = self.observe_clock(now);
        let mut status = self.status(now);
        status.warnings.extend(crate::identity::loose_key_files(self.dir()));
        if let Err(e) = recorded {
            status.warnings.push(format!(
                "the time could not be recorded in the state directory ({e}); the defence against a clock set back is weaker until it can be"
            ));
        }
        status
    }

    /// Is package `feature` (at `tier` or above, if given) entitled at `now`?
    /// Reads only memory; allocates nothing when it grants.
    pub fn check<'a>(&'a self, feature: &'a str, tier: Option<&str>, now: Timestamp) -> Result<Grant<'a>, Denied> {
        if let Some(mark) = self.clock_set_back(now) {
            return Err(Denied::ClockSetBack { now, mark });
        }
        entitlement::check(self.current().map(|c| &c.license), self.snapshot.free_edition, feature, tier, now)
    }
}

/// Seals the credentials with the directory's seal key (made on first use;
/// the caller holds the lock).
fn seal(dir: &Path, credentials: &Credentials) -> Result<crate::credentials::SealedCredentials, ActivatorError> {
    Ok(SealKey::load_or_create(dir)?.seal(credentials)?)
}

mod service;
#[cfg(test)]
mod tests;
