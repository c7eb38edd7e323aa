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
//! Parsing is strict: the label must match the expected kind, every token line
//! but the last is exactly 64 characters, and nothing but whitespace may
//! follow the END line. CRLF line endings are accepted.

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

/// Reads either form: the armored file or the bare compact token. Returns the
/// compact token (not yet verified).
pub fn read(input: &str, expected: Kind) -> Result<String, EnvelopeError> {
    if input.len() > expected.max_len() * 2 {
        return Err(EnvelopeError::TooLarge { expected, len: input.len(), max: expected.max_len() * 2 });
    }
    let trimmed = input.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if trimmed.starts_with(DASHES) {
        return dearmor(trimmed, expected);
    }
    let token = trimmed.trim_end_matches(|c: char| c.is_ascii_whitespace());
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EnvelopeError::Malformed {
            expected,
            detail: "it has spaces, line breaks or control characters inside; give the one-line token or the whole armored file".into(),
        });
    }
    Ok(token.to_owned())
}

fn dearmor(input: &str, expected: Kind) -> Result<String, EnvelopeError> {
    let bad = |line: usize, detail: &str| EnvelopeError::Malformed {
        expected,
        detail: format!("armor line {line}: {detail}"),
    };
    let mut lines = input.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).enumerate().map(|(i, l)| (i + 1, l));

    let (n, begin) = lines.next().ok_or_else(|| bad(1, "empty"))?;
    let label = begin
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.strip_suffix(DASHES))
        .ok_or_else(|| bad(n, "expected `-----BEGIN <LABEL>-----`"))?;
    match Kind::from_label(label) {
        Some(kind) if kind == expected => {}
        Some(found) => return Err(EnvelopeError::WrongKind { expected, found }),
        None => return Err(bad(n, &format!("unknown label `{}`", text::escape(label)))),
    }
    let end = format!("{DASHES}END {label}{DASHES}");

    let rest: Vec<(usize, &str)> = lines.collect();
    // Optional header block: `Name: value` lines closed by one empty line.
    let mut body_start = 0;
    if rest.first().is_some_and(|(_, l)| l.contains(':')) {
        let blank = rest
            .iter()
            .position(|(_, l)| l.is_empty())
            .ok_or_else(|| bad(rest[0].0, "header lines must be followed by an empty line"))?;
        for (n, line) in &rest[..blank] {
            let (name, _) = line.split_once(": ").ok_or_else(|| bad(*n, "a header line is `Name: value`"))?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(bad(*n, "a header name is letters, digits and `-`"));
            }
        }
        body_start = blank + 1;
    }

    let mut token = String::new();
    let mut finished = false;
    let mut last_short = false;
    let mut end_line = 0;
    for (n, line) in &rest[body_start..] {
        if *line == end {
            finished = true;
            end_line = *n;
            break;
        }
        if last_short {
            return Err(bad(*n - 1, &format!("only the last token line may be shorter than {LINE_WIDTH} characters")));
        }
        if line.is_empty() || line.len() > LINE_WIDTH {
            return Err(bad(*n, &format!("token lines are 1 to {LINE_WIDTH} characters")));
        }
        if !line.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            return Err(bad(*n, "a token line holds only base64url characters and `.`"));
        }
        last_short = line.len() < LINE_WIDTH;
        token.push_str(line);
    }
    if !finished {
        return Err(bad(rest.last().map_or(1, |(n, _)| *n), &format!("missing `{end}` (is the file cut short?)")));
    }
    if token.is_empty() {
        return Err(bad(end_line, "no token between the header and the END line"));
    }
    if rest.iter().any(|(n, l)| *n > end_line && !l.trim().is_empty()) {
        return Err(bad(end_line + 1, "text after the END line"));
    }
    Ok(token)
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
            format!("{good}trailing garbage\n"),
            good.replacen('\n', "\nxx\n", 1),
            good.replace("lic1", "lic1 "),
        ];
        for case in &cases {
            assert!(read(case, Kind::License).is_err(), "accepted: {case}");
        }
        assert!(matches!(
            read(&armor(Kind::ActivationReceipt, &token(), &[]), Kind::License),
            Err(EnvelopeError::WrongKind { found: Kind::ActivationReceipt, .. })
        ));
    }

    #[test]
    fn found_by_fuzzing_a_vertical_tab_before_the_armor_is_not_a_token() {
        // fuzz/artifacts/armor/crash-c363…: `\t\v-----BEGIN …` was returned whole as a "token".
        let input = format!("\t\u{b}{}", armor(Kind::License, &token(), &[]));
        assert!(matches!(read(&input, Kind::License), Err(EnvelopeError::Malformed { .. })));
        assert!(read("lic1.a b.c.d", Kind::License).is_err());
    }

    #[test]
    fn a_short_line_in_the_middle_is_refused() {
        let t = token();
        let mut text = "-----BEGIN LICENSE-----\n".to_string();
        text.push_str(&t[..10]);
        text.push('\n');
        text.push_str(&t[10..]);
        text.push_str("\n-----END LICENSE-----\n");
        assert!(read(&text, Kind::License).is_err());
    }
}
