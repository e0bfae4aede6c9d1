//! Labelled examples for any graph: the shipped datasets as float inputs of a [`Shape`], the
//! fixed 80/20 split the scripts and the exporters share, and bounded file reading.
//!
//! - [`load_table`]: a CSV of features with the header `rows,features,class names...` (Iris,
//!   Breast Cancer Wisconsin); examples are vectors.
//! - [`load_digits`]: the 8x8 digits (gzip CSV of 64 levels 0..16 and the digit); examples
//!   are 1x8x8 images in `[0, 1]`.
//! - [`load_mnist_examples`]: MNIST's IDX files; examples are 1x28x28 images in `[0, 1]`.
//!
//! Two loaders keep their datasets' own forms for the networks built on them:
//!
//! - [`mnist`]: the IDX files as bytes (images of pixels, pooled images), for the design's
//!   784-500-256-10 network and its training;
//! - [`iris`]: Iris split, min-max scaled and one-hot, for the encrypted-training design.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use crate::graph::Shape;
use crate::NnError;

pub mod iris;
pub mod mnist;

/// Largest decompressed size read from a gzip file: 256 MB (MNIST's training images are
/// 47 MB). A small file that inflates beyond it is refused, not read whole.
pub const MAX_DECOMPRESSED: u64 = 1 << 28;

/// Largest dataset file read uncompressed.
pub const MAX_FILE: u64 = 1 << 28;

/// Inputs of one shape with their classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Examples {
    /// The shape every input has.
    pub shape: Shape,
    /// The inputs, one per example, each of `shape.len()` values in row-major order.
    pub inputs: Vec<Vec<f32>>,
    /// The class of each example, in `0..classes`.
    pub labels: Vec<usize>,
    /// Number of classes of the dataset (not only those present among these examples).
    pub classes: usize,
}

impl Examples {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The fixed split: example `i` is a test example when `i % 5 == 4` (20%), a training one
    /// otherwise. scripts/export-fixtures.py splits the same way.
    pub fn split_fifths(&self) -> (Examples, Examples) {
        let part = |test: bool| {
            let keep = |i: &usize| (i % 5 == 4) == test;
            Examples {
                shape: self.shape,
                inputs: (0..self.len())
                    .filter(keep)
                    .map(|i| self.inputs[i].clone())
                    .collect(),
                labels: (0..self.len())
                    .filter(keep)
                    .map(|i| self.labels[i])
                    .collect(),
                classes: self.classes,
            }
        };
        (part(false), part(true))
    }

    /// The first `n` examples.
    pub fn take(&self, n: usize) -> Examples {
        let n = n.min(self.len());
        Examples {
            shape: self.shape,
            inputs: self.inputs[..n].to_vec(),
            labels: self.labels[..n].to_vec(),
            classes: self.classes,
        }
    }

    /// The fraction of examples whose predicted class is the label.
    pub fn accuracy(&self, predicted: &[usize]) -> f64 {
        let right = predicted
            .iter()
            .zip(&self.labels)
            .filter(|(p, l)| p == l)
            .count();
        right as f64 / self.len().max(1) as f64
    }

    /// The accuracy of `predict` over every example, evaluated in parallel; an example it
    /// fails on counts as wrong.
    pub fn accuracy_of<E>(&self, predict: impl Fn(&[f32]) -> Result<usize, E> + Sync) -> f64 {
        use rayon::prelude::*;
        let predicted: Vec<usize> = self
            .inputs
            .par_iter()
            .map(|x| predict(x).unwrap_or(usize::MAX))
            .collect();
        self.accuracy(&predicted)
    }
}

/// Reads a file of at most [`MAX_FILE`] bytes.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, NnError> {
    read_at_most(path, MAX_FILE)
}

/// Reads a file of at most `limit` bytes: a larger one is refused without reading past the
/// limit (its announced size is not trusted either: it may grow while being read).
pub fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, NnError> {
    let file = std::fs::File::open(path).map_err(NnError::io(path))?;
    read_limited(file, limit, path)
}

/// Decompresses a gzip file, refusing more than [`MAX_DECOMPRESSED`] bytes of output.
pub fn read_gz(path: &Path) -> Result<Vec<u8>, NnError> {
    let file = std::fs::File::open(path).map_err(NnError::io(path))?;
    read_limited(GzDecoder::new(file), MAX_DECOMPRESSED, path)
}

fn read_limited(reader: impl Read, limit: u64, path: &Path) -> Result<Vec<u8>, NnError> {
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(NnError::io(path))?;
    if bytes.len() as u64 > limit {
        return Err(NnError::MalformedDataset {
            path: path.display().to_string(),
            line: 0,
            reason: format!("more than {limit} bytes"),
        });
    }
    Ok(bytes)
}

/// A CSV table with the header `rows,features,class names...` (the shipped Iris and Breast
/// Cancer Wisconsin files), one vector example per line.
pub fn load_table(path: impl AsRef<Path>) -> Result<Examples, NnError> {
    let path = path.as_ref();
    let bytes = read_bounded(path)?;
    let text = String::from_utf8(bytes).map_err(|_| NnError::MalformedDataset {
        path: path.display().to_string(),
        line: 0,
        reason: "not UTF-8 text".into(),
    })?;
    let table = crate::datasets::iris::parse_iris(&text, &path.display().to_string())?;
    let features = table.features.ncols();
    Ok(Examples {
        shape: Shape::Vector(features),
        inputs: table
            .features
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect(),
        labels: table.labels,
        classes: table.class_names.len(),
    })
}

/// The 8x8 digits: a gzip CSV, per line 64 levels in `0..=16` row by row and the digit.
pub fn load_digits(path: impl AsRef<Path>) -> Result<Examples, NnError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = read_gz(path)?;
    let bad = |line: usize, reason: String| NnError::MalformedDataset {
        path: name.clone(),
        line,
        reason,
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad(0, "not UTF-8 text".into()))?;
    let (mut inputs, mut labels) = (Vec::new(), Vec::new());
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 65 {
            return Err(bad(i + 1, format!("{} fields, expected 65", fields.len())));
        }
        let mut pixels = Vec::with_capacity(64);
        for f in &fields[..64] {
            let v: u8 = f
                .parse()
                .ok()
                .filter(|v| *v <= 16)
                .ok_or_else(|| bad(i + 1, format!("level {f:?} (0 to 16)")))?;
            pixels.push(v as f32 / 16.0);
        }
        let digit: usize = fields[64]
            .parse()
            .ok()
            .filter(|d| *d < 10)
            .ok_or_else(|| bad(i + 1, format!("digit {:?}", fields[64])))?;
        inputs.push(pixels);
        labels.push(digit);
    }
    if labels.is_empty() {
        return Err(bad(0, "no examples".into()));
    }
    Ok(Examples {
        shape: Shape::Image {
            channels: 1,
            height: 8,
            width: 8,
        },
        inputs,
        labels,
        classes: 10,
    })
}

/// A labelled dataset by its path, cut into the part models are trained and calibrated on
/// and the part they are tested on: an MNIST folder (its training and test files), the 8x8
/// digits (`.csv.gz`) or a table (`.csv`) (both split by [`Examples::split_fifths`]).
pub fn load_labelled(path: impl AsRef<Path>) -> Result<(Examples, Examples), NnError> {
    let path = path.as_ref();
    let name = path.to_string_lossy();
    if path.is_dir() {
        Ok((
            load_mnist_examples(path, "train")?,
            load_mnist_examples(path, "t10k")?,
        ))
    } else if name.ends_with(".csv.gz") {
        Ok(load_digits(path)?.split_fifths())
    } else if name.ends_with(".csv") {
        Ok(load_table(path)?.split_fifths())
    } else {
        Err(NnError::MalformedDataset {
            path: name.into_owned(),
            line: 0,
            reason: "not a dataset: an MNIST folder, a .csv table or the .csv.gz digits".into(),
        })
    }
}

/// Rows of numbers without a header or labels (a CSV of inputs to classify), each row as
/// an example of `shape`.
pub fn load_rows(path: impl AsRef<Path>, shape: Shape) -> Result<Vec<Vec<f32>>, NnError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = read_bounded(path)?;
    let bad = |line: usize, reason: String| NnError::MalformedDataset {
        path: name.clone(),
        line,
        reason,
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| bad(0, "not UTF-8 text".into()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let row = line
                .split(',')
                .map(|f| {
                    f.trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| bad(i + 1, format!("{f:?} is not a number")))
                })
                .collect::<Result<Vec<f32>, _>>()?;
            if row.len() != shape.len() {
                return Err(bad(
                    i + 1,
                    format!("{} values for an input of shape {shape}", row.len()),
                ));
            }
            Ok(row)
        })
        .collect()
}

/// MNIST's `prefix` set (`train` or `t10k`) from `dir` as 1x28x28 images in `[0, 1]`.
pub fn load_mnist_examples(dir: impl AsRef<Path>, prefix: &str) -> Result<Examples, NnError> {
    Ok(mnist::load_set(dir, prefix)?.examples())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(path: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../datasets")
            .join(path)
    }

    #[test]
    fn loads_the_shipped_files() {
        let wdbc = load_table(shipped("breast-cancer/wdbc.csv")).unwrap();
        assert_eq!(
            (wdbc.len(), wdbc.shape, wdbc.classes),
            (569, Shape::Vector(30), 2)
        );
        let (train, test) = wdbc.split_fifths();
        assert_eq!((train.len(), test.len()), (456, 113));
        assert_eq!(test.inputs[0], wdbc.inputs[4]);
        let digits = load_digits(shipped("digits/digits.csv.gz")).unwrap();
        assert_eq!(digits.len(), 1797);
        assert!(digits
            .inputs
            .iter()
            .flatten()
            .all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn a_gzip_bomb_is_refused() {
        let dir = std::env::temp_dir().join(format!("shroud-bomb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bomb.csv.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..(MAX_DECOMPRESSED >> 20) + 1 {
            std::io::Write::write_all(&mut gz, &zeros).unwrap();
        }
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
        assert!(load_digits(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
