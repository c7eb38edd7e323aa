//! `docs/ERRORS.md`, generated from the error types.
//!
//! Every error type of the libraries lists its cases with an example value
//! and when it happens ([`Examples`]); each command line wraps them in its
//! own error type, which gives the hint it prints (naming its flags). This
//! module turns both command lines' examples into the catalogue: one row per
//! case, message and hint, with the tools that print it. A test regenerates
//! the file and fails on any difference (`UPDATE_DOCS=1` rewrites it).

use std::collections::BTreeMap;

use license_common::exit::{Examples, ExitClass, Explain, placeholders};

/// The catalogue's path in the workspace.
pub const PATH: &str = "docs/ERRORS.md";

/// One row of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// `Type::Variant`.
    pub case: String,
    /// The `error:` text, `<…>` marking what is filled in.
    pub message: String,
    /// The exit class.
    pub class: ExitClass,
    /// When it happens.
    pub when: String,
    /// The `hint:` text the command lines print.
    pub hint: String,
    /// The hint a program embedding the library gets, when it differs.
    pub library_hint: Option<String>,
    /// Which command lines print it.
    pub tools: Vec<&'static str>,
}

/// Replaces the example values of `case`'s texts by placeholders.
fn mark(case: &str, text: &str) -> String {
    let mut text = placeholders::mark(text);
    // Values that are not strings in the error, so not given as placeholders.
    let per_case: &[(&str, &str)] = match case.split("::").next().unwrap_or_default() {
        "EnvelopeError" => &[
            ("`activation receipt`", "`<found>`"),
            ("revocation list", "<kind>"),
            ("license", "<kind>"),
            ("`lic1.…`", "`<tag>1.…`"),
        ],
        _ => &[],
    };
    for (from, to) in per_case {
        text = text.replace(from, to);
    }
    match case {
        "OrderError::PlanNotOffered" => text.replace("`perpetual`", "`<plan>`"),
        "IssuerError::Batch" => text.replace("1 line(s)", "<n> line(s)"),
        _ => text,
    }
}

/// Every row, in the order the examples come: the `issuer` command line's,
/// then the `activator`'s, with rows both print merged.
pub fn rows() -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut add = |tool: &'static str, error: &dyn Explain, when: &str, library_hint: Option<String>| {
        let case = error.case();
        let message = mark(&case, &error.to_string());
        let hint = mark(&case, &error.hint());
        let library_hint = library_hint.map(|h| mark(&case, &h)).filter(|h| *h != hint);
        let class = error.class();
        match rows.iter_mut().find(|r| r.case == case && r.message == message && r.hint == hint && r.class == class) {
            Some(row) if !row.tools.contains(&tool) => row.tools.push(tool),
            Some(_) => {}
            None => {
                rows.push(Row { case, message, class, when: when.to_owned(), hint, library_hint, tools: vec![tool] })
            }
        }
    };
    for example in issuer_cli::Error::examples() {
        let library = match &example.error {
            issuer_cli::Error::Issuer(e) => Some(e.hint()),
            issuer_cli::Error::Activator(e) => Some(e.hint()),
            issuer_cli::Error::Service(e) => Some(e.hint()),
            _ => None,
        };
        add("issuer", &example.error, example.when, library);
    }
    for example in activator_cli::Error::examples() {
        let library = match &example.error {
            activator_cli::Error::Activator(e) => Some(e.hint()),
            activator_cli::Error::Denied(e) => Some(e.hint()),
            activator_cli::Error::Output(e) => Some(e.hint()),
            activator_cli::Error::Service(e) => Some(e.hint()),
            _ => None,
        };
        add("activator", &example.error, example.when, library);
    }
    rows
}

/// The sections of the catalogue: a title, what it covers, and which cases
/// go in it (by type, or `Type::Variant`). A case goes in the first section
/// that names it.
const SECTIONS: &[(&str, &str, &[&str])] = &[
    (
        "Envelopes",
        "Opening a signed file: licenses (`lic1.`), activation requests (`req1.`), activation receipts (`rct1.`), usage reports (`use1.`), revocation lists (`rev1.`) and deactivation receipts (`dea1.`). `<kind>` is one of those names and `<tag>` its tag ([FORMAT.md](FORMAT.md)).",
        &["EnvelopeError", "SignError"],
    ),
    (
        "Reading and writing files",
        "Files and standard input given to either tool, and the files they write for their users (licenses, lists, receipts, reports, keys), which are checked before anything is signed or changed and written atomically.",
        &[
            "InputError",
            "OutputError",
            "RandomError",
            "IssuerError::Io",
            "IssuerError::InvalidLicense",
            "ActivatorError::InvalidLicense",
            "IssuerError::LicenseNotInstallFile",
            "issuer::DemoDirTaken",
        ],
    ),
    (
        "Keys and passphrases",
        "The vendor's key pair (`issuer keygen`), the passphrase that opens the private key, a key inside a hardware module (`--key pkcs11:…`, [VENDOR.md](VENDOR.md#keys-in-a-hardware-module)) and its PIN, and public keys given to `--pub`, `--trust` and `activator trust add`.",
        &["KeyError", "HsmError", "issuer::NoPassphrase", "issuer::PassphraseMismatch", "issuer::Prompt"],
    ),
    (
        "Catalogs and orders",
        "`issuer issue` (and the first license of `issuer upgrade` without `--from`) checks the order against the product catalog before it asks for the passphrase ([CATALOG.md](CATALOG.md)); upgrades, renewals and quotes check theirs the same way ([UPGRADES.md](UPGRADES.md)). Every refusal names the catalog rule.",
        &["CatalogError", "IssuerError::Catalog", "IssuerError::NotBillable", "IssuerError::OrderFile", "OrderError"],
    ),
    (
        "The ledger",
        "Everything the issuer signs or receives is recorded in its ledger ([LEDGER.md](LEDGER.md)): batches, revocations, receipts and usage reports from installs, bills.",
        &["IssuerError", "issuer"],
    ),
    (
        "Activation",
        "`activator activate` (and a launcher's `Activator::activate`): which license may come in, on which install ([ACTIVATION.md](ACTIVATION.md)). A refusal changes nothing.",
        &[
            "ActivatorError::WrongProduct",
            "ActivatorError::WrongRegion",
            "ActivatorError::NotYetValid",
            "ActivatorError::Expired",
            "ActivatorError::ActivationWindowClosed",
            "ActivatorError::Superseded",
            "ActivatorError::AlreadyReplaced",
            "ActivatorError::OtherAccount",
            "ActivatorError::OtherInstall",
            "ActivatorError::NoLicense",
        ],
    ),
    (
        "The state directory",
        "The install's state directory ([ACTIVATION.md](ACTIVATION.md)), and what the `activator` command line needs to find it and its inputs.",
        &[
            "ActivatorError::NotInitialised",
            "ActivatorError::AlreadyInitialised",
            "ActivatorError::WrongOwner",
            "ActivatorError::CorruptState",
            "ActivatorError::OtherProduct",
            "ActivatorError::InvalidName",
            "ActivatorError::NoTrustedKeys",
            "ActivatorError::Io",
            "activator::NoStateDir",
            "activator::NoLicenseSource",
            "activator::LicenseSources",
            "activator::StdinTwice",
        ],
    ),
    (
        "Data gateway",
        "`activator gateway set|show|render` and `activator activate --gateway URL`: the address template of the data gateway, which must end in `?token={}` ([ACTIVATION.md](ACTIVATION.md)). No message ever repeats a token in full.",
        &["GatewayError", "ActivatorError::NoGateway"],
    ),
    (
        "Credentials",
        "`activator credentials set --ak AK [--sk-file FILE]` and `activator activate --ak AK`: the access key pair, whose secret is sealed with `seal.key` in the state directory. No message ever carries a secret.",
        &["CredentialsError", "activator::AccessKeyRequired", "activator::NoSecretSource", "activator::Prompt"],
    ),
    (
        "Air gap, trusted keys, revocation and the clock",
        "Files carried between the vendor and an offline install ([AIRGAP.md](AIRGAP.md)): activation requests, revocation lists and key retirements, the keys an install trusts, and the install's guard against a clock set back.",
        &["ActivatorError", "activator"],
    ),
    (
        "The local service",
        "`activator serve` ([API.md](API.md)): bearer tokens and their scopes, requests the API cannot read, collector seats, and listening and TLS (for `issuer serve` too). Over HTTP every error is `{\"format\": 1, \"error\": {…}}` with the class below and an HTTP status that fits it; the library's own errors keep their classes.",
        &[
            "ApiError",
            "ActivatorError::Metering",
            "ActivatorError::UnknownToken",
            "ActivatorError::TooManyTokens",
            "ListenError",
            "Refused",
        ],
    ),
    (
        "The license API",
        "`issuer serve` ([VENDOR.md](VENDOR.md)): API tokens and their scopes, idempotency keys, catalogs, listening and TLS. Over HTTP every error is `{\"format\": 1, \"error\": {…}}` with the class below and an HTTP status that fits it.",
        &[
            "ServiceError",
            "IssuerError::IdempotencyConflict",
            "IssuerError::IdempotencyRace",
            "IssuerError::BadIdempotencyKey",
            "IssuerError::UnknownApiToken",
            "IssuerError::TooManyApiTokens",
        ],
    ),
    (
        "Entitlement checks",
        "`activator check FEATURE [--tier TIER]`, run by the product before it uses a commercial feature. These exit 20 and never change the state.",
        &["Denied"],
    ),
];

/// The section a case goes in: the first that names it, by `Type::Variant`
/// or by type.
fn section_of(case: &str) -> Option<usize> {
    let ty = case.split("::").next().unwrap_or(case);
    SECTIONS
        .iter()
        .position(|(_, _, names)| names.contains(&case))
        .or_else(|| SECTIONS.iter().position(|(_, _, names)| names.contains(&ty)))
}

/// A table cell holding `text` as a code span.
fn code(text: &str) -> String {
    format!("`` {text} ``")
}

fn row_line(row: &Row) -> String {
    let tools = match row.tools.as_slice() {
        [one] => format!(" (`{one}` only.)"),
        _ => String::new(),
    };
    let library = row
        .library_hint
        .as_ref()
        .map(|h| format!(" A program that embeds the library gets the hint `` {h} ``."))
        .unwrap_or_default();
    let line = format!(
        "| `{}` | {} | {} `{}` | {}{tools}{library} | {} |",
        row.case,
        code(&row.message),
        row.class.code(),
        row.class.name(),
        row.when,
        code(&row.hint)
    );
    assert_eq!(line.matches('|').count(), 6, "a cell of {} holds a `|`: {line}", row.case);
    line
}

const HEAD: &str = r#"# Error catalogue

Every refusal of `issuer` and `activator`, what it means and what to do about
it. The exit statuses and their classes are defined in
[CLI.md](CLI.md#exit-status); this page lists every message that leads to them.

<!-- Generated from the error types by tests/src/errors_doc.rs: do not edit.
     `UPDATE_DOCS=1 cargo test -p license-tests --test errors_catalogue` writes it again. -->

## How an error is printed

An error is two lines on standard error — what went wrong, then what to do:

```text
error: license 0193… expired on 2026-10-01T00:00:00Z
hint: ask the vendor for a renewal
```

The process then exits with the status of the error's class (here 13,
`expired`). Scripts should test the status, not the wording. Text that comes
from outside (licensee names, paths, ids, a parser's detail) is printed with
control characters, bidirectional overrides and backslashes escaped
(`\u{1b}`), so each message is exactly one line.

With `--json`, the same error is one JSON document on standard output, and
the exit status is the same:

```json
{"format": 1, "error": {"class": "expired", "status": 13, "case": "ActivatorError::Expired",
  "message": "license 0193… expired on 2026-10-01T00:00:00Z", "hint": "ask the vendor for a renewal",
  "fields": {"id": "0193…", "expired_at": "2026-10-01T00:00:00Z"}}}
```

`case` is the first column below; `fields` are the values the message is
made of, by name (never a secret).

In the tables below:

* **case** names the Rust type and variant (`Type::Variant`) that carries
  the message; `issuer::…` and `activator::…` are the command lines' own.
* **message** is the text after `error: `. `<…>` marks what is filled in at
  run time.
* **status** is the exit status and the class name.
* **hint** is the text after `hint: `, word for word, as the command lines
  print it. The libraries never name a command-line flag or command: where
  the command line's hint does, the row says what a program that embeds the
  library gets instead.

Errors that only wrap another one print the wrapped error's message, hint
and status unchanged, so they have no row of their own.

### Exit statuses outside these tables

* **0** (`success`): done. `activator check` exits 0 only when the feature is
  entitled.
* **1** (`internal`): status 1 is an unexpected internal failure, a bug. `KeyError::Encode`
  has that class, and a tool that panics catches it, prints
  `error: internal error (a bug in issuer)` (or `activator`) with the hint
  `please report it with the command you ran`, and exits 1 (Rust's own
  `thread 'main' panicked` line comes first). Please report it.
* **2** (`usage`) is also the status of the command-line parser's own
  refusals (unknown flag, missing argument, bad value such as a time that is
  not `2026-11-23T08:00:00Z` or `2026-11-23`, a `--plan` or `--status` that
  is not one of the listed values). Those are printed in the parser's
  format: an `error:` line, then a usage line and `For more information, try
  '--help'.`, not a `hint:` line. With `--json` they are a JSON error of
  class `usage` whose case is `Usage::<kind>`.
* **3** (`io`): `error: cannot write to standard output: <cause>`, one line
  without a hint, when the output cannot be written. A closed pipe
  (`activator status | head -1`) is not an error.
* **11** (`bad_signature`): `issuer ledger verify` prints its report on
  standard output, one `problem:` line per record that does not verify, and
  exits 11 when there is any (`issuer::AuditFailed`), without an `error:`
  line; with `--json` the report carries the `error` object.
* **20** (`not_entitled`): `activator check --json` prints
  `{"format": 1, "feature": …, "entitled": false, …, "error": {…}}`.
"#;

/// The whole catalogue.
pub fn generate() -> String {
    let rows = rows();
    let mut by_section: BTreeMap<usize, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        let section = section_of(&row.case).unwrap_or_else(|| panic!("{} is in no section of {PATH}", row.case));
        by_section.entry(section).or_default().push(row);
    }
    // Within a section, the rows of one case stay together, in the order
    // the cases first come.
    let first: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
    for rows in by_section.values_mut() {
        rows.sort_by_key(|r| first.iter().position(|c| *c == r.case));
    }
    let mut doc = String::from(HEAD);
    for (i, (title, about, _)) in SECTIONS.iter().enumerate() {
        doc.push_str(&format!("\n## {title}\n\n{about}\n\n"));
        doc.push_str("| case | message | status | when | hint |\n");
        doc.push_str("|------|---------|--------|------|------|\n");
        for row in by_section.get(&i).into_iter().flatten() {
            doc.push_str(&row_line(row));
            doc.push('\n');
        }
    }
    doc
}
