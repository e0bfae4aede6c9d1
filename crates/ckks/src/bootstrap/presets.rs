//! Bootstrapping presets: a parameter chain laid out for the circuit, and its spec.
//!
//! The chain, from the bottom: `q_0` (55 bits, the prime a message is bootstrapped from, 2^10
//! above the default scale: the ratio multiplies every error of the modular reduction on its
//! way back, while the sine's cubic error, relative `(2 pi 2^-10)^2 / 6 = 2^-17.3` for a
//! coefficient as large as the scale, stays at the level of that noise), the user's
//! levels at the default scale, SlotsToCoeffs (its first prime about the reduction scale, so
//! that its first map can land on the default scale with precise diagonals), the modular
//! reduction and CoeffsToSlots at the reduction scale (56-bit primes). The secret is uniform
//! ternary, the estimate the HE standard's; modulus raising happens under an ephemeral
//! secret of 32 nonzero coefficients (sparse-secret encapsulation), for which `K = 16`
//! bounds the overflow with a failure probability below 2^-60 per coefficient
//! (docs/security.md).

use super::BootstrapSpec;
use crate::ParamsLiteral;

/// A parameter literal, the circuit that fits it, and the weight of the ephemeral secret.
#[derive(Clone, Debug, PartialEq)]
pub struct BootstrapPreset {
    /// The parameter chain laid out for the circuit; build a [`crate::Params`] from it.
    pub params: ParamsLiteral,
    /// The circuit that fits the chain, for [`super::Bootstrapper::new`].
    pub spec: BootstrapSpec,
    /// Nonzero coefficients of the ephemeral sparse secret, for
    /// [`crate::KeyGenerator::encapsulation_key`].
    pub ephemeral_weight: usize,
}

/// The preset of a spec: the chain `q_0` (`q0_bits`), the user's primes (`user_bits`, from
/// level 1 up) at scale `2^log_scale`, SlotsToCoeffs (its first prime at the reduction
/// scale), the reduction and CoeffsToSlots, over special primes of `p_bits` with digits of
/// at most `digit_primes` primes.
fn preset(
    log_n: u32,
    spec: BootstrapSpec,
    (q0_bits, user_bits, log_scale): (u32, Vec<u32>, u32),
    p_bits: Vec<u32>,
    digit_primes: usize,
) -> BootstrapPreset {
    let stc = spec.slots_to_coeffs_levels;
    let q_bits = [
        vec![q0_bits],
        user_bits,
        vec![log_scale; stc.saturating_sub(1)],
        vec![56; 1 + spec.reduction_levels() + spec.coeffs_to_slots_levels],
    ]
    .concat();
    BootstrapPreset {
        params: ParamsLiteral {
            log_n,
            digits: q_bits.len().div_ceil(digit_primes),
            q_bits,
            p_bits,
            log_scale,
        },
        spec,
        ephemeral_weight: 32,
    }
}

/// Eighteen user primes for training steps of six levels that start at levels 18, 12 and 6:
/// 30 bits, except the primes of levels 13, 7 and 1, 36 bits, which each step's update is
/// rescaled by. A step's error terms are small (the learning rate times the loss's
/// derivative): ending on a larger prime lets them carry 2^6 more of the scale, above the
/// 2^14 of noise a rescale adds at N = 2^16.
fn training_levels() -> Vec<u32> {
    (1..=18)
        .map(|level| if level % 6 == 1 { 36 } else { 30 })
        .collect()
}

/// N = 2^16, 128-bit secure (log QP = 1683 of the 1747 allowed): ten levels at scale 2^45
/// left to the user after each bootstrap, three for each DFT, K = 16 with three double
/// angles and a degree-40 cosine. `slots` is a power of two up to 2^15 (full). Digits of six
/// primes (at most 336 bits) under six special primes.
pub fn n16(slots: usize) -> BootstrapPreset {
    let spec = BootstrapSpec {
        slots,
        coeffs_to_slots_levels: 3,
        slots_to_coeffs_levels: 3,
        k: 16.0,
        double_angles: 3,
        degree: 40,
        encapsulated: true,
    };
    preset(16, spec, (55, vec![45; 10], 45), vec![60; 6], 6)
}

/// N = 2^16, 128-bit secure (log QP = 1746 of 1747), for training: eighteen levels left to
/// the user after each bootstrap, at scale 2^30 (three steps of six levels per bootstrap:
/// 30-bit primes, except the 36-bit primes of levels 13, 7 and 1 that each step's update is
/// rescaled by), `q_0` 2^10 above the scale as in [`n16`] (the precision of a
/// bootstrap depends on that ratio, not on the scale), the same circuit and the same key
/// switching: digits of six primes (at most 336 bits) under 360 bits of special primes. At
/// this small scale the special primes must exceed a digit by such a margin: digits as large
/// as them leave key switching too noisy for a precise bootstrap.
pub fn n16_training(slots: usize) -> BootstrapPreset {
    let BootstrapPreset { spec, .. } = n16(slots);
    preset(16, spec, (40, training_levels(), 30), vec![60; 6], 6)
}

/// N = 2^11 with the same layout and two user levels. INSECURE: for tests only.
pub fn insecure_test(slots: usize) -> BootstrapPreset {
    let spec = BootstrapSpec {
        slots,
        coeffs_to_slots_levels: 2,
        slots_to_coeffs_levels: 2,
        k: 12.0,
        double_angles: 3,
        degree: 44,
        encapsulated: true,
    };
    preset(11, spec, (55, vec![40; 2], 40), vec![60; 2], 2)
}

/// [`n16_training`]'s user levels at N = 2^12 with [`insecure_test`]'s circuit. INSECURE:
/// for tests only.
pub fn insecure_test_training(slots: usize) -> BootstrapPreset {
    let BootstrapPreset { spec, .. } = insecure_test(slots);
    preset(12, spec, (40, training_levels(), 30), vec![60; 3], 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::Bootstrapper;
    use crate::Params;

    #[test]
    fn the_128_bit_preset_is_secure_and_leaves_ten_levels() {
        for slots in [256, 1 << 15] {
            let preset = n16(slots);
            let params = Params::new(preset.params.clone()).unwrap();
            assert_eq!(params.security_bits(), Some(128));
            assert!(params.log_qp() <= 1747, "{}", params.log_qp());
            // Building the circuit encodes every map: check the levels without it.
            assert_eq!(params.max_level() - preset.spec.levels(), 10);
        }
    }

    /// The 128-bit layout in a small ring (insecure): precision is set by the chain, and
    /// grows worse with N (docs/results.md has it at N = 2^16).
    #[test]
    fn the_128_bit_layout_is_precise_in_a_small_ring() {
        use crate::{Decryptor, Encoder, Encryptor, KeyGenerator};
        let mut preset = n16(256);
        preset.params.log_n = 12;
        let params = Params::new_insecure(preset.params.clone()).unwrap();
        let boot = Bootstrapper::new(&params, preset.spec.clone()).unwrap();
        let mut kg = KeyGenerator::with_seed(&params, 1);
        let sk = kg.secret_key();
        let eval = crate::bootstrap::keyed_evaluator(&boot, &mut kg, &sk)
            .with_encapsulation_key(kg.encapsulation_key(&sk, preset.ephemeral_weight).unwrap())
            .unwrap();
        let encoder = Encoder::new(&params);
        let values: Vec<f64> = (0..256)
            .map(|i| (i * 7919 % 1000) as f64 / 500.0 - 1.0)
            .collect();
        let full: Vec<f64> = values
            .iter()
            .cycle()
            .take(params.slots())
            .copied()
            .collect();
        let pt = encoder.encode_at(&full, 0, params.default_scale()).unwrap();
        let ct = Encryptor::with_secret_key(&params, &sk)
            .unwrap()
            .encrypt(&pt)
            .unwrap();
        let out = boot.bootstrap(&eval, &ct).unwrap();
        assert_eq!(out.level(), 10);
        let got = encoder
            .decode_complex(&Decryptor::new(&params, &sk).unwrap().decrypt(&out).unwrap())
            .unwrap();
        let err = got
            .iter()
            .zip(&full)
            .map(|(z, v)| (z.re - v).hypot(z.im))
            .fold(0f64, f64::max);
        assert!(err < 2f64.powi(-18), "error 2^{:.1}", err.log2());
    }

    #[test]
    fn the_training_preset_is_secure_and_leaves_eighteen_levels() {
        let preset = n16_training(256);
        let params = Params::new(preset.params.clone()).unwrap();
        assert_eq!(params.security_bits(), Some(128));
        assert!(params.log_qp() <= 1747, "{}", params.log_qp());
        assert_eq!(params.max_level() - preset.spec.levels(), 18);
    }

    #[test]
    fn the_test_preset_bootstraps_to_its_user_levels() {
        let preset = insecure_test(8);
        let params = Params::new_insecure(preset.params).unwrap();
        assert_eq!(params.security_bits(), None);
        let boot = Bootstrapper::new(&params, preset.spec).unwrap();
        assert_eq!(boot.output_level(), 2);
    }
}
