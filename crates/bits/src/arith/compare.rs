//! Comparisons of unsigned words; signed ones reduce to these by flipping sign bits.

use super::adder::{add, Adder};
use crate::{Circuit, Wire};

/// `a < b` for unsigned words: the borrow of `a - b`, i.e. no carry out of `a + NOT b + 1`.
/// Only the adder's carry chain is kept.
pub fn less_than(c: &mut Circuit, adder: Adder, a: &[Wire], b: &[Wire]) -> Wire {
    let not_b: Vec<Wire> = b.iter().map(|&w| c.not(w)).collect();
    let (_, carry) = add(c, adder, a, &not_b, Wire::Const(true));
    c.not(carry)
}

/// `a == b`: no position differs, as a balanced OR tree of XORs.
pub fn equal(c: &mut Circuit, a: &[Wire], b: &[Wire]) -> Wire {
    let mut level: Vec<Wire> = a.iter().zip(b).map(|(&x, &y)| c.xor(x, y)).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [x, y] => c.or(*x, *y),
                _ => pair[0],
            })
            .collect();
    }
    let differs = level.pop().unwrap_or(Wire::Const(false));
    c.not(differs)
}
