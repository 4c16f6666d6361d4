//! `#[derive(SharedLayout)]` refuses what cannot live in shared memory, with a spanned error
//! that names the field, says why and what to use instead. Each `tests/ui/*.rs` has its
//! expected `.stderr` checked in; regenerate with `TRYBUILD=overwrite` and review the diff.

#[test]
fn refused_constructs() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
