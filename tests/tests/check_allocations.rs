//! `check` on an open activator reads only memory, and a check that grants
//! allocates nothing (issue 8: "no I/O, no allocation on the hot path"; a
//! denial builds its explanation). A counting allocator watches this thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use license_activator::Activator;
use license_common::license::Plan;
use license_common::signing::IssuerKey;
use license_common::{Keyring, Timestamp};
use license_issuer::catalogs;
use license_issuer::order::Order;

/// Counts the allocations of threads that asked to be counted.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is passed unchanged to the system allocator; the
// counting touches only an atomic and a const-initialised thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations made by `work` on this thread.
fn allocations(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTED.with(|c| c.set(true));
    work();
    COUNTED.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn check_allocates_nothing() {
    let key = IssuerKey::from_seed(&[21; 32]);
    let now = Timestamp::parse("2026-12-01").unwrap();
    let order = Order {
        account: "acct-1".into(),
        licensee: "Alloc Ltd".into(),
        region: "cn-hangzhou".into(),
        edition: "intelligent_rnd".into(),
        engine: Some("maxcompute".into()),
        plan: Some(Plan::Subscription),
        packages: [("data_service".to_string(), "api.s1.small".to_string())].into(),
        quotas: [("processing_units".to_string(), 40)].into(),
        months: Some(12),
        ..Order::default()
    };
    let mut license = order.validate(&catalogs::data_platform(), now).unwrap().preview().clone();
    license.id = "lic-alloc".into();
    license.sequence = 1;
    let token = license_tests::sign(&key, &license);
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::from_keys([*key.public()]);
    let mut activator = Activator::open_with_keyring(dir.path(), "data-platform", keyring).unwrap();
    activator.activate(&token, now).unwrap();

    // The counter works: building a string on this thread is counted.
    assert!(allocations(|| drop(std::hint::black_box(String::from("counted")))) >= 1);

    let mut answers = Vec::with_capacity(3);
    let n = allocations(|| {
        for _ in 0..1000 {
            answers.clear();
            answers.push(activator.check("data_service", Some("api.base"), now).is_ok());
            answers.push(activator.check("data_service", Some("api.s1.small"), now).is_ok());
            answers.push(activator.check("data_service", None, now.plus_days(30)).is_ok());
        }
    });
    assert_eq!(answers, [true, true, true], "an included tier, its own tier, any tier");
    assert_eq!(n, 0, "granting checks allocated {n} times in 3,000 calls");
}
