//! Running the `shroud` binary from the workspace root, as a newcomer would.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root, where the shipped datasets and fixtures are.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `shroud args...` in the workspace root: whether it succeeded, and its stdout and
/// stderr together.
pub fn shroud(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_shroud"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}
