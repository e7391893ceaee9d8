//! The pela-rs book (`book/src`), compiled and run by `cargo test`: every chapter is the
//! documentation of a module below, so each of its Rust snippets is a doctest and the book
//! cannot drift from the code. `build.rs` expands the chapters' `{{#include}}`s first, as
//! `mdbook build` does, so included files (the derive's compile-fail cases) are tested too.
//!
//! Build the book itself with `mdbook build book` (see the README).

macro_rules! chapters {
    ($($module:ident => $file:literal),* $(,)?) => {$(
        #[cfg(doctest)]
        #[doc = include_str!(concat!(env!("OUT_DIR"), "/", $file))]
        pub mod $module {}
    )*};
}

chapters! {
    introduction => "introduction.md",
    what_pela_does => "what-pela-does.md",
    annotate => "annotate.md",
    distil => "distil.md",
    ranks => "ranks.md",
    deploy => "deploy.md",
    zoo => "zoo.md",
    zoo_reference => "zoo-reference.md",
    families => "families.md",
    command => "command.md",
    results => "results.md",
    performance => "performance.md",
    gpu => "gpu.md",
    troubleshooting => "troubleshooting.md",
}
