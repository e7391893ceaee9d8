//! The derive's compile-time behaviour: every refused shape fails with a message that points
//! at the culprit (`tests/ui/fail`, each with its expected `.stderr`), and the shapes that must
//! work compile and run (`tests/ui/pass`).
//!
//! Regenerate the `.stderr` files after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p pela --test compiletest`, then review the diff like code.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
