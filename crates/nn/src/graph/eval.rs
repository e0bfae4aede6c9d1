//! The float evaluator: the graph as the model it was imported from computes it (sums in
//! `f64`, values in `f32`).

use super::{Affine, Conv2d, Dense, Graph, Op, Pool2d, Shape};
use crate::NnError;

impl Graph {
    /// The output for one example, `input` laid out as [`Graph::input`] says.
    pub fn eval(&self, input: &[f32]) -> Result<Vec<f32>, NnError> {
        let shapes = self.validate()?;
        self.eval_values(&shapes, input)
            .map(|mut values| values.pop().unwrap_or_default())
    }

    /// Every value (the input, then each node's output) for one example, given the shapes
    /// [`Graph::validate`] returned.
    pub(crate) fn eval_values(
        &self,
        shapes: &[Shape],
        input: &[f32],
    ) -> Result<Vec<Vec<f32>>, NnError> {
        if input.len() != self.input.len() {
            return Err(NnError::InvalidConfig(format!(
                "an input of {} values for a graph whose input is {}",
                input.len(),
                self.input
            )));
        }
        let mut values: Vec<Vec<f32>> = vec![input.to_vec()];
        for (i, node) in self.nodes.iter().enumerate() {
            let x = &values[node.inputs[0]];
            let shape = shapes[node.inputs[0]];
            let y = match &node.op {
                Op::Dense(d) => dense(d, x),
                Op::Conv2d(c) => conv2d(c, shape, shapes[i + 1], x),
                Op::Affine(a) => affine(a, shape, x),
                Op::AvgPool(p) => pool(p, shape, shapes[i + 1], x, Reduce::Mean),
                Op::SumPool(p) => pool(p, shape, shapes[i + 1], x, Reduce::Sum),
                Op::MaxPool(p) => pool(p, shape, shapes[i + 1], x, Reduce::Max),
                Op::GlobalAvgPool => x
                    .chunks(shape.plane())
                    .map(|c| (c.iter().map(|&v| v as f64).sum::<f64>() / c.len() as f64) as f32)
                    .collect(),
                Op::Relu => x.iter().map(|&v| v.max(0.0)).collect(),
                Op::Clip { min, max } => x.iter().map(|&v| v.clamp(*min, *max)).collect(),
                Op::Flatten | Op::Reshape(_) => x.clone(),
                Op::Add => x
                    .iter()
                    .zip(&values[node.inputs[1]])
                    .map(|(a, b)| a + b)
                    .collect(),
                Op::Softmax => softmax(x),
            };
            values.push(y);
        }
        Ok(values)
    }

    /// The index of the largest output, the lowest on ties.
    pub fn predict(&self, input: &[f32]) -> Result<usize, NnError> {
        Ok(argmax_f32(&self.eval(input)?))
    }
}

/// The index of the largest value, the lowest on ties.
pub fn argmax_f32(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0
}

fn dense(d: &Dense, x: &[f32]) -> Vec<f32> {
    (0..d.outputs)
        .map(|k| {
            let s: f64 = d
                .row(k)
                .iter()
                .zip(x)
                .map(|(&w, &v)| w as f64 * v as f64)
                .sum();
            (s + d.bias[k] as f64) as f32
        })
        .collect()
}

fn conv2d(c: &Conv2d, input: Shape, output: Shape, x: &[f32]) -> Vec<f32> {
    let ((_, height, width), (_, oh, ow)) = (input.chw(), output.chw());
    let window = c.window();
    let plane = height * width;
    let taps = c.kernel[0] * c.kernel[1];
    let mut y = Vec::with_capacity(c.out_channels * oh * ow);
    for o in 0..c.out_channels {
        let kernel = c.kernel_of(o);
        let first = c.first_input(o);
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = c.bias[o] as f64;
                for (t, at) in window.taps(oy, ox, height, width).enumerate() {
                    let Some((iy, ix)) = at else { continue };
                    for g in 0..c.group_inputs() {
                        let v = x[(first + g) * plane + iy * width + ix];
                        s += kernel[g * taps + t] as f64 * v as f64;
                    }
                }
                y.push(s as f32);
            }
        }
    }
    y
}

fn affine(a: &Affine, shape: Shape, x: &[f32]) -> Vec<f32> {
    let plane = shape.plane();
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = i / plane;
            (v as f64 * a.scale[c] as f64 + a.shift[c] as f64) as f32
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Reduce {
    Mean,
    Sum,
    Max,
}

fn pool(p: &Pool2d, input: Shape, output: Shape, x: &[f32], reduce: Reduce) -> Vec<f32> {
    let ((channels, height, width), (_, oh, ow)) = (input.chw(), output.chw());
    let plane = height * width;
    let mut y = Vec::with_capacity(channels * oh * ow);
    for c in 0..channels {
        let x = &x[c * plane..(c + 1) * plane];
        for oy in 0..oh {
            for ox in 0..ow {
                let read = p
                    .taps(oy, ox, height, width)
                    .flatten()
                    .map(|(iy, ix)| x[iy * width + ix]);
                y.push(match reduce {
                    // Padding counts in the divisor (ONNX's count_include_pad, PyTorch's
                    // default) and adds zeros to the sum.
                    Reduce::Mean => (read.map(|v| v as f64).sum::<f64>() / p.size() as f64) as f32,
                    Reduce::Sum => read.map(|v| v as f64).sum::<f64>() as f32,
                    Reduce::Max => read.fold(f32::NEG_INFINITY, f32::max),
                });
            }
        }
    }
    y
}

fn softmax(x: &[f32]) -> Vec<f32> {
    let top = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = x.iter().map(|&v| ((v - top) as f64).exp()).collect();
    let total: f64 = e.iter().sum();
    e.iter().map(|&v| (v / total) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Node;

    fn conv(weights: Vec<f32>, stride: usize, padding: usize) -> Conv2d {
        Conv2d {
            in_channels: 1,
            out_channels: 1,
            groups: 1,
            kernel: [2, 2],
            stride: [stride, stride],
            padding: [padding; 4],
            dilation: [1, 1],
            weights,
            bias: vec![0.5],
        }
    }

    #[test]
    fn a_convolution_by_hand() {
        // 3x3 image 1..9, 2x2 kernel [[1, 0], [0, -1]], bias 0.5, stride 1, no padding.
        let g = Graph::sequential(
            Shape::Image {
                channels: 1,
                height: 3,
                width: 3,
            },
            vec![("c".into(), Op::Conv2d(conv(vec![1., 0., 0., -1.], 1, 0)))],
        )
        .unwrap();
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        // x[y][x] - x[y+1][x+1] = -4 everywhere, plus 0.5.
        assert_eq!(g.eval(&x).unwrap(), vec![-3.5; 4]);
        // Padding 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1).
        let g = Graph::sequential(
            g.input,
            vec![("c".into(), Op::Conv2d(conv(vec![1., 0., 0., -1.], 2, 1)))],
        )
        .unwrap();
        // (-1,-1): 0 - x[0][0] = -1; (-1,1): 0 - x[0][2] = -3; (1,-1): 0 - x[2][0] = -7;
        // (1,1): x[1][1] - x[2][2] = 5 - 9.
        assert_eq!(g.eval(&x).unwrap(), vec![-0.5, -2.5, -6.5, -3.5]);
    }

    #[test]
    fn pools_residuals_and_shapes() {
        let input = Shape::Image {
            channels: 2,
            height: 2,
            width: 2,
        };
        let nodes = vec![
            Node {
                name: "max".into(),
                op: Op::MaxPool(Pool2d::square(2, 2)),
                inputs: vec![0],
            },
            Node {
                name: "sum".into(),
                op: Op::SumPool(Pool2d::square(2, 2)),
                inputs: vec![0],
            },
            Node {
                name: "add".into(),
                op: Op::Add,
                inputs: vec![1, 2],
            },
            Node {
                name: "flat".into(),
                op: Op::Flatten,
                inputs: vec![3],
            },
            Node {
                name: "soft".into(),
                op: Op::Softmax,
                inputs: vec![4],
            },
        ];
        let g = Graph { input, nodes };
        let shapes = g.validate().unwrap();
        assert_eq!(shapes[4], Shape::Vector(2));
        let x = [1., -2., 3., 0.5, -1., -2., -3., -4.];
        let values = g.eval_values(&shapes, &x).unwrap();
        assert_eq!(values[3], vec![3. + 2.5, -1. - 10.]);
        let p = &values[5];
        assert!((p[0] + p[1] - 1.0).abs() < 1e-6 && p[0] > 0.99);
        // A node reading a later value, softmax in the middle, wrong arity: refused.
        let mut bad = g.clone();
        bad.nodes[0].inputs = vec![2];
        assert!(bad.validate().is_err());
        let mut bad = g.clone();
        bad.nodes.swap(3, 4);
        assert!(bad.validate().is_err());
        let mut bad = g.clone();
        bad.nodes[2].inputs = vec![1];
        assert!(bad.validate().is_err());
        assert!(g.eval(&x[..7]).is_err());
    }
}
