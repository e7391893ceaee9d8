//! The derive's compile-time refusals: every refused shape fails with a message that points at
//! the culprit (`tests/ui/fail`, each with its expected `.stderr`). The shapes that must work
//! are ordinary tests (`tests/derive_pass/`), so that trybuild only type-checks its project.
//!
//! Regenerate the `.stderr` files after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p pela --test compiletest`, then review the diff like code.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/fail/*.rs");
}
