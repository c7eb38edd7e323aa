//! Product catalogs: reading one from a file, its summary, and the example
//! catalogs of `catalogs/`, embedded so the demo runs anywhere.

use std::path::Path;

use license_common::catalog::Catalog;
use serde::Serialize;

use crate::IssuerError;

/// The most bytes a catalog file may have.
pub const MAX_CATALOG_LEN: usize = 4 << 20;

/// Reads and validates the catalog at `path` (`-` for standard input).
pub fn load(path: &Path) -> Result<Catalog, IssuerError> {
    let text = license_common::input::read_text(path, MAX_CATALOG_LEN)?;
    Catalog::from_toml(&text).map_err(|source| IssuerError::Catalog { path: path.to_path_buf(), source })
}

/// What a valid catalog sells (`issuer catalog check --json`, format 1):
/// `{"format": 1, "valid": true, "product": "...", "editions": [...],
///   "packages": [...], "quotas": [...], "billable": true}`; editions lowest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Version of this JSON shape.
    pub format: u32,
    /// Always true: an invalid catalog is an error.
    pub valid: bool,
    /// The product.
    pub product: String,
    /// Editions, lowest first.
    pub editions: Vec<String>,
    /// Packages.
    pub packages: Vec<String>,
    /// Quotas.
    pub quotas: Vec<String>,
    /// Whether bills can be made with it (it has a `[pay_as_you_go]` table).
    pub billable: bool,
}

impl Summary {
    /// The summary of `catalog`.
    pub fn of(catalog: &Catalog) -> Self {
        Summary {
            format: 1,
            valid: true,
            product: catalog.product.id.clone(),
            editions: catalog.editions.iter().map(|e| e.id.clone()).collect(),
            packages: catalog.packages.iter().map(|p| p.id.clone()).collect(),
            quotas: catalog.quotas.iter().map(|q| q.id.clone()).collect(),
            billable: catalog.pay_as_you_go.is_some(),
        }
    }
}

/// The observability platform catalog's text (`catalogs/observability.toml`).
pub const OBSERVABILITY_TOML: &str = include_str!("../../catalogs/observability.toml");
/// The data platform catalog's text (`catalogs/data-platform.toml`).
pub const DATA_PLATFORM_TOML: &str = include_str!("../../catalogs/data-platform.toml");

/// The observability platform catalog.
pub fn observability() -> Catalog {
    Catalog::from_toml(OBSERVABILITY_TOML).expect("the embedded catalog is valid (tested)")
}

/// The data platform catalog.
pub fn data_platform() -> Catalog {
    Catalog::from_toml(DATA_PLATFORM_TOML).expect("the embedded catalog is valid (tested)")
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_catalogs_are_valid() {
        assert_eq!(super::observability().product.id, "observability");
        assert_eq!(super::data_platform().product.id, "data-platform");
    }
}
