//! MNIST in its original form: gzip-compressed IDX files (a big-endian header of magic number
//! and dimensions, then unsigned bytes).

use std::path::Path;

use ndarray::Array2;

use super::{read_gz, Examples};
use crate::graph::Shape;
use crate::NnError;

/// Images as rows of `rows * cols` grey levels (0 = background), with their digits.
#[derive(Clone, Debug, PartialEq)]
pub struct MnistSet {
    /// Rows of each image (28 for MNIST).
    pub rows: usize,
    /// Columns of each image (28 for MNIST).
    pub cols: usize,
    /// The grey levels of every image, image after image, each row-major.
    pub pixels: Vec<u8>,
    /// The digit of each image, `0..=9`.
    pub labels: Vec<u8>,
}

/// The IDX magic of unsigned-byte data with `dims` dimensions.
fn ubyte_magic(dims: usize) -> u32 {
    0x0800 | dims as u32
}

/// The dimensions and the data of an IDX file of unsigned bytes with `dims` dimensions; the
/// data must be exactly as long as the dimensions say.
pub fn parse_idx<'a>(
    bytes: &'a [u8],
    dims: usize,
    name: &str,
) -> Result<(Vec<usize>, &'a [u8]), NnError> {
    let header = 4 * (dims + 1);
    let truncated = |expected| NnError::IdxTruncated {
        path: name.to_string(),
        expected,
        found: bytes.len(),
    };
    if bytes.len() < 4 {
        return Err(truncated(header));
    }
    let word = |i: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&bytes[4 * i..4 * i + 4]);
        u32::from_be_bytes(w)
    };
    let expected = ubyte_magic(dims);
    if word(0) != expected {
        return Err(NnError::IdxMagic {
            path: name.to_string(),
            found: word(0),
            expected,
        });
    }
    if bytes.len() < header {
        return Err(truncated(header));
    }
    let shape: Vec<usize> = (1..=dims).map(|i| word(i) as usize).collect();
    let total = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_add(header))
        .ok_or_else(|| NnError::MalformedIdx {
            path: name.to_string(),
            reason: format!("dimensions {shape:?} overflow"),
        })?;
    if bytes.len() < total {
        return Err(truncated(total));
    }
    if bytes.len() > total {
        return Err(NnError::MalformedIdx {
            path: name.to_string(),
            reason: format!("{} bytes after the announced data", bytes.len() - total),
        });
    }
    Ok((shape, &bytes[header..]))
}

/// Pairs parsed image and label files into a set, checking counts and digit range.
pub fn parse_set(images: &[u8], labels: &[u8], name: &str) -> Result<MnistSet, NnError> {
    let (shape, pixels) = parse_idx(images, 3, &format!("{name} images"))?;
    let (count, label_bytes) = parse_idx(labels, 1, &format!("{name} labels"))?;
    if shape[0] != count[0] {
        return Err(NnError::CountMismatch {
            images: shape[0],
            labels: count[0],
        });
    }
    if let Some(i) = label_bytes.iter().position(|&l| l > 9) {
        return Err(NnError::MalformedIdx {
            path: format!("{name} labels"),
            reason: format!("label {} of item {i} is not a digit", label_bytes[i]),
        });
    }
    Ok(MnistSet {
        rows: shape[1],
        cols: shape[2],
        pixels: pixels.to_vec(),
        labels: label_bytes.to_vec(),
    })
}

/// Loads `{prefix}-images-idx3-ubyte.gz` and `{prefix}-labels-idx1-ubyte.gz` from `dir`
/// (`prefix` is `train` or `t10k` in the original distribution).
pub fn load_set(dir: impl AsRef<Path>, prefix: &str) -> Result<MnistSet, NnError> {
    let dir = dir.as_ref();
    let images = read_gz(&dir.join(format!("{prefix}-images-idx3-ubyte.gz")))?;
    let labels = read_gz(&dir.join(format!("{prefix}-labels-idx1-ubyte.gz")))?;
    parse_set(&images, &labels, &dir.join(prefix).display().to_string())
}

/// The 60,000 training and 10,000 test images.
pub fn load_mnist(dir: impl AsRef<Path>) -> Result<(MnistSet, MnistSet), NnError> {
    Ok((load_set(&dir, "train")?, load_set(&dir, "t10k")?))
}

impl MnistSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Grey levels per image, `rows * cols`.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The grey levels of image `i`, row-major.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.pixels_per_image();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Grey levels scaled to `[0, 1]`, one image per row: what the float network reads.
    pub fn features(&self) -> Array2<f32> {
        Array2::from_shape_fn((self.len(), self.pixels_per_image()), |(i, j)| {
            self.image(i)[j] as f32 / 255.0
        })
    }

    /// The images as labelled examples of 1 x rows x cols values in `[0, 1]` (pixels / 255),
    /// what a graph reads.
    pub fn examples(&self) -> Examples {
        Examples {
            shape: Shape::Image {
                channels: 1,
                height: self.rows,
                width: self.cols,
            },
            inputs: (0..self.len())
                .map(|i| self.image(i).iter().map(|&g| g as f32 / 255.0).collect())
                .collect(),
            labels: self.labels.iter().map(|&l| l as usize).collect(),
            classes: 10,
        }
    }

    /// The first `n` images (all if there are fewer).
    pub fn take(&self, n: usize) -> MnistSet {
        let n = n.min(self.len());
        MnistSet {
            rows: self.rows,
            cols: self.cols,
            pixels: self.pixels[..n * self.pixels_per_image()].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// Average pooling over `factor x factor` squares, grey levels rounded (ties up): the
    /// coarser images of the small networks an encrypted engine can afford.
    pub fn pooled(&self, factor: usize) -> Result<MnistSet, NnError> {
        if factor == 0 || !self.rows.is_multiple_of(factor) || !self.cols.is_multiple_of(factor) {
            return Err(NnError::InvalidConfig(format!(
                "pooling by {factor} does not divide {}x{} images",
                self.rows, self.cols
            )));
        }
        let (rows, cols) = (self.rows / factor, self.cols / factor);
        let area = (factor * factor) as u32;
        let mut pixels = Vec::with_capacity(self.len() * rows * cols);
        for i in 0..self.len() {
            let image = self.image(i);
            for r in 0..rows {
                for c in 0..cols {
                    let sum: u32 = (0..factor * factor)
                        .map(|t| {
                            let (dr, dc) = (t / factor, t % factor);
                            image[(r * factor + dr) * self.cols + c * factor + dc] as u32
                        })
                        .sum();
                    pixels.push(((2 * sum + area) / (2 * area)) as u8);
                }
            }
        }
        Ok(MnistSet {
            rows,
            cols,
            pixels,
            labels: self.labels.clone(),
        })
    }

    /// The set at the resolution a model with `inputs` inputs reads: as is, or pooled by the
    /// factor that gives that many pixels.
    pub fn for_inputs(self, inputs: usize) -> Result<MnistSet, NnError> {
        if inputs == self.pixels_per_image() {
            return Ok(self);
        }
        let factor = (1..=self.rows)
            .find(|&f| {
                self.rows.is_multiple_of(f)
                    && self.cols.is_multiple_of(f)
                    && (self.rows / f) * (self.cols / f) == inputs
            })
            .ok_or_else(|| {
                NnError::InvalidConfig(format!(
                    "a model with {inputs} inputs does not read {}x{} images at any pooling",
                    self.rows, self.cols
                ))
            })?;
        self.pooled(factor)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn pooling_averages_squares_and_matches_model_inputs() {
        let set = MnistSet {
            rows: 4,
            cols: 4,
            pixels: (0..16).map(|v| v * 10).collect(),
            labels: vec![3],
        };
        let pooled = set.pooled(2).unwrap();
        assert_eq!((pooled.rows, pooled.cols), (2, 2));
        // Top-left square: 0, 10, 40, 50 -> 25.
        assert_eq!(pooled.pixels, vec![25, 45, 105, 125]);
        assert_eq!(set.clone().for_inputs(4).unwrap(), pooled);
        assert_eq!(set.clone().for_inputs(16).unwrap(), set);
        assert!(set.pooled(3).is_err());
        assert!(set.for_inputs(5).is_err());
    }

    /// An IDX file of unsigned bytes with the given shape and data.
    pub(crate) fn idx_bytes(shape: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = ubyte_magic(shape.len()).to_be_bytes().to_vec();
        for d in shape {
            b.extend(d.to_be_bytes());
        }
        b.extend(data);
        b
    }

    #[test]
    fn parses_a_small_set() {
        let images = idx_bytes(&[2, 2, 3], &[0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 255]);
        let labels = idx_bytes(&[2], &[7, 3]);
        let set = parse_set(&images, &labels, "t").unwrap();
        assert_eq!((set.len(), set.rows, set.cols), (2, 2, 3));
        assert_eq!(set.image(1), &[10, 11, 12, 13, 14, 255]);
        assert_eq!(set.labels, vec![7, 3]);
        let f = set.features();
        assert_eq!((f[[0, 1]], f[[1, 5]]), (1.0 / 255.0, 1.0));
        assert_eq!(set.take(1).labels, vec![7]);
    }

    #[test]
    fn every_malformation_is_its_own_error() {
        let images = idx_bytes(&[2, 1, 2], &[1, 2, 3, 4]);
        let labels = idx_bytes(&[2], &[0, 1]);
        let mut wrong_magic = images.clone();
        wrong_magic[3] = 0x01;
        assert!(matches!(
            parse_set(&wrong_magic, &labels, "t"),
            Err(NnError::IdxMagic {
                found: 0x801,
                expected: 0x803,
                ..
            })
        ));
        // Labels where images are expected: same type byte, wrong dimension count.
        assert!(matches!(
            parse_set(&labels, &labels, "t"),
            Err(NnError::IdxMagic { .. })
        ));
        assert!(matches!(
            parse_set(&images[..images.len() - 1], &labels, "t"),
            Err(NnError::IdxTruncated {
                expected: 20,
                found: 19,
                ..
            })
        ));
        assert!(matches!(
            parse_set(&images[..6], &labels, "t"),
            Err(NnError::IdxTruncated { expected: 16, .. })
        ));
        assert!(matches!(
            parse_set(&[images.clone(), vec![0]].concat(), &labels, "t"),
            Err(NnError::MalformedIdx { .. })
        ));
        let three_labels = idx_bytes(&[3], &[0, 1, 2]);
        assert!(matches!(
            parse_set(&images, &three_labels, "t"),
            Err(NnError::CountMismatch {
                images: 2,
                labels: 3
            })
        ));
        let not_a_digit = idx_bytes(&[2], &[0, 10]);
        let err = parse_set(&images, &not_a_digit, "t").unwrap_err();
        assert!(err.to_string().contains("not a digit"), "{err}");
        let huge = idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(parse_idx(&huge, 3, "t").is_err());
        assert!(matches!(
            load_set("/nonexistent", "train"),
            Err(NnError::Io { .. })
        ));
    }

    #[test]
    fn the_shipped_test_set_has_10000_digits() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/mnist");
        let set = load_set(dir, "t10k").unwrap();
        assert_eq!((set.len(), set.rows, set.cols), (10_000, 28, 28));
        // The first test digits of the original distribution.
        assert_eq!(&set.labels[..5], &[7, 2, 1, 0, 4]);
        let per_class = (0..10).map(|d| set.labels.iter().filter(|&&l| l == d).count());
        assert!(per_class.clone().all(|c| (800..1200).contains(&c)));
        assert_eq!(per_class.sum::<usize>(), 10_000);
    }
}
