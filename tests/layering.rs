//! The layering rule, checked on the source tree.
//!
//! Lectern's top-level modules sit in layers (see ARCHITECTURE.md, "Layers"):
//!
//! ```text
//! 0  domain                                   types and rules, no I/O
//! 1  db, storage                              the only SQL, the only S3
//! 2  jobs, ingest, search, publish, services  the engines and the business steps
//! 3  http, cli, config                        the adapters, and the settings they are built from
//! 4  startup, telemetry, main, lib            wiring: the process itself
//! ```
//!
//! The rule: a module never imports from a layer above its own, and the graph of imports between
//! top-level modules has no cycle (so two modules of one layer may use each other in one
//! direction only). Imports are read from the text of `src/**/*.rs`: `use crate::…` (grouped
//! `use crate::{a, b::c}` too), inline `crate::x::…` paths, `super::` chains that climb out of a
//! top-level module, and `lectern::…` in the binary. Comments and string literals are skipped.
//!
//! A second rule rides along: SQL (`sqlx::query…`) is written only in `db`.
//!
//! `config` sits with the adapters on purpose: the layers below take plain values (a URL, a
//! duration) from `startup`, so no engine or query depends on how settings are read.
//! `telemetry` is wiring: only the process's entry point installs logging.
//!
//! *Rationale:* a test reading the source is cruder than a compiler, but it needs no second crate
//! per layer and it fails in the commit that brings a cycle back, with the file and the path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A top-level module missing here fails the test: a new module has
/// to be given its place.
const LAYERS: &[&[&str]] = &[
    // `props` exists in test builds only: the shared set-up of the property tests, which every
    // layer's parsers use, so it sits at the bottom and imports nothing of Lectern.
    &["domain", "props"],
    &["db", "storage"],
    &[
        "jobs", "ingest", "search", "publish", "media", "learning", "services", "catalog",
        "review", "accounts",
    ],
    &["http", "cli", "config"],
    &["startup", "telemetry", "main", "lib"],
];

/// Imports that break the rule today and are being removed. Each names the file, the module it
/// imports from, and why it is allowed for now. An entry that no longer matches any import fails
/// the test, so the list cannot outlive its reason.
const KNOWN_EXCEPTIONS: &[(&str, &str)] = &[];

/// One import of another top-level module: the file, its line and the module imported from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Import {
    file: String,
    line: usize,
    from: String,
    to: String,
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module path of a source file, relative to `src/`: `http/api/v1/assets.rs` is
/// `["http", "api", "v1", "assets"]`, `db/mod.rs` is `["db"]`, `lib.rs` and `main.rs` are the
/// roots of their crates (`[]`), named `lib` and `main` as top-level modules.
fn module_path(rel: &str) -> (String, Vec<String>) {
    let rel = rel.trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        return (parts[0].clone(), Vec::new());
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    (parts[0].clone(), parts)
}

/// The source with comments and the contents of string and character literals blanked out
/// (replaced by spaces, newlines kept), so line numbers stay right and no `crate::` inside a doc
/// comment or a message counts as an import.
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(k).copied();
        if c[i] == '/' && at(i + 1) == Some('/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c[i] == '/' && at(i + 1) == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (at(i + 1) == Some('"') || at(i + 1) == Some('#'))
            && !c[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"…", r#"…"#, r##"…"##.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let closing: Vec<char> = closing.chars().collect();
            for &ch in &c[i..=j] {
                blank(&mut out, ch);
            }
            i = j + 1;
            while i < c.len() && !c[i..].starts_with(&closing) {
                blank(&mut out, c[i]);
                i += 1;
            }
            for _ in 0..closing.len().min(c.len() - i) {
                out.push(' ');
                i += 1;
            }
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' {
            // A character literal ('x', '\n', '\u{1F600}', '"') or a lifetime ('a).
            if at(i + 1) == Some('\\') {
                out.push(' ');
                i += 1;
                while i < c.len() && c[i] != '\'' {
                    if c[i] == '\\' {
                        out.push(' ');
                        i += 1;
                    }
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            } else if at(i + 2) == Some('\'') {
                out.push_str("   ");
                i += 3;
            } else {
                out.push('\'');
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// The identifiers a `use` tree starts with at its top level: `{a::b, c, d::{e}}` → a, c, d.
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0usize;
    let mut expect_head = true;
    let mut word = String::new();
    for ch in text.chars() {
        match ch {
            '{' => {
                depth += 1;
                if depth == 1 {
                    expect_head = true;
                }
            }
            '}' => {
                if depth == 1 && !word.is_empty() && expect_head {
                    heads.push(std::mem::take(&mut word));
                }
                if depth <= 1 {
                    break;
                }
                depth -= 1;
            }
            ',' if depth == 1 => {
                if !word.is_empty() && expect_head {
                    heads.push(std::mem::take(&mut word));
                }
                word.clear();
                expect_head = true;
            }
            ':' if depth == 1 => {
                if !word.is_empty() && expect_head {
                    heads.push(std::mem::take(&mut word));
                }
                word.clear();
                expect_head = false;
            }
            c if depth == 1 && expect_head && is_ident(c) => word.push(c),
            _ => {}
        }
    }
    heads
}

/// The top-level modules a file's code refers to, with their lines. `top` is the file's
/// top-level module and `path` its full module path (for `super::`); `crate_names` are the
/// names the crate root goes by in this file (`crate`, and `lectern` in the binary).
fn references(code: &str, path: &[String], crate_names: &[&str]) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let line_at = |idx: usize| chars[..idx].iter().filter(|c| **c == '\n').count() + 1;
    let skip_ws = |j: &mut usize| {
        while *j < chars.len() && chars[*j].is_whitespace() {
            *j += 1;
        }
    };
    let mut found = Vec::new();
    // Inline modules (`mod tests { … }`) deepen the path for `super`: the brace depth each was
    // opened at, and the one whose `{` comes next.
    let mut braces = 0usize;
    let mut inline: Vec<usize> = Vec::new();
    let mut pending_mod = false;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' => {
                braces += 1;
                if std::mem::take(&mut pending_mod) {
                    inline.push(braces);
                }
            }
            '}' => {
                if inline.last() == Some(&braces) {
                    inline.pop();
                }
                braces = braces.saturating_sub(1);
            }
            ';' => pending_mod = false,
            _ => {}
        }
        if !is_ident(chars[i]) || (i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        if word == "mod" {
            pending_mod = true;
            continue;
        }
        // Where the path starts: the crate root (depth 0) or `super` climbing from the module
        // the text is in (the file's path and the inline modules around it).
        let here = path.len() + inline.len();
        let mut depth = if crate_names.contains(&word.as_str()) {
            Some(0)
        } else if word == "super" && !path.is_empty() {
            Some(here.saturating_sub(1))
        } else {
            None
        };
        let Some(mut d) = depth.take() else { continue };
        let mut j = i;
        loop {
            skip_ws(&mut j);
            if !(chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':')) {
                break;
            }
            j += 2;
            skip_ws(&mut j);
            if chars.get(j) == Some(&'{') {
                if d == 0 {
                    let text: String = chars[j..].iter().collect();
                    for head in group_heads(&text) {
                        if head != "self" && head != "super" {
                            found.push((line_at(start), head));
                        }
                    }
                } else if d == 1 {
                    found.extend(path.first().map(|own| (line_at(start), own.clone())));
                }
                break;
            }
            let s = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            let next: String = chars[s..j].iter().collect();
            if next == "super" && d > 0 {
                d -= 1;
                continue;
            }
            if d == 0 && !next.is_empty() {
                found.push((line_at(start), next));
            } else if d >= 1 {
                // Still inside the file's own top-level module.
                found.extend(path.first().map(|own| (line_at(start), own.clone())));
            }
            break;
        }
        i = j.max(i);
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every import between two different top-level modules in `files` (path relative to `src/`,
/// and the text).
fn imports(files: &[(String, String)]) -> Vec<Import> {
    let mut all = Vec::new();
    for (rel, text) in files {
        let (top, path) = module_path(rel);
        let names: &[&str] = if top == "main" {
            &["crate", "lectern"]
        } else {
            &["crate"]
        };
        let code = code_only(text);
        for (line, to) in references(&code, &path, names) {
            // `lectern::x` in the binary is the library's module x; the library root is `lib`.
            if to != top {
                all.push(Import {
                    file: format!("src/{rel}"),
                    line,
                    from: top.clone(),
                    to,
                });
            }
        }
    }
    all.sort();
    all.dedup();
    all
}

/// The rule's breaches: imports from a higher layer, modules in no layer, cycles between
/// top-level modules, and exceptions no longer needed. Empty when the tree is sound.
fn breaches(files: &[(String, String)], exceptions: &[(&str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    let imports = imports(files);
    let mut used_exceptions = BTreeSet::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rel in files.iter().map(|(r, _)| r) {
        let (top, _) = module_path(rel);
        if layer_of(&top).is_none() {
            problems.push(format!(
                "src/{rel}: module `{top}` is in no layer; add it to LAYERS in tests/layering.rs and to ARCHITECTURE.md"
            ));
        }
    }
    for i in &imports {
        let excepted = exceptions
            .iter()
            .position(|(f, m)| *f == i.file && *m == i.to);
        if let Some(k) = excepted {
            used_exceptions.insert(k);
            continue;
        }
        graph
            .entry(i.from.clone())
            .or_default()
            .insert(i.to.clone());
        match (layer_of(&i.from), layer_of(&i.to)) {
            (Some(a), Some(b)) if b > a => problems.push(format!(
                "{}:{}: `{}` (layer {a}) imports from `{}` (layer {b}), a layer above it",
                i.file, i.line, i.from, i.to
            )),
            (_, None) if i.to != "lib" => problems.push(format!(
                "{}:{}: `{}` imports `{}`, which is no module in a layer",
                i.file, i.line, i.from, i.to
            )),
            _ => {}
        }
    }
    for (k, (f, m)) in exceptions.iter().enumerate() {
        if !used_exceptions.contains(&k) {
            problems.push(format!(
                "known exception ({f} → {m}) matches no import any more: remove it from KNOWN_EXCEPTIONS"
            ));
        }
    }
    // Cycles: a depth-first search over the top-level graph.
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut BTreeSet<String>,
    ) {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(n.to_owned());
            cycles.insert(cycle.join(" → "));
            return;
        }
        if done.contains(n) {
            return;
        }
        stack.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            visit(m, graph, stack, done, cycles);
        }
        stack.pop();
        done.insert(n.to_owned());
    }
    let mut cycles = BTreeSet::new();
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        visit(n, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    for c in cycles {
        problems.push(format!("a cycle between top-level modules: {c}"));
    }
    problems
}

fn source_tree() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("read a source file");
            (rel, text)
        })
        .collect()
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let files = source_tree();
    assert!(files.len() > 50, "found only {} files", files.len());
    let problems = breaches(&files, KNOWN_EXCEPTIONS);
    assert!(
        problems.is_empty(),
        "the layering rule is broken:\n{}",
        problems.join("\n")
    );
}

/// Files outside `src/db/` that mention `sqlx::query` (in code, not comments): SQL is written
/// only in `db`.
fn sql_outside_db(files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .filter(|(rel, _)| !rel.starts_with("db/"))
        .filter(|(_, text)| {
            let code = code_only(text);
            ["sqlx::query", "query_as(", "query_scalar("]
                .iter()
                .any(|q| code.contains(q))
        })
        .map(|(rel, _)| format!("src/{rel}"))
        .collect()
}

#[test]
fn sql_is_written_only_in_db() {
    let outside = sql_outside_db(&source_tree());
    assert!(outside.is_empty(), "SQL outside src/db: {outside:?}");
    // And the check sees a query when there is one.
    let files = tree(&[
        (
            "http/api/v1/users.rs",
            "fn f() { sqlx::query(\"UPDATE users\"); }",
        ),
        ("db/users.rs", "fn f() { sqlx::query(\"UPDATE users\"); }"),
        ("cli.rs", "// sqlx::query is for db only"),
    ]);
    assert_eq!(sql_outside_db(&files), vec!["src/http/api/v1/users.rs"]);
}

#[test]
fn the_tree_is_actually_read() {
    // The check above passes trivially if the parser finds nothing; it must see the imports we
    // know are there, with their lines.
    let imports = imports(&source_tree());
    let edges: BTreeSet<(String, String)> = imports
        .iter()
        .map(|i| (i.from.clone(), i.to.clone()))
        .collect();
    for (from, to) in [
        ("db", "domain"),
        ("http", "db"),
        ("startup", "http"),
        ("main", "startup"),
        ("main", "cli"),
        ("publish", "storage"),
    ] {
        assert!(
            edges.contains(&(from.to_owned(), to.to_owned())),
            "expected an import {from} → {to}; found {edges:?}"
        );
    }
}

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn an_upward_import_is_caught_in_every_form() {
    for snippet in [
        "use crate::http::views::rfc3339;",
        "use crate::{db::Db, http::views};",
        "use crate::{\n    db,\n    http::{self, views},\n};",
        "fn f() -> String { crate::http::views::rfc3339(0) }",
        "fn f() { let _ = crate :: http :: x(); }",
        "use super::super::super::http::x;",
    ] {
        let files = tree(&[
            ("publish/feed/inner.rs", snippet),
            ("http/mod.rs", "use crate::publish::feed;"),
        ]);
        let problems = breaches(&files, &[]);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`publish` (layer 2) imports from `http` (layer 3)")),
            "not caught: {snippet:?}: {problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("cycle") && p.contains("http") && p.contains("publish")),
            "no cycle reported for {snippet:?}: {problems:?}"
        );
    }
}

#[test]
fn comments_strings_and_own_module_paths_are_not_imports() {
    let files = tree(&[(
        "db/mod.rs",
        r##"//! See [`crate::http::views`].
/* use crate::http::x; /* nested crate::cli */ */
const A: &str = "crate::http::x";
const B: &str = r#"use crate::startup::x; "quoted" "#;
const C: char = '"';
fn f<'a>(x: &'a str) -> &'a str { let _ = "\" crate::cli "; x }
use crate::db::lessons;
use super::domain::Invalid;
use crate::{domain::lesson, db::audit};
#[cfg(test)]
mod tests {
    use super::lessons;
    mod deeper { use super::super::x; }
}
"##,
    )]);
    let found = imports(&files);
    let targets: Vec<&str> = found.iter().map(|i| i.to.as_str()).collect();
    assert_eq!(targets, vec!["domain", "domain"], "{found:?}");
    assert!(breaches(&files, &[]).is_empty());
}

#[test]
fn sibling_cycles_unknown_modules_and_stale_exceptions_are_reported() {
    let files = tree(&[
        ("search/mod.rs", "use crate::publish::feed;"),
        ("publish/mod.rs", "use crate::search::index;"),
        ("gadgets.rs", "use crate::domain::x;"),
    ]);
    let problems = breaches(&files, &[("src/db/platforms.rs", "publish")]);
    assert!(problems.iter().any(|p| p.contains("cycle")), "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`gadgets` is in no layer")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("matches no import")),
        "{problems:?}"
    );
    // One direction between siblings is fine.
    let files = tree(&[("publish/mod.rs", "use crate::jobs::enqueue;")]);
    assert!(breaches(&files, &[]).is_empty());
    // The known exception covers exactly its file and module.
    let files = tree(&[("db/platforms.rs", "use crate::publish::webhooks::JOB_KIND;")]);
    assert!(breaches(&files, &[("src/db/platforms.rs", "publish")]).is_empty());
    assert!(!breaches(&files, &[]).is_empty());
}

/// The OpenAPI schema names of the types that derive `utoipa::ToSchema` in `text`: the type's
/// name, or the name given by `#[schema(as = …)]`.
fn schema_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("ToSchema") {
        rest = &rest[at + "ToSchema".len()..];
        // The item the derive belongs to: the next `struct` or `enum` keyword.
        let item = ["struct ", "enum "]
            .iter()
            .filter_map(|k| rest.find(k).map(|i| (i, k.len())))
            .min();
        let Some((i, len)) = item else { break };
        let attrs = &rest[..i];
        let ident = |s: &str| s.chars().take_while(|c| is_ident(*c)).collect::<String>();
        let name = match attrs.find("schema(as = ") {
            Some(j) => ident(&attrs[j + "schema(as = ".len()..]),
            None => ident(&rest[i + len..]),
        };
        if !name.is_empty() {
            names.push(name);
        }
        rest = &rest[i + len..];
    }
    names
}

/// utoipa keeps one component per schema name: two wire types of the same name would silently
/// document one with the other's schema (it happened: two `AudienceView`s). Each name is unique.
#[test]
fn no_two_openapi_schemas_share_a_name() {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (rel, text) in source_tree() {
        for name in schema_names(&code_only(&text)) {
            seen.entry(name).or_default().push(rel.clone());
        }
    }
    assert!(seen.len() > 50, "the scan found the schemas: {seen:?}");
    let shared: Vec<_> = seen.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(shared.is_empty(), "schema names used twice: {shared:?}");
}

#[test]
fn the_schema_name_scan_sees_a_clash() {
    let code = "#[derive(Serialize, ToSchema)]\npub struct AudienceView { a: u8 }\n\
                #[derive(ToSchema)]\n#[schema(as = FeedItem)]\npub enum Item { A }";
    assert_eq!(schema_names(code), ["AudienceView", "FeedItem"]);
}
