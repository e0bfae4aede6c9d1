//! Low-precision weights by alternating projection: a real tensor `W` is approximated by
//! `w * omega`, one real scalar `w` and integers `omega` in `{-Q, ..., Q}`, `Q = 2^(N-1) - 1`,
//! by minimizing `||W - w omega||^2` one factor at a time:
//!
//! - `w_0 = max|W| / Q` (the largest weight maps to the largest level);
//! - `omega_(k+1)` = `W / w_k` rounded to the nearest integer and clipped to `[-Q, Q]`, the
//!   closest integer tensor to `W / w_k` (coordinate by coordinate), hence the best `omega`
//!   for that `w`;
//! - `w_(k+1) = <W, omega> / <omega, omega>`, the least-squares scalar for that `omega`.
//!
//! Neither step increases the error and `omega` takes finitely many values, so the iteration
//! reaches a fixed point, where it stops, or earlier once the scale has settled; either way
//! the levels returned are the projection for the scale returned.

use super::levels::signed_max;

/// Relative change of the scale below which the iteration counts as converged: on large
/// tensors the last steps move a handful of weights across rounding boundaries for hundreds of
/// iterations while the scale changes in its ninth digit.
const SETTLED: f64 = 1e-9;

/// `w * levels` approximates the projected tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// `omega`: one integer in `[-Q, Q]` per element of the tensor.
    pub levels: Vec<i32>,
    /// `w`: the real value of one level.
    pub scale: f64,
    /// Projections done until the fixed point (or the cap).
    pub iterations: usize,
}

impl Projection {
    /// `||W - scale * levels||^2`.
    pub fn error(&self, w: &[f32]) -> f64 {
        w.iter()
            .zip(&self.levels)
            .map(|(&x, &l)| (x as f64 - self.scale * l as f64).powi(2))
            .sum()
    }
}

/// Round-to-nearest (half away from zero) of `w / scale`, clipped to `[-q, q]`.
pub fn project(w: &[f32], scale: f64, q: i32) -> Vec<i32> {
    w.iter()
        .map(|&x| (x as f64 / scale).round().clamp(-q as f64, q as f64) as i32)
        .collect()
}

/// The least-squares scalar for fixed levels; `None` when all levels are zero.
pub fn best_scale(w: &[f32], levels: &[i32]) -> Option<f64> {
    let (dot, norm) = w.iter().zip(levels).fold((0.0, 0.0), |(d, n), (&x, &l)| {
        (d + x as f64 * l as f64, n + (l as f64).powi(2))
    });
    (norm > 0.0).then(|| dot / norm)
}

/// Alternating projection of `w` onto `N`-bit levels from `w_0 = max|W| / Q`, at most
/// `max_iterations` projections.
pub fn alternating_projection(w: &[f32], bits: u32, max_iterations: usize) -> Projection {
    let max = w.iter().fold(0f64, |m, &x| m.max((x as f64).abs()));
    if max == 0.0 {
        // Any scale represents zeros; 1 keeps later divisions by the scale finite.
        return Projection {
            levels: vec![0; w.len()],
            scale: 1.0,
            iterations: 0,
        };
    }
    refine(w, bits, max / signed_max(bits) as f64, max_iterations)
}

/// The same iteration from any positive starting scale; fine-tuning restarts it from the
/// previous batch's scale, which the slightly moved weights leave close to a fixed point.
pub fn refine(w: &[f32], bits: u32, start: f64, max_iterations: usize) -> Projection {
    let q = signed_max(bits) as i32;
    let mut scale = start;
    let mut levels = project(w, scale, q);
    let mut iterations = 1;
    while iterations < max_iterations {
        let Some(next_scale) = best_scale(w, &levels) else {
            break; // all weights projected to zero: only a zero tensor has no better scale
        };
        let settled = (next_scale - scale).abs() <= SETTLED * scale;
        scale = next_scale;
        let next = project(w, scale, q);
        iterations += 1;
        let fixed = next == levels;
        levels = next;
        if fixed || settled {
            break;
        }
    }
    Projection {
        levels,
        scale,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn a_hand_computed_example() {
        // Q = 1: w0 = 2, W / w0 = (1, 0.45, -0.25, 0.05) -> (1, 0, 0, 0); w1 = 2;
        // the projection is unchanged, so the fixed point is reached after two projections.
        let w = [2.0f32, 0.9, -0.5, 0.1];
        let p = alternating_projection(&w, 2, 50);
        assert_eq!(p.levels, vec![1, 0, 0, 0]);
        assert_eq!((p.scale, p.iterations), (2.0, 2));
        // Q = 3: w0 = 2/3 -> levels (3, 1, -1, 0) [0.9 / (2/3) = 1.35, 0.5 / (2/3) = 0.75];
        // w1 = (6 + 0.9 + 0.5) / 11 = 0.6727..., and W / w1 rounds to the same levels.
        let p = alternating_projection(&w, 3, 50);
        assert_eq!(p.levels, vec![3, 1, -1, 0]);
        assert!((p.scale - 7.4 / 11.0).abs() < 1e-6);
    }

    #[test]
    fn converges_to_a_fixed_point_that_improves_on_the_start() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for bits in 2..=8 {
            let w: Vec<f32> = (0..2000)
                .map(|_| {
                    let u: f32 = rng.gen_range(-1.0..1.0);
                    u * u * u // heavy-tailed, like trained weights
                })
                .collect();
            let p = alternating_projection(&w, bits, 5000);
            assert!(p.iterations < 5000, "{bits} bits: no fixed point");
            let q = signed_max(bits) as i32;
            // A fixed point: each factor is optimal for the other.
            assert_eq!(project(&w, p.scale, q), p.levels);
            assert!((best_scale(&w, &p.levels).unwrap() - p.scale).abs() < 1e-12);
            let max = w.iter().fold(0f32, |m, x| m.max(x.abs())) as f64;
            let start = Projection {
                levels: project(&w, max / q as f64, q),
                scale: max / q as f64,
                iterations: 0,
            };
            assert!(p.error(&w) <= start.error(&w), "{bits} bits");
            assert!(p.levels.iter().all(|l| l.abs() <= q));
        }
    }

    #[test]
    fn each_step_is_optimal_for_the_other_factor() {
        // Brute force over every level vector of three weights: for a fixed scale, the
        // rounded projection has the smallest error.
        let w = [0.8f32, -0.35, 0.1];
        for (bits, scale) in [(2, 0.5), (3, 0.3), (3, 0.12), (4, 0.07)] {
            let q = signed_max(bits) as i32;
            let best = project(&w, scale, q);
            let err = |l: &[i32]| {
                Projection {
                    levels: l.to_vec(),
                    scale,
                    iterations: 0,
                }
                .error(&w)
            };
            for a in -q..=q {
                for b in -q..=q {
                    for c in -q..=q {
                        assert!(err(&best) <= err(&[a, b, c]) + 1e-15);
                    }
                }
            }
            // And for fixed levels the least-squares scale beats any nearby scale.
            let s = best_scale(&w, &best).unwrap();
            let at = |scale| Projection {
                levels: best.clone(),
                scale,
                iterations: 0,
            };
            for d in [-1e-3, 1e-3, -0.1, 0.1] {
                assert!(at(s).error(&w) < at(s + d).error(&w));
            }
        }
        assert_eq!(alternating_projection(&[0.0; 3], 4, 10).levels, vec![0; 3]);
    }
}
