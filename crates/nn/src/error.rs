use shroud_ckks::CkksError;

/// Errors of dataset loading, training and encrypted evaluation.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A file or folder could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What failed: "read" or "write".
        action: &'static str,
        /// The file or folder, as displayed.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A dataset file cannot be used: larger than the crate reads, not UTF-8 text, a line
    /// that cannot be parsed, no examples at all, or a path that is no known kind of dataset.
    #[error("{path}, line {line}: {reason}")]
    MalformedDataset {
        /// The dataset's file, as displayed.
        path: String,
        /// The offending line, counted from 1; 0 when the problem is the file as a whole.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An MNIST IDX file starts with the wrong magic number: it is not an IDX file of
    /// unsigned bytes with the expected number of dimensions.
    #[error("{path}: magic number {found:#010x}, expected {expected:#010x} (not an IDX file of this kind)")]
    IdxMagic {
        /// The file's name as the caller gave it (for a set: its path and `images` or
        /// `labels`).
        path: String,
        /// The magic number the file starts with.
        found: u32,
        /// The magic number of unsigned-byte data with the expected dimensions.
        expected: u32,
    },
    /// An MNIST IDX file is shorter than its header, or than the data its header announces.
    #[error("{path}: truncated, {found} bytes where the header announces {expected}")]
    IdxTruncated {
        /// The file's name as the caller gave it (for a set: its path and `images` or
        /// `labels`).
        path: String,
        /// Length in bytes the file should have at least: its header's, or the header's and
        /// the announced data's.
        expected: usize,
        /// Length of the file in bytes.
        found: usize,
    },
    /// An MNIST IDX file is inconsistent in another way: dimensions that overflow, bytes
    /// after the announced data, or a label that is not a digit.
    #[error("{path}: {reason}")]
    MalformedIdx {
        /// The file's name as the caller gave it (for a set: its path and `images` or
        /// `labels`).
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The inputs and the labels of a set differ in number: MNIST image and label files, or
    /// the feature and target rows given to encrypted training.
    #[error("{images} images but {labels} labels")]
    CountMismatch {
        /// Number of images (or input rows).
        images: usize,
        /// Number of labels (or target rows).
        labels: usize,
    },
    /// A file or byte string that should hold a model does not: a compiled model file or
    /// saved network that fails to decode or validate, or an ONNX file that is too large or
    /// that the ONNX reader rejects.
    #[error("{path} is not a model: {reason}")]
    NotAModel {
        /// The file, or a name such as `ONNX model` when there is no file.
        path: String,
        /// Why it is not a model.
        reason: String,
    },
    /// An ONNX model uses something the importer does not support (see [`crate::import`]).
    #[error("ONNX node {node} ({op}): {reason}")]
    Import {
        /// The ONNX node's name, or `graph` for a problem with the graph as a whole.
        node: String,
        /// The node's operator, or `-` for the graph as a whole.
        op: String,
        /// What is not supported.
        reason: String,
    },
    /// A graph or a quantized model is not well formed (a node reads a value not computed
    /// before it, parameters do not fit the shapes they read…), or does not have the form
    /// an operation needs (such as a chain of dense layers with ReLUs). The string says what.
    #[error("invalid graph: {0}")]
    InvalidGraph(String),
    /// An argument or setting is out of its range or does not fit the rest (a bit width, a
    /// split fraction, an input of the wrong length, more samples than tiles…). The string
    /// says which.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Training stopped because the loss became non-finite (or, for the Iris perceptron,
    /// whose loss is also checked on the weights decrypted during encrypted training,
    /// exceeded 1000).
    #[error("training diverged at epoch {epoch}: loss {loss}")]
    Diverged {
        /// The epoch in which it happened.
        epoch: usize,
        /// The loss that stopped it.
        loss: f64,
    },
    /// Data received or loaded has the wrong form: a wire message or ciphertext list, a saved
    /// training state, slots or ciphertexts of the wrong size or level. The string says what.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// An encrypted engine cannot run the model: a layer it has no circuit for, or values
    /// too wide for its parameters. Mostly found when the engine is built for the model,
    /// before anything is encrypted.
    #[error("the {engine} engine cannot run this model: {reason}")]
    EngineUnsupported {
        /// The engine's name, such as `lwe`.
        engine: &'static str,
        /// What it cannot do.
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
    /// An error of the CKKS scheme (`shroud-ckks`), used by encrypted training.
    #[error(transparent)]
    Ckks(#[from] CkksError),
    /// An error of the LWE scheme (`shroud-lwe`), used by the encrypted inference engines.
    #[error(transparent)]
    Lwe(#[from] shroud_lwe::LweError),
}

impl NnError {
    /// For `map_err`: an error reading `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NnError + '_ {
        move |source| NnError::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        }
    }

    /// For `map_err`: an error writing `path` (or creating its folder).
    pub(crate) fn io_write(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NnError + '_ {
        move |source| NnError::Io {
            action: "write",
            path: path.display().to_string(),
            source,
        }
    }
}
