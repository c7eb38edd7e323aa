//! The example catalogs of `catalogs/`, embedded so the demo runs anywhere.

use license_common::catalog::Catalog;

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
