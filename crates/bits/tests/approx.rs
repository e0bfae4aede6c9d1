//! Fixed-point approximations on the clear backend: Taylor polynomials, fractions and the
//! L_n-norm max pooling, against the same formulas in floating point.

use shroud_bits::backends::Clear;
use shroud_bits::{BitsError, Builder, EncInt, Encoding, Evaluator, Format, Fraction};

fn format(width: u32, scale: u32) -> Format {
    Format::new(width, Encoding::TwosComplement, scale).unwrap()
}

fn real(x: &EncInt<shroud_bits::backends::ClearBit>, key: &Clear) -> f64 {
    x.format().to_real(x.decrypt(key).unwrap())
}

#[test]
fn taylor_exp_and_sigmoid_follow_their_polynomials() {
    let mut key = Clear::new();
    let ev = Evaluator::new(Clear::new());
    let f = format(20, 10);
    for x in [-1.5f64, -0.5, 0.0, 0.25, 1.0, 1.5] {
        let cx = EncInt::encrypt(&mut key, (x * 1024.0).round() as i64, f).unwrap();
        let exp = ev.unary(&cx, |b, w| b.exp_taylor(w, 5)).unwrap();
        let poly_exp = 1.0 + x + x * x / 2.0 + x.powi(3) / 6.0 + x.powi(4) / 24.0;
        // Each Horner step truncates once: a few units of the last place.
        assert!(
            (real(&exp, &key) - poly_exp).abs() < 8.0 / 1024.0,
            "exp({x})"
        );
        assert!((poly_exp - x.exp()).abs() < 0.1);
        let sig = ev.unary(&cx, Builder::sigmoid_taylor).unwrap();
        let poly_sig = 0.5 + x / 4.0 - x.powi(3) / 48.0 + x.powi(5) / 480.0;
        assert!(
            (real(&sig, &key) - poly_sig).abs() < 8.0 / 1024.0,
            "sigmoid({x})"
        );
        assert!((poly_sig - 1.0 / (1.0 + (-x).exp())).abs() < 0.01);
    }
}

#[test]
fn fractions_multiply_divide_and_add() {
    let mut key = Clear::new();
    let ev = Evaluator::new(Clear::new());
    let f = format(24, 8);
    let enc = |v: f64, key: &mut Clear| EncInt::encrypt(key, (v * 256.0) as i64, f).unwrap();
    let args = [
        enc(3.0, &mut key),
        enc(4.0, &mut key),
        enc(-5.0, &mut key),
        enc(2.0, &mut key),
    ];
    let refs: Vec<_> = args.iter().collect();
    let (out, _) = ev
        .apply(&refs, |b, w| {
            let x = Fraction {
                num: w[0].clone(),
                den: w[1].clone(),
            };
            let y = Fraction {
                num: w[2].clone(),
                den: w[3].clone(),
            };
            let (m, d, s) = (
                b.frac_mul(&x, &y)?,
                b.frac_div(&x, &y)?,
                b.frac_add(&x, &y)?,
            );
            Ok((vec![m.num, m.den, d.num, d.den, s.num, s.den], vec![]))
        })
        .unwrap();
    let ratio = |i: usize| real(&out[i], &key) / real(&out[i + 1], &key);
    assert_eq!(ratio(0), 0.75 * -2.5);
    assert_eq!(ratio(2), 0.75 / -2.5);
    assert_eq!(ratio(4), 0.75 - 2.5);
}

#[test]
fn ln_norm_pooling_approaches_the_maximum() {
    let mut key = Clear::new();
    let ev = Evaluator::new(Clear::new());
    let f = format(30, 6);
    let values = [1.0f64, 3.0, 2.5, 0.5];
    let window: Vec<_> = values
        .iter()
        .map(|v| EncInt::encrypt(&mut key, (v * 64.0) as i64, f).unwrap())
        .collect();
    let refs: Vec<_> = window.iter().collect();
    let (out, _) = ev
        .apply(&refs, |b, w| {
            let y = b.max_pool_ln(w, 2, 2, 4.0)?;
            Ok((vec![y.num, y.den], vec![]))
        })
        .unwrap();
    let approx = real(&out[0], &key) / real(&out[1], &key);
    // Two Newton steps from 4 towards sqrt(17.5) = 4.18, the L_2 norm of the window.
    let norm = values.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!((approx - norm).abs() < 0.02, "{approx} vs {norm}");
    assert!(approx >= 3.0 && approx < 3.0 * 2f64.sqrt());
    assert!(matches!(
        ev.apply(&refs, |b, w| Ok((
            vec![b.max_pool_ln(w, 1, 1, 1.0)?.num],
            vec![]
        ))),
        Err(BitsError::InvalidArgument(_))
    ));
}
