//! Writes every target's seeds to `DIR/NAME/seed-I`, the starting corpus of libFuzzer runs.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/fuzz-seeds".into()),
    );
    for target in shroud_fuzz::TARGETS {
        let out = dir.join(target.name);
        std::fs::create_dir_all(&out)?;
        for (i, seed) in (target.seeds)().iter().enumerate() {
            std::fs::write(out.join(format!("seed-{i}")), seed)?;
        }
    }
    Ok(())
}
