//! The module structure as a test: every file under `src/` is read, its `use crate::…`, `use super::…` and inline
//! `crate::…` / `super::…` paths are resolved to the file they name (through `pub use` re-exports), and the test
//! fails on any import cycle between files and on the pure core importing an edge module.
//!
//! What counts: code outside the file's `#[cfg(test)] mod tests` (test-only imports are not structure) and outside
//! comments. A module's `mod.rs` (or `lib.rs`) declaring, re-exporting and dispatching to its own children is the
//! module tree, not an import; a child naming something its parent *defines* is an import of the parent's file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`plan::engine`, `` for the crate root) → what the file uses.
struct Crate {
    /// Module path → file (relative to `src/`).
    files: BTreeMap<String, String>,
    /// Module path → paths (absolute, `::`-joined) it refers to.
    refs: BTreeMap<String, BTreeSet<String>>,
    /// Module path → name → absolute path, for `pub use` re-exports.
    reexports: BTreeMap<String, BTreeMap<String, String>>,
    /// Module path → the paths it only re-exports (`pub use`), not uses.
    reexported: BTreeMap<String, BTreeSet<String>>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `plan/engine.rs` → `plan::engine`; `plan/mod.rs` → `plan`; `lib.rs`, `main.rs` → ``.
fn module_path(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs");
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    if rel == "lib" || rel == "main" {
        return String::new();
    }
    rel.replace('/', "::")
}

fn join(base: &str, seg: &str) -> String {
    if base.is_empty() {
        seg.to_string()
    } else {
        format!("{base}::{seg}")
    }
}

fn parent(m: &str) -> String {
    m.rsplit_once("::")
        .map_or(String::new(), |(p, _)| p.to_string())
}

/// The code of a file without comments, string literals' contents, and its trailing test module.
fn code_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t == "#[cfg(test)]"
            && lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .is_some_and(|l| l.starts_with("mod ") && l.ends_with('{'))
        {
            break;
        }
        // Drop string contents and `//` comments (a naive scan is enough for this crate's code).
        let mut code = String::new();
        let mut in_str = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if in_str {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    in_str = false;
                    code.push('"');
                }
                continue;
            }
            if c == '"' {
                in_str = true;
                code.push('"');
            } else if c == '/' && chars.peek() == Some(&'/') {
                break;
            } else {
                code.push(c);
            }
        }
        out.push(code);
    }
    out
}

/// Expands `a::{b, c::{d, self}}` into `a::b`, `a::c::d`, `a::c`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        let path = path.strip_suffix("::self").unwrap_or(path);
        let path = path.strip_suffix("::*").unwrap_or(path);
        return vec![path.to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| {
            expand(p)
                .into_iter()
                .map(|q| {
                    if q == "self" {
                        prefix.to_string()
                    } else {
                        format!("{prefix}::{q}")
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A path as written in module `m` → absolute, or `None` for another crate.
fn absolute(m: &str, path: &str, children: &BTreeSet<String>) -> Option<String> {
    let mut segs = path.split("::").filter(|s| !s.is_empty());
    let first = segs.next()?;
    let mut base = match first {
        "crate" => String::new(),
        "self" => m.to_string(),
        "super" => parent(m),
        child if children.contains(&join(m, child)) => join(m, child),
        _ => return None,
    };
    for s in segs {
        base = if s == "super" {
            parent(&base)
        } else {
            join(&base, s)
        };
    }
    Some(base)
}

/// Inline paths starting with `crate::` or `super::` in a code line.
fn inline_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = line[from..].find(key) {
            let at = from + i;
            from = at + key.len();
            let before = line[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest: String = line[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(rest.trim_end_matches(':').to_string());
        }
    }
    out
}

fn read_crate() -> Crate {
    let root = src_dir();
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    let mut files = BTreeMap::new();
    for p in &paths {
        let rel = p
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        // `main.rs` is the binary, not a module of the library; `tests.rs`, `*_tests.rs` are unit tests.
        if rel == "main.rs" || rel.ends_with("tests.rs") {
            continue;
        }
        files.insert(module_path(&rel), rel);
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut refs = BTreeMap::new();
    let mut reexports = BTreeMap::new();
    let mut reexported = BTreeMap::new();
    for (m, rel) in &files {
        let text = std::fs::read_to_string(root.join(rel)).unwrap();
        let lines = code_lines(&text);
        let mut mine = BTreeSet::new();
        let mut exported = BTreeMap::new();
        let mut passed_on = BTreeSet::new();
        let mut statement: Option<(bool, String)> = None;
        for line in &lines {
            let t = line.trim();
            if statement.is_none() {
                let public = t.starts_with("pub use ") || t.starts_with("pub(crate) use ");
                if public || t.starts_with("use ") {
                    statement = Some((public, String::new()));
                }
            }
            if let Some((public, buf)) = &mut statement {
                buf.push_str(t);
                buf.push(' ');
                if t.ends_with(';') {
                    let body = buf.trim().trim_end_matches(';');
                    let body = body[body.find("use ").unwrap() + 4..].to_string();
                    for path in expand(&body) {
                        if let Some(abs) = absolute(m, &path, &modules) {
                            if *public {
                                let name = abs.rsplit("::").next().unwrap_or("").to_string();
                                exported.insert(name, abs.clone());
                                passed_on.insert(abs);
                            } else {
                                mine.insert(abs);
                            }
                        }
                    }
                    statement = None;
                }
                continue;
            }
            for path in inline_paths(t) {
                if let Some(abs) = absolute(m, &path, &modules) {
                    mine.insert(abs);
                }
            }
        }
        refs.insert(m.clone(), mine);
        reexports.insert(m.clone(), exported);
        reexported.insert(m.clone(), passed_on);
    }
    Crate {
        files,
        refs,
        reexports,
        reexported,
    }
}

impl Crate {
    /// The file (module path) an absolute path lands in: the longest module prefix, followed through re-exports.
    fn target(&self, abs: &str, depth: usize) -> String {
        let segs: Vec<&str> = abs.split("::").collect();
        for n in (0..=segs.len()).rev() {
            let prefix = segs[..n].join("::");
            if !self.files.contains_key(&prefix) {
                continue;
            }
            if n < segs.len()
                && depth < 8
                && let Some(next) = self.reexports.get(&prefix).and_then(|r| r.get(segs[n]))
                && next != abs
            {
                let mut rest = next.clone();
                for s in &segs[n + 1..] {
                    rest = join(&rest, s);
                }
                return self.target(&rest, depth + 1);
            }
            return prefix;
        }
        String::new()
    }

    /// File-to-file edges (module paths): every use and re-export, except a module's own edges to its descendants
    /// (a parent declaring, re-exporting and dispatching to its children is the module tree, not an import; a child
    /// naming what its parent defines is an import of the parent's file and counts).
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (m, refs) in &self.refs {
            let set = out.entry(m.clone()).or_default();
            for r in refs.iter().chain(&self.reexported[m]) {
                let t = self.target(r, 0);
                let descendant = m.is_empty() || t.starts_with(&format!("{m}::"));
                if t != *m && !descendant {
                    set.insert(t);
                }
            }
        }
        out
    }
}

/// Every cycle's files, as strongly connected components of more than one file (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
                t.out.sort();
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_import_cycle_between_files_under_src() {
    let krate = read_crate();
    let files = &krate.files;
    let edges = krate.edges();
    assert!(edges.len() > 50, "every file is read: {}", edges.len());
    let found = cycles(&edges);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let names: Vec<&str> = c.iter().map(|m| files[m].as_str()).collect();
            let links: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{} -> {}", files[a], files[b]))
                })
                .collect();
            format!("{} ({})", names.join(" ↔ "), links.join(", "))
        })
        .collect();
    assert!(shown.is_empty(), "import cycles:\n{}", shown.join("\n"));
}

#[test]
fn the_pure_core_imports_no_edge_module() {
    let krate = read_crate();
    let core = ["model", "phone", "manifest", "plan", "offboard", "tap"];
    let edge = ["graph", "emulator", "render", "apply", "cli", "observe"];
    let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
    let mut bad = Vec::new();
    for (m, targets) in krate.edges() {
        if !core.contains(&top(&m).as_str()) {
            continue;
        }
        for t in targets {
            if edge.contains(&top(&t).as_str()) {
                bad.push(format!("{} -> {}", krate.files[&m], krate.files[&t]));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "the pure core imports I/O modules:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_checker_sees_cycles_and_resolves_reexports() {
    // The parser itself: a group with `self`, an alias, a glob.
    assert_eq!(
        expand("crate::manifest::{self, write::ImportedUser as I, model::*}"),
        [
            "crate::manifest",
            "crate::manifest::write::ImportedUser",
            "crate::manifest::model"
        ]
    );
    assert_eq!(
        inline_paths("let x = crate::private_file::write(p, b); super::model::Plan::new()"),
        ["crate::private_file::write", "super::model::Plan::new"]
    );
    let children: BTreeSet<String> = ["plan::model".to_string()].into();
    assert_eq!(
        absolute("plan::engine", "super::model::Plan", &children).as_deref(),
        Some("plan::model::Plan")
    );
    assert_eq!(
        absolute("plan", "model::Plan", &children).as_deref(),
        Some("plan::model::Plan")
    );
    assert_eq!(absolute("plan", "serde::Serialize", &children), None);
    // A cycle of two and one of three are found; a chain is not.
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["a"]),
        ("c", vec!["d"]),
        ("d", vec!["e"]),
        ("e", vec!["c"]),
        ("f", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
    .collect();
    assert_eq!(
        cycles(&edges),
        [vec!["a", "b"], vec!["c", "d", "e"]]
            .map(|v| v.into_iter().map(str::to_string).collect::<Vec<_>>())
    );
    // Re-exports are followed: `crate::plan::Plan` lands in plan/model.rs, not plan/mod.rs.
    let krate = read_crate();
    assert_eq!(krate.target("plan::Plan", 0), "plan::model");
    assert_eq!(krate.target("plan::engine::plan", 0), "plan::engine");
}
