//! Parameter sets of the bootstrapped scheme, their security claims and their noise analysis.
//!
//! Shroud follows TFHE-rs's "KS-PBS" order: ciphertexts live under the large key (the GLWE key
//! read as an LWE key of dimension `k N`); a bootstrap first key-switches to the small LWE key
//! of dimension `n`, switches the modulus to `2N`, blind-rotates and extracts a sample under the
//! large key again.

use serde::{Deserialize, Serialize};
use shroud_math::Fingerprint;

use crate::LweError;

/// A gadget decomposition: `levels` digits of `base_log` bits each, taken from the top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decomposition {
    /// Bits per digit: the base is `2^base_log`.
    pub base_log: u32,
    /// Number of digits kept.
    pub levels: u32,
}

/// How a bootstrapping key runs its blind rotation: the gadget decomposition of its external
/// products (`levels` digits of `base_log` bits), and how many bits of the small key each
/// step consumes. With `grouping` 1 a step is a CMux on one key bit, from one GGSW per bit.
/// With `g >= 2` a step multiplies the accumulator by `X^(sum a_t s_t)` over `g` bits at once,
/// from GGSWs of the `2^g - 1` nonzero patterns the bits can take (multi-bit blind rotation):
/// one decomposition and one set of transforms per `g` bits, for `(2^g - 1) / g` times the key
/// and more noise ([`BootstrapParams::bootstrap_output_variance`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindRotation {
    /// Bits per digit of the external products' decomposition: the base is `2^base_log`.
    pub base_log: u32,
    /// Number of digits each coefficient is decomposed into.
    pub levels: u32,
    /// Bits of the small key each step consumes, 1 to [`Self::MAX_GROUPING`].
    pub grouping: u32,
}

impl BlindRotation {
    /// The largest grouping the keys support: 7 GGSWs per step.
    pub const MAX_GROUPING: u32 = 3;

    /// One CMux per key bit.
    pub const fn classic(base_log: u32, levels: u32) -> Self {
        Self {
            base_log,
            levels,
            grouping: 1,
        }
    }

    /// `grouping` key bits per step.
    pub const fn grouped(base_log: u32, levels: u32, grouping: u32) -> Self {
        Self {
            base_log,
            levels,
            grouping,
        }
    }
}

/// Which bootstrapping key a bootstrap runs through, from the most precise (and slowest)
/// down: [`BootstrapParams::pbs`], `light_pbs`, `coarse_pbs`. A level the set lacks falls
/// back to the next more precise one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyLevel {
    /// The key of [`BootstrapParams::pbs`], which every set has: the least noisy outputs.
    Full,
    /// The key of [`BootstrapParams::light_pbs`]: fewer digits, noisier outputs.
    Light,
    /// The key of [`BootstrapParams::coarse_pbs`]: the cheapest, with the noisiest outputs.
    Coarse,
}

/// A validated parameter set. Build one from [`presets`] or check a custom one with
/// [`BootstrapParams::validate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapParams {
    /// A short name; test-only sets contain "insecure".
    pub name: String,
    /// Dimension `n` of the small LWE key the blind rotation runs over.
    pub lwe_dimension: usize,
    /// Number `k` of polynomials in a GLWE mask.
    pub glwe_dimension: usize,
    /// Ring degree `N` (a power of two).
    pub polynomial_size: usize,
    /// Standard deviation of the fresh noise under the small LWE key (the key-switching
    /// key's rows), as a fraction of the torus.
    pub lwe_noise_std: f64,
    /// Standard deviation of the fresh noise under the GLWE key (encryptions and the
    /// bootstrapping keys' rows), as a fraction of the torus.
    pub glwe_noise_std: f64,
    /// The bootstrapping key's blind rotation.
    pub pbs: BlindRotation,
    /// A cheaper decomposition for a second bootstrapping key, if any: fewer digits (fewer
    /// transforms per CMux) and a noisier output, for bootstraps whose outputs only feed other
    /// bootstraps (the rounds inside a wide-integer operation, `bootstrap::wide`), where the
    /// noise the planner tracks leaves room for it.
    pub light_pbs: Option<BlindRotation>,
    /// A third, cheapest decomposition, if any (one level of large digits: the fewest
    /// transforms and the noisiest output), for the bootstraps whose outputs the later
    /// ones lift least: the last rounds of a wide-integer operation and its flags.
    pub coarse_pbs: Option<BlindRotation>,
    /// Decomposition of the key switch (computed on the top 32 bits of the torus).
    pub ks: Decomposition,
    /// Largest message width, in bits, that programmable bootstrapping supports (the padding
    /// bit comes on top).
    pub message_bits: u32,
    /// Estimated classical security; 0 for test-only sets.
    pub security_bits: u32,
}

impl BootstrapParams {
    /// Dimension `k N` of the large LWE key, the one ciphertexts are encrypted under.
    pub fn big_lwe_dimension(&self) -> usize {
        self.glwe_dimension * self.polynomial_size
    }

    /// A hash of every field: what ciphertexts and keys of this set carry.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of("shroud-lwe-params", self)
    }

    /// Structural checks; every object built from these parameters trusts them afterwards.
    pub fn validate(&self) -> Result<(), LweError> {
        let bad = |m: &str| Err(LweError::InvalidParams(m.to_string()));
        let n = self.polynomial_size;
        if !n.is_power_of_two() || !(64..=1 << 15).contains(&n) {
            return bad("polynomial size must be a power of two in [64, 2^15]");
        }
        if !(1..=8).contains(&self.glwe_dimension) || !(1..=4096).contains(&self.lwe_dimension) {
            return bad("GLWE dimension must be in [1, 8] and LWE dimension in [1, 4096]");
        }
        for std in [self.lwe_noise_std, self.glwe_noise_std] {
            if !(0.0..0.01).contains(&std) {
                return bad("noise standard deviations must be in [0, 0.01)");
            }
        }
        for d in [Some(self.pbs), self.light_pbs, self.coarse_pbs]
            .into_iter()
            .flatten()
        {
            // The f64 transforms keep 53 bits of a product: near that, finer digits add error
            // faster than the transforms' model counts (three levels of 17 bits measured 1.08
            // times the model, of 18 bits about 3; at most 0.8 up to 48 bits,
            // `tests::fft_noise_grid`).
            let bits = d.base_log.checked_mul(d.levels);
            if d.base_log == 0 || d.levels == 0 || bits.is_none_or(|b| b > 48) || d.base_log > 30 {
                return bad("PBS decompositions must have 1..=30-bit digits and at most 48 bits");
            }
            if !(1..=BlindRotation::MAX_GROUPING).contains(&d.grouping) {
                return bad("blind rotations must group 1 to 3 key bits per step");
            }
        }
        let d = self.ks;
        if d.base_log == 0
            || d.levels == 0
            || d.base_log.checked_mul(d.levels).is_none_or(|b| b > 32)
        {
            return bad("key-switch decomposition must cover 1..=32 bits");
        }
        // One box of the lookup table per message value (with the padding bit) must hold at
        // least one coefficient.
        if !(1..=8).contains(&self.message_bits) || (1usize << (self.message_bits + 1)) > n {
            return bad("message bits must be in [1, 8] with 2^(bits+1) <= N");
        }
        if self.security_bits < 128 && !self.name.contains("insecure") {
            return bad("sets under 128 bits must say \"insecure\" in their name");
        }
        Ok(())
    }

    /// The level a bootstrap asking for `level` runs at: `level` itself if the set has that
    /// key, else the next more precise one it has.
    pub fn resolve(&self, level: KeyLevel) -> KeyLevel {
        match level {
            KeyLevel::Coarse if self.coarse_pbs.is_some() => KeyLevel::Coarse,
            KeyLevel::Coarse | KeyLevel::Light if self.light_pbs.is_some() => KeyLevel::Light,
            _ => KeyLevel::Full,
        }
    }

    /// The bootstrapping keys the set has, the full key first.
    pub fn key_levels(&self) -> impl Iterator<Item = KeyLevel> + '_ {
        [KeyLevel::Full, KeyLevel::Light, KeyLevel::Coarse]
            .into_iter()
            .filter(|&level| self.resolve(level) == level)
    }

    /// The set with only the bootstrapping keys of `levels` (the full key always stays):
    /// smaller evaluation keys, at the cost of bootstraps that then run through a more
    /// precise, slower key. Its name says which keys it keeps (`wide_128:full+coarse`);
    /// the security is the same.
    pub fn keeping(&self, levels: &[KeyLevel]) -> BootstrapParams {
        let base = self.name.split(':').next().unwrap_or_default();
        let light = self.light_pbs.filter(|_| levels.contains(&KeyLevel::Light));
        let coarse = self
            .coarse_pbs
            .filter(|_| levels.contains(&KeyLevel::Coarse));
        let full_set = light.is_some() == self.light_pbs.is_some()
            && coarse.is_some() == self.coarse_pbs.is_some();
        let name = if full_set && !self.name.contains(':') {
            self.name.clone()
        } else {
            let mut kept = vec!["full"];
            kept.extend(light.map(|_| "light"));
            kept.extend(coarse.map(|_| "coarse"));
            format!("{base}:{}", kept.join("+"))
        };
        BootstrapParams {
            name,
            light_pbs: light,
            coarse_pbs: coarse,
            ..self.clone()
        }
    }

    /// The parameters of the bootstrapping key at `level` (resolved as [`Self::resolve`]
    /// does), as a set with that single key.
    pub fn at(&self, level: KeyLevel) -> BootstrapParams {
        let pbs = match (self.resolve(level), self.light_pbs, self.coarse_pbs) {
            (KeyLevel::Light, Some(light), _) => light,
            (KeyLevel::Coarse, _, Some(coarse)) => coarse,
            _ => self.pbs,
        };
        BootstrapParams {
            pbs,
            light_pbs: None,
            coarse_pbs: None,
            ..self.clone()
        }
    }

    /// Variance (torus units) of the noise a bootstrap leaves in its output.
    pub fn bootstrap_output_variance(&self) -> f64 {
        let (n, g) = (self.lwe_dimension, self.pbs.grouping as usize);
        let steps = n / g;
        let rest = n % g;
        steps as f64 * self.step_variance(g as u32)
            + if rest > 0 {
                self.step_variance(rest as u32)
            } else {
                0.0
            }
    }

    /// Variance of the noise of a bootstrapping key's rows: the GLWE noise and the rounding
    /// of their bodies to [`BODY_BITS`](super::BODY_BITS) bits (seeded keys,
    /// `bootstrap::compressed`).
    pub fn key_noise_variance(&self) -> f64 {
        self.glwe_noise_std.powi(2) + 2f64.powi(-2 * super::BODY_BITS as i32) / 12.0
    }

    /// Variance one step of the blind rotation over `g` key bits adds.
    fn step_variance(&self, g: u32) -> f64 {
        let (k, n) = (self.glwe_dimension as f64, self.polynomial_size as f64);
        let b = 2f64.powi(self.pbs.base_log as i32);
        let l = self.pbs.levels as f64;
        // An external product adds its digits (variance ~ B^2/12) times the key's noise, over
        // (k+1) l rows of N coefficients, and the transforms' error.
        let product =
            (k + 1.0) * l * n * (b * b / 12.0) * self.key_noise_variance() + self.fft_variance();
        // The precision the decomposition drops, times the secret key (binary, mean square
        // 1/2) and the body; 1.2 covers how keys differ (measured 0.86 to 1.12 of the term
        // without that factor; `keys::tests::fft_noise_grid`).
        let dropped = 1.2
            * (1.0 + k * n / 2.0)
            * 2f64.powi(-2 * (self.pbs.base_log * self.pbs.levels) as i32)
            / 12.0;
        if g == 1 {
            // A CMux: one product; the dropped precision reaches the output only when the
            // key bit is one.
            return product + 0.5 * dropped;
        }
        // 2^g - 1 products, each multiplied by its monomial less one (twice the variance);
        // the dropped precision of the accumulator's decomposition multiplied likewise,
        // unless every bit of the group is zero.
        let patterns = 2f64.powi(g as i32) - 1.0;
        2.0 * patterns * product + 2.0 * (1.0 - 1.0 / (patterns + 1.0)) * dropped
    }

    /// Variance the f64 transforms add to one external product, an empirical bound:
    /// `l^1.15 (k+1) k^1.2 N^2.25 B^2 2^-112.6`. Digits of up to `B/2` times 64-bit key words
    /// keep 53 bits of their products, whose errors in the mask polynomials reach the
    /// output through the `kN` key bits. The shape is fitted to bootstrap outputs measured
    /// with the other terms small, over `N` 512-8192, `k` 1-3, digits 2^6-2^24 (48 bits at
    /// most, which [`Self::validate`] enforces) and four keys each, and bounds every one of
    /// those measurements by a fifth or more
    /// (`tests::fft_noise_grid` in `keys.rs`, `scripts/noise-fit.sh`; the table is in
    /// docs/security-lwe.md).
    pub fn fft_variance(&self) -> f64 {
        let (k, n) = (self.glwe_dimension as f64, self.polynomial_size as f64);
        let b = 2f64.powi(self.pbs.base_log as i32);
        let l = self.pbs.levels as f64;
        l.powf(1.15) * (k + 1.0) * k.powf(1.2) * n.powf(2.25) * b * b * 2f64.powf(-112.6)
    }

    /// Variance added by the key switch from the large key to the small one.
    pub fn keyswitch_variance(&self) -> f64 {
        let big = self.big_lwe_dimension() as f64;
        let b = 2f64.powi(self.ks.base_log as i32);
        let l = self.ks.levels as f64;
        let dropped = 2f64.powi(-2 * (self.ks.base_log * self.ks.levels) as i32) / 12.0;
        // The key-switching key is stored on 32 bits: its rounding adds 2^-64/12 per entry.
        let key_var = self.lwe_noise_std.powi(2) + 2f64.powi(-64) / 12.0;
        big * l * (b * b / 12.0) * key_var + big / 2.0 * dropped
    }

    /// Variance of rounding the small ciphertext's `n + 1` coefficients to multiples of
    /// `1 / 2N` (the mask terms weighted by binary key bits, mean square 1/2).
    pub fn modulus_switch_variance(&self) -> f64 {
        let two_n = 2.0 * self.polynomial_size as f64;
        (1.0 + self.lwe_dimension as f64 / 2.0) / (12.0 * two_n * two_n)
    }

    /// log2 of the probability that one bootstrap decodes wrongly when its input is a linear
    /// combination of bootstrapped ciphertexts with squared 2-norm `norm2` (8 for XOR, 2 for
    /// NAND, 1 for a lookup table of a bootstrapped value), for messages of `bits` bits with a
    /// padding bit (gates: `bits = 1`, where the decision margin is 1/8 as well).
    pub fn log2_failure_probability(&self, bits: u32, norm2: f64) -> f64 {
        self.log2_failure_with(bits, norm2 * self.bootstrap_output_variance())
    }

    /// log2 of the probability that decrypting an integer at scale `2^(64 - width)` rounds
    /// to the wrong one when its noise has this variance.
    pub fn log2_decryption_failure(&self, width: u32, variance: f64) -> f64 {
        log2_erfc(2f64.powi(-(width as i32) - 1) / (2.0 * variance).sqrt())
    }

    /// The same bound for an input of any noise variance (fraction of the torus, squared).
    pub fn log2_failure_with(&self, bits: u32, input_variance: f64) -> f64 {
        let var = input_variance + self.keyswitch_variance() + self.modulus_switch_variance();
        let margin = 2f64.powi(-(bits as i32) - 2);
        log2_erfc(margin / (2.0 * var).sqrt())
    }
}

/// log2 of erfc(x) for x >= 0, from the Chebyshev fit of Numerical Recipes (fractional error
/// under 1.2e-7 everywhere), computed in the log domain so deep tails do not underflow.
fn log2_erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    (t.ln() + poly) / std::f64::consts::LN_2
}

/// Named parameter sets. The two secure ones are TFHE-rs's (Zama), whose security Zama
/// estimated with the lattice estimator; see docs/security-lwe.md.
pub mod presets {
    use super::*;

    /// Boolean gates, 128-bit: TFHE-rs `boolean::parameters::DEFAULT_PARAMETERS_KS_PBS`
    /// (132 bits, failure probability 2^-64 per gate by Zama's analysis).
    pub fn gates_128() -> BootstrapParams {
        BootstrapParams {
            name: "gates_128".into(),
            lwe_dimension: 739,
            glwe_dimension: 3,
            polynomial_size: 512,
            lwe_noise_std: 1.830_452_073_350_730_5e-5,
            glwe_noise_std: 9.315_272_083_503_367e-10,
            pbs: BlindRotation::classic(10, 2),
            light_pbs: None,
            coarse_pbs: None,
            ks: Decomposition {
                base_log: 3,
                levels: 4,
            },
            message_bits: 1,
            security_bits: 128,
        }
    }

    /// 6-bit programmable bootstrapping, 128-bit: TFHE-rs
    /// `shortint::parameters::PARAM_MESSAGE_3_CARRY_3_KS_PBS` (6 bits of message and carry
    /// plus the padding bit).
    pub fn pbs6_128() -> BootstrapParams {
        BootstrapParams {
            name: "pbs6_128".into(),
            lwe_dimension: 864,
            glwe_dimension: 1,
            polynomial_size: 8192,
            lwe_noise_std: 7.579_980_201_504_46e-7,
            glwe_noise_std: 2.168_404_344_971_009e-19,
            pbs: BlindRotation::classic(15, 2),
            light_pbs: None,
            coarse_pbs: None,
            ks: Decomposition {
                base_log: 3,
                levels: 6,
            },
            message_bits: 6,
            security_bits: 128,
        }
    }

    /// Exact arithmetic on wide integers (`ServerKey::floor_shift`, `clamped_table`), 128-bit:
    /// the LWE/GLWE dimensions and noise of TFHE-rs
    /// `shortint::parameters::V1_1_PARAM_MESSAGE_2_CARRY_2_KS_PBS_GAUSSIAN_2M64` (security
    /// depends on those only), with a three-level bootstrapping decomposition of 12-bit digits
    /// instead of one of 23 bits: bootstrap outputs 2^-25.4 of the torus (2^-14.8 with one
    /// level; 2^-27.8 with four of 9 bits, which the MNIST network does not need), so
    /// weighted sums of hundreds of them keep 16-bit integers exact, and 4-bit tables still
    /// fail below 2^-40. Two more keys run the bootstraps inside a wide operation, whose
    /// outputs are only read by further bootstraps, both multi-bit (two key bits per step,
    /// half the transforms of a CMux per key bit for 1.5 times the key): a light one (two levels
    /// of 15-bit digits, outputs 2^-21.5) and a coarse one (TFHE-rs's own single level of 23
    /// bits, outputs 2^-14.2) for the bootstraps whose outputs are lifted least. The full key
    /// stays one bit per step: grouped, its outputs would be 1.7 times noisier, more than the
    /// MNIST network's sums of 500 of them allow. Each key is another encryption of the same
    /// key bits (or of products of them) under the same GLWE key and noise: the security
    /// estimate is unchanged.
    pub fn wide_128() -> BootstrapParams {
        BootstrapParams {
            name: "wide_128".into(),
            lwe_dimension: 833,
            glwe_dimension: 1,
            polynomial_size: 2048,
            lwe_noise_std: 3.615_840_837_330_933_6e-6,
            glwe_noise_std: 2.845_267_479_601_915e-15,
            pbs: BlindRotation::classic(12, 3),
            light_pbs: Some(BlindRotation::grouped(15, 2, 2)),
            coarse_pbs: Some(BlindRotation::grouped(23, 1, 2)),
            ks: Decomposition {
                base_log: 3,
                levels: 5,
            },
            message_bits: 4,
            security_bits: 128,
        }
    }

    /// `wide_128`'s shape (4-bit tables, its three decompositions) at a tiny LWE dimension:
    /// fast wide-integer tests, no security.
    pub fn insecure_wide_test() -> BootstrapParams {
        BootstrapParams {
            name: "insecure_wide_test".into(),
            lwe_dimension: 32,
            lwe_noise_std: 2f64.powi(-28),
            glwe_noise_std: 2f64.powi(-50),
            ks: Decomposition {
                base_log: 4,
                levels: 6,
            },
            security_bits: 0,
            ..wide_128()
        }
    }

    /// Tiny and fast, for tests only: 6-bit tables with a 2^-40-ish failure rate, no security.
    pub fn insecure_test() -> BootstrapParams {
        BootstrapParams {
            name: "insecure_test".into(),
            lwe_dimension: 32,
            glwe_dimension: 1,
            polynomial_size: 2048,
            lwe_noise_std: 2f64.powi(-28),
            glwe_noise_std: 2f64.powi(-50),
            pbs: BlindRotation::classic(12, 2),
            light_pbs: None,
            coarse_pbs: None,
            ks: Decomposition {
                base_log: 4,
                levels: 6,
            },
            message_bits: 6,
            security_bits: 0,
        }
    }

    /// Every named set, secure ones first: what a command line or a service accepts by name.
    pub const NAMES: [&str; 5] = [
        "gates_128",
        "wide_128",
        "pbs6_128",
        "insecure_wide_test",
        "insecure_test",
    ];

    /// The set called `name`, if there is one: one of [`NAMES`], or one of them with the
    /// bootstrapping keys it keeps (`wide_128:full+coarse`, see
    /// [`BootstrapParams::keeping`]).
    pub fn by_name(name: &str) -> Option<BootstrapParams> {
        if let Some((base, kept)) = name.split_once(':') {
            let mut levels = Vec::new();
            for level in kept.split('+') {
                levels.push(match level {
                    "full" => KeyLevel::Full,
                    "light" => KeyLevel::Light,
                    "coarse" => KeyLevel::Coarse,
                    _ => return None,
                });
            }
            let set = by_name(base)?.keeping(&levels);
            // Only the canonical spelling of a set that exists names it.
            return (set.name == name).then_some(set);
        }
        Some(match name {
            "gates_128" => gates_128(),
            "wide_128" => wide_128(),
            "pbs6_128" => pbs6_128(),
            "insecure_wide_test" => insecure_wide_test(),
            "insecure_test" => insecure_test(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_by_name_and_with_fewer_keys() {
        for name in presets::NAMES {
            assert_eq!(presets::by_name(name).unwrap().name, name);
        }
        let wide = presets::wide_128();
        let fc = wide.keeping(&[KeyLevel::Full, KeyLevel::Coarse]);
        assert_eq!(fc.name, "wide_128:full+coarse");
        assert_eq!((fc.light_pbs, fc.coarse_pbs), (None, wide.coarse_pbs));
        assert_eq!(presets::by_name("wide_128:full+coarse"), Some(fc.clone()));
        assert_eq!(fc.resolve(KeyLevel::Light), KeyLevel::Full);
        assert_eq!(
            wide.keeping(&[KeyLevel::Full, KeyLevel::Light, KeyLevel::Coarse]),
            wide
        );
        assert_eq!(
            presets::by_name("wide_128:full").unwrap().name,
            "wide_128:full"
        );
        for bad in [
            "wide_128:",
            "wide_128:coarse+full",
            "wide_128:full+x",
            "x:full",
            "gates_128:full+light",
        ] {
            assert_eq!(presets::by_name(bad), None, "{bad}");
        }
        fc.validate().unwrap();
    }

    #[test]
    fn presets_validate_and_decrypt_reliably() {
        for p in [
            presets::gates_128(),
            presets::pbs6_128(),
            presets::wide_128(),
            presets::insecure_test(),
            presets::insecure_wide_test(),
        ] {
            p.validate().unwrap();
            let gate = p.log2_failure_probability(1, 8.0);
            let lut = p.log2_failure_probability(p.message_bits, 1.0);
            assert!(gate < -40.0 && lut < -30.0, "{}: {gate} {lut}", p.name);
        }
        // The figures docs/security-lwe.md gives for wide_128: outputs 2^-25.4 of the torus,
        // 4-bit tables of a bootstrapped value failing with probability 2^-65 (the key switch
        // and the modulus switch dominate it).
        let wide = presets::wide_128();
        let output = wide.bootstrap_output_variance().sqrt().log2();
        assert!((output + 25.4).abs() < 0.05, "{output}");
        let lut = wide.log2_failure_probability(4, 1.0);
        assert!((lut + 65.0).abs() < 0.5, "{lut}");
        // With TFHE-rs's one-level key instead (the coarse key): 2^-14.8, where the precision
        // its 23 bits drop is the largest term.
        let one_level = BootstrapParams {
            pbs: BlindRotation::classic(23, 1),
            ..wide
        };
        let output = one_level.bootstrap_output_variance().sqrt().log2();
        assert!((output + 14.8).abs() < 0.05, "{output}");
    }

    #[test]
    fn erfc_matches_known_values() {
        assert!((log2_erfc(1.0) - 0.157_299_207_050_285_f64.log2()).abs() < 1e-6);
        // erfc(6) = 2.1519736712498913e-17.
        assert!((log2_erfc(6.0) - 2.151_973_671_249_891_3e-17_f64.log2()).abs() < 1e-5);
    }

    #[test]
    fn validation_rejects_nonsense() {
        let mut p = presets::insecure_test();
        p.polynomial_size = 1000;
        assert!(p.validate().is_err());
        let mut p = presets::gates_128();
        p.security_bits = 80;
        assert!(p.validate().is_err());
        let mut p = presets::insecure_test();
        p.pbs.levels = 0;
        assert!(p.validate().is_err());
        // Products of digit sizes and counts that overflow 32 bits are refused, not wrapped.
        let mut p = presets::insecure_test();
        p.pbs = BlindRotation::classic(1 << 16, 1 << 16);
        assert!(p.validate().is_err());
        let mut p = presets::insecure_test();
        p.ks.levels = u32::MAX;
        assert!(p.validate().is_err());
        let mut p = presets::insecure_test();
        p.lwe_noise_std = f64::NAN;
        assert!(p.validate().is_err());
    }
}
