//! The layers ARCHITECTURE.md draws hold in the code: every `crate::MODULE` a module of `src/`
//! names (outside its tests) is on its own layer or below, and no two modules name each other;
//! and no source file grows past 700 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MARKER: &str = "Layers, lowest first:";

/// Module name -> layer number, from ARCHITECTURE.md's line.
fn layers() -> BTreeMap<String, usize> {
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let line = doc
        .lines()
        .find_map(|l| l.strip_prefix(MARKER))
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no line starting with {MARKER:?}"));
    let mut out = BTreeMap::new();
    for (n, layer) in line.split('<').enumerate() {
        for module in layer.split_whitespace() {
            assert!(
                out.insert(module.to_string(), n).is_none(),
                "{module} twice"
            );
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules `text` names as `crate::NAME`, outside comments and before its tests.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let code = code.split(" //").next().unwrap_or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

/// (module, module it names) for every file of `src/` except the crate roots and test files.
fn edges() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let is_test = rel.file_name().is_some_and(|n| n == "tests.rs")
            || rel.components().any(|c| c.as_os_str() == "tests");
        if is_test || rel == Path::new("lib.rs") || rel == Path::new("main.rs") {
            continue;
        }
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        for named in named_modules(&fs::read_to_string(&f).unwrap()) {
            if named != module {
                out.insert((module.clone(), named));
            }
        }
    }
    out
}

#[test]
fn every_module_imports_only_its_own_layer_or_below() {
    let layers = layers();
    let mut wrong = Vec::new();
    for (from, to) in edges() {
        let (Some(a), Some(b)) = (layers.get(&from), layers.get(&to)) else {
            wrong.push(format!(
                "{from} -> {to}: a module missing from ARCHITECTURE.md's layers"
            ));
            continue;
        };
        if b > a {
            wrong.push(format!("{from} (layer {a}) -> {to} (layer {b}): upward"));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_modules_import_each_other() {
    let edges = edges();
    let circles: Vec<_> = edges
        .iter()
        .filter(|(a, b)| a < b && edges.contains(&(b.clone(), a.clone())))
        .collect();
    assert!(circles.is_empty(), "modules naming each other: {circles:?}");
}

#[test]
fn the_check_sees_an_upward_import() {
    let text = "use crate::settings::Key;\n// crate::commands in a comment\nfn f() { crate::stack::x(); }\n#[cfg(test)]\nuse crate::cli;\n";
    let named = named_modules(text);
    assert_eq!(
        named,
        ["settings", "stack"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let layers = layers();
    assert!(layers["stack"] > layers["settings"]);
    // Every top-level module of src/ has a layer.
    for e in fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).unwrap() {
        let name = e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if name != "lib" && name != "main" {
            assert!(
                layers.contains_key(&name),
                "src/{name} has no layer in ARCHITECTURE.md"
            );
        }
    }
}

/// Every Rust file of `src/` and `tests/` stays under 700 lines: a module that grows past it is
/// split by job (as `storage::dirs`, `settings::reader` were).
#[test]
fn every_source_file_is_under_700_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = fs::read_to_string(f).unwrap().lines().count();
            (n >= 700).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by job: {long:?}");
}
