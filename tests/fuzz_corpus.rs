//! Replays the fuzz corpus (`fuzz/corpus/TARGET/`, what the coverage-guided campaigns kept)
//! and the regression inputs (`fuzz/regressions/TARGET/`, one file per finding, named after
//! it) through the fuzz targets' own code (`fuzz/harness.rs`) on the stable toolchain: a
//! loader that panics or accepts something broken on any of them fails here.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut total = 0;
    for (name, target) in harness::TARGETS {
        let mut count = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            for file in files {
                let data = std::fs::read(&file).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(
                    outcome.is_ok(),
                    "{name}: {} fails its target",
                    file.display()
                );
                count += 1;
            }
        }
        assert!(count > 0, "fuzz target {name} has no corpus to replay");
        total += count;
    }
    eprintln!(
        "replayed {total} inputs over {} targets",
        harness::TARGETS.len()
    );
}
