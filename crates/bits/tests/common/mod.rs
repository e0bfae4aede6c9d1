//! Reference semantics of every operation in Rust integer arithmetic, shared by the tests.

use shroud_bits::{Encoding, Format};

pub fn f(width: u32, encoding: Encoding) -> Format {
    Format::new(width, encoding, 0).unwrap()
}

/// Ones' complement products: the sign of the product, the magnitude modulo 2^(w-1).
pub fn ones_product(format: Format, a: i64, b: i64) -> i64 {
    let magnitude =
        (a.unsigned_abs() as u128 * b.unsigned_abs() as u128) % (1u128 << (format.width() - 1));
    let m = magnitude as i64;
    if (a < 0) != (b < 0) {
        -m
    } else {
        m
    }
}

pub fn product(format: Format, a: i64, b: i64) -> i64 {
    match format.encoding() {
        Encoding::TwosComplement => format.wrap(a as i128 * b as i128),
        Encoding::OnesComplement => ones_product(format, a, b),
    }
}
