//! Sums of many rows (multiplier partial products, shifted copies for a constant): row by
//! row with an adder, or column by column as a carry-save tree.

use super::adder::{add, Adder};
use crate::{Circuit, Wire};

/// How many rows are added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Summation {
    /// Each row into a running sum with the given adder: the array multiplier.
    Array(Adder),
    /// Column compression (Wallace/Dadda): full adders on the three earliest bits of a
    /// column until one is left; the last two columns need only parities, so the column
    /// below the top sends the parity of its carries as one gate and the top column is a
    /// single parity.
    Tree,
}

/// The sum of `rows` modulo `2^width` (every row has at least `width` wires).
pub fn sum_rows(
    c: &mut Circuit,
    summation: Summation,
    rows: &[Vec<Wire>],
    width: usize,
) -> Vec<Wire> {
    match summation {
        Summation::Array(adder) => {
            let zero = vec![Wire::Const(false); width];
            rows.iter().fold(zero, |acc, row| {
                add(c, adder, &acc, &row[..width], Wire::Const(false)).0
            })
        }
        Summation::Tree => {
            let columns = (0..width)
                .map(|k| rows.iter().map(|r| r[k]).collect())
                .collect();
            compress(c, columns)
        }
    }
}

fn compress(c: &mut Circuit, mut columns: Vec<Vec<Wire>>) -> Vec<Wire> {
    let width = columns.len();
    let mut out = Vec::with_capacity(width);
    for k in 0..width {
        // Public ones: their count's parity stays, pairs move up as public ones.
        let ones = columns[k]
            .iter()
            .filter(|w| **w == Wire::Const(true))
            .count();
        columns[k].retain(|w| !matches!(w, Wire::Const(_)));
        if ones % 2 == 1 {
            columns[k].push(Wire::Const(true));
        }
        if k + 1 < width {
            columns[k + 1].extend(vec![Wire::Const(true); ones / 2]);
        }
        loop {
            let column = &mut columns[k];
            if column.len() <= 1 || k + 1 == width {
                out.push(c.parity(column));
                break;
            }
            if column.len() <= 3 || k + 2 == width {
                let (sum, carry) = (c.parity(column), c.carry(column));
                out.push(sum);
                columns[k + 1].push(carry);
                break;
            }
            column.sort_by_key(|&w| c.layer(w));
            let three: Vec<Wire> = column.drain(..3).collect();
            let (sum, carry) = (c.parity(&three), c.carry(&three));
            columns[k].push(sum);
            columns[k + 1].push(carry);
        }
    }
    out
}
