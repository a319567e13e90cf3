//! docs/CONFIGURATION.md and .env.example against the code: the table of the binaries'
//! variables lists exactly the names of `logagg_core::config::VARIABLES`, with the same
//! defaults; .env.example has each of them once, commented out, with its default; every
//! `LOGAGG_*` name the Rust sources or the scripts read is documented.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use logagg_core::config::VARIABLES;

const DOC: &str = "docs/CONFIGURATION.md";
const ENV_EXAMPLE: &str = ".env.example";
/// The heading above the table of the binaries' variables.
const BINARIES_HEADING: &str = "## Variables of the binaries";
/// The heading above the table of the scripts' own overrides.
const SCRIPTS_HEADING: &str = "## Variables of the scripts";
/// How the doc writes an empty default.
const UNSET: &str = "*(unset)*";
/// Names .env.example may carry besides VARIABLES (not logagg's own, documented in prose).
const ENV_EXAMPLE_EXTRAS: &[&str] = &["RUST_LOG"];
/// Script-internal variables, set by one script for another, not meant for users.
const SCRIPT_INTERNAL: &[&str] = &["LOGAGG_WAIT_ABORT_IF"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One row of a markdown table: its cells, trimmed, `\|` unescaped.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    out.push(cell.trim().to_owned());
    out
}

/// The rows (without header and separator) of the first table after `heading`, each with
/// its line number.
fn table_after(markdown: &str, heading: &str) -> Vec<(usize, Vec<String>)> {
    let lines: Vec<&str> = markdown.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("{DOC} has no heading {heading:?}"));
    let first = (start + 1..lines.len())
        .find(|&i| lines[i].trim_start().starts_with('|'))
        .unwrap_or_else(|| panic!("{DOC}: no table after {heading:?}"));
    if let Some(next_heading) = (start + 1..first).find(|&i| lines[i].starts_with("## ")) {
        panic!(
            "{DOC}: the section {heading:?} ends (line {}) before any table",
            next_heading + 1
        );
    }
    let header = cells(lines[first]);
    assert_eq!(
        header,
        ["Variable", "Default", "Meaning"],
        "{DOC} line {}: table header",
        first + 1
    );
    let separator = cells(lines.get(first + 1).copied().unwrap_or(""));
    assert!(
        separator.len() == 3
            && separator
                .iter()
                .all(|c| c.len() >= 3 && c.chars().all(|ch| ch == '-' || ch == ':')),
        "{DOC} line {}: expected the table's separator row, got {separator:?}",
        first + 2
    );
    (first + 2..lines.len())
        .take_while(|&i| lines[i].trim_start().starts_with('|'))
        .map(|i| (i + 1, cells(lines[i])))
        .collect()
}

/// The text inside a cell that is exactly one code span (`` `x` ``).
fn code_span(cell: &str) -> Option<&str> {
    let inner = cell.strip_prefix('`')?.strip_suffix('`')?;
    (!inner.contains('`')).then_some(inner)
}

/// name -> (default, meaning) of a documented table, checking each row's shape.
fn documented(rows: &[(usize, Vec<String>)]) -> BTreeMap<String, (Option<String>, String)> {
    let mut out = BTreeMap::new();
    for (line, row) in rows {
        assert_eq!(
            row.len(),
            3,
            "{DOC} line {line}: expected 3 cells, got {row:?}"
        );
        let name = code_span(&row[0]).unwrap_or_else(|| {
            panic!(
                "{DOC} line {line}: the variable must be one code span, got {:?}",
                row[0]
            )
        });
        // `x` is the default x; *(unset)* is the empty default; anything else is prose.
        let default = if row[1] == UNSET {
            Some(String::new())
        } else {
            code_span(&row[1]).map(str::to_owned)
        };
        assert!(
            !row[2].is_empty(),
            "{DOC} line {line}: {name} has no meaning"
        );
        let previous = out.insert(name.to_owned(), (default, row[2].clone()));
        assert!(
            previous.is_none(),
            "{DOC} line {line}: {name} is listed twice"
        );
    }
    out
}

fn code_names() -> BTreeSet<String> {
    VARIABLES.iter().map(|v| v.name.to_owned()).collect()
}

/// Set difference in both directions, as a readable complaint (empty when equal).
fn difference(what: &str, code: &BTreeSet<String>, listed: &BTreeSet<String>) -> String {
    let missing: Vec<_> = code.difference(listed).collect();
    let extra: Vec<_> = listed.difference(code).collect();
    let mut complaint = String::new();
    if !missing.is_empty() {
        complaint += &format!("in VARIABLES (core/src/config.rs) but not in {what}: {missing:?}\n");
    }
    if !extra.is_empty() {
        complaint += &format!("in {what} but not in VARIABLES (core/src/config.rs): {extra:?}\n");
    }
    complaint
}

#[test]
fn doc_table_lists_exactly_the_variables_with_their_defaults() {
    let doc = read(DOC);
    let table = documented(&table_after(&doc, BINARIES_HEADING));
    let listed: BTreeSet<String> = table.keys().cloned().collect();
    let complaint = difference(&format!("the table of {DOC}"), &code_names(), &listed);
    assert!(complaint.is_empty(), "{complaint}");
    for variable in VARIABLES {
        let (default, _) = &table[variable.name];
        let expected = if variable.default.is_empty() {
            UNSET.to_owned()
        } else {
            format!("`{}`", variable.default)
        };
        assert_eq!(
            default.as_deref(),
            Some(variable.default),
            "{DOC}: the default of {} must be written {expected}",
            variable.name
        );
    }
}

#[test]
fn env_example_has_every_variable_commented_with_its_default() {
    let text = read(ENV_EXAMPLE);
    let mut assigned: BTreeMap<String, String> = BTreeMap::new();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        let body = line.trim_start();
        let (commented, body) = match body.strip_prefix('#') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, body),
        };
        let Some((name, value)) = body.split_once('=') else {
            assert!(
                commented || body.is_empty(),
                "{ENV_EXAMPLE} line {number}: not a comment or assignment: {line:?}"
            );
            continue;
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            assert!(
                commented,
                "{ENV_EXAMPLE} line {number}: not a comment or assignment: {line:?}"
            );
            continue; // prose that happens to contain '='
        }
        assert!(
            commented,
            "{ENV_EXAMPLE} line {number}: {name} must be commented out (`#{name}=...`)"
        );
        let previous = assigned.insert(name.to_owned(), value.to_owned());
        assert!(
            previous.is_none(),
            "{ENV_EXAMPLE} line {number}: {name} is listed twice"
        );
    }
    let listed: BTreeSet<String> = assigned
        .keys()
        .filter(|n| !ENV_EXAMPLE_EXTRAS.contains(&n.as_str()))
        .cloned()
        .collect();
    let complaint = difference(ENV_EXAMPLE, &code_names(), &listed);
    assert!(complaint.is_empty(), "{complaint}");
    for variable in VARIABLES {
        assert_eq!(
            assigned[variable.name], variable.default,
            "{ENV_EXAMPLE}: the default of {} must be `#{}={}`",
            variable.name, variable.name, variable.default
        );
    }
}

/// Every maximal `LOGAGG_[A-Z0-9_]*` word in `text` (a leading `_` excludes it: `_LOGAGG_...`).
fn logagg_names(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    let mut out = BTreeSet::new();
    let mut i = 0;
    while let Some(found) = text[i..].find("LOGAGG_") {
        let start = i + found;
        let mut end = start + "LOGAGG_".len();
        while end < bytes.len() && word(bytes[end]) {
            end += 1;
        }
        if (start == 0 || !word(bytes[start - 1])) && end > start + "LOGAGG_".len() {
            out.insert(text[start..end].trim_end_matches('_').to_owned());
        }
        i = end;
    }
    out
}

fn files_under(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files_under(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

#[test]
fn every_variable_the_sources_read_is_documented() {
    let doc = read(DOC);
    let in_doc = logagg_names(&doc);
    let code = code_names();
    let mut undocumented = Vec::new();
    let mut sources = Vec::new();
    for crate_dir in ["core/src", "api/src", "consumer/src", "producer/src"] {
        files_under(&root().join(crate_dir), "rs", &mut sources);
    }
    for path in &sources {
        let text = std::fs::read_to_string(path).expect("source");
        for name in logagg_names(&text) {
            if !code.contains(&name) && !in_doc.contains(&name) {
                undocumented.push(format!(
                    "{name} (read in {})",
                    path.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    assert!(
        sources.len() > 4,
        "found only {} Rust sources",
        sources.len()
    );
    assert!(
        undocumented.is_empty(),
        "not in VARIABLES and not mentioned in {DOC}: {undocumented:?}"
    );
}

/// `${LOGAGG_X:-default}` expansions of a shell script: name -> default.
fn shell_defaults(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(found) = rest.find("${LOGAGG_") {
        let after = &rest[found + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let tail = &after[name_len..];
        if let Some(default) = tail.strip_prefix(":-") {
            let end = default.find('}').unwrap_or(default.len());
            out.push((name.to_owned(), default[..end].to_owned()));
        }
        rest = tail;
    }
    out
}

#[test]
fn scripts_table_matches_the_scripts() {
    let doc = read(DOC);
    let table = documented(&table_after(&doc, SCRIPTS_HEADING));
    let mut scripts = Vec::new();
    files_under(&root().join("scripts"), "sh", &mut scripts);
    let mut read_by_scripts: BTreeMap<String, (String, String)> = BTreeMap::new();
    for path in &scripts {
        let text = std::fs::read_to_string(path).expect("script");
        let file = path.strip_prefix(root()).unwrap().display().to_string();
        for (name, default) in shell_defaults(&text) {
            read_by_scripts
                .entry(name)
                .or_insert((default, file.clone()));
        }
    }
    assert!(
        read_by_scripts.contains_key("LOGAGG_PG_PORT"),
        "the scan of scripts/*.sh found no ${{LOGAGG_PG_PORT:-...}}: {read_by_scripts:?}"
    );
    let code = code_names();
    for (name, (default, file)) in &read_by_scripts {
        if code.contains(name) || SCRIPT_INTERNAL.contains(&name.as_str()) {
            continue;
        }
        let (documented_default, _) = table
            .get(name)
            .unwrap_or_else(|| panic!("{file} reads {name} (default {default:?}); add it to the table under {SCRIPTS_HEADING:?} in {DOC}"));
        // Compare literal defaults; ones computed by the script ($VAR) are described in prose.
        if let (Some(documented), false) = (documented_default, default.contains('$')) {
            assert_eq!(
                documented, default,
                "{DOC}: default of {name} (read in {file})"
            );
        }
    }
    for name in table.keys() {
        assert!(
            read_by_scripts.contains_key(name),
            "{DOC} lists {name} under {SCRIPTS_HEADING:?}, but no script in scripts/ reads it"
        );
        assert!(
            !code.contains(name),
            "{name} is a variable of the binaries: document it in the first table"
        );
    }
}

#[test]
fn parsers_see_what_they_should() {
    // The parsers above must not pass by seeing nothing.
    assert_eq!(cells("| `A` | `x\\|y` | m |"), ["`A`", "`x|y`", "m"]);
    assert_eq!(code_span("`a b`"), Some("a b"));
    assert_eq!(code_span("`a` and `b`"), None);
    assert_eq!(
        logagg_names("x ${LOGAGG_PG_PORT:-5432} _LOGAGG_LIB_SOURCED \"LOGAGG_API_URL\""),
        BTreeSet::from(["LOGAGG_PG_PORT".to_owned(), "LOGAGG_API_URL".to_owned()])
    );
    assert_eq!(
        shell_defaults(
            "A=\"${LOGAGG_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}\" ${LOGAGG_X} ${LOGAGG_E:-}"
        ),
        [
            (
                "LOGAGG_KAFKA_HEAP_OPTS".to_owned(),
                "-Xmx512m -Xms256m".to_owned()
            ),
            ("LOGAGG_E".to_owned(), String::new())
        ]
    );
    let doc = format!("{BINARIES_HEADING}\n\n| Variable | Default | Meaning |\n| --- | --- | --- |\n| `A` | `1` | a |\n| `B` | {UNSET} | b |\n\nafter\n| x |\n");
    let table = documented(&table_after(&doc, BINARIES_HEADING));
    assert_eq!(table.len(), 2);
    assert_eq!(table["A"].0.as_deref(), Some("1"));
    assert_eq!(table["B"].0.as_deref(), Some(""));
}
