//! The same circuits on the encrypted engines, for a sample of inputs: GSW (insecure test
//! preset, depth 3) on shallow circuits, the bootstrapped engine (insecure test preset) on
//! deep ones, and one addition at the 128-bit gate parameters.

mod common;

use std::sync::{Mutex, OnceLock};

use common::{f, product};
use shroud_bits::backends::{Bootstrapped, Gsw};
use shroud_bits::{Adder, BitsError, Builder, EncInt, Encoding, Evaluator, Summation};
use shroud_lwe::bootstrap::{presets, ClientKey};
use shroud_lwe::gsw::{self, GswEvaluator, GswSecretKey};
use shroud_lwe::LweError;

/// Key generation is the slow part; the insecure bootstrapping keys are shared.
fn bootstrapped() -> &'static (Mutex<ClientKey>, Evaluator<Bootstrapped>) {
    static KEYS: OnceLock<(Mutex<ClientKey>, Evaluator<Bootstrapped>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut client = ClientKey::from_seed(&presets::insecure_test(), 3).unwrap();
        let ev = Evaluator::new(Bootstrapped::new(client.server_key()));
        (Mutex::new(client), ev)
    })
}

#[test]
fn bootstrapped_arithmetic_matches_the_clear() {
    let (key, ev) = bootstrapped();
    let mut key = key.lock().unwrap();
    for encoding in [Encoding::TwosComplement, Encoding::OnesComplement] {
        let format = f(8, encoding);
        for (a, b) in [(-57i64, 38i64), (100, 27), (-3, -90)] {
            let x = EncInt::encrypt(&mut *key, a, format).unwrap();
            let y = EncInt::encrypt(&mut *key, b, format).unwrap();
            let dec = |v: EncInt<_>| v.decrypt(&*key).unwrap();
            assert_eq!(
                dec(ev.binary(&x, &y, Builder::add).unwrap()),
                format.wrap(a as i128 + b as i128)
            );
            assert_eq!(
                dec(ev.binary(&x, &y, Builder::mul).unwrap()),
                product(format, a, b)
            );
            assert_eq!(dec(ev.binary(&x, &y, Builder::max).unwrap()), a.max(b));
            assert_eq!(
                dec(ev.unary(&x, |b, w| Ok(b.relu_fast(w))).unwrap()),
                a.max(0)
            );
            assert_eq!(dec(ev.unary(&x, Builder::relu_slow).unwrap()), a.max(0));
            assert_eq!(
                dec(ev.unary(&x, |b, w| Ok(b.mul_const(w, -93))).unwrap()),
                product(format, a, -93)
            );
            let lt = ev.predicate(&x, &y, Builder::lt).unwrap();
            assert_eq!(key.decrypt_bit(&lt).unwrap(), a < b);
        }
    }
}

#[test]
fn bootstrapped_layers_count_their_bootstraps() {
    let (key, ev) = bootstrapped();
    let format = f(8, Encoding::TwosComplement);
    let (x, y) = {
        let mut key = key.lock().unwrap();
        (
            EncInt::encrypt(&mut *key, 90, format).unwrap(),
            EncInt::encrypt(&mut *key, -13, format).unwrap(),
        )
    };
    let server = ev.backend().server_key();
    let prefix = Evaluator::new(Bootstrapped::new(server.clone()))
        .with_adder(Adder::Prefix)
        .with_summation(Summation::Array(Adder::Prefix));
    let before = server.counts().bootstraps;
    let sum = prefix.binary(&x, &y, Builder::add).unwrap();
    assert_eq!(server.counts().bootstraps - before, 28);
    assert_eq!(sum.decrypt(&*key.lock().unwrap()).unwrap(), 77);
}

#[test]
fn gsw_runs_shallow_circuits_and_refuses_deep_ones() {
    let p = gsw::presets::insecure_test();
    let mut key = GswSecretKey::from_seed(&p, 4).unwrap();
    let ev = Evaluator::new(Gsw::new(GswEvaluator::new(&p).unwrap()));
    for encoding in [Encoding::TwosComplement, Encoding::OnesComplement] {
        let format = f(4, encoding);
        for a in [-5i64, 6, 2] {
            let x = EncInt::encrypt(&mut key, a, format).unwrap();
            assert_eq!(
                ev.unary(&x, |b, w| Ok(b.relu_fast(w)))
                    .unwrap()
                    .decrypt(&key)
                    .unwrap(),
                a.max(0)
            );
            if encoding == Encoding::OnesComplement {
                assert_eq!(
                    ev.unary(&x, |b, w| Ok(b.abs(w)))
                        .unwrap()
                        .decrypt(&key)
                        .unwrap(),
                    a.abs()
                );
            }
        }
    }
    // Equality of two-bit words: XORs, then one OR.
    let format = f(2, Encoding::TwosComplement);
    for (a, b) in [(1i64, 1i64), (-2, 1), (0, -1)] {
        let x = EncInt::encrypt(&mut key, a, format).unwrap();
        let y = EncInt::encrypt(&mut key, b, format).unwrap();
        let eq = ev.predicate(&x, &y, Builder::eq).unwrap();
        assert_eq!(GswSecretKey::decrypt_bit(&key, &eq).unwrap(), a == b);
    }
    // Two-bit sums are two levels deep; an 8-bit product is far past depth 3.
    let format = f(2, Encoding::TwosComplement);
    let (x, y) = (
        EncInt::encrypt(&mut key, 1, format).unwrap(),
        EncInt::encrypt(&mut key, -2, format).unwrap(),
    );
    assert_eq!(
        ev.binary(&x, &y, Builder::add)
            .unwrap()
            .decrypt(&key)
            .unwrap(),
        -1
    );
    let format = f(8, Encoding::TwosComplement);
    let (x, y) = (
        EncInt::encrypt(&mut key, 11, format).unwrap(),
        EncInt::encrypt(&mut key, 7, format).unwrap(),
    );
    assert!(matches!(
        ev.binary(&x, &y, Builder::mul),
        Err(BitsError::Engine(LweError::NoiseExhausted { .. }))
    ));
}

#[test]
fn a_128_bit_addition() {
    let mut client = ClientKey::from_seed(&presets::gates_128(), 5).unwrap();
    let ev = Evaluator::new(Bootstrapped::new(client.server_key()));
    let format = f(4, Encoding::TwosComplement);
    let x = EncInt::encrypt(&mut client, -6, format).unwrap();
    let y = EncInt::encrypt(&mut client, 5, format).unwrap();
    assert_eq!(
        ev.binary(&x, &y, Builder::add)
            .unwrap()
            .decrypt(&client)
            .unwrap(),
        -1
    );
}
