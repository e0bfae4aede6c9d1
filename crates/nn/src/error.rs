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
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("training diverged at epoch {epoch}: loss {loss}")]
    Diverged { epoch: usize, loss: f64 },
    #[error(transparent)]
    Ckks(#[from] CkksError),
}
