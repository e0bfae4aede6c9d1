//! The integer convolution and the indexing every evaluator of it shares.

use serde::{Deserialize, Serialize};

use crate::graph::{Pool2d, Shape};

/// A convolution on integers: geometry as [`crate::graph::Conv2d`], weights
/// `[out_channels, in_channels / groups, kh, kw]` in `[-Q, Q]`, `bias[o]` added to output
/// channel `o`, and padding that reads `pad[c]` in input channel `c` (the integer standing
/// for a real zero there).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QConv {
    /// Channels of the input image.
    pub in_channels: usize,
    /// Channels of the output image.
    pub out_channels: usize,
    /// Number of groups, as [`crate::graph::Conv2d::groups`].
    pub groups: usize,
    /// The kernel's geometry: size, stride, padding and dilation.
    pub window: Pool2d,
    /// The kernels in the layout above, each weight in `[-Q, Q]`.
    pub weights: Vec<i8>,
    /// The integer added to each output channel.
    pub bias: Vec<i64>,
    /// The integer a padded position reads in each input channel.
    pub pad: Vec<i64>,
}

/// What a weight of a convolution reads at one output position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tap {
    /// The input element of this index.
    Element(usize),
    /// The padding of this input channel.
    Pad(usize),
}

impl QConv {
    /// Checks the parameters against an input of `shape` (weights within `q`) and returns
    /// the output's height and width.
    pub(crate) fn check(&self, shape: Shape, q: i64) -> Result<(usize, usize), String> {
        let (channels, height, width) = shape.chw();
        // The window first: everything below multiplies its sizes.
        let out = self.window.output_size(height, width)?;
        let g = self.groups;
        if !matches!(shape, Shape::Image { .. })
            || channels != self.in_channels
            || g == 0
            || !self.in_channels.is_multiple_of(g)
            || !self.out_channels.is_multiple_of(g)
            || self.weights.iter().any(|&w| (w as i64).abs() > q)
        {
            return Err(format!(
                "a convolution from {} channels on {shape}",
                self.in_channels
            ));
        }
        if Some(self.weights.len()) != self.out_channels.checked_mul(self.per_out()) {
            return Err(format!("{} weights", self.weights.len()));
        }
        super::per_channel(&self.bias, self.out_channels, "biases")?;
        super::per_channel(&self.pad, self.in_channels, "padding values")?;
        Ok(out)
    }

    fn per_out(&self) -> usize {
        (self.in_channels / self.groups.max(1)).saturating_mul(self.window.size())
    }

    /// The first input channel output channel `o` reads.
    fn first_input(&self, o: usize) -> usize {
        o / (self.out_channels / self.groups) * (self.in_channels / self.groups)
    }

    /// Each weight of output channel `o` with the input channel it reads.
    pub fn kernel(&self, o: usize) -> impl Iterator<Item = (i64, usize)> + '_ {
        let (per_out, taps, first) = (self.per_out(), self.window.size(), self.first_input(o));
        self.weights[o * per_out..(o + 1) * per_out]
            .iter()
            .enumerate()
            .map(move |(t, &w)| (w as i64, first + t / taps))
    }

    /// The terms of output element `(o, oy, ox)` on an input of `height x width`: each
    /// weight and what it reads.
    pub fn terms(
        &self,
        o: usize,
        oy: usize,
        ox: usize,
        height: usize,
        width: usize,
    ) -> impl Iterator<Item = (i64, Tap)> + '_ {
        let (per_out, taps, first) = (self.per_out(), self.window.size(), self.first_input(o));
        let kernel = &self.weights[o * per_out..(o + 1) * per_out];
        let plane = height * width;
        let group_inputs = self.in_channels / self.groups;
        self.window
            .taps(oy, ox, height, width)
            .enumerate()
            .flat_map(move |(t, at)| {
                (0..group_inputs).map(move |g| {
                    let c = first + g;
                    let tap = match at {
                        Some((iy, ix)) => Tap::Element(c * plane + iy * width + ix),
                        None => Tap::Pad(c),
                    };
                    (kernel[g * taps + t] as i64, tap)
                })
            })
    }
}
