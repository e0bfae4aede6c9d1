//! The tile layout of server-only training: one sample per tile of slots, the whole model in
//! every tile, so that one ciphertext holds the training set and one the model.
//!
//! A tile is `rows x cols` slots, row-major: `rows` is the hidden width rounded up to a power
//! of two, `cols = 2 half` with `half` the inputs plus the outputs rounded up to a power of
//! two. For an `I-H-K` network, row `r` of a tile holds:
//! - `W1[r][c]` at columns `c` and `half + c` (`c < I`): twice, so that a window sum of `half`
//!   columns starting anywhere in `[0, half]` meets every input exactly once;
//! - `W2[k][r]` at column `I + k` (`k < K`), inside that range, where the hidden value
//!   computed by the window sum is valid.
//!
//! The model is stored divided by a factor `kappa`, which keeps its slots within the
//! bootstrapping range whatever the weights grow to; the inputs carry `kappa` back.
//! Everything repeats with the tile's period, which is the sparse packing of `tile` slots
//! that bootstrapping refreshes: the model ciphertext is bootstrapped as it is.

use ndarray::Array2;

use crate::training::square::Mlp;
use crate::NnError;

/// Slot positions of the tile layout for one network shape and slot count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileLayout {
    inputs: usize,
    hidden: usize,
    outputs: usize,
    half: usize,
    rows: usize,
    slots: usize,
}

impl TileLayout {
    /// The layout of an `inputs-hidden-outputs` network in `slots` slots; refuses a shape
    /// whose tile does not fit.
    pub fn new(
        inputs: usize,
        hidden: usize,
        outputs: usize,
        slots: usize,
    ) -> Result<Self, NnError> {
        if inputs == 0 || hidden == 0 || outputs == 0 || !slots.is_power_of_two() {
            return Err(NnError::InvalidConfig(format!(
                "a {inputs}-{hidden}-{outputs} network in {slots} slots"
            )));
        }
        let layout = Self {
            inputs,
            hidden,
            outputs,
            half: (inputs + outputs).next_power_of_two(),
            rows: hidden.next_power_of_two(),
            slots,
        };
        if Self::tile_for(inputs, hidden, outputs) > slots {
            return Err(NnError::InvalidConfig(format!(
                "the tile of a {inputs}-{hidden}-{outputs} network exceeds {slots} slots"
            )));
        }
        Ok(layout)
    }

    /// Slots of the tile of an `inputs-hidden-outputs` network (saturating for absurd
    /// shapes), whatever the slot count.
    pub fn tile_for(inputs: usize, hidden: usize, outputs: usize) -> usize {
        let half = inputs.saturating_add(outputs).checked_next_power_of_two();
        let rows = hidden.checked_next_power_of_two();
        match (half, rows) {
            (Some(h), Some(r)) => r.saturating_mul(h).saturating_mul(2),
            _ => usize::MAX,
        }
    }

    /// Inputs of the network: features per sample.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Width of the hidden layer.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Outputs of the network (classes).
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Columns a window sum spans: the period of the inputs in a row.
    pub fn half(&self) -> usize {
        self.half
    }

    /// Rows of a tile (the hidden width rounded up to a power of two).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of a tile.
    pub fn cols(&self) -> usize {
        2 * self.half
    }

    /// Slots of a tile: the sparse slot count of the model.
    pub fn tile(&self) -> usize {
        self.rows * self.cols()
    }

    /// Tiles in a ciphertext: the most samples one holds.
    pub fn tiles(&self) -> usize {
        self.slots / self.tile()
    }

    fn at(&self, r: usize, c: usize) -> usize {
        r * self.cols() + c
    }

    /// Every rotation the training step performs: window sums over columns, sums and
    /// broadcasts over rows, the copy of the first-layer gradient, and the sum over tiles.
    pub fn rotation_steps(&self) -> Vec<i64> {
        let powers = |count: usize, stride: usize| {
            (0..count.trailing_zeros()).map(move |k| (stride << k) as i64)
        };
        let cols = self.cols();
        let mut steps: Vec<i64> = powers(self.half, 1)
            .chain(powers(self.rows, cols))
            .chain(powers(self.rows, cols).map(|s| -s))
            .chain([-(self.half as i64)])
            .chain(powers(self.tiles(), self.tile()))
            .collect();
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// One tile of the model divided by `kappa`.
    pub fn model_tile(&self, model: &Mlp, kappa: f64) -> Result<Vec<f64>, NnError> {
        self.check_model(model)?;
        let mut tile = vec![0.0; self.tile()];
        for r in 0..self.hidden {
            for c in 0..self.inputs {
                let w = model.w1[[r, c]] / kappa;
                tile[self.at(r, c)] = w;
                tile[self.at(r, self.half + c)] = w;
            }
            for k in 0..self.outputs {
                tile[self.at(r, self.inputs + k)] = model.w2[[k, r]] / kappa;
            }
        }
        Ok(tile)
    }

    /// The model held in the slots of a model ciphertext, averaged over its tiles (each
    /// carries the same weights with independent noise), times `kappa`.
    pub fn read_model(&self, slots: &[f64], kappa: f64) -> Result<Mlp, NnError> {
        if slots.len() != self.slots {
            return Err(NnError::Malformed(format!(
                "{} slots for a layout of {}",
                slots.len(),
                self.slots
            )));
        }
        let tiles = self.tiles();
        let mean = |i: usize| {
            (0..tiles).map(|t| slots[t * self.tile() + i]).sum::<f64>() * kappa / tiles as f64
        };
        Ok(Mlp {
            w1: Array2::from_shape_fn((self.hidden, self.inputs), |(r, c)| mean(self.at(r, c))),
            w2: Array2::from_shape_fn((self.outputs, self.hidden), |(k, r)| {
                mean(self.at(r, self.inputs + k))
            }),
        })
    }

    /// `tile` repeated over all the slots.
    pub fn repeat(&self, tile: &[f64]) -> Vec<f64> {
        tile.iter().cycle().take(self.slots).copied().collect()
    }

    /// Sample `s` of `x` in tile `s` for the forward products: `kappa x[c]` in every row at
    /// columns `c` and `half + c`.
    pub fn product_inputs(&self, x: &Array2<f64>, kappa: f64) -> Result<Vec<f64>, NnError> {
        self.samples(x, self.inputs, |v, put| {
            for r in 0..self.rows {
                for (c, &x) in v.iter().enumerate() {
                    put(self.at(r, c), kappa * x);
                    put(self.at(r, self.half + c), kappa * x);
                }
            }
        })
    }

    /// Sample `s` of `x` in tile `s` for the first-layer gradient: `2 x[c]` (the derivative
    /// of the square) in every row at column `c` only, zeros elsewhere.
    pub fn gradient_inputs(&self, x: &Array2<f64>) -> Result<Vec<f64>, NnError> {
        self.samples(x, self.inputs, |v, put| {
            for r in 0..self.rows {
                for (c, &x) in v.iter().enumerate() {
                    put(self.at(r, c), 2.0 * x);
                }
            }
        })
    }

    /// Target `s` of `y` in tile `s`, `y[k]` at row 0, column `inputs + k`: where the
    /// network's output lands.
    pub fn targets(&self, y: &Array2<f64>) -> Result<Vec<f64>, NnError> {
        self.samples(y, self.outputs, |v, put| {
            for (k, &y) in v.iter().enumerate() {
                put(self.at(0, self.inputs + k), y);
            }
        })
    }

    /// `kappa` on the second layer's cells of every tile: what takes `W2` alone out of the
    /// model (and restores its scale).
    pub fn second_layer_mask(&self, kappa: f64) -> Vec<f64> {
        let mut tile = vec![0.0; self.tile()];
        for r in 0..self.hidden {
            for k in 0..self.outputs {
                tile[self.at(r, self.inputs + k)] = kappa;
            }
        }
        self.repeat(&tile)
    }

    /// `factor` on the outputs of the tiles in `batch`, zeros elsewhere: keeps the errors of
    /// the batch's samples, in row 0 only.
    pub fn error_mask(&self, batch: &[usize], factor: f64) -> Result<Vec<f64>, NnError> {
        let mut v = vec![0.0; self.slots];
        for &s in batch {
            if s >= self.tiles() {
                return Err(NnError::InvalidConfig(format!(
                    "sample {s} beyond the {} tiles",
                    self.tiles()
                )));
            }
            for k in 0..self.outputs {
                v[s * self.tile() + self.at(0, self.inputs + k)] = factor;
            }
        }
        Ok(v)
    }

    /// Slots with each row of `m` (of `width` columns) placed in its tile by `place`.
    fn samples(
        &self,
        m: &Array2<f64>,
        width: usize,
        place: impl Fn(&[f64], &mut dyn FnMut(usize, f64)),
    ) -> Result<Vec<f64>, NnError> {
        if m.ncols() != width || m.nrows() > self.tiles() {
            return Err(NnError::InvalidConfig(format!(
                "{} samples of {} values for {} tiles of {width}",
                m.nrows(),
                m.ncols(),
                self.tiles()
            )));
        }
        let mut v = vec![0.0; self.slots];
        for (s, row) in m.rows().into_iter().enumerate() {
            let base = s * self.tile();
            let row: Vec<f64> = row.to_vec();
            place(&row, &mut |i, x| v[base + i] = x);
        }
        Ok(v)
    }

    fn check_model(&self, model: &Mlp) -> Result<(), NnError> {
        if model.w1.dim() != (self.hidden, self.inputs)
            || model.w2.dim() != (self.outputs, self.hidden)
        {
            return Err(NnError::InvalidConfig(format!(
                "a model of {:?} and {:?} in the layout of a {}-{}-{} network",
                model.w1.dim(),
                model.w2.dim(),
                self.inputs,
                self.hidden,
                self.outputs
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iris_network_takes_a_tile_of_256_slots() {
        let l = TileLayout::new(5, 10, 3, 1 << 15).unwrap();
        assert_eq!((l.half(), l.rows(), l.tile(), l.tiles()), (8, 16, 256, 128));
        assert!(TileLayout::new(5, 10, 3, 128).is_err());
        assert!(TileLayout::new(0, 10, 3, 1 << 15).is_err());
    }

    #[test]
    fn the_model_reads_back_from_its_repeated_tile() {
        let l = TileLayout::new(5, 10, 3, 2048).unwrap();
        let m = Mlp::init(5, 10, 3, 0.5, 7);
        let slots = l.repeat(&l.model_tile(&m, 4.0).unwrap());
        assert!(l.read_model(&slots, 4.0).unwrap().max_abs_diff(&m) < 1e-12);
        assert!(l.model_tile(&Mlp::init(4, 10, 3, 0.5, 7), 4.0).is_err());
    }

    /// The slot algebra of one step, in the clear: the window sums and products the server
    /// computes give `h`, the outputs and the gradients of plaintext SGD.
    #[test]
    fn window_sums_over_the_layout_compute_the_network() {
        let l = TileLayout::new(5, 10, 3, 1024).unwrap();
        let m = Mlp::init(5, 10, 3, 0.5, 2);
        let x = Array2::from_shape_fn((4, 5), |(s, c)| ((s * 5 + c) % 7) as f64 / 7.0);
        let kappa = 4.0;
        let model = l.repeat(&l.model_tile(&m, kappa).unwrap());
        let xa = l.product_inputs(&x, kappa).unwrap();
        let rot_sum = |v: &[f64], count: usize, stride: i64| -> Vec<f64> {
            let n = v.len() as i64;
            (0..v.len())
                .map(|j| {
                    (0..count as i64)
                        .map(|i| v[(j as i64 + i * stride).rem_euclid(n) as usize])
                        .sum()
                })
                .collect()
        };
        let p: Vec<f64> = model.iter().zip(&xa).map(|(a, b)| a * b).collect();
        let h = rot_sum(&p, l.half(), 1);
        let expect = m.forward(&x);
        for s in 0..4 {
            for r in 0..10 {
                for c in 0..=l.half() {
                    let got = h[s * l.tile() + l.at(r, c)];
                    assert!((got - expect.h[[s, r]]).abs() < 1e-12);
                }
            }
        }
    }
}
