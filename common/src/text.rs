//! Printing signed text safely.
//!
//! Licensee names and other signed strings come from outside: a name with an
//! ANSI escape sequence or a right-to-left override could rewrite what an
//! operator sees in the terminal. Everything signed is passed through
//! [`escape`] before it is printed.

use std::borrow::Cow;

/// Escapes control characters and Unicode bidirectional controls as `\u{..}`
/// (and a backslash as `\u{5c}`, so escapes cannot be forged), leaving all other text as it is.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Removes one trailing line break (`\n` or `\r\n`), as left by `echo`
/// into a file or by a line read from standard input.
pub fn strip_line_end(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_terminal_tricks_only() {
        assert_eq!(escape("Acme 株式会社"), "Acme 株式会社");
        assert_eq!(escape("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(escape("evil\u{202e}cod.exe"), "evil\\u{202e}cod.exe");
        assert_eq!(escape("line\nbreak"), "line\\u{a}break");
        assert_eq!(escape("back\\u{1b}slash"), "back\\u{5c}u{1b}slash");
    }
}
