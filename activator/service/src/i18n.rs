//! The API's messages in both of the console's languages.
//!
//! Every error the API returns carries its English `message` and `hint`
//! (the same words as the command line's) and, under `translations`, the
//! same in Chinese (`zh-CN`); the gateway check's notes likewise. The
//! Chinese texts are a catalogue compiled into the binary
//! (`messages/zh-CN.toml`): each entry is an English template, whose `{name}`
//! holes match the values the message was made of, and its Chinese text,
//! which puts the same values in its own order (`{name|term}` first looks
//! the value up in the catalogue's glossary, for words such as a file kind).
//! A test checks that every case the API can return has its entry, so an
//! English text that changes without its translation fails the build's
//! tests, not an operator.

use std::collections::HashMap;
use std::sync::LazyLock;

use license_common::exit::ErrorReport;
use regex::Regex;
use serde::Serialize;

/// The language tag of the translations.
pub const ZH_CN: &str = "zh-CN";

/// A message and hint in one language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Texts {
    /// What went wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

/// One compiled entry: the English template as a pattern, the names of its
/// holes, and the Chinese template.
#[derive(Debug)]
struct Entry {
    pattern: Regex,
    zh: String,
}

/// The compiled catalogue.
#[derive(Debug)]
struct Catalogue {
    terms: HashMap<String, String>,
    messages: HashMap<String, Vec<Entry>>,
    hints: Vec<Entry>,
    notes: Vec<Entry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    terms: HashMap<String, String>,
    message: Vec<SourceEntry>,
    hint: Vec<SourceEntry>,
    note: Vec<SourceEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceEntry {
    #[serde(default)]
    case: Option<String>,
    en: String,
    zh: String,
}

const SOURCE: &str = include_str!("../messages/zh-CN.toml");

static CATALOGUE: LazyLock<Result<Catalogue, String>> = LazyLock::new(|| compile(SOURCE));

/// A hole of a template: `{name}` or `{name|filter}`, `name` in lower case.
/// Anything else in braces (such as `{}`) is text.
fn holes(template: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str, Option<&str>)> {
    static HOLE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\{([a-z_]+)(?:\|([a-z]+))?\}").expect("a constant pattern"));
    HOLE.captures_iter(template).map(|c| {
        let whole = c.get(0).expect("group 0 always matches");
        (whole.range(), c.get(1).map_or("", |m| m.as_str()), c.get(2).map(|m| m.as_str()))
    })
}

/// The English template as an anchored pattern whose groups are its holes.
fn pattern(en: &str) -> Result<Regex, String> {
    let mut text = String::from("^");
    let mut at = 0;
    let mut seen = Vec::new();
    for (range, name, filter) in holes(en) {
        if filter.is_some() {
            return Err(format!("`{en}`: filters belong in the Chinese text"));
        }
        if seen.contains(&name) {
            return Err(format!("`{en}`: hole `{name}` appears twice"));
        }
        seen.push(name);
        text.push_str(&regex::escape(&en[at..range.start]));
        text.push_str(&format!("(?P<{name}>.*?)"));
        at = range.end;
    }
    text.push_str(&regex::escape(&en[at..]));
    text.push('$');
    Regex::new(&text).map_err(|e| format!("`{en}`: {e}"))
}

fn entry(source: SourceEntry) -> Result<Entry, String> {
    let pattern = pattern(&source.en)?;
    let names: Vec<&str> = pattern.capture_names().flatten().collect();
    for (_, name, filter) in holes(&source.zh) {
        if !names.contains(&name) {
            return Err(format!("`{}`: `{{{name}}}` is not a hole of the English text", source.zh));
        }
        if filter.is_some_and(|f| f != "term") {
            return Err(format!("`{}`: the only filter is `term`", source.zh));
        }
    }
    Ok(Entry { pattern, zh: source.zh })
}

fn compile(text: &str) -> Result<Catalogue, String> {
    let source: Source = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut messages: HashMap<String, Vec<Entry>> = HashMap::new();
    for m in source.message {
        let case = m.case.clone().ok_or_else(|| format!("message `{}` names no case", m.en))?;
        messages.entry(case).or_default().push(entry(m)?);
    }
    let list = |entries: Vec<SourceEntry>| entries.into_iter().map(entry).collect::<Result<Vec<_>, _>>();
    Ok(Catalogue { terms: source.terms, messages, hints: list(source.hint)?, notes: list(source.note)? })
}

impl Catalogue {
    /// The Chinese text of `english` by the first entry that matches it.
    fn translate(&self, entries: &[Entry], english: &str) -> Option<String> {
        let entry = entries.iter().find(|e| e.pattern.is_match(english))?;
        let captures = entry.pattern.captures(english)?;
        let mut out = String::new();
        let mut at = 0;
        for (range, name, filter) in holes(&entry.zh) {
            out.push_str(&entry.zh[at..range.start]);
            let value = captures.name(name).map_or("", |m| m.as_str());
            match filter {
                Some(_) => out.push_str(self.terms.get(value).map_or(value, String::as_str)),
                None => out.push_str(value),
            }
            at = range.end;
        }
        out.push_str(&entry.zh[at..]);
        Some(out)
    }

    fn message(&self, case: &str, english: &str) -> Option<String> {
        self.translate(self.messages.get(case)?, english)
    }
}

/// The Chinese message and hint of an error report, or `None` when the
/// catalogue has no entry for it (a bug the tests catch).
pub fn zh(report: &ErrorReport) -> Option<Texts> {
    let catalogue = CATALOGUE.as_ref().ok()?;
    Some(Texts {
        message: catalogue.message(&report.case, &report.message)?,
        hint: catalogue.translate(&catalogue.hints, &report.hint)?,
    })
}

/// The `translations` object of an error report: the Chinese texts, or the
/// English ones (logged) if the catalogue lacks them.
pub fn translations(report: &ErrorReport) -> serde_json::Value {
    let texts = zh(report).unwrap_or_else(|| {
        tracing::warn!(case = %report.case, "no zh-CN text for this error");
        Texts { message: report.message.clone(), hint: report.hint.clone() }
    });
    serde_json::json!({ ZH_CN: texts })
}

/// The Chinese text of each of the gateway check's notes (the English one
/// where the catalogue lacks it).
pub fn notes_zh(notes: &[String]) -> Vec<String> {
    notes
        .iter()
        .map(|n| {
            CATALOGUE.as_ref().ok().and_then(|c| c.translate(&c.notes, n)).unwrap_or_else(|| {
                tracing::warn!("no zh-CN text for a gateway note");
                n.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use license_activator::credentials::CredentialsError;
    use license_activator::gateway::{GatewayError, GatewayTemplate};
    use license_activator::{ActivatorError, Denied};
    use license_common::envelope::EnvelopeError;
    use license_common::exit::Examples;
    use license_common::input::InputError;
    use license_common::keys::KeyError;
    use license_common::random::RandomError;

    use crate::ApiError;

    /// Every error the API can return, by way of its wrappers.
    fn every_api_error() -> Vec<ApiError> {
        let lib = |e: ActivatorError| ApiError::Activator(e);
        let mut all: Vec<ApiError> = Vec::new();
        all.extend(EnvelopeError::examples().into_iter().map(|x| lib(x.error.into())));
        all.extend(InputError::examples().into_iter().map(|x| lib(x.error.into())));
        all.extend(KeyError::examples().into_iter().map(|x| lib(x.error.into())));
        all.extend(RandomError::examples().into_iter().map(|x| lib(x.error.into())));
        all.extend(GatewayError::examples().into_iter().map(|x| lib(x.error.into())));
        all.extend(CredentialsError::examples().into_iter().map(|x| lib(x.error.into())));
        all.extend(ActivatorError::examples().into_iter().map(|x| lib(x.error)));
        all.extend(Denied::examples().into_iter().map(|x| ApiError::Denied(x.error)));
        all.extend(ApiError::examples().into_iter().map(|x| x.error));
        all.extend(license_http::ListenError::examples().into_iter().map(|x| ApiError::Listen(x.error)));
        all.extend(license_http::refusal::Refused::examples().into_iter().map(|x| ApiError::Refused(x.error)));
        all
    }

    fn is_chinese(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn the_catalogue_compiles() {
        if let Err(e) = &*CATALOGUE {
            panic!("messages/zh-CN.toml: {e}");
        }
    }

    #[test]
    fn every_error_the_api_returns_has_its_chinese_message_and_hint() {
        let catalogue = CATALOGUE.as_ref().expect("the catalogue compiles");
        let mut missing = Vec::new();
        let all = every_api_error();
        assert!(all.len() > 100, "{} cases", all.len());
        for error in &all {
            let report = ErrorReport::of(error);
            match zh(&report) {
                Some(t) if is_chinese(&t.message) && is_chinese(&t.hint) => {}
                Some(t) => missing.push(format!("{}: not Chinese: {} / {}", report.case, t.message, t.hint)),
                None => missing.push(format!(
                    "{}: message {:?} {}, hint {:?} {}",
                    report.case,
                    report.message,
                    if catalogue.message(&report.case, &report.message).is_some() { "ok" } else { "MISSING" },
                    report.hint,
                    if catalogue.translate(&catalogue.hints, &report.hint).is_some() { "ok" } else { "MISSING" },
                )),
            }
        }
        assert!(missing.is_empty(), "{} of {} lack a translation:\n{}", missing.len(), all.len(), missing.join("\n"));
    }

    #[test]
    fn each_english_text_matches_one_entry_only() {
        // Two entries that both match would make the order decide the
        // translation: every example must match exactly one.
        let catalogue = CATALOGUE.as_ref().expect("the catalogue compiles");
        for error in every_api_error() {
            let report = ErrorReport::of(&error);
            let messages = catalogue
                .messages
                .get(&report.case)
                .map_or(0, |entries| entries.iter().filter(|e| e.pattern.is_match(&report.message)).count());
            assert_eq!(messages, 1, "{}: {:?}", report.case, report.message);
            let hints = catalogue.hints.iter().filter(|e| e.pattern.is_match(&report.hint)).count();
            assert_eq!(hints, 1, "{}: {:?}", report.case, report.hint);
        }
    }

    #[test]
    fn values_keep_their_place_and_kinds_are_named_in_chinese() {
        let error = ApiError::Activator(ActivatorError::Expired {
            id: "0193abcd".into(),
            expired_at: license_common::Timestamp::from_unix(1_790_000_000).unwrap(),
        });
        let t = zh(&ErrorReport::of(&error)).expect("translated");
        assert!(t.message.contains("0193abcd") && t.message.contains("2026-"), "{}", t.message);
        let wrong = ApiError::Activator(
            EnvelopeError::WrongKind {
                expected: license_common::kind::Kind::License,
                found: license_common::kind::Kind::RevocationList,
            }
            .into(),
        );
        let t = zh(&ErrorReport::of(&wrong)).expect("translated");
        assert!(t.message.contains("吊销列表") && t.message.contains("许可证"), "{}", t.message);
    }

    #[test]
    fn an_unknown_text_falls_back_to_english_and_says_so_in_the_log() {
        let mut report = ErrorReport::of(&ApiError::Csrf);
        report.message = "a message no entry knows".into();
        assert_eq!(zh(&report), None);
        let value = translations(&report);
        assert_eq!(value[ZH_CN]["message"], "a message no entry knows");
        assert_eq!(value[ZH_CN]["hint"], report.hint);
    }

    #[test]
    fn every_gateway_note_has_its_chinese_text() {
        for url in ["https://gw.example.com/v1/write?token=%7B%7D", "HTTPS://GW.example.com/v1/write?token={}"] {
            let parsed = GatewayTemplate::parse(url).expect("a gateway");
            assert!(!parsed.notes.is_empty(), "{url}");
            let catalogue = CATALOGUE.as_ref().expect("compiles");
            for note in &parsed.notes {
                let zh = catalogue.translate(&catalogue.notes, note).unwrap_or_else(|| panic!("no text for {note:?}"));
                assert!(is_chinese(&zh), "{zh}");
            }
        }
    }
}
