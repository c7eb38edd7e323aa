//! Reading the error catalogue (docs/ERRORS.md) and the error messages and
//! hints in the sources, for the test that keeps the two in step.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::workspace;

pub const SOURCE_DIRS: [&str; 3] = ["common/src", "issuer/src", "activator/src"];
/// The catalogue.
pub const CATALOGUE: &str = "docs/ERRORS.md";

pub fn read(path: &str) -> String {
    std::fs::read_to_string(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------------------
// Reading the sources.

/// Every `.rs` file under `dir`, as (path relative to the workspace, text).
pub fn rust_files(dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.strip_prefix(workspace()).unwrap_or(&path).display().to_string();
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

pub fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        rust_files(&workspace().join(dir), &mut files);
    }
    assert!(files.len() > 20, "the sources were not found: {files:?}");
    files
}

/// The identifier at the start of `s`.
pub fn ident(s: &str) -> &str {
    let s = s.trim_start();
    &s[..s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len())]
}

/// The names of the types that implement `Explain`.
pub fn explain_types(files: &[(String, String)]) -> BTreeSet<String> {
    let mut types = BTreeSet::new();
    for (_, text) in files {
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("impl ")
                && let Some(at) = rest.find("Explain for ")
            {
                types.insert(ident(&rest[at + "Explain for ".len()..]).to_owned());
            }
        }
    }
    types
}

/// The string literal that starts at the first `"` of `s`, unescaped, and the
/// rest of `s` after it.
pub fn string_literal(s: &str) -> Option<(String, &str)> {
    let start = s.find('"')?;
    let mut out = String::new();
    let mut chars = s[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[start + 1 + i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, other)) => out.push(other),
                None => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// Every string literal on a line of code (comments excluded).
pub fn string_literals(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut rest = code;
    while let Some((literal, after)) = string_literal(rest) {
        found.push(literal);
        rest = after;
    }
    found
}

/// One `#[error(...)]` attribute of a type that implements `Explain`.
#[derive(Debug)]
pub struct Message {
    /// `Type::Variant`, or `Type` for a struct.
    pub name: String,
    /// The format string; `None` for `#[error(transparent)]`.
    pub template: Option<String>,
    /// `file:line` of the attribute.
    pub at: String,
}

/// Every `#[error(...)]` of the enums and structs named in `types`: a simple
/// line-based reading of the sources, which are formatted by rustfmt.
pub fn messages(files: &[(String, String)], types: &BTreeSet<String>) -> Vec<Message> {
    let mut found = Vec::new();
    for (file, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        let mut pending: Vec<(String, usize)> = Vec::new();
        let mut in_enum: Option<String> = None;
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let code = line.trim();
            i += 1;
            if code.starts_with("#[error(") {
                let start = i;
                let mut attribute = code.to_owned();
                while !attribute.ends_with(")]") && i < lines.len() {
                    attribute.push(' ');
                    attribute.push_str(lines[i].trim());
                    i += 1;
                }
                pending.push((attribute, start));
                continue;
            }
            if code.is_empty() || code.starts_with("//") || code.starts_with("#[") {
                continue;
            }
            let declared = code.strip_prefix("pub ").unwrap_or(code);
            let declared = declared.strip_prefix("(crate) ").unwrap_or(declared);
            let message = |name: String, (attribute, line): (String, usize)| {
                let body = attribute["#[error(".len()..].trim_start();
                let template = if body.starts_with("transparent") {
                    None
                } else {
                    let (literal, _) = string_literal(body)
                        .unwrap_or_else(|| panic!("{file}:{line}: cannot read the message of {attribute}"));
                    Some(literal)
                };
                Message { name, template, at: format!("{file}:{line}") }
            };
            match &in_enum {
                None => {
                    if let Some(rest) = declared.strip_prefix("enum ")
                        && types.contains(ident(rest))
                    {
                        in_enum = Some(ident(rest).to_owned());
                    } else if let Some(rest) = declared.strip_prefix("struct ")
                        && types.contains(ident(rest))
                    {
                        for attribute in pending.drain(..) {
                            found.push(message(ident(rest).to_owned(), attribute));
                        }
                    }
                    pending.clear();
                }
                Some(ty) => {
                    if line == "}" {
                        in_enum = None;
                    } else if !pending.is_empty() {
                        let name = format!("{ty}::{}", ident(code));
                        for attribute in pending.drain(..) {
                            found.push(message(name.clone(), attribute));
                        }
                    }
                }
            }
        }
    }
    found
}

/// The literal parts of a Rust format string, between its placeholders
/// (`{{` and `}}` are literal braces). Parts of nothing but spaces are dropped.
pub fn format_parts(template: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                parts.last_mut().unwrap().push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                parts.last_mut().unwrap().push('}');
            }
            '{' => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
                parts.push(String::new());
            }
            c => parts.last_mut().unwrap().push(c),
        }
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// True when `parts` occur in `text` in this order, without overlapping.
pub fn in_order(text: &str, parts: &[String]) -> bool {
    let mut rest = text;
    for part in parts {
        match rest.find(part.as_str()) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The string literals of each `fn hint` of an `impl Explain for T`, as
/// (T, literal, `file:line`).
pub fn hints(files: &[(String, String)]) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for (file, text) in files {
        let mut ty: Option<String> = None;
        let mut in_hint = false;
        for (n, line) in text.lines().enumerate() {
            if let Some(rest) = line.strip_prefix("impl ")
                && let Some(at) = rest.find("Explain for ")
            {
                ty = Some(ident(&rest[at + "Explain for ".len()..]).to_owned());
            } else if line == "}" {
                ty = None;
                in_hint = false;
            } else if let Some(ty) = &ty {
                if line.trim_start().starts_with("fn hint(") {
                    in_hint = true;
                } else if line == "    }" {
                    in_hint = false;
                } else if in_hint {
                    for literal in string_literals(line) {
                        found.push((ty.clone(), literal, format!("{file}:{}", n + 1)));
                    }
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------
// Reading the catalogue.

/// A row of a table of docs/ERRORS.md.
#[derive(Debug)]
pub struct Row {
    /// `Type::Variant`.
    pub name: String,
    /// The `error:` text, `<…>` marking what is filled in.
    pub message: String,
    /// Exit status and class name.
    pub code: u8,
    pub class: String,
    /// The `hint:` text, `<…>` marking what is filled in.
    pub hint: String,
}

/// The text of a table cell written as a code span (`` `x` `` or ``` `` x `` ```).
pub fn code_span(cell: &str) -> String {
    let cell = cell.trim();
    let ticks = cell.len() - cell.trim_start_matches('`').len();
    let inner = &cell[ticks..cell.len() - ticks.min(cell.len() - ticks)];
    inner.strip_prefix(' ').and_then(|s| s.strip_suffix(' ')).unwrap_or(inner).to_owned()
}

/// The rows of every table whose first cell is a code span: `| name | message | status | cause | hint |`.
pub fn rows(doc: &str) -> Vec<Row> {
    doc.lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').collect();
            assert_eq!(cells.len(), 7, "{CATALOGUE}: a row needs 5 cells: {line}");
            let (code, class) = cells[3]
                .trim()
                .split_once(' ')
                .unwrap_or_else(|| panic!("{CATALOGUE}: the status cell is `CODE `class``: {line}"));
            Row {
                name: code_span(cells[1]),
                message: code_span(cells[2]),
                code: code.parse().unwrap_or_else(|_| panic!("{CATALOGUE}: not a status: {line}")),
                class: class.trim_matches('`').to_owned(),
                hint: code_span(cells[5]),
            }
        })
        .collect()
}

/// True when `text` is what `template` (with `<…>` placeholders) can print.
pub fn matches(template: &str, text: &str) -> bool {
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('<') {
        parts.push(&rest[..open]);
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        rest = &rest[close..];
    }
    parts.push(rest);
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return text == first;
    }
    let Some(mut middle) = text.strip_prefix(first) else { return false };
    let Some(stripped) = middle.strip_suffix(last) else { return false };
    middle = stripped;
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(at) => middle = &middle[at + part.len()..],
            None => return false,
        }
    }
    true
}

// ---------------------------------------------------------------------------
// (b) Everything the code can print is in the catalogue.
