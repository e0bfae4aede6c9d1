//! The homomorphic DFTs of bootstrapping as [`LinearMap`]s: CoeffsToSlots (the encoding's
//! inverse, which moves the coefficients of the plaintext into the slots) and SlotsToCoeffs
//! (the encoding, which moves them back).
//!
//! The special FFT of `n` slots is `log2 n` butterfly stages after a bit reversal. Each stage
//! has three diagonals, so stages are merged in the clear into as many maps as the level
//! budget grants: fewer levels, more diagonals per map. The bit reversals are left out of
//! both directions: CoeffsToSlots leaves the coefficients in bit-reversed slot order and
//! SlotsToCoeffs reads them in that order, and the modular reduction between them works
//! slot by slot.
//!
//! A sparse packing (`n < N/2` slots, repeated) holds `2n` real coefficients. CoeffsToSlots
//! then leaves them as `n` complex values in the first half of a period of `2n`, zeros in the
//! second, which [`super`] splits into real and imaginary parts side by side; SlotsToCoeffs
//! first recombines those halves into `n` complex values.

use num_complex::Complex64;
use std::collections::BTreeMap;

use crate::linear::LinearMap;
use crate::{CkksError, Encoder};

fn c(re: f64, im: f64) -> Complex64 {
    Complex64::new(re, im)
}

/// A butterfly stage of span `len` on period `n`: in each block of `len`, entry `j < len/2`
/// (the low half) becomes `lo[j].0 x[j] + lo[j].1 x[j + len/2]` and entry `j + len/2`
/// becomes `hi[j].0 x[j] + hi[j].1 x[j + len/2]`.
fn butterfly(
    n: usize,
    len: usize,
    coefficients: impl Fn(usize) -> ([Complex64; 2], [Complex64; 2]),
) -> Result<LinearMap, CkksError> {
    let half = len / 2;
    let mut diagonals: BTreeMap<usize, Vec<Complex64>> = BTreeMap::new();
    let mut set = |offset: usize, at: usize, v: Complex64| {
        diagonals
            .entry(offset % n)
            .or_insert_with(|| vec![c(0.0, 0.0); n])[at] += v;
    };
    for block in (0..n).step_by(len) {
        for j in 0..half {
            let (lo, hi) = coefficients(j);
            let (p, q) = (block + j, block + j + half);
            set(0, p, lo[0]);
            set(half, p, lo[1]);
            set(n - half, q, hi[0]);
            set(0, q, hi[1]);
        }
    }
    LinearMap::new(n, diagonals)
}

/// The stages of the inverse special FFT of `n` slots, in the order they apply, without the
/// final bit reversal and the division by `n`.
fn inverse_stages(encoder: &Encoder, n: usize) -> Result<Vec<LinearMap>, CkksError> {
    let one = c(1.0, 0.0);
    std::iter::successors(Some(n), |&len| (len > 2).then_some(len / 2))
        .map(|len| {
            butterfly(n, len, |j| {
                let w = encoder.twiddle(len, j).conj();
                ([one, one], [w, -w])
            })
        })
        .collect()
}

/// The stages of the special FFT of `n` slots, in the order they apply, without the initial
/// bit reversal.
fn forward_stages(encoder: &Encoder, n: usize) -> Result<Vec<LinearMap>, CkksError> {
    let one = c(1.0, 0.0);
    std::iter::successors(Some(2), |&len| (len < n).then_some(len * 2))
        .map(|len| {
            butterfly(n, len, |j| {
                let w = encoder.twiddle(len, j);
                ([one, w], [one, -w])
            })
        })
        .collect()
}

/// Consecutive stages multiplied into `budget` maps (fewer when there are fewer stages), the
/// earlier maps taking the extra stages.
fn merged(stages: Vec<LinearMap>, budget: usize) -> Result<Vec<LinearMap>, CkksError> {
    let budget = budget.clamp(1, stages.len().max(1));
    let (per, extra) = (stages.len() / budget, stages.len() % budget);
    let mut rest = stages.into_iter();
    (0..budget)
        .map(|g| {
            let mut group = rest.by_ref().take(per + usize::from(g < extra));
            let first = group
                .next()
                .ok_or(CkksError::Internal("an empty group of DFT stages"))?;
            group.try_fold(first, |acc, stage| acc.then(&stage))
        })
        .collect()
}

/// `factor` spread evenly over the maps, `factor^(1/k)` each: a map's diagonals are
/// encoded as integers at a fixed scale, and a small factor in a single map would leave its
/// diagonals few significant bits (CoeffsToSlots divides by about `q_0 K N`).
fn spread(maps: Vec<LinearMap>, factor: f64) -> Vec<LinearMap> {
    let share = factor.powf(1.0 / maps.len().max(1) as f64);
    maps.into_iter().map(|m| m.scaled(c(share, 0.0))).collect()
}

/// Checks a slot count for the DFTs of `encoder`'s parameters.
fn check_slots(encoder: &Encoder, n: usize) -> Result<(), CkksError> {
    let slots = encoder.params().slots();
    if !n.is_power_of_two() || n < 2 || n > slots {
        return Err(CkksError::InvalidParams(format!(
            "{n} slots: bootstrapping needs a power of two from 2 to {slots}"
        )));
    }
    Ok(())
}

/// CoeffsToSlots of `n` slots in at most `budget` maps (one level each), every coefficient
/// multiplied by `factor` (spread over the maps): applied to slots `z`, the maps give `factor * n *
/// bitrev(special_ifft(z))`, the plaintext's coefficients `c_j + i c_(j+n)` in bit-reversed
/// order. Sparse (`n < N/2`): on a period of `2n`, with zeros in its second half.
pub fn coeffs_to_slots(
    encoder: &Encoder,
    n: usize,
    budget: usize,
    factor: f64,
) -> Result<Vec<LinearMap>, CkksError> {
    check_slots(encoder, n)?;
    let mut maps = spread(merged(inverse_stages(encoder, n)?, budget)?, factor);
    if n < encoder.params().slots() {
        let mask = (0..2 * n)
            .map(|i| c(if i < n { 1.0 } else { 0.0 }, 0.0))
            .collect();
        if let Some(last) = maps.last_mut() {
            *last = last.then(&LinearMap::diagonal(mask)?)?;
        }
    }
    Ok(maps)
}

/// SlotsToCoeffs of `n` slots in at most `budget` maps, every slot multiplied by `factor`
/// in the first map: the reduction leaves values about `q_0 / scale` times smaller than the
/// message, and raising them at once keeps every later rescale's noise that much smaller
/// relative to them (which matters at small scales). The inverse of [`coeffs_to_slots`] up to the factors. Full (`n = N/2`): applied to
/// `bitrev(c_j + i c_(j + n))` it gives the slots `special_fft(c)`. Sparse: it reads a period
/// of `2n` holding `bitrev(c_j)` in the first half and `bitrev(c_(j + n))` in the second,
/// and gives the `n` slots, repeated.
pub fn slots_to_coeffs(
    encoder: &Encoder,
    n: usize,
    budget: usize,
    factor: f64,
) -> Result<Vec<LinearMap>, CkksError> {
    check_slots(encoder, n)?;
    let mut stages = forward_stages(encoder, n)?;
    if n < encoder.params().slots() {
        // Entry j < n becomes x[j] + i x[j + n], and entry j + n the same: a period of n.
        let (one, i) = (c(1.0, 0.0), c(0.0, 1.0));
        let pick =
            |lo: Complex64, hi: Complex64| (0..2 * n).map(move |j| if j < n { lo } else { hi });
        let combine = LinearMap::new(
            2 * n,
            BTreeMap::from([(0, pick(one, i).collect()), (n, pick(i, one).collect())]),
        )?;
        if let Some(first) = stages.first_mut() {
            *first = combine.then(first)?;
        }
    }
    let mut maps = merged(stages, budget)?.into_iter();
    let first = maps.next().map(|m| m.scaled(c(factor, 0.0)));
    Ok(first.into_iter().chain(maps).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::bit_reverse;
    use crate::linear::max_err;
    use crate::{presets, Params};

    fn apply_all(maps: &[LinearMap], x: &[Complex64]) -> Vec<Complex64> {
        maps.iter().fold(x.to_vec(), |v, m| {
            let v: Vec<Complex64> = v.iter().cycle().take(m.period()).copied().collect();
            m.apply(&v).unwrap()
        })
    }

    #[test]
    fn merged_stages_compute_the_special_fft_in_bit_reversed_order() {
        let params = Params::new_insecure(presets::insecure_test_n12()).unwrap();
        let encoder = Encoder::new(&params);
        for n in [4, 64, params.slots()] {
            let z: Vec<Complex64> = (0..n)
                .map(|i| c((i as f64).sin(), (i as f64 * 0.37).cos()))
                .collect();
            let mut coeffs = z.clone();
            encoder.special_ifft(&mut coeffs);
            let mut reversed = coeffs.clone();
            bit_reverse(&mut reversed);
            let stages = (n.trailing_zeros()) as usize;
            for budget in [1, 2, 3, stages] {
                let cts = coeffs_to_slots(&encoder, n, budget, 0.5).unwrap();
                assert_eq!(cts.len(), budget.min(stages));
                let got = apply_all(&cts, &z);
                let want: Vec<Complex64> = reversed.iter().map(|v| v * (0.5 * n as f64)).collect();
                assert!(max_err(&got[..n], &want) < 1e-9, "n {n} budget {budget}");
                if n < params.slots() {
                    assert!(got[n..].iter().all(|v| v.norm() < 1e-12));
                }
                // Back: full packings read the complex values, sparse ones their real and
                // imaginary parts side by side.
                let input: Vec<Complex64> = if n < params.slots() {
                    let re = reversed.iter().map(|v| c(v.re, 0.0));
                    re.chain(reversed.iter().map(|v| c(v.im, 0.0))).collect()
                } else {
                    reversed.clone()
                };
                let stc = slots_to_coeffs(&encoder, n, budget, 2.0).unwrap();
                let back = apply_all(&stc, &input);
                let want: Vec<Complex64> = z.iter().map(|v| v * 2.0).collect();
                assert!(max_err(&back[..n], &want) < 1e-9, "n {n} budget {budget}");
            }
        }
    }

    #[test]
    fn slot_counts_are_checked() {
        let params = Params::new_insecure(presets::insecure_test_n12()).unwrap();
        let encoder = Encoder::new(&params);
        for n in [0, 1, 3, 2 * params.slots()] {
            assert!(coeffs_to_slots(&encoder, n, 2, 1.0).is_err());
            assert!(slots_to_coeffs(&encoder, n, 2, 1.0).is_err());
        }
    }
}
