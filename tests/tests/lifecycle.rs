//! The lifecycle seen through `activator status` and `check`: active,
//! expiring soon, grace (not usable, countdown to release), released (back
//! to community, or due for deletion for a product without one). The
//! machine's clock is never touched: the licenses are signed with the
//! vendor's real key to have expired already, and the library activates
//! them at a time before they expired, as an install that has been running
//! for a year would have.

use chrono::Duration;
use license_common::Timestamp;
use license_common::envelope::{self, Kind};
use license_common::license::License;
use license_tests::{Install, Vendor};

/// An install that activated a license `age` ago which expires at `expires`.
fn install_with(vendor: &Vendor, expires: Timestamp, activated: Timestamp) -> Install {
    let key = vendor.signing_key();
    let ring = license_common::Keyring::from_keys([*key.public()]);
    let token = vendor.issue(&[]);
    let mut license = envelope::open::<License>(&token, Kind::License, &ring).unwrap().content;
    license.not_before = activated.plus(-Duration::days(1));
    license.issued_at = license.not_before;
    license.expires_at = Some(expires);
    let token = license_tests::sign(&key, &license);
    let install = Install::new(vendor);
    // Activated then (the library takes the time of each call).
    license_activator::Activator::open(&install.state).unwrap().activate(&token, activated).unwrap();
    install
}

fn now() -> Timestamp {
    Timestamp::now()
}

#[test]
fn expiring_soon_is_warned_inside_the_notice_period() {
    let vendor = Vendor::new();
    let install = install_with(
        &vendor,
        now().plus(Duration::minutes((10 * 24 + 12) * 60 - 30)),
        now().plus(-Duration::days(300)),
    );
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["phase"], "active");
    assert_eq!(status["license"]["expiring_soon"], true);
    assert!(status["warnings"][0].as_str().unwrap().contains("expires in 10 days 11 hours"), "{status}");
    install.run(&["check", "data_service"], None).ok();
    let text = install.run(&["status"], None);
    assert!(text.ok().contains("warning: license"), "{}", text.stdout);
}

#[test]
fn grace_period_keeps_state_blocks_use_and_counts_down_to_release() {
    let vendor = Vendor::new();
    let expired = now().plus(-Duration::days(3));
    let install = install_with(&vendor, expired, now().plus(-Duration::days(360)));
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["phase"], "grace");
    assert_eq!(status["usable"], false);
    assert_eq!(status["edition"], "intelligent_rnd", "the edition and its data are kept in grace");
    let release_in = status["license"]["release_in_seconds"].as_i64().unwrap();
    assert!((10 * 86_400 - 120..=11 * 86_400).contains(&release_in), "release in {release_in}s, expected ~11 days");
    assert_eq!(status["license"]["release_at"], expired.plus_days(14).to_string());

    let text = install.run(&["status"], None);
    let out = text.ok();
    assert!(out.contains("in grace period"), "{out}");
    assert!(out.contains("Release in:"), "{out}");

    let err = install.run(&["check", "data_service"], None).fails_with(20).to_owned();
    assert!(err.contains("grace period") && err.contains("renew"), "{err}");
}

// ../shared/seeds/001_1e12755f3ccee2ab.txt, "Release": after the 14-day
// grace the instance is released and its data deleted. The data platform
// has no free edition: the install says released, with the deletion due.
#[test]
fn after_grace_a_product_without_a_free_edition_is_released_with_its_deletion_due() {
    let vendor = Vendor::new();
    let expired = now().plus(-Duration::days(15));
    let install = install_with(&vendor, expired, now().plus(-Duration::days(400)));
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["phase"], "released");
    assert_eq!(status["edition"], "none", "no edition that the product does not have: {status}");
    assert_eq!(status["usable"], false);
    assert_eq!(status["deletion_due"], expired.plus_days(14).to_string());
    let text = install.run(&["status"], None);
    let out = text.ok();
    assert!(out.contains("Deletion due:") && !out.contains("community"), "{out}");
    let err = install.run(&["check", "data_service"], None).fails_with(20).to_owned();
    assert!(err.contains("released") && err.contains("due for deletion") && !err.contains("community"), "{err}");
}

// A product with a community edition falls back to it, as before.
#[test]
fn after_grace_a_product_with_a_community_edition_falls_back_to_it() {
    let mut vendor = Vendor::new();
    vendor.with_community_edition();
    let install = install_with(&vendor, now().plus(-Duration::days(15)), now().plus(-Duration::days(400)));
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["phase"], "released");
    assert_eq!(status["edition"], "community");
    assert_eq!(status["usable"], false);
    assert_eq!(status["deletion_due"], serde_json::Value::Null);
    let err = install.run(&["check", "data_service"], None).fails_with(20).to_owned();
    assert!(err.contains("grace period ended") && err.contains("community"), "{err}");
}

#[test]
fn a_stored_license_edited_by_hand_is_reported_as_a_damaged_state_with_what_to_do() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let path = install.state.join("state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // Edit one character of the stored token's payload.
    let at = text.find("lic1.").unwrap() + 40;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&path, bytes).unwrap();
    let err = install.run(&["status"], None).fails_with(30).to_owned();
    assert!(err.contains("its MAC does not match") && err.contains("restore the whole directory"), "{err}");
    install.run(&["check", "data_service"], None).fails_with(30);
}

/// An install whose license is signed by a key it then stops trusting.
fn with_distrusted_license(vendor: &Vendor) -> Install {
    let other = Vendor::new();
    let install = Install::new(vendor);
    install.activate(&vendor.issue(&[])).ok();
    install.run(&["trust", "add", other.public.to_str().unwrap(), "--yes"], None).ok();
    let kid = vendor.issue(&[]).split('.').nth(1).unwrap().to_owned();
    install.run(&["trust", "remove", &kid], None).ok();
    install
}

#[test]
fn a_stored_license_whose_key_is_no_longer_trusted_falls_back_to_community_with_a_warning() {
    let mut vendor = Vendor::new();
    vendor.with_community_edition();
    let install = with_distrusted_license(&vendor);
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["phase"], "community");
    assert!(status["warnings"][0].as_str().unwrap().contains("no longer accepted"), "{status}");
    install.run(&["check", "data_service"], None).fails_with(20);
}

#[test]
fn a_stored_license_no_longer_trusted_leaves_a_product_without_a_free_edition_unlicensed() {
    let vendor = Vendor::new();
    let install = with_distrusted_license(&vendor);
    let status = install.run(&["status", "--json"], None).json();
    assert_eq!(status["phase"], "unlicensed");
    assert_eq!(status["edition"], "none");
    let warning = status["warnings"][0].as_str().unwrap();
    assert!(warning.contains("no longer accepted") && warning.contains("runs nothing"), "{status}");
    let err = install.run(&["check", "data_service"], None).fails_with(20).to_owned();
    assert!(err.contains("no free edition"), "{err}");
}

#[test]
fn a_damaged_state_file_is_a_state_error_not_a_panic() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    std::fs::write(install.state.join("state.json"), b"{\"format\": 1, \"produ").unwrap();
    let err = install.run(&["status"], None).fails_with(30).to_owned();
    assert!(err.contains("damaged"), "{err}");
}
