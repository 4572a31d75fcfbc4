//! The crate's layers point one way: a module may use only the modules before it in
//! [`LAYERS`] (docs/ARCHITECTURE.md says why this order), and inside a module no two
//! files import each other, directly or around a loop. Test code (from the first
//! `#[cfg(test)]` or `#[cfg(all(test` of a file on) may reach further.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, lowest first.
const LAYERS: &[&str] = &[
    "record",
    "state",
    "metrics",
    "source",
    "formats",
    "patterns",
    "detection",
    "features",
    "behaviour",
    "ml",
    "enrich",
    "sink",
    "runner",
    "config",
    "setup",
    "lambda",
    // Tooling (the `tools` feature): never part of the function.
    "training",
    "evaluation",
    "azure",
    "emulator",
    "cli",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file up to its test code.
fn product_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let end = ["#[cfg(test)]", "#[cfg(all(test"]
        .iter()
        .filter_map(|marker| text.find(marker))
        .min()
        .unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names that follow `prefix::` in `code`, including each name of a `prefix::{a, b::c}`
/// group.
fn paths_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let needle = format!("{prefix}::");
    let mut rest = code;
    while let Some(i) = rest.find(&needle) {
        let before = rest[..i].chars().last();
        rest = &rest[i + needle.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// The top-level module a file belongs to (`src/enrich/models.rs` -> `enrich`).
fn top_module(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    if rel.components().count() == 1 {
        (first != "lib.rs").then(|| first.trim_end_matches(".rs").to_string())
    } else {
        (first != "bin").then(|| first.to_string())
    }
}

#[test]
fn every_module_has_a_layer() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect();
    let listed: BTreeSet<String> = LAYERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(declared, listed, "src/lib.rs modules vs LAYERS");
}

#[test]
fn imports_only_point_down() {
    let root = src();
    let rank: BTreeMap<&str, usize> = LAYERS.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let Some(own) = top_module(&root, file) else {
            continue;
        };
        let own_rank = rank[own.as_str()];
        for used in paths_after(&product_code(file), "crate") {
            if let Some(&r) = rank.get(used.as_str())
                && r > own_rank
            {
                upward.push(format!(
                    "{} uses crate::{used}",
                    file.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layer order:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_import_loop_inside_a_module() {
    let root = src();
    let mut loops = Vec::new();
    for module in LAYERS {
        let dir = root.join(module);
        if !dir.is_dir() {
            continue;
        }
        // The module's parts: its files and folders (mod.rs is the module itself).
        let parts: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().ok()?;
                let name = name.trim_end_matches(".rs").to_string();
                (name != "mod" && name != "tests").then_some(name)
            })
            .collect();
        // Items the module re-exports (`pub use part::{Item, ...}`) stand for their part.
        let mod_rs = product_code(&dir.join("mod.rs"));
        let mut owner: BTreeMap<String, String> = BTreeMap::new();
        for part in &parts {
            for item in paths_after(&mod_rs, &format!("pub use {part}")) {
                owner.insert(item, part.clone());
            }
        }
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for part in &parts {
            let mut files = Vec::new();
            let as_dir = dir.join(part);
            if as_dir.is_dir() {
                rust_files(&as_dir, &mut files);
            } else {
                files.push(dir.join(format!("{part}.rs")));
            }
            for file in files {
                let code = product_code(&file);
                let depth = file.strip_prefix(&dir).unwrap().components().count();
                // From src/m/a.rs `super::` is m; from src/m/a/x.rs it takes `super::super::`
                // (or `super::` from src/m/a/mod.rs).
                let is_mod = file.file_name().is_some_and(|n| n == "mod.rs");
                let up = if depth == 1 || (depth == 2 && is_mod) {
                    "super".to_string()
                } else {
                    vec!["super"; depth - usize::from(is_mod)].join("::")
                };
                let mut used = paths_after(&code, &up);
                used.extend(paths_after(&code, &format!("crate::{module}")));
                for name in used {
                    let target = owner.get(&name).cloned().unwrap_or(name);
                    if parts.contains(&target) && &target != part {
                        edges.entry(part.clone()).or_default().insert(target);
                    }
                }
            }
        }
        for (a, targets) in &edges {
            for b in targets {
                if let Some(path) = find_path(&edges, b, a) {
                    loops.push(format!("{module}: {a} -> {}", path.join(" -> ")));
                }
            }
        }
    }
    loops.sort();
    loops.dedup();
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

fn find_path(
    edges: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap().clone();
        if last == to {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in edges.get(&last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}
