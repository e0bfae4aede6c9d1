//! The matrix GSW scheme: gates against the clear, noise exhaustion, depth.

use proptest::prelude::*;
use shroud_lwe::gsw::{presets, GswEvaluator, GswSecretKey};
use shroud_lwe::LweError;

#[test]
fn truth_tables_of_every_gate() {
    let p = presets::insecure_test();
    let mut sk = GswSecretKey::from_seed(&p, 1).unwrap();
    let ev = GswEvaluator::new(&p).unwrap();
    for a in [false, true] {
        let ca = sk.encrypt(a as u64).unwrap();
        assert_eq!(sk.decrypt_bit(&ca).unwrap(), a);
        assert_eq!(sk.decrypt_bit(&ev.not(&ca).unwrap()).unwrap(), !a);
        for b in [false, true] {
            let cb = sk.encrypt(b as u64).unwrap();
            let check = |ct, expected: bool, name: &str| {
                assert_eq!(sk.decrypt_bit(&ct).unwrap(), expected, "{name}({a}, {b})");
            };
            check(ev.nand(&ca, &cb).unwrap(), !(a && b), "nand");
            check(ev.and(&ca, &cb).unwrap(), a && b, "and");
            check(ev.or(&ca, &cb).unwrap(), a || b, "or");
            check(ev.xor(&ca, &cb).unwrap(), a ^ b, "xor");
            assert_eq!(
                sk.decrypt(&ev.add(&ca, &cb).unwrap()).unwrap(),
                a as u64 + b as u64
            );
            check(ev.mul(&ca, &cb).unwrap(), a && b, "mul");
        }
    }
}

#[test]
fn base_two_is_bitdecomp_flatten() {
    let mut p = presets::insecure_test();
    p.lwe_dimension = 8;
    p.base_log = 1;
    let mut sk = GswSecretKey::from_seed(&p, 2).unwrap();
    let ev = GswEvaluator::new(&p).unwrap();
    let (x, y) = (sk.encrypt(1).unwrap(), sk.encrypt(1).unwrap());
    assert!(!sk.decrypt_bit(&ev.nand(&x, &y).unwrap()).unwrap());
}

#[test]
fn noise_exhaustion_is_an_error_not_a_wrong_bit() {
    let p = presets::insecure_test();
    let depth = p.supported_depth();
    let mut sk = GswSecretKey::from_seed(&p, 3).unwrap();
    let ev = GswEvaluator::new(&p).unwrap();
    // A balanced tree of NANDs: every level doubles the leaves.
    let mut level: Vec<_> = (0..1 << (depth + 1))
        .map(|i| sk.encrypt(i % 3 % 2).unwrap())
        .collect();
    let mut clear: Vec<bool> = (0..1 << (depth + 1)).map(|i| i % 3 % 2 == 1).collect();
    for d in 0..=depth {
        let pairs: Vec<_> = level.chunks(2).map(|c| ev.nand(&c[0], &c[1])).collect();
        clear = clear.chunks(2).map(|c| !(c[0] && c[1])).collect();
        if d < depth {
            level = pairs.into_iter().map(Result::unwrap).collect();
            for (ct, &b) in level.iter().zip(&clear) {
                assert_eq!(sk.decrypt_bit(ct).unwrap(), b, "level {}", d + 1);
                assert!(ct.noise_bound() < p.noise_limit());
            }
        } else {
            for r in pairs {
                assert!(matches!(r, Err(LweError::NoiseExhausted { .. })));
            }
        }
    }
}

#[test]
fn gates_refuse_non_bits_and_foreign_ciphertexts() {
    let p = presets::insecure_test();
    let mut sk = GswSecretKey::from_seed(&p, 4).unwrap();
    let ev = GswEvaluator::new(&p).unwrap();
    let one = sk.encrypt(1).unwrap();
    let two = ev.add(&one, &one).unwrap();
    assert!(matches!(ev.nand(&two, &one), Err(LweError::NotABit(2))));
    let mut q = p.clone();
    q.lwe_dimension = 12;
    let foreign = GswSecretKey::from_seed(&q, 5).unwrap().encrypt(1).unwrap();
    assert!(ev.and(&one, &foreign).is_err());
    assert!(sk.encrypt(p.plaintext_modulus()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Depth-2 circuits (within the test preset's depth 3) against the clear.
    #[test]
    fn random_circuits_match_the_clear(bits in prop::collection::vec(any::<bool>(), 4), ops in prop::collection::vec(0usize..4, 3)) {
        let p = presets::insecure_test();
        let mut sk = GswSecretKey::from_seed(&p, 6).unwrap();
        let ev = GswEvaluator::new(&p).unwrap();
        let cts: Vec<_> = bits.iter().map(|&b| sk.encrypt(b as u64).unwrap()).collect();
        let gate = |op: usize, x, y| match op {
            0 => ev.nand(x, y),
            1 => ev.and(x, y),
            2 => ev.or(x, y),
            _ => ev.xor(x, y),
        };
        let clear = |op: usize, x: bool, y: bool| match op {
            0 => !(x && y),
            1 => x && y,
            2 => x || y,
            _ => x ^ y,
        };
        let l = gate(ops[0], &cts[0], &cts[1]).unwrap();
        let r = gate(ops[1], &cts[2], &cts[3]).unwrap();
        let out = gate(ops[2], &l, &r).unwrap();
        let expected = clear(ops[2], clear(ops[0], bits[0], bits[1]), clear(ops[1], bits[2], bits[3]));
        prop_assert_eq!(sk.decrypt_bit(&out).unwrap(), expected);
    }
}

#[test]
fn trivial_bits_are_gate_inputs() {
    let p = presets::insecure_test();
    let mut sk = GswSecretKey::from_seed(&p, 5).unwrap();
    let ev = GswEvaluator::new(&p).unwrap();
    for (a, b) in [(false, true), (true, true), (true, false)] {
        let t = ev.trivial(a);
        assert_eq!(sk.decrypt_bit(&t).unwrap(), a);
        let out = ev.xor(&t, &sk.encrypt(b as u64).unwrap()).unwrap();
        assert_eq!(sk.decrypt_bit(&out).unwrap(), a ^ b);
    }
}
