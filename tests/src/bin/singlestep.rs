//! `singlestep DIR`: runs every SingleStepTests `*.jsonl.gz` file in DIR, prints each failing
//! test (name, bytes, first difference) per file and ends with `N passed, M failed, K skipped`.
//! Exits 1 when any test failed, 2 on a usage or input error.

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: singlestep DIR   (a directory of SingleStepTests *.jsonl.gz files)");
        std::process::exit(2);
    };
    let mut skipped_by: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let result = vx86_tests::singlestep::run_dir(&PathBuf::from(dir), |r| {
        if !r.failures.is_empty() {
            println!("{}: {} failed", r.file, r.failures.len());
            for f in &r.failures {
                println!("  {f}");
            }
        }
        for (k, v) in &r.skipped {
            *skipped_by.entry(k).or_default() += v;
        }
    });
    match result {
        Ok(t) => {
            for (k, v) in &skipped_by {
                println!("skipped {v}: {k}");
            }
            println!(
                "{} passed, {} failed, {} skipped",
                t.passed, t.failed, t.skipped
            );
            std::process::exit(if t.failed == 0 { 0 } else { 1 });
        }
        Err(e) => {
            eprintln!("singlestep: {e}");
            std::process::exit(2);
        }
    }
}
