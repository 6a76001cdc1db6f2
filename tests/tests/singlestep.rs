//! Runs the SingleStepTests 80286 real-mode vectors from `cargo test`.
//!
//! The directory defaults to `../shared/testdata/singlestep-80286` next to the workspace and can
//! be overridden with `VX86_SINGLESTEP_DIR`. A missing directory is a failure, not a pass.

use std::path::PathBuf;

#[test]
fn singlestep_80286_real_mode_vectors() {
    let dir = std::env::var_os("VX86_SINGLESTEP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/singlestep-80286")
        });
    let mut failures = Vec::new();
    let totals = vx86_tests::singlestep::run_dir(&dir, |r| {
        for f in r.failures.iter().take(5) {
            failures.push(format!("{}: {f}", r.file));
        }
    })
    .unwrap_or_else(|e| panic!("cannot run the vectors in {}: {e}", dir.display()));
    println!(
        "{} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.skipped
    );
    let all = totals.passed + totals.failed + totals.skipped;
    // Every non-skipped vector passes today: any failure is a regression.
    assert_eq!(
        totals.failed,
        0,
        "failing vectors (first 5 per file):\n{}",
        failures.join("\n")
    );
    // Skips (documented 286-vs-386 differences) stay at most 1 % of the vectors.
    assert!(
        totals.skipped * 100 <= all,
        "{} of {all} vectors skipped",
        totals.skipped
    );
    assert!(totals.passed > 0);
}
