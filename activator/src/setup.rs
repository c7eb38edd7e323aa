//! The rest of the activation dialog: the gateway address and the access
//! key pair, and what a launcher reads back.

use license_common::license::Phase;
use license_common::time::Timestamp;

use crate::activator::Activator;
use crate::credentials::{Credentials, MaskedCredentials, SealKey};
use crate::error::ActivatorError;
use crate::gateway::GatewayTemplate;

impl Activator {
    /// Stores the gateway address template (atomically). Returns notes on
    /// how it was read, e.g. that `%7B%7D` was taken as the placeholder.
    pub fn set_gateway(&mut self, url: &str) -> Result<Vec<String>, ActivatorError> {
        Ok(self.apply(None, Some(url), None)?.notes)
    }

    /// The stored gateway template, if any.
    pub fn gateway(&self) -> Option<&GatewayTemplate> {
        self.gateway.as_ref()
    }

    /// The gateway address for one workspace token.
    pub fn render_gateway(&self, workspace_token: &str) -> Result<String, ActivatorError> {
        let template = self.gateway.as_ref().ok_or(ActivatorError::NoGateway)?;
        Ok(template.render(workspace_token)?)
    }

    /// Seals and stores the access key pair (atomically).
    pub fn set_credentials(&mut self, credentials: Credentials) -> Result<MaskedCredentials, ActivatorError> {
        self.apply(None, None, Some(credentials))?;
        Ok(self.credentials().expect("just stored"))
    }

    /// The access key and the masked secret, if set.
    pub fn credentials(&self) -> Option<MaskedCredentials> {
        self.credentials.as_ref().map(|c| c.masked())
    }

    /// Unseals the access key pair for the launcher's own use.
    pub fn unseal_credentials(&self) -> Result<Option<Credentials>, ActivatorError> {
        let Some(sealed) = &self.credentials else {
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
}
