//! Two-operand adders. Each bit's sum is one parity gate of three wires and each carry one
//! carry (majority) gate, so a full adder is two gates in one layer on the bootstrapped
//! engine instead of five gates in three layers. The top bit's sum skips the carry into it:
//! it is bit 1 of the two top columns' count (the column below once, the top one twice), a
//! single carry gate on the carry into the column below, which takes one gate layer off a
//! ripple-carry sum.

use crate::{Circuit, Wire};

/// Which carry structure an adder uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adder {
    /// One full adder per bit: the fewest gates, depth linear in the width.
    Ripple,
    /// Sklansky parallel prefix: about `w/2 log w` more gates, depth `log w + 2`, for
    /// leveled engines and wide words.
    Prefix,
}

/// `a + b + carry_in` over equal widths: the wrapped sum and the carry out. Gates that only
/// the carry out needs are dropped from circuits that ignore it.
pub fn add(
    c: &mut Circuit,
    adder: Adder,
    a: &[Wire],
    b: &[Wire],
    carry_in: Wire,
) -> (Vec<Wire>, Wire) {
    let carries = match adder {
        Adder::Ripple => ripple_carries(c, a, b, carry_in),
        Adder::Prefix => prefix_carries(c, a, b, carry_in),
    };
    let n = a.len();
    let mut sum: Vec<Wire> = (0..n)
        .map(|i| c.parity(&[a[i], b[i], carries[i]]))
        .collect();
    if n >= 2 {
        let (x, y, k) = (a[n - 2], b[n - 2], carries[n - 2]);
        let (xt, yt) = (a[n - 1], b[n - 1]);
        sum[n - 1] = c.carry(&[x, y, k, xt, xt, yt, yt]);
    }
    (sum, carries[n])
}

/// Carries into every position, and out of the last: `w + 1` wires.
fn ripple_carries(c: &mut Circuit, a: &[Wire], b: &[Wire], carry_in: Wire) -> Vec<Wire> {
    let mut carries = vec![carry_in];
    for (&x, &y) in a.iter().zip(b) {
        let k = carries[carries.len() - 1];
        carries.push(c.carry(&[x, y, k]));
    }
    carries
}

/// Sklansky prefix over (generate, transmit) pairs, where a group transmits when it carries
/// out given a carry in (OR for one position), so `G <= T` always. Then a group's
/// `G_hi OR (T_hi AND x)` is the majority of `G_hi, T_hi, x`: one gate each for G and T.
/// The carry in is folded into position 0, which then transmits what it generates.
fn prefix_carries(c: &mut Circuit, a: &[Wire], b: &[Wire], carry_in: Wire) -> Vec<Wire> {
    let n = a.len();
    let mut generate: Vec<Wire> = Vec::with_capacity(n);
    let mut transmit: Vec<Wire> = Vec::with_capacity(n);
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        if i == 0 {
            let g = c.carry(&[x, y, carry_in]);
            generate.push(g);
            transmit.push(g);
        } else {
            generate.push(c.and(x, y));
            transmit.push(c.or(x, y));
        }
    }
    let mut span = 1;
    while span < n {
        for i in (0..n).filter(|i| i & span != 0) {
            let j = (i & !(span - 1)) - 1;
            let g = c.carry(&[generate[i], transmit[i], generate[j]]);
            transmit[i] = c.carry(&[generate[i], transmit[i], transmit[j]]);
            generate[i] = g;
        }
        span <<= 1;
    }
    std::iter::once(carry_in).chain(generate).collect()
}
