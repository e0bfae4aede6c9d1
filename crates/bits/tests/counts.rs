//! Exact circuit sizes of 8-bit operations, so that a regression in gate count or depth
//! fails here; the netlist's static count agrees with what the clear backend evaluates.

use shroud_bits::backends::Clear;
use shroud_bits::{
    Adder, BitsError, Builder, CircuitStats, EncInt, Encoding, Evaluator, Format, Summation, Word,
};

type Op = fn(&mut Builder, &Word, &Word) -> Result<Word, BitsError>;

/// Name, encoding, adder, summation, operation and expected (bootstraps, depth).
type Case = (&'static str, Encoding, Adder, Summation, Op, (usize, u32));

/// (bootstraps, depth) of `op` on 8-bit words, statically and by evaluation.
fn size(encoding: Encoding, adder: Adder, summation: Summation, op: Op) -> (usize, u32) {
    let f = Format::new(8, encoding, 0).unwrap();
    let mut b = Builder::new(adder, summation);
    let (x, y) = (b.input(f), b.input(f));
    let out = op(&mut b, &x, &y).unwrap();
    let CircuitStats {
        bootstraps, depth, ..
    } = b.circuit().stats(out.bits());

    let mut key = Clear::new();
    let ev = Evaluator::new(Clear::new())
        .with_adder(adder)
        .with_summation(summation);
    let (cx, cy) = (
        EncInt::encrypt(&mut key, -57, f).unwrap(),
        EncInt::encrypt(&mut key, 38, f).unwrap(),
    );
    let evaluated = ev.binary(&cx, &cy, op).unwrap();
    assert_eq!(ev.backend().counts().bootstraps, bootstraps as u64);
    assert_eq!(
        evaluated.bits().iter().map(|b| b.depth).max().unwrap(),
        depth
    );
    (bootstraps, depth)
}

#[test]
fn eight_bit_circuit_sizes() {
    use Encoding::*;
    let (r, p, t) = (Adder::Ripple, Adder::Prefix, Summation::Tree);
    let cases: [Case; 14] = [
        (
            "fast relu",
            OnesComplement,
            r,
            t,
            |b, x, _| Ok(b.relu_fast(x)),
            (7, 1),
        ),
        (
            "fast relu",
            TwosComplement,
            r,
            t,
            |b, x, _| Ok(b.relu_fast(x)),
            (7, 1),
        ),
        ("abs", OnesComplement, r, t, |b, x, _| Ok(b.abs(x)), (7, 1)),
        ("abs", TwosComplement, r, t, |b, x, _| Ok(b.abs(x)), (21, 8)),
        (
            "slow relu",
            OnesComplement,
            r,
            t,
            |b, x, _| b.relu_slow(x),
            (31, 18),
        ),
        (
            "slow relu",
            TwosComplement,
            r,
            t,
            |b, x, _| b.relu_slow(x),
            (36, 10),
        ),
        ("add", TwosComplement, r, t, Builder::add, (14, 7)),
        ("add", TwosComplement, p, t, Builder::add, (28, 5)),
        ("add", OnesComplement, r, t, Builder::add, (22, 15)),
        ("max", TwosComplement, r, t, Builder::max, (24, 9)),
        ("mul", TwosComplement, r, t, Builder::mul, (69, 8)),
        (
            "mul",
            TwosComplement,
            r,
            Summation::Array(r),
            Builder::mul,
            (80, 13),
        ),
        ("mul", OnesComplement, r, t, Builder::mul, (73, 9)),
        (
            "mul by 93",
            TwosComplement,
            r,
            t,
            |b, x, _| Ok(b.mul_const(x, 93)),
            (13, 6),
        ),
    ];
    let mut report = String::new();
    for (name, encoding, adder, summation, op, _) in &cases {
        let got = size(*encoding, *adder, *summation, *op);
        report += &format!("{name} {encoding:?} {adder:?} {summation:?}: {got:?}\n");
    }
    for (name, encoding, adder, summation, op, expected) in cases {
        assert_eq!(
            size(encoding, adder, summation, op),
            expected,
            "{name} {encoding:?} {adder:?} {summation:?}\n{report}"
        );
    }
}
