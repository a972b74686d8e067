//! The module graph has no import cycles (issue #24): data flows one way, and a
//! layer never imports its caller. Edges are read from `crate::…` and `super::…`
//! paths in the library's sources (comments and `#[cfg(test)]` modules left out),
//! once between top-level modules and once between the files of each module.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/session/classify.rs` → ["session", "classify"]; `src/transport/tls/mod.rs` → ["transport", "tls"].
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifiers following `prefix` in `code`, also inside `prefix{a, b::c}` groups.
fn named_after(code: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices(prefix) {
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            names.extend(group.split(',').map(ident));
        } else {
            names.push(ident(rest));
        }
    }
    names.retain(|n| !n.is_empty() && n.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    names
}

fn graphs() -> (Graph, BTreeMap<String, Graph>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut top = Graph::new();
    let mut inner: BTreeMap<String, Graph> = BTreeMap::new();
    for file in files {
        let path = module_path(&src, &file);
        let Some(first) = path.first().cloned() else {
            continue;
        };
        if ["lib", "main", "cli"].contains(&first.as_str()) {
            continue;
        }
        let code = code(&fs::read_to_string(&file).unwrap());
        let here = top.entry(first.clone()).or_default();
        for target in named_after(&code, "crate::") {
            if target != first {
                here.insert(target);
            }
        }
        // Between the files of one module: `super::x` from a child, and
        // `crate::first::x` from anywhere inside it.
        if path.len() >= 2 {
            let me = path[1].clone();
            let mut targets = named_after(&code, &format!("crate::{first}::"));
            if path.len() == 2 {
                targets.extend(named_after(&code, "super::"));
            }
            let g = inner.entry(first.clone()).or_default();
            for t in targets {
                if t != me {
                    g.entry(me.clone()).or_default().insert(t);
                }
            }
        }
    }
    (top, inner)
}

/// The strongly connected components with more than one member (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.found
}

#[test]
fn top_level_modules_import_without_cycles() {
    let (top, _) = graphs();
    // The reader sees real edges: the pipeline feeds sessions, sessions feed nothing
    // above them.
    assert!(top["pipeline"].contains("session"), "{top:?}");
    assert!(top["session"].contains("model"), "{top:?}");
    assert_eq!(cycles(&top), Vec::<Vec<String>>::new(), "{top:#?}");
}

#[test]
fn files_inside_each_module_import_without_cycles() {
    let (_, inner) = graphs();
    assert!(inner.contains_key("session"), "{inner:?}");
    for (module, graph) in &inner {
        assert_eq!(
            cycles(graph),
            Vec::<Vec<String>>::new(),
            "{module}: {graph:#?}"
        );
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("c".into()).or_default().insert("d".into());
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
    g.entry("c".into()).or_default().remove("a");
    assert!(cycles(&g).is_empty());
}
