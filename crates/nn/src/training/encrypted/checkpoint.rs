//! The state of a server-only run on disk, so that a run of hours survives a restart: the
//! data owner's secret key (written once, readable by its owner only) and, replaced
//! atomically, the model trained so far with the counts that go with it. A run resumes only
//! with the settings it started with; evaluation keys are made afresh for the saved secret.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use shroud_ckks::{Ciphertext, Params, SecretKey};

use super::server_only::TrainerStats;
use crate::datasets::read_bounded;
use crate::NnError;

const SECRET: &str = "secret.key";
const STATE: &str = "state";
const MAGIC: &str = "shroud-server-only-state 1";

/// Where the run has got to: the trainer's counts and the wall time of every part so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Steps and bootstraps done, and their time, over every part of the run.
    pub stats: TrainerStats,
    /// Wall time of the run, summed over every part (each process that ran it).
    pub wall: Duration,
}

/// A folder holding the state of one server-only run.
pub struct Checkpoint {
    dir: PathBuf,
}

/// What a checkpoint holds: the secret key and, once a step was saved, the progress and the
/// model.
pub type Saved = (SecretKey, Option<(Progress, Ciphertext)>);

impl Checkpoint {
    /// The checkpoint in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Self, NnError> {
        std::fs::create_dir_all(dir).map_err(NnError::io_write(dir))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The saved state of the run named `run`, or `None` for a folder without one. A state
    /// of another run, or without its secret key, is an error rather than a fresh start.
    pub fn load(&self, params: &Params, run: &str) -> Result<Option<Saved>, NnError> {
        let (secret_path, state_path) = (self.dir.join(SECRET), self.dir.join(STATE));
        match (secret_path.exists(), state_path.exists()) {
            (false, false) => return Ok(None),
            (false, true) => {
                return Err(NnError::Malformed(format!(
                    "{}: a saved state without its secret key",
                    self.dir.display()
                )))
            }
            _ => {}
        }
        let secret = SecretKey::from_bytes(params, &read_bounded(&secret_path)?)?;
        if !state_path.exists() {
            return Ok(Some((secret, None)));
        }
        let bytes = read_bounded(&state_path)?;
        let bad = |why: String| NnError::Malformed(format!("{}: {why}", state_path.display()));
        let end = bytes
            .iter()
            .take(4096)
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no header line".into()))?;
        let header = std::str::from_utf8(&bytes[..end])
            .map_err(|_| bad("a header that is not text".into()))?;
        let fields: Vec<&str> = header.split('\t').collect();
        let [magic, saved_run, numbers @ ..] = fields.as_slice() else {
            return Err(bad("a short header".into()));
        };
        if *magic != MAGIC {
            return Err(bad(format!("{magic:?} is not a state of this version")));
        }
        if *saved_run != run {
            return Err(bad(format!(
                "the state of another run ({saved_run}); this one is {run}"
            )));
        }
        let numbers = numbers
            .iter()
            .map(|n| n.parse::<u64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("a count that is not a number: {e}")))?;
        let [steps, bootstraps, step_ns, bootstrap_ns, wall_ns] = numbers[..] else {
            return Err(bad(format!("{} counts, expected 5", numbers.len())));
        };
        let count = |n: u64| usize::try_from(n).map_err(|_| bad(format!("a count of {n}")));
        let progress = Progress {
            stats: TrainerStats {
                steps: count(steps)?,
                bootstraps: count(bootstraps)?,
                step_time: Duration::from_nanos(step_ns),
                bootstrap_time: Duration::from_nanos(bootstrap_ns),
            },
            wall: Duration::from_nanos(wall_ns),
        };
        let model = Ciphertext::from_bytes(params, &bytes[end + 1..])?;
        if model.tag() != secret.tag() {
            return Err(bad("a model under another key".into()));
        }
        Ok(Some((secret, Some((progress, model)))))
    }

    /// Saves the secret key unless it is there already; only its owner may read the file.
    pub fn save_secret_key(&self, params: &Params, secret: &SecretKey) -> Result<(), NnError> {
        let path = self.dir.join(SECRET);
        if path.exists() {
            return Ok(());
        }
        let bytes = secret.to_bytes(params)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(NnError::io_write(&path))?;
        file.write_all(&bytes)
            .and_then(|_| file.sync_all())
            .map_err(NnError::io_write(&path))
    }

    /// Replaces the saved state with `progress` and `model`, atomically: a crash leaves the
    /// previous state or this one, never a mix.
    pub fn save(
        &self,
        params: &Params,
        run: &str,
        progress: &Progress,
        model: &Ciphertext,
    ) -> Result<(), NnError> {
        let s = &progress.stats;
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let mut bytes = format!(
            "{MAGIC}\t{run}\t{}\t{}\t{}\t{}\t{}\n",
            s.steps,
            s.bootstraps,
            nanos(s.step_time),
            nanos(s.bootstrap_time),
            nanos(progress.wall)
        )
        .into_bytes();
        bytes.extend(model.to_bytes(params)?);
        let (tmp, path) = (self.dir.join("state.tmp"), self.dir.join(STATE));
        std::fs::write(&tmp, &bytes).map_err(NnError::io_write(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(NnError::io_write(&path))
    }
}
