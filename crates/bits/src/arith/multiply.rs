//! Partial products: the rows whose sum is a product, for two encrypted words and for an
//! encrypted word times a public constant.

use crate::{Circuit, Wire};

/// Row `j` is `a AND b_j` shifted left by `j`, cut to `width` (the wires of `a` and `b`
/// already extended to `width` as the encoding requires).
pub fn product_rows(c: &mut Circuit, a: &[Wire], b: &[Wire], width: usize) -> Vec<Vec<Wire>> {
    (0..width.min(b.len()))
        .map(|j| {
            (0..width)
                .map(|k| match k.checked_sub(j).and_then(|i| a.get(i)) {
                    Some(&x) => c.and(x, b[j]),
                    None => Wire::Const(false),
                })
                .collect()
        })
        .collect()
}

/// Non-adjacent form of `k`: digits in {-1, 0, 1}, least significant first, no two adjacent
/// nonzero. It has the fewest nonzero digits of any signed binary form, so the fewest rows.
pub fn naf(k: i128) -> Vec<i8> {
    let mut digits = Vec::new();
    let mut k = k;
    while k != 0 {
        let d = if k & 1 == 1 {
            2 - k.rem_euclid(4) as i8
        } else {
            0
        };
        k -= d as i128;
        k >>= 1;
        digits.push(d);
    }
    digits
}

/// Rows of `x * k` modulo `2^width` (`x` already extended to `width`): `x << i` for a digit
/// 1 and `NOT x << i` for a digit -1, plus one public row holding the `2^i` of every -1,
/// since `-(x << i) = (NOT x << i) + 2^i` when the low `i` positions are zeros.
pub fn constant_rows(c: &mut Circuit, x: &[Wire], k: i128, width: usize) -> Vec<Vec<Wire>> {
    let mut correction: i128 = 0;
    let mut rows: Vec<Vec<Wire>> = Vec::new();
    for (i, d) in naf(k)
        .into_iter()
        .enumerate()
        .filter(|&(i, d)| d != 0 && i < width)
    {
        if d < 0 {
            correction += 1 << i;
        }
        let row = (0..width)
            .map(|pos| match pos.checked_sub(i) {
                None => Wire::Const(false),
                Some(j) if d < 0 => c.not(x[j]),
                Some(j) => x[j],
            })
            .collect();
        rows.push(row);
    }
    if correction != 0 {
        rows.push(
            (0..width)
                .map(|pos| Wire::Const(correction >> pos & 1 == 1))
                .collect(),
        );
    }
    rows
}
