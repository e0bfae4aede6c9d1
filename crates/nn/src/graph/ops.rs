//! The parameters of the graph's layers, each checked for consistency on its own.

use serde::{Deserialize, Serialize};

use super::MAX_ELEMENTS;

/// `y = W x + b`: `weights` is `outputs x inputs`, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// Length of the input vector.
    pub inputs: usize,
    /// Length of the output vector.
    pub outputs: usize,
    /// `W`: `outputs * inputs` finite values, row `k` the weights of output `k`.
    pub weights: Vec<f32>,
    /// `b`: one finite value per output.
    pub bias: Vec<f32>,
}

impl Dense {
    pub(super) fn check(&self) -> Result<(), String> {
        let len = self.inputs.checked_mul(self.outputs);
        if self.inputs == 0
            || self.outputs == 0
            || len != Some(self.weights.len())
            || self.bias.len() != self.outputs
            || self.weights.len() > MAX_ELEMENTS
        {
            return Err(format!(
                "{} weights and {} biases for {} inputs and {} outputs",
                self.weights.len(),
                self.bias.len(),
                self.inputs,
                self.outputs
            ));
        }
        finite(&self.weights).and(finite(&self.bias))
    }

    /// Row `k` of `W`.
    pub fn row(&self, k: usize) -> &[f32] {
        &self.weights[k * self.inputs..(k + 1) * self.inputs]
    }
}

/// Where a sliding window reads: the geometry shared by convolutions and pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool2d {
    /// `[height, width]`.
    pub kernel: [usize; 2],
    /// `[vertical, horizontal]`: how far the window moves between outputs, in elements.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    /// `[vertical, horizontal]`: the distance between neighbouring taps of the window (1 for
    /// adjacent elements).
    pub dilation: [usize; 2],
}

impl Pool2d {
    /// A `k x k` window moving by `stride`, without padding.
    pub fn square(k: usize, stride: usize) -> Self {
        Self {
            kernel: [k, k],
            stride: [stride, stride],
            padding: [0; 4],
            dilation: [1, 1],
        }
    }

    /// The output's height and width on an input of `height x width`.
    pub fn output_size(&self, height: usize, width: usize) -> Result<(usize, usize), String> {
        let small = |v: usize| (1..=1 << 12).contains(&v);
        if !(self.kernel.iter().chain(&self.stride).chain(&self.dilation)).all(|&v| small(v))
            || self.padding.iter().any(|&p| p >= 1 << 12)
        {
            return Err(format!("window {self:?}"));
        }
        let span = |axis: usize| (self.kernel[axis] - 1) * self.dilation[axis] + 1;
        let side = |n: usize, before: usize, after: usize, axis: usize| {
            let span = span(axis);
            let padded = n + before + after;
            if padded < span {
                return Err(format!(
                    "a window of {span} on a side of {n} padded to {padded}"
                ));
            }
            Ok((padded - span) / self.stride[axis] + 1)
        };
        let [top, left, bottom, right] = self.padding;
        if top.max(bottom) >= span(0) || left.max(right) >= span(1) {
            // Every window must hold at least one real element.
            return Err(format!("padding {:?} as wide as the window", self.padding));
        }
        Ok((side(height, top, bottom, 0)?, side(width, left, right, 1)?))
    }

    /// For output position `(oy, ox)`, the input rows and columns the window's taps read:
    /// `None` where a tap falls in the padding.
    pub fn taps(
        &self,
        oy: usize,
        ox: usize,
        height: usize,
        width: usize,
    ) -> impl Iterator<Item = Option<(usize, usize)>> + '_ {
        let [kh, kw] = self.kernel;
        (0..kh * kw).map(move |t| {
            let (ky, kx) = (t / kw, t % kw);
            let y = (oy * self.stride[0] + ky * self.dilation[0]).checked_sub(self.padding[0])?;
            let x = (ox * self.stride[1] + kx * self.dilation[1]).checked_sub(self.padding[1])?;
            (y < height && x < width).then_some((y, x))
        })
    }

    /// Taps per window (saturating: an unchecked window from a file cannot overflow it).
    pub fn size(&self) -> usize {
        self.kernel[0].saturating_mul(self.kernel[1])
    }
}

/// A two-dimensional convolution: `weights` is `[out_channels, in_channels / groups,
/// kernel height, kernel width]`, row-major; zero padding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2d {
    /// Channels of the input image.
    pub in_channels: usize,
    /// Channels of the output image.
    pub out_channels: usize,
    /// Number of groups: both channel counts are multiples of it, and each output channel
    /// reads only the `in_channels / groups` input channels of its group (1 for an ordinary
    /// convolution, `in_channels` for a depthwise one).
    pub groups: usize,
    /// `[height, width]` of the kernel.
    pub kernel: [usize; 2],
    /// `[vertical, horizontal]`: how far the kernel moves between outputs, in elements.
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub padding: [usize; 4],
    /// `[vertical, horizontal]`: the distance between neighbouring taps of the kernel.
    pub dilation: [usize; 2],
    /// The kernels, in the layout above; finite values.
    pub weights: Vec<f32>,
    /// One finite value per output channel.
    pub bias: Vec<f32>,
}

impl Conv2d {
    pub(super) fn check(&self) -> Result<(), String> {
        let g = self.groups;
        if g == 0
            || self.in_channels == 0
            || self.out_channels == 0
            || !self.in_channels.is_multiple_of(g)
            || !self.out_channels.is_multiple_of(g)
        {
            return Err(format!(
                "{} groups of {} input and {} output channels",
                g, self.in_channels, self.out_channels
            ));
        }
        let len = [
            self.out_channels,
            self.in_channels / g,
            self.kernel[0],
            self.kernel[1],
        ]
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d));
        if len != Some(self.weights.len())
            || self.bias.len() != self.out_channels
            || self.weights.len() > MAX_ELEMENTS
        {
            return Err(format!(
                "{} weights and {} biases for a {}x{} kernel from {} to {} channels in {} groups",
                self.weights.len(),
                self.bias.len(),
                self.kernel[0],
                self.kernel[1],
                self.in_channels,
                self.out_channels,
                g
            ));
        }
        finite(&self.weights).and(finite(&self.bias))
    }

    /// The window geometry.
    pub fn window(&self) -> Pool2d {
        Pool2d {
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }

    /// Input channels each output channel reads.
    pub fn group_inputs(&self) -> usize {
        self.in_channels / self.groups
    }

    /// The first input channel output channel `o` reads.
    pub fn first_input(&self, o: usize) -> usize {
        o / (self.out_channels / self.groups) * self.group_inputs()
    }

    /// The kernel of output channel `o`: `[in_channels / groups, kh, kw]`.
    pub fn kernel_of(&self, o: usize) -> &[f32] {
        let len = self.group_inputs() * self.kernel[0] * self.kernel[1];
        &self.weights[o * len..(o + 1) * len]
    }
}

/// `y = x * scale[c] + shift[c]` for every element of channel `c`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// The factor of each channel, finite.
    pub scale: Vec<f32>,
    /// The term added to each channel, finite; as many as `scale`.
    pub shift: Vec<f32>,
}

impl Affine {
    pub(super) fn check(&self) -> Result<(), String> {
        if self.scale.len() != self.shift.len() || self.scale.is_empty() {
            return Err(format!(
                "{} factors and {} shifts",
                self.scale.len(),
                self.shift.len()
            ));
        }
        finite(&self.scale).and(finite(&self.shift))
    }
}

fn finite(values: &[f32]) -> Result<(), String> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(format!("parameter {i} is {}", values[i])),
        None => Ok(()),
    }
}
