//! Circuits on plain lists of wires (least significant first), below the level of formats:
//! adders, comparators, multi-operand sums and multiplier partial products.

pub mod adder;
pub mod compare;
pub mod multiply;
pub mod sum;
