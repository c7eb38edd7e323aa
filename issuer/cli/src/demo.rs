//! `issuer demo`: the whole journey, from key to entitlement check, in a
//! fresh directory that keeps every artifact for inspection.
//!
//! Each step is printed as the command a user would type, followed by what
//! that command prints; the steps run through the same library calls as the
//! commands themselves.

use std::path::{Path, PathBuf};

use license_activator::{Activator, Init};
use license_common::exit::{self, Explain};
use license_common::fsio::Output;
use license_common::license::Plan;
use license_common::signing::Passphrase;
use license_common::time::Timestamp;
use license_issuer::ledger::Ledger;
use license_issuer::order::Order;
use license_issuer::{catalogs, inspect, keyfile};

use crate::error::Error;

/// The default demo directory name for a given time: `license-demo-<timestamp>`.
pub fn default_dir(now: Timestamp) -> PathBuf {
    PathBuf::from(format!("license-demo-{}", now.as_datetime().format("%Y%m%d-%H%M%S")))
}

/// The order the demo places: a pay-as-you-go intelligent R&D edition with
/// the data-service package at 2,500 QPS.
pub fn demo_order() -> Order {
    Order {
        account: "acct-demo-0001".into(),
        licensee: "Demo Analytics Ltd".into(),
        region: "cn-hangzhou".into(),
        edition: "intelligent_rnd".into(),
        engine: Some("maxcompute".into()),
        plan: Some(Plan::PayAsYouGo),
        packages: [("data_service".to_owned(), "api.s1.small".to_owned())].into(),
        quotas: [("processing_units".to_owned(), 40)].into(),
        ..Order::default()
    }
}

/// Runs the demo in `dir` (which must not exist, or be empty) and returns
/// its transcript.
pub fn run(dir: &Path, now: Timestamp) -> Result<String, Error> {
    use license_issuer::IssuerError;
    if dir.exists() && std::fs::read_dir(dir).map_err(IssuerError::io("read", dir))?.next().is_some() {
        return Err(Error::DemoDirTaken { path: dir.to_path_buf() });
    }
    std::fs::create_dir_all(dir).map_err(IssuerError::io("create", dir))?;
    let mut transcript = String::new();
    let mut say = |text: String| -> Result<(), Error> {
        transcript.push_str(&text);
        Ok(())
    };
    let d = |name: &str| dir.join(name);
    let q = |p: &Path| shell_quote(&p.display().to_string());

    say(format!("# Demo directory: {}\n# Every file below stays there for you to inspect.\n\n", dir.display()))?;

    // 1. The vendor's key, with a random passphrase kept in a 0600 file.
    let pass_file = d("passphrase.txt");
    let passphrase = Passphrase::random()?;
    Output::secret(&pass_file).write(format!("{}\n", passphrase.expose()).as_bytes())?;
    let key_dir = d("keys");
    say(format!("$ issuer keygen --out {} --passphrase-file {}\n", q(&key_dir), q(&pass_file)))?;
    let files = keyfile::keygen(&key_dir, &passphrase)?;
    say(format!(
        "wrote {} (encrypted PKCS#8, mode 0600) and {}\nkey id {}\n\n",
        files.key.display(),
        files.public.display(),
        files.kid
    ))?;

    // 2. Issue a pay-as-you-go license against the data-platform catalog.
    let catalog_path = d("data-platform.toml");
    Output::new(&catalog_path, false).write(catalogs::DATA_PLATFORM_TOML.as_bytes())?;
    let catalog = catalogs::data_platform();
    let order = demo_order();
    let license_path = d("license.txt");
    let ledger_path = d("ledger.sqlite3");
    say(format!(
        "$ issuer --ledger {} issue --key {} --passphrase-file {} --catalog {} \\\n    --account {} --licensee {} --region {} \\\n    \
         --edition {} --engine maxcompute --plan pay_as_you_go \\\n    --package data_service=api.s1.small --quota processing_units=40 --out {}\n",
        q(&ledger_path),
        q(&files.key),
        q(&pass_file),
        q(&catalog_path),
        order.account,
        shell_quote(&order.licensee),
        order.region,
        order.edition,
        q(&license_path)
    ))?;
    let key = keyfile::read_key(&files.key, &passphrase)?;
    let mut ledger = Ledger::open(&ledger_path)?;
    let issued = ledger.issue(&key, order.validate(&catalog, now)?, now)?;
    Output::new(&license_path, false).write(issued.armored().as_bytes())?;
    say(format!("wrote license {} to {}\n\n", issued.license.id, license_path.display()))?;

    // 3. Inspect it with the public key only.
    say(format!("$ issuer inspect {} --pub {}\n", q(&license_path), q(&files.public)))?;
    let text = std::fs::read_to_string(&license_path).map_err(IssuerError::io("read", &license_path))?;
    let inspection = inspect(&text, keyfile::read_public(&files.public)?, now)?;
    say(format!("{inspection}\n"))?;

    // 4. The install: init, activate, status, check.
    let state = d("state");
    let act = format!("activator --state {}", q(&state));
    let free = catalog.has_free_edition();
    let flag = if free { "" } else { " --no-free-edition" };
    say(format!("$ {act} init --product {} --trust {}{flag}\n", catalog.product.id, q(&files.public)))?;
    let trusted = [keyfile::read_public(&files.public)?];
    let init = Init::new(&catalog.product.id, &trusted);
    let init = if free { init } else { init.without_free_edition() };
    let (mut activator, _) = Activator::init(&state, &init)?;
    let edition = if free { "community edition" } else { "no license yet: this product has no free edition" };
    say(format!(
        "initialised {} for product {} ({edition}), trusting key {}\n\n",
        state.display(),
        catalog.product.id,
        files.kid
    ))?;

    say(format!("$ {act} activate {}\n", q(&license_path)))?;
    let done = activator.activate(&text, now)?;
    say(format!("{done}{}\n", activator.status(now)))?;

    say(format!("$ {act} check data_service --tier api.s1.small\n"))?;
    match activator.check("data_service", Some("api.s1.small"), now) {
        Ok(grant) => say(format!("{grant}(exit status 0)\n\n"))?,
        Err(denied) => say(format!(
            "{}(exit status {})\n\n",
            exit::render(&denied.to_string(), &denied.hint()),
            denied.class().code()
        ))?,
    }

    say(format!("$ {act} check data_service --tier api.s2.large\n"))?;
    match activator.check("data_service", Some("api.s2.large"), now) {
        Ok(grant) => say(format!("{grant}(exit status 0)\n\n"))?,
        Err(denied) => say(format!(
            "{}(exit status {})\n\n",
            exit::render(&denied.to_string(), &denied.hint()),
            denied.class().code()
        ))?,
    }

    say(format!("# Done. Try the commands above yourself; everything is in {}.\n", dir.display()))?;
    Ok(transcript)
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_runs_end_to_end_and_keeps_its_artifacts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let out = run(&dir, Timestamp::now()).unwrap();
        assert!(out.contains("activated license"), "{out}");
        assert!(out.contains("data_service: entitled at tier api.s1.small (qps 2500)"), "{out}");
        assert!(out.contains("does not include tier `api.s2.large`"), "{out}");
        assert!(out.contains("(exit status 20)"), "{out}");
        for f in ["passphrase.txt", "keys/issuer.key", "keys/issuer.pub", "license.txt", "state/state.json"] {
            assert!(dir.join(f).exists(), "{f} missing");
        }
        assert!(matches!(run(&dir, Timestamp::now()), Err(Error::DemoDirTaken { .. })));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a/b.txt"), "a/b.txt");
        assert_eq!(shell_quote("Demo Analytics Ltd"), "'Demo Analytics Ltd'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
