//! Expands mdBook's `{{#include path}}` (and `{{#include path:from:to}}`) in every chapter of
//! `src/`, as `mdbook build` does, and writes the chapters to `OUT_DIR` for `doctests.rs`.
//! So the doctests compile exactly what the book shows, included files too.

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let src = Path::new("src");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo::rerun-if-changed=src");
    for entry in fs::read_dir(src).expect("book/src is readable") {
        let path = entry.expect("book/src is readable").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            println!("cargo::rerun-if-changed={}", path.display());
            let chapter = fs::read_to_string(&path).expect("a chapter is UTF-8");
            let expanded = expand_includes(&chapter, src, &path);
            fs::write(out.join(path.file_name().unwrap()), expanded).expect("OUT_DIR is writable");
        }
    }
}

/// Replaces each `{{#include path[:from[:to]]}}` by the lines it names (1-based, inclusive;
/// `:n` alone is line n, `:n:` from n to the end, `::m` up to m).
fn expand_includes(chapter: &str, dir: &Path, chapter_path: &Path) -> String {
    const OPEN: &str = "{{#include ";
    let mut out = String::with_capacity(chapter.len());
    let mut rest = chapter;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("{}: unclosed {{{{#include", chapter_path.display()));
        let spec = after[..end].trim();
        let mut parts = spec.split(':');
        let file = dir.join(parts.next().unwrap());
        println!("cargo::rerun-if-changed={}", file.display());
        let text = fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: cannot include {}: {e}",
                chapter_path.display(),
                file.display()
            )
        });
        let line = |part: Option<&str>| {
            part.filter(|p| !p.is_empty()).map(|p| {
                p.parse::<usize>().unwrap_or_else(|_| {
                    panic!("{}: bad line number in `{spec}`", chapter_path.display())
                })
            })
        };
        let lines: Vec<&str> = text.lines().collect();
        let (from, to) = match (parts.next(), parts.next()) {
            (None, _) => (1, lines.len()),
            (from, None) => (line(from).unwrap(), line(from).unwrap()),
            (from, to) => (line(from).unwrap_or(1), line(to).unwrap_or(lines.len())),
        };
        out.push_str(&lines[from - 1..to.min(lines.len())].join("\n"));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}
