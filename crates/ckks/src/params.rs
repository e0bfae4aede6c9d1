//! CKKS parameters: what the user chooses ([`ParamsLiteral`]) and the validated, precomputed
//! context every object is tied to ([`Params`]).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shroud_math::{
    ntt_primes, BasisConverter, CrtComposer, Fingerprint, Modulus, RnsBasis, TailDivider,
};

use crate::security::{estimate_bits, SECURITY_SOURCE};
use crate::CkksError;

/// The choices that define a CKKS instance. Plain data: build a [`Params`] from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamsLiteral {
    /// Ring degree `N = 2^log_n`; there are `N/2` complex slots.
    pub log_n: u32,
    /// Bit sizes of the ciphertext primes `q_0, ..., q_L`; `q_0` holds the final result, every
    /// other prime is consumed by one rescale.
    pub q_bits: Vec<u32>,
    /// Bit sizes of the special primes `P` used only during key switching.
    pub p_bits: Vec<u32>,
    /// Default scale as a power of two.
    pub log_scale: u32,
    /// Number of key-switching digits (the ciphertext primes are split into this many groups).
    /// More digits need a smaller `P` but more NTTs per key switch.
    pub digits: usize,
}

/// Validated parameters with their precomputation. Cheap to clone and compare: two `Params`
/// are the same when they were built from the same primes.
#[derive(Clone)]
pub struct Params {
    inner: Arc<Context>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Params")
            .field("log_n", &self.inner.literal.log_n)
            .field("q_bits", &self.inner.literal.q_bits)
            .field("p_bits", &self.inner.literal.p_bits)
            .field("digits", &self.inner.literal.digits)
            .field("security_bits", &self.inner.security_bits)
            .finish()
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.id == other.inner.id
    }
}

pub(crate) struct Context {
    pub literal: ParamsLiteral,
    pub id: Fingerprint,
    pub security_bits: Option<u32>,
    pub n: usize,
    pub q: Vec<Modulus>,
    pub p: Vec<Modulus>,
    pub levels: Vec<LevelContext>,
}

/// Everything an operation at one level needs.
pub(crate) struct LevelContext {
    /// `q_0, ..., q_level`.
    pub q: RnsBasis,
    /// `q_0, ..., q_level, p_0, ...`: the key-switching basis.
    pub qp: RnsBasis,
    pub digits: Vec<DigitContext>,
    /// Division by `P` from `Q_level * P` (the end of a key switch).
    pub mod_down: TailDivider,
    /// Division by `q_level` (rescaling); none at level 0.
    pub rescale: Option<TailDivider>,
    /// Division by `q_level * P`: a key switch and a rescale in one step.
    pub rescale_mod_down: Option<TailDivider>,
    /// `P mod q_i`.
    pub p_mod_q: Vec<u64>,
    pub composer: CrtComposer,
}

/// One key-switching digit at one level.
pub(crate) struct DigitContext {
    /// Limb indices (into the level's `q`) of this digit.
    pub limbs: std::ops::Range<usize>,
    /// From the digit's primes to every other prime of the level's `qp`, in `qp` order.
    pub extend: BasisConverter,
}

impl Params {
    /// Validates the literal, generates its primes and requires at least 128-bit security.
    pub fn new(literal: ParamsLiteral) -> Result<Self, CkksError> {
        let p = Self::build(literal)?;
        match p.security_bits() {
            Some(_) => Ok(p),
            None => Err(CkksError::Insecure),
        }
    }

    /// Like [`Params::new`] without the security requirement. For tests and toy examples only:
    /// the result may be trivially breakable.
    pub fn new_insecure(literal: ParamsLiteral) -> Result<Self, CkksError> {
        Self::build(literal)
    }

    fn build(literal: ParamsLiteral) -> Result<Self, CkksError> {
        let invalid = |s: &str| Err(CkksError::InvalidParams(s.to_string()));
        if !(4..=16).contains(&literal.log_n) {
            return invalid("log_n must be in 4..=16");
        }
        if literal.q_bits.is_empty() || literal.p_bits.is_empty() {
            return invalid("need at least one ciphertext prime and one special prime");
        }
        if literal
            .q_bits
            .iter()
            .chain(&literal.p_bits)
            .any(|b| !(20..=61).contains(b))
        {
            return invalid("prime sizes must be between 20 and 61 bits");
        }
        if literal.digits == 0 || literal.digits > literal.q_bits.len() {
            return invalid("digits must be between 1 and the number of ciphertext primes");
        }
        if literal.log_scale == 0 || literal.log_scale >= literal.q_bits[0] + 60 {
            return invalid("log_scale must be positive and leave room in q_0");
        }
        let n = 1usize << literal.log_n;
        // A key switch adds about `digits * N * sigma * Q_digit / P` to the message: special
        // primes far smaller than the largest digit make every product and rotation garbage
        // (a silently wrong answer, not an error), so such a chain is refused. At least 8 bits
        // of the scale must stay above that noise.
        let digit_size = literal.q_bits.len().div_ceil(literal.digits);
        let digit_bits = literal
            .q_bits
            .chunks(digit_size)
            .map(|d| d.iter().sum::<u32>())
            .max()
            .unwrap_or(0);
        let p_total: u32 = literal.p_bits.iter().sum();
        let switch_noise_bits = (literal.digits as f64 * n as f64 * 3.2).log2()
            + f64::from(digit_bits.saturating_sub(p_total));
        if switch_noise_bits > f64::from(literal.log_scale) - 8.0 {
            return Err(CkksError::InvalidParams(format!(
                "special primes of {p_total} bits for key-switching digits of up to \
                 {digit_bits} bits: key switching would add 2^{switch_noise_bits:.0} to \
                 messages at scale 2^{}; use more special bits or more digits",
                literal.log_scale
            )));
        }
        // Generate primes size by size, each size searched downward from 2^bits, all distinct.
        let mut taken: Vec<u64> = Vec::new();
        let mut pick = |bits: u32| -> Result<Modulus, CkksError> {
            let m = ntt_primes(bits, n, 1, &taken)?[0];
            taken.push(m.value());
            Ok(m)
        };
        let q = literal
            .q_bits
            .iter()
            .map(|&b| pick(b))
            .collect::<Result<Vec<_>, _>>()?;
        let p = literal
            .p_bits
            .iter()
            .map(|&b| pick(b))
            .collect::<Result<Vec<_>, _>>()?;

        let log_qp: u32 = q.iter().chain(&p).map(|m| m.bits()).sum();
        let security_bits = estimate_bits(literal.log_n, log_qp);

        let q_basis = RnsBasis::new(n, &q)?;
        let p_basis = RnsBasis::new(n, &p)?;
        let levels = (0..q.len())
            .map(|level| Self::level_context(&q_basis, &p_basis, level, digit_size))
            .collect::<Result<Vec<_>, _>>()?;

        // Every field of the literal and the primes it chose.
        let primes = |m: &[Modulus]| m.iter().map(|m| m.value()).collect::<Vec<_>>();
        let id = Fingerprint::of("shroud-ckks-params", &(&literal, primes(&q), primes(&p)));

        Ok(Self {
            inner: Arc::new(Context {
                literal,
                id,
                security_bits,
                n,
                q,
                p,
                levels,
            }),
        })
    }

    fn level_context(
        q_all: &RnsBasis,
        p: &RnsBasis,
        level: usize,
        digit_size: usize,
    ) -> Result<LevelContext, CkksError> {
        let q = q_all.slice(0..level + 1);
        let qp = q.concat(p)?;
        let digits = (0..=level)
            .step_by(digit_size)
            .map(|start| {
                let limbs = start..(start + digit_size).min(level + 1);
                let others = (0..qp.len())
                    .filter(|i| !limbs.contains(i))
                    .map(|i| qp.tables()[i].clone());
                let complement = RnsBasis::from_tables(q.n(), others.collect())?;
                let extend = BasisConverter::new(&q.slice(limbs.clone()), &complement)?;
                Ok(DigitContext { limbs, extend })
            })
            .collect::<Result<Vec<_>, CkksError>>()?;
        let p_mod_q: Vec<u64> = q.moduli().map(|m| p.product_mod(m)).collect();
        let (rescale, rescale_mod_down) = if level == 0 {
            (None, None)
        } else {
            let lower = q.slice(0..level);
            let last = q.slice(level..level + 1);
            (
                Some(TailDivider::new(&lower, &last)?),
                Some(TailDivider::new(&lower, &last.concat(p)?)?),
            )
        };
        Ok(LevelContext {
            mod_down: TailDivider::new(&q, p)?,
            rescale,
            rescale_mod_down,
            composer: CrtComposer::new(&q)?,
            q,
            qp,
            digits,
            p_mod_q,
        })
    }

    pub(crate) fn ctx(&self) -> &Context {
        &self.inner
    }

    pub(crate) fn level_ctx(&self, level: usize) -> Result<&LevelContext, CkksError> {
        self.inner
            .levels
            .get(level)
            .ok_or(CkksError::LevelOutOfRange {
                level,
                max: self.max_level(),
            })
    }

    /// The literal these parameters were built from.
    pub fn literal(&self) -> &ParamsLiteral {
        &self.inner.literal
    }

    /// A fingerprint of the primes and settings; stored in every key and ciphertext.
    pub fn id(&self) -> Fingerprint {
        self.inner.id
    }

    /// Ring degree `N`.
    pub fn n(&self) -> usize {
        self.inner.n
    }

    /// Number of complex slots, `N/2`.
    pub fn slots(&self) -> usize {
        self.inner.n / 2
    }

    /// Highest level: fresh ciphertexts live here, with `max_level + 1` primes.
    pub fn max_level(&self) -> usize {
        self.inner.q.len() - 1
    }

    /// The scale [`Encoder::encode`](crate::Encoder::encode) encodes at, `2^log_scale`.
    pub fn default_scale(&self) -> f64 {
        2f64.powi(self.inner.literal.log_scale as i32)
    }

    /// The ciphertext primes `q_0, ..., q_L`: a ciphertext at level `l` lives modulo the
    /// first `l + 1`.
    pub fn q_moduli(&self) -> &[Modulus] {
        &self.inner.q
    }

    /// The special primes `P`, used only during key switching.
    pub fn p_moduli(&self) -> &[Modulus] {
        &self.inner.p
    }

    /// `log2(QP)`, rounded up per prime: the quantity the security estimate is based on.
    pub fn log_qp(&self) -> u32 {
        self.inner
            .q
            .iter()
            .chain(&self.inner.p)
            .map(|m| m.bits())
            .sum()
    }

    /// Estimated classical security in bits, or `None` when below 128 bits.
    pub fn security_bits(&self) -> Option<u32> {
        self.inner.security_bits
    }

    /// Where [`Self::security_bits`] comes from.
    pub fn security_source(&self) -> &'static str {
        SECURITY_SOURCE
    }

    pub(crate) fn check_same(&self, found: Fingerprint) -> Result<(), CkksError> {
        if found == self.inner.id {
            Ok(())
        } else {
            Err(CkksError::ParamsMismatch {
                expected: self.inner.id,
                found,
            })
        }
    }

    /// `log2 Q_level`, the bits of the modulus a ciphertext at `level` has.
    pub fn log_q(&self, level: usize) -> Result<f64, CkksError> {
        Ok(self
            .level_ctx(level)?
            .q
            .moduli()
            .map(|m| (m.value() as f64).log2())
            .sum())
    }

    /// Refuses a scale that cannot hold a message at `level`: not finite, below 1, or with
    /// no room under the modulus for a value of magnitude 1 and its sign (SEAL's "scale out
    /// of bounds").
    pub fn check_scale(&self, level: usize, scale: f64) -> Result<(), CkksError> {
        let log_q = self.log_q(level)?;
        if !scale.is_finite() || scale < 1.0 || scale.log2() >= log_q - 1.0 {
            return Err(CkksError::ScaleOutOfBounds {
                scale_log2: scale.log2(),
                modulus_log2: log_q,
            });
        }
        Ok(())
    }

    /// Refuses a constant `c` that does not fit at `scale` and `level`: `|c| scale` must
    /// stay below `Q / 2` (a slot of magnitude 1 times `c` would wrap otherwise).
    pub fn check_constant(&self, level: usize, scale: f64, c: f64) -> Result<(), CkksError> {
        let log_q = self.log_q(level)?;
        if !c.is_finite() || (c.abs() * scale).log2() >= log_q - 1.0 {
            return Err(CkksError::ValueOutOfRange(c));
        }
        Ok(())
    }
}

/// Named parameter sets. Every non-test preset is at least 128-bit secure by the HE standard.
pub mod presets {
    use super::ParamsLiteral;

    /// N = 2^13, Q = {60, 40, 40}, P = {60}: the same ring and chain as SEAL's
    /// `{60, 40, 40, 60}`; two multiplicative levels at scale 2^40. 200 bits, 128-bit secure.
    pub fn n13() -> ParamsLiteral {
        ParamsLiteral {
            log_n: 13,
            q_bits: vec![60, 40, 40],
            p_bits: vec![60],
            log_scale: 40,
            digits: 3,
        }
    }

    /// N = 2^13, Q = {35, 28 x 5}, P = {43}: five levels at scale 2^28, six one-prime
    /// key-switching digits. 218 bits, exactly at the 128-bit bound. Values must stay below
    /// 2^6 in magnitude at the last level; a fresh ciphertext is accurate to about 2^-18.
    pub fn n13_l5() -> ParamsLiteral {
        ParamsLiteral {
            log_n: 13,
            q_bits: [vec![35], vec![28; 5]].concat(),
            p_bits: vec![43],
            log_scale: 28,
            digits: 6,
        }
    }

    /// N = 2^14, Q = {50, 36 x 9}, P = {60}: nine levels at scale 2^36, ten one-prime
    /// key-switching digits. 434 bits, 128-bit secure (the bound is 438).
    pub fn n14_l9() -> ParamsLiteral {
        ParamsLiteral {
            log_n: 14,
            q_bits: [vec![50], vec![36; 9]].concat(),
            p_bits: vec![60],
            log_scale: 36,
            digits: 10,
        }
    }

    /// N = 2^14, Q = {60, 40 x 7}, P = {49, 49}: seven levels, four key-switching digits of two
    /// primes. 438 bits, exactly at the 128-bit bound.
    pub fn n14() -> ParamsLiteral {
        ParamsLiteral {
            log_n: 14,
            q_bits: [vec![60], vec![40; 7]].concat(),
            p_bits: vec![49, 49],
            log_scale: 40,
            digits: 4,
        }
    }

    /// N = 2^15 with the Iris paper's chain: Q = {60, 40 x 9} at scale 2^40 (nine levels).
    /// Where the paper's SEAL setup spends one 60-bit special prime and ten digits, this uses
    /// P = {60 x 4} and two digits of five primes, which needs far fewer NTTs per key switch.
    /// 660 bits, 128-bit secure (the bound is 881).
    pub fn n15() -> ParamsLiteral {
        ParamsLiteral {
            log_n: 15,
            q_bits: [vec![60], vec![40; 9]].concat(),
            p_bits: vec![60; 4],
            log_scale: 40,
            digits: 2,
        }
    }

    /// N = 2^12 with three levels. INSECURE: for fast tests only.
    pub fn insecure_test_n12() -> ParamsLiteral {
        ParamsLiteral {
            log_n: 12,
            q_bits: vec![60, 40, 40, 40],
            p_bits: vec![60, 60],
            log_scale: 40,
            digits: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_secure_and_test_preset_is_not() {
        for lit in [
            presets::n13(),
            presets::n13_l5(),
            presets::n14(),
            presets::n14_l9(),
        ] {
            let p = Params::new(lit).unwrap();
            assert!(p.security_bits().unwrap() >= 128, "{p:?}");
        }
        let lit = presets::insecure_test_n12();
        assert!(matches!(Params::new(lit.clone()), Err(CkksError::Insecure)));
        let p = Params::new_insecure(lit).unwrap();
        assert_eq!(p.security_bits(), None);
        assert_eq!(p.max_level(), 3);
        assert_eq!(p.slots(), 2048);
    }

    #[test]
    fn bad_literals_are_rejected() {
        let good = presets::insecure_test_n12();
        let mut bad = good.clone();
        bad.digits = 0;
        assert!(Params::new_insecure(bad).is_err());
        let mut bad = good.clone();
        bad.q_bits.push(70);
        assert!(Params::new_insecure(bad).is_err());
        let mut bad = good.clone();
        bad.p_bits.clear();
        assert!(Params::new_insecure(bad).is_err());
        let mut bad = good.clone();
        bad.log_n = 30;
        assert!(Params::new_insecure(bad).is_err());
        // One digit of all four primes (180 bits) over 120 special bits: key switching would
        // bury every message.
        let mut bad = good;
        bad.digits = 1;
        let e = Params::new_insecure(bad).unwrap_err().to_string();
        assert!(e.contains("special primes"), "{e}");
    }

    #[test]
    fn identity_follows_primes() {
        let a = Params::new_insecure(presets::insecure_test_n12()).unwrap();
        let b = Params::new_insecure(presets::insecure_test_n12()).unwrap();
        assert_eq!(a, b);
        let mut lit = presets::insecure_test_n12();
        lit.q_bits[1] = 41;
        assert_ne!(a, Params::new_insecure(lit).unwrap());
    }
}
