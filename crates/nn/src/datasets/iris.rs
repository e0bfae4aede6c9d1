//! Fisher's Iris data: loading, a seeded train/test split and min-max scaling.

use std::path::Path;

use ndarray::{Array1, Array2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::NnError;

/// Samples as rows of `features`, with class indices in `labels`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// One row per sample, one column per feature (after [`prepare_iris`], scaled, with a
    /// last column of ones for the bias).
    pub features: Array2<f64>,
    /// The class index of each sample, in `0..class_names.len()`.
    pub labels: Vec<usize>,
    /// The names of the classes, as in the file's header.
    pub class_names: Vec<String>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Targets as one-hot rows.
    pub fn one_hot(&self) -> Array2<f64> {
        let mut y = Array2::zeros((self.len(), self.classes()));
        for (i, &l) in self.labels.iter().enumerate() {
            y[[i, l]] = 1.0;
        }
        y
    }

    fn select(&self, idx: &[usize]) -> Dataset {
        Dataset {
            features: self.features.select(Axis(0), idx),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
        }
    }

    /// A seeded shuffle split: `test_fraction` of the samples (rounded) go to the test set.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset), NnError> {
        if !(0.0..1.0).contains(&test_fraction) {
            return Err(NnError::InvalidConfig(format!(
                "test fraction {test_fraction}"
            )));
        }
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let n_test = (self.len() as f64 * test_fraction).round() as usize;
        Ok((self.select(&idx[n_test..]), self.select(&idx[..n_test])))
    }
}

/// Per-feature min-max scaling to `[0, 1]`, fitted on training data only.
#[derive(Clone, Debug, PartialEq)]
pub struct MinMaxScaler {
    min: Array1<f64>,
    range: Array1<f64>,
}

impl MinMaxScaler {
    /// The scaler fitted on `features` (a sample per row): each feature's minimum maps to 0
    /// and its maximum to 1; a constant feature maps to 0.
    pub fn fit(features: &Array2<f64>) -> Self {
        let min = features.fold_axis(Axis(0), f64::INFINITY, |a, &b| a.min(b));
        let max = features.fold_axis(Axis(0), f64::NEG_INFINITY, |a, &b| a.max(b));
        // A constant feature maps to 0 instead of dividing by zero.
        let range = (&max - &min).mapv(|r| if r > 0.0 { r } else { 1.0 });
        Self { min, range }
    }

    /// `features` scaled feature by feature; values outside the fitted range fall outside
    /// `[0, 1]`.
    pub fn transform(&self, features: &Array2<f64>) -> Array2<f64> {
        (features - &self.min) / &self.range
    }
}

/// The pipeline both trainers share: load, seeded split, min-max scaling fitted on the
/// training part, and a constant 1 appended to every sample so the first layer has a bias
/// (without it the square-activation network stalls around 70% accuracy).
pub fn prepare_iris(
    path: impl AsRef<Path>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset), NnError> {
    let (mut train, mut test) = load_iris(path)?.split(test_fraction, seed)?;
    let scaler = MinMaxScaler::fit(&train.features);
    for d in [&mut train, &mut test] {
        let scaled = scaler.transform(&d.features);
        d.features =
            ndarray::concatenate(Axis(1), &[scaled.view(), Array2::ones((d.len(), 1)).view()])
                .map_err(|_| NnError::Internal("the bias column has a row per example"))?;
    }
    Ok((train, test))
}

/// The widest table a CSV may describe: far beyond any tabular dataset, and small enough
/// that nothing computed from it can overflow.
pub const MAX_FEATURES: usize = 1 << 20;

/// Loads the shipped CSV: a header `rows,features,class names...`, then one sample per line,
/// features then the class index. Every deviation is an error naming the line.
pub fn load_iris(path: impl AsRef<Path>) -> Result<Dataset, NnError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = crate::datasets::read_bounded(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| NnError::MalformedDataset {
        path: name.clone(),
        line: 0,
        reason: format!("not UTF-8: {e}"),
    })?;
    parse_iris(text, &name)
}

/// The parser behind [`load_iris`], for text already in memory.
pub fn parse_iris(text: &str, name: &str) -> Result<Dataset, NnError> {
    let bad = |line: usize, reason: String| NnError::MalformedDataset {
        path: name.to_string(),
        line,
        reason,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| bad(1, "empty file".into()))?;
    let head: Vec<&str> = header.split(',').map(str::trim).collect();
    if head.len() < 3 {
        return Err(bad(
            1,
            "header must be: rows,features,class names...".into(),
        ));
    }
    let rows: usize = head[0]
        .parse()
        .map_err(|_| bad(1, format!("row count {:?}", head[0])))?;
    let n_features: usize = head[1]
        .parse()
        .map_err(|_| bad(1, format!("feature count {:?}", head[1])))?;
    if !(1..=MAX_FEATURES).contains(&n_features) {
        return Err(bad(
            1,
            format!("{n_features} features (1 to {MAX_FEATURES})"),
        ));
    }
    let class_names: Vec<String> = head[2..].iter().map(|s| s.to_string()).collect();
    // The header is input: what it announces bounds nothing until the lines are counted.
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != n_features + 1 {
            return Err(bad(
                i + 1,
                format!("{} fields, expected {}", fields.len(), n_features + 1),
            ));
        }
        for f in &fields[..n_features] {
            let v: f64 = f
                .parse()
                .map_err(|_| bad(i + 1, format!("feature {f:?} is not a number")))?;
            if !v.is_finite() {
                return Err(bad(i + 1, format!("feature {f:?} is not finite")));
            }
            features.push(v);
        }
        let label: usize = fields[n_features].parse().map_err(|_| {
            bad(
                i + 1,
                format!("class {:?} is not an index", fields[n_features]),
            )
        })?;
        if label >= class_names.len() {
            return Err(bad(
                i + 1,
                format!("class {label} but only {} classes", class_names.len()),
            ));
        }
        labels.push(label);
    }
    if labels.len() != rows {
        return Err(bad(
            1,
            format!("header announces {rows} rows, found {}", labels.len()),
        ));
    }
    let features = Array2::from_shape_vec((rows, n_features), features)
        .map_err(|e| bad(1, format!("shape: {e}")))?;
    Ok(Dataset {
        features,
        labels,
        class_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/iris/iris.csv");

    #[test]
    fn loads_the_shipped_file() {
        let d = load_iris(SHIPPED).unwrap();
        assert_eq!((d.len(), d.features.ncols(), d.classes()), (150, 4, 3));
        assert_eq!(d.labels.iter().filter(|&&l| l == 2).count(), 50);
        assert_eq!(d.features[[0, 0]], 5.1);
    }

    #[test]
    fn malformed_files_are_errors_naming_the_line() {
        let cases = [
            ("", "empty"),
            ("2,4", "header"),
            ("x,4,a,b", "row count"),
            ("1,2,a,b\n1.0,2.0\n", "fields"),
            ("1,2,a,b\n1.0,abc,0\n", "not a number"),
            ("1,2,a,b\n1.0,2.0,7\n", "only 2 classes"),
            ("2,2,a,b\n1.0,2.0,0\n", "announces 2 rows"),
            ("1,2,a,b\n1.0,NaN,0\n", "not finite"),
            // Sizes announced by the header allocate nothing: ten billion rows are counted,
            // not reserved; an absurd feature count is refused before any arithmetic on it.
            (
                "10000000000,2,a,b\n1.0,2.0,0\n",
                "announces 10000000000 rows",
            ),
            ("1,18446744073709551615,a,b\n1.0,2.0,0\n", "features (1 to"),
            ("1,0,a,b\n0\n", "features (1 to"),
        ];
        for (text, needle) in cases {
            let err = parse_iris(text, "t.csv").unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        assert!(matches!(
            load_iris("/nonexistent.csv"),
            Err(NnError::Io { .. })
        ));
    }

    #[test]
    fn split_is_seeded_and_complete() {
        let d = load_iris(SHIPPED).unwrap();
        let (a, b) = d.split(0.2, 7).unwrap();
        assert_eq!((a.len(), b.len()), (120, 30));
        assert_eq!(d.split(0.2, 7).unwrap(), (a.clone(), b.clone()));
        assert_ne!(d.split(0.2, 8).unwrap().1, b);
        let s = MinMaxScaler::fit(&a.features).transform(&a.features);
        assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
