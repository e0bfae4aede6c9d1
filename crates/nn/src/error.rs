use shroud_ckks::CkksError;

/// Errors of dataset loading, training and encrypted evaluation.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {reason}")]
    MalformedDataset {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("{path}: magic number {found:#010x}, expected {expected:#010x} (not an IDX file of this kind)")]
    IdxMagic {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("{path}: truncated, {found} bytes where the header announces {expected}")]
    IdxTruncated {
        path: String,
        expected: usize,
        found: usize,
    },
    #[error("{path}: {reason}")]
    MalformedIdx { path: String, reason: String },
    #[error("{images} images but {labels} labels")]
    CountMismatch { images: usize, labels: usize },
    #[error("{path} is not a model: {reason}")]
    NotAModel { path: String, reason: String },
    #[error("ONNX node {node} ({op}): {reason}")]
    Import {
        node: String,
        op: String,
        reason: String,
    },
    #[error("invalid graph: {0}")]
    InvalidGraph(String),
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("training diverged at epoch {epoch}: loss {loss}")]
    Diverged { epoch: usize, loss: f64 },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("the {engine} engine cannot run this model: {reason}")]
    EngineUnsupported {
        engine: &'static str,
        reason: String,
    },
    /// The other role, reached through something this crate does not know (a network),
    /// failed or answered with an error.
    #[error("the server: {0}")]
    Remote(String),
    /// An invariant of the crate's own code did not hold: a bug, reported as an error rather
    /// than a crash.
    #[error("internal error: {0} (a bug in Shroud; please report it)")]
    Internal(&'static str),
    #[error(transparent)]
    Ckks(#[from] CkksError),
    #[error(transparent)]
    Lwe(#[from] shroud_lwe::LweError),
}

impl NnError {
    /// For `map_err`: an I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NnError + '_ {
        move |source| NnError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
