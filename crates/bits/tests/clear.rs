//! Every operation on the clear backend against Rust integer arithmetic: exhaustively at 4
//! bits (every bit pattern, so both zeros of ones' complement), on random inputs at 8 and 16.

mod common;

use common::{f, product};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shroud_bits::backends::{Clear, ClearBit};
use shroud_bits::{
    Adder, BitsError, Builder, EncInt, Encoding, Evaluator, Format, Summation, Word,
};

const ENCODINGS: [Encoding; 2] = [Encoding::TwosComplement, Encoding::OnesComplement];

fn from_pattern(pattern: u64, format: Format) -> EncInt<ClearBit> {
    let bits = (0..format.width())
        .map(|i| ClearBit {
            value: pattern >> i & 1 == 1,
            depth: 0,
        })
        .collect();
    EncInt::from_bits(bits, format).unwrap()
}

/// Input pairs: all patterns at 4 bits, 300 random ones wider.
fn pairs(width: u32) -> Vec<(u64, u64)> {
    if width <= 4 {
        let n = 1u64 << width;
        return (0..n * n).map(|i| (i / n, i % n)).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(width as u64);
    let mask = (1u64 << width) - 1;
    (0..300)
        .map(|_| (rng.gen::<u64>() & mask, rng.gen::<u64>() & mask))
        .collect()
}

fn evaluators() -> Vec<Evaluator<Clear>> {
    let mut out = Vec::new();
    for adder in [Adder::Ripple, Adder::Prefix] {
        for summation in [Summation::Tree, Summation::Array(adder)] {
            out.push(
                Evaluator::new(Clear::new())
                    .with_adder(adder)
                    .with_summation(summation),
            );
        }
    }
    out
}

type BinaryOp = fn(&mut Builder, &Word, &Word) -> Result<Word, BitsError>;
type Int = EncInt<ClearBit>;

/// Runs `check(format, evaluator, x, y, a, b)` for every width of `widths`, both encodings,
/// every adder and summation, and every input pair (`a`, `b` the decrypted `x`, `y`).
fn for_each_pair(widths: &[u32], check: impl Fn(Format, &Evaluator<Clear>, &Int, &Int, i64, i64)) {
    let key = Clear::new();
    for &width in widths {
        for encoding in ENCODINGS {
            let format = f(width, encoding);
            for ev in evaluators() {
                for (pa, pb) in pairs(width) {
                    let (x, y) = (from_pattern(pa, format), from_pattern(pb, format));
                    let (a, b) = (x.decrypt(&key).unwrap(), y.decrypt(&key).unwrap());
                    check(format, &ev, &x, &y, a, b);
                }
            }
        }
    }
}

fn value(x: &Int) -> i64 {
    x.decrypt(&Clear::new()).unwrap()
}

/// Checks `op` against `reference` at 4, 8 and 16 bits.
fn check_binary(name: &str, op: BinaryOp, reference: impl Fn(Format, i64, i64) -> i64) {
    for_each_pair(&[4, 8, 16], |format, ev, x, y, a, b| {
        let out = ev.binary(x, y, op).unwrap();
        assert_eq!(
            value(&out),
            reference(format, a, b),
            "{name}({a}, {b}) in {format:?}"
        );
    });
}

fn check_unary(
    name: &str,
    op: impl Fn(&mut Builder, &Word) -> Result<Word, BitsError>,
    reference: impl Fn(Format, i64) -> i64,
) {
    for_each_pair(&[4, 8, 16], |format, ev, x, _, a, _| {
        let out = ev.unary(x, &op).unwrap();
        assert_eq!(
            value(&out),
            reference(format, a),
            "{name}({a}) in {format:?}"
        );
    });
}

#[test]
fn add_and_sub_wrap_in_the_encodings_ring() {
    check_binary("add", Builder::add, |f, a, b| f.wrap(a as i128 + b as i128));
    check_binary("sub", Builder::sub, |f, a, b| f.wrap(a as i128 - b as i128));
}

#[test]
fn comparisons_and_max_are_exact() {
    for_each_pair(&[4, 8, 16], |_, ev, x, y, a, b| {
        assert_eq!(
            ev.predicate(x, y, Builder::lt).unwrap().value,
            a < b,
            "{a} < {b}"
        );
        assert_eq!(
            ev.predicate(x, y, Builder::eq).unwrap().value,
            a == b,
            "{a} == {b}"
        );
        assert_eq!(value(&ev.binary(x, y, Builder::max).unwrap()), a.max(b));
    });
}

#[test]
fn products_wrap_as_documented() {
    check_binary("mul", Builder::mul, product);
    for_each_pair(&[4, 8], |format, ev, x, y, a, b| {
        let full = ev.binary(x, y, Builder::mul_full).unwrap();
        assert_eq!(full.format().width(), 2 * format.width());
        assert_eq!(value(&full), a * b, "{a} * {b} in {format:?}");
    });
}

#[test]
fn constant_products_match_integer_products() {
    for k in [0i64, 1, -1, 3, -7, 10, 93, -128, 255] {
        check_unary(
            &format!("mul_const {k}"),
            |b, w| Ok(b.mul_const(w, k)),
            |f, a| product(f, a, k),
        );
    }
}

#[test]
fn unary_operations() {
    check_unary("neg", |b, w| Ok(b.neg(w)), |f, a| f.wrap(-(a as i128)));
    check_unary("abs", |b, w| Ok(b.abs(w)), |f, a| f.wrap((a as i128).abs()));
    check_unary("relu_fast", |b, w| Ok(b.relu_fast(w)), |_, a| a.max(0));
    check_unary("relu_slow", Builder::relu_slow, |_, a| a.max(0));
    check_unary(
        "shift_right",
        |b, w| Ok(b.shift_right(w, 2)),
        |f, a| shifted(f, a, 2),
    );
}

#[test]
fn secure_scale_drops_fraction_bits() {
    let key = Clear::new();
    let ev = Evaluator::new(Clear::new());
    for encoding in ENCODINGS {
        let format = Format::new(8, encoding, 3).unwrap();
        for raw in format.min()..=format.max() {
            let x = from_pattern(
                format
                    .encode(raw)
                    .unwrap()
                    .iter()
                    .rev()
                    .fold(0, |acc, &b| acc << 1 | b as u64),
                format,
            );
            let out = ev.unary(&x, |b, w| b.rescale(w, 2)).unwrap();
            assert_eq!(out.format(), Format::new(6, encoding, 1).unwrap());
            assert_eq!(out.decrypt(&key).unwrap(), shifted(format, raw, 2), "{raw}");
        }
        let x = from_pattern(0, format);
        assert!(ev.unary(&x, |b, w| b.rescale(w, 4)).is_err());
    }
}

#[test]
fn exact_max_pooling_over_windows() {
    let key = Clear::new();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for encoding in ENCODINGS {
        let format = f(8, encoding);
        let ev = Evaluator::new(Clear::new());
        for size in 1..=5 {
            let values: Vec<i64> = (0..size)
                .map(|_| rng.gen_range(format.min()..=format.max()))
                .collect();
            let window: Vec<_> = values
                .iter()
                .map(|&v| EncInt::encrypt(&mut Clear::new(), v, format).unwrap())
                .collect();
            let refs: Vec<_> = window.iter().collect();
            let (out, _) = ev
                .apply(&refs, |b, w| Ok((vec![b.max_pool(w)?], vec![])))
                .unwrap();
            assert_eq!(out[0].decrypt(&key).unwrap(), *values.iter().max().unwrap());
        }
    }
}

#[test]
fn mismatched_operands_are_errors() {
    let mut key = Clear::new();
    let ev = Evaluator::new(Clear::new());
    let a = EncInt::encrypt(&mut key, 3, f(8, Encoding::TwosComplement)).unwrap();
    let b = EncInt::encrypt(&mut key, 3, f(6, Encoding::TwosComplement)).unwrap();
    let c = EncInt::encrypt(&mut key, 3, f(8, Encoding::OnesComplement)).unwrap();
    assert!(matches!(
        ev.binary(&a, &b, Builder::add),
        Err(BitsError::FormatMismatch { .. })
    ));
    assert!(matches!(
        ev.binary(&a, &c, Builder::mul),
        Err(BitsError::FormatMismatch { .. })
    ));
    assert!(matches!(
        ev.apply(&[], |b, w| Ok((vec![b.max_pool(w)?], vec![]))),
        Err(BitsError::InvalidArgument(_))
    ));
    assert!(EncInt::encrypt(&mut key, 128, f(8, Encoding::TwosComplement)).is_err());
    assert!(EncInt::encrypt(&mut key, -128, f(8, Encoding::OnesComplement)).is_err());
    assert!(Format::new(8, Encoding::TwosComplement, 8).is_err());
    assert!(Format::new(1, Encoding::TwosComplement, 0).is_err());
}

/// `x / 2^k`: floor in two's complement, toward zero in ones'.
pub fn shifted(format: Format, x: i64, k: u32) -> i64 {
    match format.encoding() {
        Encoding::TwosComplement => x >> k,
        Encoding::OnesComplement => x / (1 << k),
    }
}
