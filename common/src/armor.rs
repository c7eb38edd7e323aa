//! The armored file form, for e-mail and USB sticks.
//!
//! ```text
//! -----BEGIN LICENSE-----
//! Licensee: Acme Analytics Ltd
//! Expires: 2027-11-23T00:00:00Z
//!
//! lic1.3f2a…(the compact token, wrapped at 64 columns)
//! -----END LICENSE-----
//! ```
//!
//! Header lines (`Name: value`, then one empty line) are for people only:
//! they are **not signed** and are ignored when reading. The token lines carry
//! the same compact token as the one-line form, cut every 64 characters.
//! [`read`] takes the block as mail delivers it (quoted, indented, re-wrapped,
//! inside a letter) and undoes only what cannot touch a signed byte; the label
//! must match the expected kind.

use crate::envelope::{EnvelopeError, Kind};
use crate::text;

/// Width of the token lines.
pub const LINE_WIDTH: usize = 64;

const DASHES: &str = "-----";

/// Wraps a compact token in the armored form with unsigned header lines.
/// Header values are escaped so they always stay on one line.
pub fn armor(kind: Kind, token: &str, headers: &[(&str, String)]) -> String {
    let mut out = format!("{DASHES}BEGIN {}{DASHES}\n", kind.label());
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&text::escape(value));
        out.push('\n');
    }
    if !headers.is_empty() {
        out.push('\n');
    }
    for chunk in token.as_bytes().chunks(LINE_WIDTH) {
        out.push_str(std::str::from_utf8(chunk).expect("tokens are ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("{DASHES}END {}{DASHES}\n", kind.label()));
    out
}

/// Reads either form: the armored file or the bare compact token, also
/// when it arrives as mail delivers it. Returns the compact token (not yet
/// verified).
///
/// Mail does things to text; the reader undoes what cannot touch a signed
/// byte, since a token has no space, `>` or line break in it:
///
/// * a byte-order mark, CRLF line endings, trailing spaces and indentation;
/// * quote prefixes (`> `, `>> `, `>`) on every line of the block;
/// * text before and after the block (the letter around it);
/// * token lines re-wrapped at another width, and a one-line token broken
///   over several lines.
///
/// Anything else inside the block — a word in the middle of the token, a
/// missing END line — is refused naming the line and what to remove. What
/// it returns is exactly the signed token: the envelope verifies it as is.
pub fn read(input: &str, expected: Kind) -> Result<String, EnvelopeError> {
    if input.len() > expected.max_len() * 2 {
        return Err(EnvelopeError::TooLarge { expected, len: input.len(), max: expected.max_len() * 2 });
    }
    let lines: Vec<Line<'_>> = input
        .strip_prefix('\u{feff}')
        .unwrap_or(input)
        .split('\n')
        .enumerate()
        .map(|(i, raw)| Line::of(i + 1, raw))
        .collect();
    match lines.iter().position(|l| l.text.starts_with("-----BEGIN ")) {
        Some(begin) => dearmor(&lines, begin, expected),
        None => bare(&lines, expected),
    }
}

/// One line of the input with what mail adds stripped: `text` is the line
/// without its quote prefix, leading and trailing white space.
struct Line<'a> {
    number: usize,
    quotes: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    fn of(number: usize, raw: &'a str) -> Line<'a> {
        let mut rest = raw.trim_end_matches(['\r', ' ', '\t']).trim_start_matches(['\u{feff}', ' ', '\t']);
        let mut quotes = 0;
        while let Some(after) = rest.strip_prefix('>') {
            quotes += 1;
            rest = after.trim_start_matches([' ', '\t']);
        }
        Line { number, quotes, text: rest }
    }
}

fn is_token_text(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A line's text, shortened for a message.
fn shown(s: &str) -> String {
    let short: String = s.chars().take(40).collect();
    let more = if short.len() < s.len() { "…" } else { "" };
    format!("`{}{more}`", text::escape(&short))
}

fn dearmor(lines: &[Line<'_>], begin: usize, expected: Kind) -> Result<String, EnvelopeError> {
    let bad = |line: usize, detail: String| EnvelopeError::Malformed {
        expected,
        detail: format!("armor line {line}: {detail}"),
    };
    let first = &lines[begin];
    let label =
        first.text.strip_prefix("-----BEGIN ").and_then(|rest| rest.strip_suffix(DASHES)).ok_or_else(|| {
            bad(first.number, format!("expected `-----BEGIN <LABEL>-----`, found {}", shown(first.text)))
        })?;
    match Kind::from_label(label) {
        Some(kind) if kind == expected => {}
        Some(found) => return Err(EnvelopeError::WrongKind { expected, found }),
        None => return Err(bad(first.number, format!("unknown label `{}`", text::escape(label)))),
    }
    let end = format!("{DASHES}END {label}{DASHES}");
    // The block's lines: after BEGIN, quoted as deeply as the BEGIN line.
    let mut body: Vec<&Line<'_>> = Vec::new();
    let mut closed = false;
    for line in &lines[begin + 1..] {
        if line.text == end {
            closed = true;
            break;
        }
        if line.quotes != first.quotes && !line.text.is_empty() {
            return Err(bad(
                line.number,
                format!(
                    "this line is quoted {} time(s) but the BEGIN line {} time(s): the block was cut by other text; paste the whole block again",
                    line.quotes, first.quotes
                ),
            ));
        }
        body.push(line);
    }
    if !closed {
        let last = lines.last().map_or(first.number, |l| l.number);
        return Err(bad(last, format!("missing `{end}` (is the text cut short?)")));
    }
    // Unsigned header lines come first (`Name: value`, possibly wrapped,
    // then an empty line, which mail may have dropped); the token starts on
    // the first line that starts as a token does, in lines of any width.
    let prefix = format!("{}{}.", expected.tag(), crate::envelope::VERSION);
    let Some(start) = body.iter().position(|l| l.text.starts_with(&prefix)) else {
        let found = body.iter().find(|l| is_token_text(l.text));
        return Err(match found {
            Some(l) => bad(
                l.number,
                format!("the token starts with {}, not `{prefix}`: remove what comes before it", shown(l.text)),
            ),
            None => bad(first.number, format!("no token (a line starting with `{prefix}`) before the END line")),
        });
    };
    let mut token = String::new();
    for line in &body[start..] {
        if line.text.is_empty() {
            continue;
        }
        if !is_token_text(line.text) {
            return Err(bad(
                line.number,
                format!(
                    "{} is not part of the token (base64url characters and `.` only); remove it, or paste the block as it was sent",
                    shown(line.text)
                ),
            ));
        }
        token.push_str(line.text);
    }
    Ok(token)
}

/// The one-line form, found in the text around it: the first line that
/// starts with the kind's tag, joined with the lines after it while the
/// token is not complete (a token wrapped by mail).
fn bare(lines: &[Line<'_>], expected: Kind) -> Result<String, EnvelopeError> {
    let prefix = format!("{}{}.", expected.tag(), crate::envelope::VERSION);
    let malformed = |detail: String| EnvelopeError::Malformed { expected, detail };
    if let Some(end) = lines.iter().find(|l| l.text.starts_with("-----END ")) {
        return Err(malformed(format!(
            "line {} is an END line, but no `-----BEGIN {}-----` line comes before it; paste the whole block",
            end.number,
            expected.label()
        )));
    }
    let non_blank: Vec<&Line<'_>> = lines.iter().filter(|l| !l.text.is_empty()).collect();
    if non_blank.is_empty() {
        return Ok(String::new()); // the envelope says it is empty
    }
    let start = non_blank.iter().position(|l| l.text.starts_with(&prefix));
    let Some(start) = start else {
        // Not ours: one line is the token of another kind, or garbled.
        if let [only] = non_blank.as_slice() {
            if only.text.contains(char::is_whitespace) || only.text.chars().any(char::is_control) {
                return Err(malformed(
                    "it has spaces or control characters inside; give the one-line token or the whole armored file"
                        .into(),
                ));
            }
            return Ok(only.text.to_owned()); // the envelope says what is wrong with it
        }
        return Err(malformed(format!(
            "no {} found: expected a token starting with `{prefix}` or a `-----BEGIN {}-----` block",
            expected.name(),
            expected.label()
        )));
    };
    let mut token = String::new();
    for line in &non_blank[start..] {
        if !token.is_empty() && complete(&token) {
            break;
        }
        if !is_token_text(line.text) {
            if token.is_empty() {
                return Err(malformed(format!(
                    "line {}: {} has spaces or other characters inside the token; remove them",
                    line.number,
                    shown(line.text)
                )));
            }
            break;
        }
        token.push_str(line.text);
    }
    Ok(token)
}

/// A compact token that has its four parts, the last one a whole signature.
fn complete(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() >= 4 && parts[3].len() >= crate::envelope::SIGNATURE_B64_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        format!("lic1.0011223344556677.{}.{}", "e".repeat(100), "s".repeat(86))
    }

    #[test]
    fn round_trip_with_and_without_headers() {
        let t = token();
        let plain = armor(Kind::License, &t, &[]);
        assert_eq!(read(&plain, Kind::License).unwrap(), t);
        let with = armor(Kind::License, &t, &[("Licensee", "Acme\nEvil: yes".into())]);
        assert!(with.contains("Licensee: Acme\\u{a}Evil: yes\n\n"));
        assert_eq!(read(&with, Kind::License).unwrap(), t);
        assert!(plain.lines().all(|l| l.len() <= LINE_WIDTH));
        assert_eq!(read(&plain.replace('\n', "\r\n"), Kind::License).unwrap(), t);
    }

    #[test]
    fn bare_token_is_read_with_whitespace_trimmed() {
        assert_eq!(read(&format!("  {}\n", token()), Kind::License).unwrap(), token());
    }

    #[test]
    fn strictness() {
        let good = armor(Kind::License, &token(), &[]);
        let cases = [
            good.replace("BEGIN LICENSE", "BEGIN LICENCE"),
            good.replace("-----END LICENSE-----\n", ""),
            good.replacen('\n', "\nxx yy\n", 2),
            good.replace("lic1", "lic1 "),
            good.replacen('\n', "\nnot a token line\n", 2),
            format!("-----END LICENSE-----\n{}", token()),
        ];
        for case in &cases {
            assert!(read(case, Kind::License).is_err(), "accepted: {case}");
        }
        assert!(matches!(
            read(&armor(Kind::ActivationReceipt, &token(), &[]), Kind::License),
            Err(EnvelopeError::WrongKind { found: Kind::ActivationReceipt, .. })
        ));
        let err = read(&good.replacen('\n', "\nnot a token line\n", 2), Kind::License).unwrap_err();
        assert!(err.to_string().contains("`not a token line` is not part of the token"), "{err}");
    }

    /// What mail does to a block: every one is undone, and the token is the
    /// signed one exactly.
    #[test]
    fn mail_manglings_are_undone() {
        let t = token();
        let block = armor(Kind::License, &t, &[("Licensee", "Acme Analytics Ltd, a rather long name".into())]);
        let rewrapped = {
            let body: String =
                t.as_bytes().chunks(76).map(|c| format!("{}\n", std::str::from_utf8(c).unwrap())).collect();
            format!("-----BEGIN LICENSE-----\nLicensee: Acme\n\n{body}-----END LICENSE-----\n")
        };
        let cases = [
            ("quoted", block.lines().map(|l| format!("> {l}\n")).collect::<String>()),
            ("quoted twice", block.lines().map(|l| format!(">> {l}\n")).collect()),
            ("quoted without space", block.lines().map(|l| format!(">{l}\n")).collect()),
            ("indented", block.lines().map(|l| format!("    {l}\n")).collect()),
            ("trailing spaces", block.lines().map(|l| format!("{l}   \n")).collect()),
            ("a byte-order mark", format!("\u{feff}{block}")),
            ("CRLF", block.replace('\n', "\r\n")),
            ("in a letter", format!("Hello,\n\nyour license:\n\n{block}\nRegards,\nThe vendor\n")),
            ("re-wrapped at 76", rewrapped),
            (
                "the header wrapped, its empty line lost",
                block.replace("a rather long name\n\n", "a rather\n long name\n"),
            ),
            (
                "a one-line token wrapped by mail, in a letter",
                format!("Hi,\n> {}\n> {}\n> {}\nBye\n", &t[..76], &t[76..152], &t[152..]),
            ),
        ];
        for (what, text) in &cases {
            assert_eq!(read(text, Kind::License).as_deref(), Ok(t.as_str()), "{what}:\n{text}");
        }
    }

    #[test]
    fn found_by_fuzzing_a_vertical_tab_before_the_armor_is_not_a_token() {
        // fuzz/artifacts/armor/crash-c363…: `\t\v-----BEGIN …` was returned whole as a "token".
        let input = format!("\t\u{b}{}", armor(Kind::License, &token(), &[]));
        assert!(matches!(read(&input, Kind::License), Err(EnvelopeError::Malformed { .. })));
        assert!(read("lic1.a b.c.d", Kind::License).is_err());
    }

    #[test]
    fn token_lines_of_any_width_are_joined() {
        let t = token();
        let mut text = "-----BEGIN LICENSE-----\n".to_string();
        text.push_str(&t[..10]);
        text.push('\n');
        text.push_str(&t[10..]);
        text.push_str("\n-----END LICENSE-----\n");
        assert_eq!(read(&text, Kind::License).unwrap(), t);
    }
}
