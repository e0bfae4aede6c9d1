//! Bootstrapped gates and lookup tables against the clear computation.

use proptest::prelude::*;
use shroud_lwe::bootstrap::{presets, ClientKey, Gate, Lut, LweCiphertext, ServerKey};
use shroud_lwe::LweError;
use std::sync::OnceLock;

/// Key generation is the slow part of a test; the insecure keys are shared.
fn keys() -> &'static (std::sync::Mutex<ClientKey>, ServerKey) {
    static KEYS: OnceLock<(std::sync::Mutex<ClientKey>, ServerKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut client = ClientKey::from_seed(&presets::insecure_test(), 7).unwrap();
        let server = client.server_key();
        (std::sync::Mutex::new(client), server)
    })
}

fn enc(bit: bool) -> LweCiphertext {
    keys().0.lock().unwrap().encrypt_bit(bit)
}

fn dec(ct: &LweCiphertext) -> bool {
    keys().0.lock().unwrap().decrypt_bit(ct).unwrap()
}

#[test]
fn truth_tables_of_every_gate() {
    let server = &keys().1;
    for gate in Gate::ALL {
        for (a, b) in [(false, false), (false, true), (true, false), (true, true)] {
            let out = server.apply_gate(gate, &enc(a), &enc(b)).unwrap();
            assert_eq!(dec(&out), gate.eval(a, b), "{gate:?}({a}, {b})");
        }
    }
    for (c, a, b) in (0..8).map(|i| (i & 4 != 0, i & 2 != 0, i & 1 != 0)) {
        let out = server.mux(&enc(c), &enc(a), &enc(b)).unwrap();
        assert_eq!(dec(&out), if c { a } else { b }, "mux({c}, {a}, {b})");
    }
    for a in [false, true] {
        assert_eq!(dec(&server.not(&enc(a)).unwrap()), !a);
    }
}

#[test]
fn real_parameters_run_a_nand() {
    // One key generation and a few gates at the 128-bit boolean parameters.
    let mut client = ClientKey::from_seed(&presets::gates_128(), 11).unwrap();
    let server = client.server_key();
    for (a, b) in [(false, true), (true, true)] {
        let (x, y) = (client.encrypt_bit(a), client.encrypt_bit(b));
        let out = server.nand(&x, &y).unwrap();
        assert_eq!(client.decrypt_bit(&out).unwrap(), !(a && b));
        // Chained: XOR of two bootstrapped outputs (the noisiest gate input).
        let chained = server.xor(&out, &server.and(&x, &y).unwrap()).unwrap();
        assert!(client.decrypt_bit(&chained).unwrap());
    }
    assert_eq!(server.counts().bootstraps, 6);
}

#[test]
fn batch_gates_match_single_gates() {
    let server = &keys().1;
    let bits: Vec<(bool, bool)> = (0..8).map(|i| (i & 1 != 0, i & 2 != 0)).collect();
    let inputs: Vec<_> = bits.iter().map(|&(a, b)| (enc(a), enc(b))).collect();
    let out = server.gate_batch(Gate::Xor, &inputs).unwrap();
    for (o, (a, b)) in out.iter().zip(&bits) {
        assert_eq!(dec(o), a ^ b);
    }
}

#[test]
fn pending_gates_of_every_kind_finish_together() {
    // Mixed kinds in one batch: more bootstraps than threads, so groups share key passes.
    let server = &keys().1;
    let cases: Vec<(bool, bool, bool)> = (0..8)
        .map(|i| (i & 4 != 0, i & 2 != 0, i & 1 != 0))
        .collect();
    let cts: Vec<_> = cases
        .iter()
        .map(|&(c, a, b)| (enc(c), enc(a), enc(b)))
        .collect();
    let mut pending = vec![];
    let mut want = vec![];
    for ((c, a, b), (x, y, z)) in cases.iter().zip(&cts) {
        pending.push(server.pending_mux(x, y, z).unwrap());
        want.push(if *c { *a } else { *b });
        pending.push(server.pending_gate(Gate::Nand, x, y).unwrap());
        want.push(!(c & a));
        pending.push(server.pending_not(z).unwrap());
        want.push(!b);
        // Majority of three: a full adder's carry.
        let terms = [(1, x), (1, y), (1, z)];
        pending.push(server.pending_sum_bit(&terms, 0).unwrap());
        want.push((*c as u8 + *a as u8 + *b as u8) >= 2);
    }
    let out = server.finish(pending).unwrap();
    let got: Vec<bool> = out.iter().map(dec).collect();
    assert_eq!(got, want);
}

#[test]
fn lookup_tables_match_the_clear_function() {
    let server = &keys().1;
    let relu_shift = |m: u64| if m >= 32 { 0 } else { m >> 1 };
    let lut = Lut::from_fn(server, 6, relu_shift).unwrap();
    let inputs: Vec<u64> = (0..64).step_by(3).collect();
    let cts: Vec<_> = {
        let mut c = keys().0.lock().unwrap();
        inputs
            .iter()
            .map(|&m| c.encrypt_int(m, 6).unwrap())
            .collect()
    };
    let outs = server.apply_lut_batch(&cts, &lut).unwrap();
    let c = keys().0.lock().unwrap();
    for (m, o) in inputs.iter().zip(&outs) {
        assert_eq!(c.decrypt_int(o, 6).unwrap(), relu_shift(*m), "input {m}");
    }
    // Smaller message spaces use the same key.
    let lut3 = Lut::from_fn(server, 3, |m| 7 - m).unwrap();
    drop(c);
    let x = keys().0.lock().unwrap().encrypt_int(5, 3).unwrap();
    let y = server.apply_lut(&x, &lut3).unwrap();
    assert_eq!(keys().0.lock().unwrap().decrypt_int(&y, 3).unwrap(), 2);
}

#[test]
fn integer_arithmetic_then_a_table() {
    let server = &keys().1;
    let mut c = keys().0.lock().unwrap();
    let (x, y) = (c.encrypt_int(5, 6).unwrap(), c.encrypt_int(9, 6).unwrap());
    let sum = x.add(&y).unwrap().add_clear(3, 6).scalar_mul(2);
    assert_eq!(c.decrypt_int(&sum, 6).unwrap(), 34);
    assert_eq!(c.decrypt_int(&sum.sub(&x).unwrap(), 6).unwrap(), 29);
    drop(c);
    let half = Lut::from_fn(server, 6, |m| m / 2).unwrap();
    let out = server.apply_lut(&sum, &half).unwrap();
    assert_eq!(keys().0.lock().unwrap().decrypt_int(&out, 6).unwrap(), 17);
}

#[test]
fn signed_tables_and_weighted_sums() {
    // A plaintext-weighted sum lands on a signed value; a clear offset brings it into the
    // table's domain; the table's signed outputs sum and decrypt as signed integers.
    let server = &keys().1;
    let xs = [3u64, 0, 7, 5];
    let ws = [2i64, -3, -1, 1];
    let cts: Vec<_> = {
        let mut c = keys().0.lock().unwrap();
        xs.iter().map(|&x| c.encrypt_int(x, 6).unwrap()).collect()
    };
    let dot = LweCiphertext::weighted_sum(cts.iter().zip(ws)).unwrap();
    let want: i64 = xs.iter().zip(ws).map(|(&x, w)| x as i64 * w).sum();
    assert_eq!(want, 4);
    let lo = -30;
    let table: Vec<i64> = (0..64).map(|m| (m + lo) / 3 - 5).collect();
    let lut = Lut::signed(server, 6, &table).unwrap();
    let out = server.apply_lut(&dot.add_clear(-lo, 6), &lut).unwrap();
    let twice = LweCiphertext::weighted_sum([(&out, 2), (&out, 1)]).unwrap();
    let c = keys().0.lock().unwrap();
    assert_eq!(c.decrypt_signed(&out, 6).unwrap(), want / 3 - 5);
    assert_eq!(c.decrypt_signed(&twice, 6).unwrap(), 3 * (want / 3 - 5));
    assert!(matches!(
        Lut::signed(server, 6, &[64; 64]),
        Err(LweError::SignedOutOfRange { .. })
    ));
    assert!(matches!(
        LweCiphertext::weighted_sum([]),
        Err(LweError::EmptySum)
    ));
}

#[test]
fn bad_inputs_are_errors() {
    let server = &keys().1;
    let mut c = keys().0.lock().unwrap();
    assert!(matches!(
        c.encrypt_int(64, 6),
        Err(LweError::MessageOutOfRange { .. })
    ));
    assert!(c.encrypt_int(1, 7).is_err());
    assert!(matches!(
        Lut::new(server, 2, &[0, 1, 2]),
        Err(LweError::LutSize { .. })
    ));
    assert!(Lut::new(server, 2, &[0, 1, 2, 4]).is_err());
    let other = ClientKey::from_seed(&presets::gates_128(), 1)
        .unwrap()
        .encrypt_bit(true);
    let mine = c.encrypt_bit(true);
    drop(c);
    assert!(matches!(
        server.nand(&mine, &other),
        Err(LweError::Mismatch(_))
    ));
    assert!(mine.add(&other).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// A random circuit of bootstrapped gates against the same circuit on clear bits.
    #[test]
    fn random_circuits_match_the_clear(
        inputs in prop::collection::vec(any::<bool>(), 4),
        ops in prop::collection::vec((0usize..7, any::<prop::sample::Index>(), any::<prop::sample::Index>()), 6),
    ) {
        let server = &keys().1;
        let mut clear = inputs.clone();
        let mut wires: Vec<LweCiphertext> = inputs.iter().map(|&b| enc(b)).collect();
        for (op, i, j) in ops {
            let (i, j) = (i.index(clear.len()), j.index(clear.len()));
            if op == 6 {
                clear.push(!clear[i]);
                wires.push(server.not(&wires[i]).unwrap());
            } else {
                let gate = Gate::ALL[op];
                clear.push(gate.eval(clear[i], clear[j]));
                wires.push(server.apply_gate(gate, &wires[i], &wires[j]).unwrap());
            }
        }
        for (w, c) in wires.iter().zip(&clear) {
            prop_assert_eq!(dec(w), *c);
        }
    }
}

#[test]
fn weighted_sum_bits_match_their_truth_tables() {
    let server = &keys().1;
    // Three to five bits: majority and parity of three, then the carry parity and parity of
    // five, against every input.
    for n in [3usize, 5] {
        for x in 0..1u32 << n {
            let bits: Vec<bool> = (0..n).map(|i| x >> i & 1 == 1).collect();
            let cts: Vec<_> = bits.iter().map(|&b| enc(b)).collect();
            let terms = |w| cts.iter().map(|c| (w, c)).collect::<Vec<_>>();
            let count = x.count_ones();
            let carry = server.sum_bit(&terms(1), 0).unwrap();
            assert_eq!(dec(&carry), count / 2 % 2 == 1, "carry parity of {bits:?}");
            let parity = server.sum_bit(&terms(2), 0).unwrap();
            assert_eq!(dec(&parity), count % 2 == 1, "parity of {bits:?}");
        }
    }
    // OR is [1, 1] plus 1; a negative weight and constant: bit 1 of (3 - a + 2 b) mod 4.
    for (a, b) in [(false, false), (false, true), (true, false), (true, true)] {
        let (x, y) = (enc(a), enc(b));
        assert_eq!(
            dec(&server.sum_bit(&[(1, &x), (1, &y)], 1).unwrap()),
            a || b
        );
        let q = (3 - a as i64 + 2 * b as i64).rem_euclid(4);
        let out = server.sum_bit(&[(-1, &x), (2, &y)], 3).unwrap();
        assert_eq!(dec(&out), q >> 1 == 1, "({a}, {b})");
    }
}

#[test]
fn trivial_bits_are_gate_inputs_and_huge_weights_are_refused() {
    let server = &keys().1;
    for (a, b) in [(false, true), (true, true)] {
        let out = server.nand(&server.trivial_bit(a), &enc(b)).unwrap();
        assert_eq!(dec(&out), !(a && b));
    }
    let x = enc(true);
    assert!(matches!(
        server.sum_bit(&[(1 << 20, &x)], 0),
        Err(LweError::FailureProbability { .. })
    ));
}
