//! Reading the error catalogue (docs/ERRORS.md), for the tests that check
//! that what the binaries print is in it.

use crate::workspace;

/// The catalogue.
pub const CATALOGUE: &str = crate::errors_doc::PATH;

/// A file of the workspace.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
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
