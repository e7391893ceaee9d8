//! `book-links`: the mdBook preprocessor (see `book.toml`) that fails `mdbook build` on a
//! broken link: a link to a chapter or file that does not exist, to a heading a chapter does
//! not have, or out of `src/` (such a link works on GitHub but not in the built book).
//!
//! mdBook runs it as `book-links supports <renderer>`, then with `[context, book]` as JSON on
//! stdin; it writes the book back unchanged, or lists every broken link and exits with 1.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("supports") {
        return ExitCode::SUCCESS; // every renderer: the check does not change the book
    }
    let mut input = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("book-links: cannot read the book from stdin: {error}");
        return ExitCode::FAILURE;
    }
    let Ok(Value::Array(mut pair)) = serde_json::from_str::<Value>(&input) else {
        eprintln!("book-links: stdin is not mdBook's `[context, book]` JSON");
        return ExitCode::FAILURE;
    };
    let (Some(book), Some(context)) = (pair.pop(), pair.pop()) else {
        eprintln!("book-links: stdin is not mdBook's `[context, book]` JSON");
        return ExitCode::FAILURE;
    };
    let root = context["root"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_default();
    let src = root.join(context["config"]["book"]["src"].as_str().unwrap_or("src"));

    let mut chapters = Vec::new();
    collect_chapters(&book, &mut chapters);
    let broken = broken_links(&chapters, &|path: &Path| src.join(path).is_file());
    if broken.is_empty() {
        println!("{book}");
        ExitCode::SUCCESS
    } else {
        for link in &broken {
            eprintln!("book-links: {link}");
        }
        eprintln!("book-links: {} broken link(s) in the book", broken.len());
        ExitCode::FAILURE
    }
}

/// A chapter: its path under `src/` and its Markdown (includes already expanded).
struct Chapter {
    path: PathBuf,
    content: String,
}

/// Finds every chapter of mdBook's book JSON, whatever the nesting (`items`, `sub_items`).
fn collect_chapters(value: &Value, chapters: &mut Vec<Chapter>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(content)), Some(Value::String(path))) =
                (map.get("content"), map.get("path"))
            {
                chapters.push(Chapter {
                    path: PathBuf::from(path),
                    content: content.clone(),
                });
            }
            map.values().for_each(|v| collect_chapters(v, chapters));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_chapters(v, chapters)),
        _ => {}
    }
}

/// Every broken link of the chapters, as `chapter: `link`: why`.
fn broken_links(chapters: &[Chapter], file_exists: &dyn Fn(&Path) -> bool) -> Vec<String> {
    let anchors: HashMap<&Path, HashSet<String>> = chapters
        .iter()
        .map(|c| (c.path.as_path(), heading_ids(&c.content)))
        .collect();
    let mut broken = Vec::new();
    for chapter in chapters {
        for link in links(&chapter.content) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let why = if file.is_empty() {
                missing_anchor(&anchors[chapter.path.as_path()], anchor)
            } else {
                let dir = chapter.path.parent().unwrap_or(Path::new(""));
                match normalize(&dir.join(file)) {
                    None => Some("it points out of the book's `src/`: link to GitHub".into()),
                    Some(target) => match anchors.get(target.as_path()) {
                        Some(ids) => missing_anchor(ids, anchor),
                        None if file.ends_with(".md") => {
                            Some("no chapter of SUMMARY.md has this path".into())
                        }
                        None if !file_exists(&target) => Some("no such file in `src/`".into()),
                        None => None,
                    },
                }
            };
            if let Some(why) = why {
                broken.push(format!("{}: `{link}`: {why}", chapter.path.display()));
            }
        }
    }
    broken
}

fn missing_anchor(ids: &HashSet<String>, anchor: &str) -> Option<String> {
    (!anchor.is_empty() && !ids.contains(anchor))
        .then(|| format!("the chapter has no heading `#{anchor}`"))
}

/// `a/./b/../c` → `a/c`; `None` when the path climbs above its root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn parser(markdown: &str) -> Parser<'_> {
    Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_HEADING_ATTRIBUTES,
    )
}

/// The destinations of the chapter's links and images (not of text in code).
fn links(markdown: &str) -> Vec<String> {
    parser(markdown)
        .filter_map(|event| match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                Some(dest_url.to_string())
            }
            _ => None,
        })
        .collect()
}

/// The ids mdBook gives the chapter's headings: an explicit `{#id}`, or the text made an id
/// (`normalize_id`), with `-1`, `-2`, … on repeats.
fn heading_ids(markdown: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut current: Option<(Option<String>, String)> = None;
    for event in parser(markdown) {
        match event {
            Event::Start(Tag::Heading { id, .. }) => {
                current = Some((id.map(|id| id.to_string()), String::new()));
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, heading)) = current.as_mut() {
                    heading.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((explicit, text)) = current.take() {
                    let id = explicit.unwrap_or_else(|| normalize_id(&text));
                    let seen = counts.entry(id.clone()).or_insert(0);
                    ids.insert(if *seen == 0 {
                        id
                    } else {
                        format!("{id}-{seen}")
                    });
                    *seen += 1;
                }
            }
            _ => {}
        }
    }
    ids
}

/// mdBook's heading id: lowercase letters, digits, `-` and `_`; spaces become `-`; the rest
/// is dropped.
fn normalize_id(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                Some(ch.to_lowercase().next().unwrap_or(ch))
            } else if ch.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chapter(path: &str, content: &str) -> Chapter {
        Chapter {
            path: PathBuf::from(path),
            content: content.into(),
        }
    }

    fn check(chapters: &[Chapter]) -> Vec<String> {
        broken_links(chapters, &|path| path == Path::new("images/pela.svg"))
    }

    #[test]
    fn good_links_pass() {
        let book = [
            chapter(
                "intro.md",
                "# Intro\n[next](guide/distil.md#the-loss-weights) [up](#intro) \
                 ![pic](images/pela.svg) [web](https://burn.dev)",
            ),
            chapter(
                "guide/distil.md",
                "# Distil\n## The loss weights\n[back](../intro.md)",
            ),
        ];
        assert_eq!(check(&book), Vec::<String>::new());
    }

    #[test]
    fn every_kind_of_broken_link_is_named() {
        let book = [
            chapter(
                "intro.md",
                "# Intro\n[a](missing.md) [b](distil.md#nowhere) [c](#nope) \
                 [d](../../README.md) ![e](images/none.png)",
            ),
            chapter("distil.md", "# Distil"),
        ];
        let broken = check(&book);
        assert_eq!(broken.len(), 5, "{broken:#?}");
        assert!(broken[0].contains("`missing.md`: no chapter"));
        assert!(broken[1].contains("no heading `#nowhere`"));
        assert!(broken[2].contains("no heading `#nope`"));
        assert!(broken[3].contains("out of the book"));
        assert!(broken[4].contains("no such file"));
    }

    #[test]
    fn links_in_code_are_not_links() {
        let book = [chapter(
            "a.md",
            "# A\n```text\n[x](nowhere.md)\n```\n`[y](gone.md)`",
        )];
        assert_eq!(check(&book), Vec::<String>::new());
    }

    #[test]
    fn heading_ids_follow_mdbook() {
        let ids = heading_ids(
            "# What PELA does\n## `LowRank`, twice\n## `LowRank`, twice\n## Explicit {#own}",
        );
        let expected = ["what-pela-does", "lowrank-twice", "lowrank-twice-1", "own"];
        assert_eq!(ids, expected.iter().map(|s| s.to_string()).collect());
    }

    #[test]
    fn chapters_are_found_at_any_depth() {
        let book: Value = serde_json::from_str(
            r#"{"items": [{"Chapter": {"name": "A", "content": "a", "path": "a.md",
                "sub_items": [{"Chapter": {"content": "b", "path": "x/b.md", "sub_items": []}}]}},
                "Separator", {"Chapter": {"content": "draft", "path": null}}]}"#,
        )
        .unwrap();
        let mut chapters = Vec::new();
        collect_chapters(&book, &mut chapters);
        let paths: Vec<_> = chapters.iter().map(|c| c.path.to_str().unwrap()).collect();
        assert_eq!(paths, ["a.md", "x/b.md"]);
    }
}
