//! Every evaluator operation against the same computation on plain vectors, with the precision
//! (bits) each one must keep at scale 2^40 on the test parameters. Fresh public-key noise in
//! the slots is about 2^16 at N = 2^12 (sigma * N * sqrt(2/3) in the canonical embedding, a few
//! times that at the worst slot), hence about 24 bits after encryption.

mod common;

use common::{precision_bits, Env};
use proptest::prelude::*;
use shroud_ckks::{CkksError, Complex64};

fn assert_bits(name: &str, got: &[f64], want: &[f64], min_bits: f64) {
    let bits = precision_bits(got, want);
    assert!(
        bits >= min_bits,
        "{name}: {bits:.1} bits of precision, need {min_bits}"
    );
}

#[test]
fn encrypt_decrypt_public_and_secret() {
    let mut env = Env::new(1);
    let x = env.random_vector(10, 1.0);
    let ct = env.encrypt(&x);
    assert_bits("public-key encryption", &env.decrypt(&ct), &x, 23.0);
    let mut sym = shroud_ckks::Encryptor::with_secret_key(&env.params, &env.sk).unwrap();
    let ct = sym.encrypt(&env.encoder.encode(&x).unwrap()).unwrap();
    assert_bits("secret-key encryption", &env.decrypt(&ct), &x, 28.0);
    // Encoding and encryption fused, at a level and scale of one's choice.
    let (level, scale) = (1, 2f64.powi(41));
    for (name, enc, bits) in [
        ("public-key", &mut env.encryptor, 23.0),
        ("secret-key", &mut sym, 28.0),
    ] {
        let ct = enc.encrypt_values(&env.encoder, &x, level, scale).unwrap();
        assert_eq!((ct.level(), ct.scale()), (level, scale));
        let got = env
            .encoder
            .decode(&env.decryptor.decrypt(&ct).unwrap())
            .unwrap();
        assert_bits(&format!("{name} encrypt_values"), &got, &x, bits);
    }
}

#[test]
fn additive_operations() {
    let mut env = Env::new(2);
    let (x, y) = (env.random_vector(1, 4.0), env.random_vector(2, 4.0));
    let (cx, cy) = (env.encrypt(&x), env.encrypt(&y));
    let zip = |f: fn(f64, f64) -> f64| x.iter().zip(&y).map(|(a, b)| f(*a, *b)).collect::<Vec<_>>();
    assert_bits(
        "add",
        &env.decrypt(&env.eval.add(&cx, &cy).unwrap()),
        &zip(|a, b| a + b),
        22.0,
    );
    assert_bits(
        "sub",
        &env.decrypt(&env.eval.sub(&cx, &cy).unwrap()),
        &zip(|a, b| a - b),
        22.0,
    );
    let neg: Vec<f64> = x.iter().map(|a| -a).collect();
    assert_bits(
        "negate",
        &env.decrypt(&env.eval.negate(&cx).unwrap()),
        &neg,
        22.0,
    );
    let py = env.encoder.encode(&y).unwrap();
    assert_bits(
        "add_plain",
        &env.decrypt(&env.eval.add_plain(&cx, &py).unwrap()),
        &zip(|a, b| a + b),
        22.0,
    );
    assert_bits(
        "sub_plain",
        &env.decrypt(&env.eval.sub_plain(&cx, &py).unwrap()),
        &zip(|a, b| a - b),
        22.0,
    );
    let plus: Vec<f64> = x.iter().map(|a| a + 2.5).collect();
    assert_bits(
        "add_scalar",
        &env.decrypt(&env.eval.add_scalar(&cx, 2.5).unwrap()),
        &plus,
        22.0,
    );
    let times: Vec<f64> = x.iter().map(|a| a * -3.0).collect();
    assert_bits(
        "mul_integer",
        &env.decrypt(&env.eval.mul_integer(&cx, -3).unwrap()),
        &times,
        22.0,
    );
}

#[test]
fn multiplicative_operations_through_all_levels() {
    let mut env = Env::new(3);
    let x = env.random_vector(3, 1.0);
    let y = env.random_vector(4, 1.0);
    let mut ct = env.encrypt(&x);
    let cy = env.encrypt(&y);
    let mut want = x.clone();
    // Square repeatedly down to level 0, checking precision at every level.
    let levels = env.params.max_level();
    for step in 0..levels {
        let other = env.eval.mod_drop_to(&cy, ct.level()).unwrap();
        ct = env.eval.mul_relin_rescale(&ct, &other).unwrap();
        want = want.iter().zip(&y).map(|(a, b)| a * b).collect();
        assert_eq!(ct.level(), levels - step - 1);
        assert_bits("mul_relin_rescale", &env.decrypt(&ct), &want, 20.0);
    }
    assert!(matches!(
        env.eval.rescale(&ct),
        Err(CkksError::LevelsExhausted(0))
    ));
    assert!(matches!(
        env.eval.mul_relin_rescale(&ct, &ct),
        Err(CkksError::LevelsExhausted(0))
    ));
}

#[test]
fn plaintext_and_scalar_products() {
    let mut env = Env::new(4);
    let (x, y) = (env.random_vector(5, 2.0), env.random_vector(6, 2.0));
    let cx = env.encrypt(&x);
    let py = env.encoder.encode(&y).unwrap();
    let prod = env
        .eval
        .rescale(&env.eval.mul_plain(&cx, &py).unwrap())
        .unwrap();
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    assert_bits("mul_plain", &env.decrypt(&prod), &want, 22.0);
    let scaled = env
        .eval
        .rescale(&env.eval.mul_scalar(&cx, 0.3).unwrap())
        .unwrap();
    assert_eq!(
        scaled.scale(),
        cx.scale(),
        "mul_scalar then rescale keeps the scale exactly"
    );
    let want: Vec<f64> = x.iter().map(|a| a * 0.3).collect();
    assert_bits("mul_scalar", &env.decrypt(&scaled), &want, 22.0);
    // A weight meeting a gradient: to the scale of a product, no level spent.
    let target = cx.scale() * 2f64.powi(30) * 1.37;
    let large = env
        .eval
        .mul_large_scalar_to(&cx, 0.3, target)
        .unwrap()
        .expect("a factor of about 2^30 is large");
    assert_eq!((large.level(), large.scale()), (cx.level(), target));
    assert_bits("mul_large_scalar_to", &env.decrypt(&large), &want, 22.0);
    let small = cx.scale() * (shroud_ckks::LARGE_FACTOR / 2.0);
    assert!(env
        .eval
        .mul_large_scalar_to(&cx, 1.0, small)
        .unwrap()
        .is_none());
    // Unrelinearized products decrypt too, and relinearize later.
    let raw = env.eval.multiply(&cx, &cx).unwrap();
    assert_eq!(raw.degree(), 2);
    let want: Vec<f64> = x.iter().map(|a| a * a).collect();
    let relin = env
        .eval
        .rescale(&env.eval.relinearize(&raw).unwrap())
        .unwrap();
    assert_bits("relinearize", &env.decrypt(&relin), &want, 20.0);
    assert_bits(
        "degree-2 decryption",
        &env.decrypt(&env.eval.rescale(&raw).unwrap()),
        &want,
        20.0,
    );
}

#[test]
fn rotations_conjugation_and_sums() {
    let mut env = Env::new(5);
    let slots = env.params.slots();
    let x = env.random_vector(7, 1.0);
    let cx = env.encrypt(&x);
    for step in [1i64, 2, 5, -1, -7, 1000, slots as i64 - 1] {
        let got = env.decrypt(&env.eval.rotate(&cx, step).unwrap());
        let want: Vec<f64> = (0..slots)
            .map(|i| x[(i as i64 + step).rem_euclid(slots as i64) as usize])
            .collect();
        assert_bits(&format!("rotate {step}"), &got, &want, 22.0);
    }
    let total: f64 = x.iter().sum();
    let summed = env.decrypt(&env.eval.sum_slots(&cx, slots).unwrap());
    assert_bits("sum_slots", &summed, &vec![total; slots], 18.0);
    let partial = env.decrypt(&env.eval.sum_slots(&cx, 4).unwrap());
    let want: Vec<f64> = (0..slots)
        .map(|i| (0..4).map(|k| x[(i + k) % slots]).sum())
        .collect();
    assert_bits("sum of 4 slots", &partial, &want, 20.0);

    let z: Vec<Complex64> = (0..slots)
        .map(|i| Complex64::new(x[i], x[(i + 1) % slots]))
        .collect();
    let pt = env
        .encoder
        .encode_complex_at(&z, env.params.max_level(), env.params.default_scale())
        .unwrap();
    let cz = env.encryptor.encrypt(&pt).unwrap();
    let conj = env
        .encoder
        .decode_complex(
            &env.decryptor
                .decrypt(&env.eval.conjugate(&cz).unwrap())
                .unwrap(),
        )
        .unwrap();
    let err = conj
        .iter()
        .zip(&z)
        .map(|(a, b)| (a - b.conj()).norm())
        .fold(0f64, f64::max);
    assert!(err < 2f64.powi(-22), "conjugate error {err}");
}

#[test]
fn operation_counters_count() {
    let mut env = Env::new(6);
    let x = env.random_vector(8, 1.0);
    let cx = env.encrypt(&x);
    let before = env.eval.counts();
    let sq = env.eval.mul_relin_rescale(&cx, &cx).unwrap();
    env.eval.rotate(&sq, 3).unwrap(); // 1 + 2: two power-of-two keys
    let d = env.eval.counts() - before;
    assert_eq!(
        (d.ct_mul, d.rescales, d.rotations, d.key_switches),
        (1, 1, 2, 3)
    );
}

#[test]
fn refusals_are_errors() {
    let mut env = Env::new(7);
    let x = env.random_vector(9, 1.0);
    let cx = env.encrypt(&x);
    let low = env.eval.mod_drop_to(&cx, 1).unwrap();
    assert!(matches!(
        env.eval.add(&cx, &low),
        Err(CkksError::LevelMismatch(3, 1))
    ));
    let sq = env.eval.mul_relin_rescale(&cx, &cx).unwrap();
    let dropped = env.eval.mod_drop_to(&cx, sq.level()).unwrap();
    assert!(matches!(
        env.eval.add(&sq, &dropped),
        Err(CkksError::ScaleMismatch(..))
    ));
    let raw = env.eval.multiply(&cx, &cx).unwrap();
    assert!(matches!(
        env.eval.multiply(&raw, &cx),
        Err(CkksError::NotRelinearized(2))
    ));
    assert!(matches!(
        env.eval.rotate(&raw, 1),
        Err(CkksError::NotRelinearized(2))
    ));

    // No keys at all.
    let bare = shroud_ckks::Evaluator::new(&env.params);
    assert!(matches!(
        bare.relinearize(&raw),
        Err(CkksError::MissingRelinKey)
    ));
    assert!(matches!(
        bare.rotate(&cx, 1),
        Err(CkksError::MissingGaloisKey(_))
    ));

    // Objects from other parameters.
    let mut other = Env::new(8);
    let mut lit = shroud_ckks::presets::insecure_test_n12();
    lit.q_bits[1] = 41;
    let foreign_params = shroud_ckks::Params::new_insecure(lit).unwrap();
    assert!(matches!(
        shroud_ckks::Decryptor::new(&foreign_params, &other.sk),
        Err(CkksError::ParamsMismatch { .. })
    ));
    let foreign = shroud_ckks::Evaluator::new(&foreign_params);
    let cy = other.encrypt(&x);
    assert!(matches!(
        foreign.add(&cy, &cy),
        Err(CkksError::ParamsMismatch { .. })
    ));
    // A second operand of other parameters reads as such, whichever key it is under.
    let foreign_sk = shroud_ckks::KeyGenerator::with_seed(&foreign_params, 3).secret_key();
    let cz = shroud_ckks::Encryptor::with_secret_key(&foreign_params, &foreign_sk)
        .unwrap()
        .encrypt(
            &shroud_ckks::Encoder::new(&foreign_params)
                .encode(&x)
                .unwrap(),
        )
        .unwrap();
    assert!(matches!(
        foreign.add(&cz, &cy),
        Err(CkksError::ParamsMismatch { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn random_polynomial_circuits(a in -2.0f64..2.0, b in -2.0f64..2.0, c in -2.0f64..2.0, seed in 0u64..1000) {
        // a*x^2 + b*x*y + c computed under encryption against the same on plain vectors.
        let mut env = Env::new(seed);
        let x = env.random_vector(seed + 1, 1.0);
        let y = env.random_vector(seed + 2, 1.0);
        let (cx, cy) = (env.encrypt(&x), env.encrypt(&y));
        let e = &env.eval;
        let xx = e.mul_relin_rescale(&cx, &cx).unwrap();
        let xy = e.mul_relin_rescale(&cx, &cy).unwrap();
        let t1 = e.rescale(&e.mul_scalar(&xx, a).unwrap()).unwrap();
        let t2 = e.rescale(&e.mul_scalar(&xy, b).unwrap()).unwrap();
        let r = e.add_scalar(&e.add(&t1, &t2).unwrap(), c).unwrap();
        let want: Vec<f64> = x.iter().zip(&y).map(|(x, y)| a * x * x + b * x * y + c).collect();
        let bits = precision_bits(&env.decrypt(&r), &want);
        prop_assert!(bits >= 18.0, "{bits} bits");
    }
}

#[test]
fn hoisted_rotations_and_dot_products() {
    let mut env = Env::new(9);
    let slots = env.params.slots();
    let x = env.random_vector(11, 1.0);
    let cx = env.encrypt(&x);
    let steps = [0i64, 1, 4, -2, 16];
    let before = env.eval.counts();
    let hoisted = env.eval.rotate_hoisted(&cx, &steps).unwrap();
    assert_eq!((env.eval.counts() - before).rotations, 4, "step 0 is free");
    for (step, ct) in steps.iter().zip(&hoisted) {
        let want: Vec<f64> = (0..slots)
            .map(|i| x[(i as i64 + step).rem_euclid(slots as i64) as usize])
            .collect();
        assert_bits(
            &format!("hoisted rotation {step}"),
            &env.decrypt(ct),
            &want,
            22.0,
        );
    }
    assert!(matches!(
        env.eval.rotate_hoisted(&cx, &[3]),
        Err(CkksError::MissingGaloisKey(_))
    ));

    let y = env.random_vector(12, 1.0);
    let z = env.random_vector(13, 1.0);
    let (cy, cz) = (env.encrypt(&y), env.encrypt(&z));
    let before = env.eval.counts();
    let d = env
        .eval
        .dot(&[cx.clone(), cy.clone()], &[cz.clone(), cx.clone()])
        .unwrap();
    let c = env.eval.counts() - before;
    assert_eq!(
        (c.ct_mul, c.key_switches, c.rescales),
        (2, 1, 1),
        "one relinearization in all"
    );
    let want: Vec<f64> = (0..slots).map(|i| x[i] * z[i] + y[i] * x[i]).collect();
    assert_bits("dot", &env.decrypt(&d), &want, 20.0);
    assert!(env.eval.dot(&[cx], &[]).is_err());
}

/// The fused relinearize-and-rescale divides by `P q_l` (three limbs here) at once; with an
/// inexact basis conversion its quotient could be off by up to two, multiplied by the secret,
/// and it came out several times noisier than relinearizing and rescaling apart. Exact
/// conversion makes the two agree. Rescaling a product that was never relinearized is far
/// noisier (its rounding meets `s^2`), which is why gradients stay raw instead. Small primes
/// and secret-key encryption make rounding, not fresh noise, the visible error.
#[test]
fn fused_relin_rescale_is_as_precise_as_the_two_steps() {
    use shroud_ckks::*;
    let params = Params::new_insecure(ParamsLiteral {
        log_n: 12,
        q_bits: vec![35, 28, 28],
        p_bits: vec![43, 43],
        log_scale: 28,
        digits: 3,
    })
    .unwrap();
    let mut kg = KeyGenerator::with_seed(&params, 11);
    let sk = kg.secret_key();
    let eval = Evaluator::new(&params)
        .with_relin_key(kg.relin_key(&sk).unwrap())
        .unwrap();
    let encoder = Encoder::new(&params);
    let decryptor = Decryptor::new(&params, &sk).unwrap();
    let x: Vec<f64> = (0..params.slots())
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
        .collect();
    let pt = encoder
        .encode_at(&x, params.max_level(), params.default_scale())
        .unwrap();
    let cx = Encryptor::with_secret_key(&params, &sk)
        .unwrap()
        .encrypt(&pt)
        .unwrap();
    let err = |ct: &Ciphertext| {
        encoder
            .decode(&decryptor.decrypt(ct).unwrap())
            .unwrap()
            .iter()
            .zip(&x)
            .map(|(g, a)| (g - a * a).abs())
            .fold(0.0, f64::max)
    };
    let prod = eval.multiply(&cx, &cx).unwrap();
    let fused = err(&eval.relin_rescale(&prod).unwrap());
    let apart = err(&eval.rescale(&eval.relinearize(&prod).unwrap()).unwrap());
    let raw = err(&eval.rescale(&prod).unwrap());
    assert!(fused <= 1.5 * apart, "fused {fused:e}, apart {apart:e}");
    assert!(raw > 8.0 * apart, "raw {raw:e}, apart {apart:e}");
}
