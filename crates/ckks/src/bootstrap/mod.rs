//! CKKS bootstrapping: a ciphertext whose levels are used up is brought back to a high level
//! with the same message, up to a small error.
//!
//! The pipeline (Cheon, Han, Kim, Kim, Song, "Bootstrapping for approximate homomorphic
//! encryption", EUROCRYPT 2018, with the improvements of Chen, Chillotti, Song 2019 and
//! Bossuat, Mouchet, Troncoso-Pastoriza, Hubaux 2021):
//! 1. modulus raising: the ciphertext at the last prime `q_0` is read modulo the whole
//!    chain, so its plaintext becomes `t = m + q_0 I` for a small integer polynomial `I`;
//!    a sparse packing of `n` slots then sums its rotations by multiples of `n`, which keeps
//!    only the part of `t` in the subring of the `2n` coefficients that carry the message;
//! 2. CoeffsToSlots ([`dft`]): a homomorphic inverse DFT puts the coefficients of `t`,
//!    divided by `K q_0`, into the slots, split into real parts (the first `n` coefficients)
//!    and imaginary parts (the next `n`) with one conjugation;
//! 3. modular reduction: `sin(2 pi t / q_0) / 2 pi` is `m / q_0` up to a cubic error; it is
//!    computed as `cos(2 pi (x - 1/4) / 2^r)` by a Chebyshev interpolant on `[-K, K]` and
//!    `r` double angles `cos 2a = 2 cos^2 a - 1`;
//! 4. SlotsToCoeffs ([`dft`]): the DFT puts the coefficients back, times `q_0 / (2 pi)`.
//!
//! The levels are consumed from the top: CoeffsToSlots, the reduction, SlotsToCoeffs; what
//! is left below is the user's ([`Bootstrapper::output_level`]).

pub mod dft;
pub mod presets;

use shroud_math::{RnsBasis, RnsPoly, TailDivider};

use crate::linear::EncodedMap;
use crate::polynomial::Chebyshev;
use crate::{Ciphertext, CkksError, Encoder, Evaluator, Params};

/// What a bootstrapping circuit is made of; see [`Bootstrapper::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct BootstrapSpec {
    /// Slots of the ciphertexts to refresh: a power of two up to `N/2`; fewer is a sparse
    /// packing (the `slots` values repeated), which is cheaper.
    pub slots: usize,
    /// Levels granted to CoeffsToSlots: fewer levels, more rotations.
    pub coeffs_to_slots_levels: usize,
    /// Levels granted to SlotsToCoeffs, likewise: fewer levels, more rotations.
    pub slots_to_coeffs_levels: usize,
    /// A bound on `|I|`, the multiple of `q_0` modulus raising adds: it grows with the
    /// square root of the secret's Hamming weight. Values beyond it come out wrong.
    pub k: f64,
    /// Double angles after the interpolation: each halves the interval the polynomial must
    /// follow, for one level.
    pub double_angles: u32,
    /// Degree of the Chebyshev interpolant of the scaled cosine.
    pub degree: usize,
    /// Modulus raising under an ephemeral sparse secret ([`crate::EncapsulationKey`]), which
    /// keeps `|I|` within a small `K` whatever the secret. Without it, `K` must bound the
    /// overflow of the secret itself: only a sparse secret (tests) keeps it small.
    pub encapsulated: bool,
}

impl BootstrapSpec {
    /// Levels the modular reduction consumes: the cosine's and the double angles'.
    pub fn reduction_levels(&self) -> usize {
        Chebyshev::depth_of(self.degree) + self.double_angles as usize
    }

    /// Levels the whole circuit consumes above its output level.
    pub fn levels(&self) -> usize {
        self.coeffs_to_slots_levels + self.reduction_levels() + self.slots_to_coeffs_levels
    }
}

/// The least scale of a SlotsToCoeffs map's diagonals: 26 bits of the DFT's entries.
const MIN_DIAGONAL_SCALE: f64 = (1u64 << 26) as f64;

/// A bootstrapping circuit for one parameter set: its linear maps encoded and its
/// polynomial interpolated once.
pub struct Bootstrapper {
    params: Params,
    spec: BootstrapSpec,
    to_slots: Vec<EncodedMap>,
    to_coeffs: Vec<EncodedMap>,
    cosine: Chebyshev,
    /// The scale during the modular reduction: that of the prime below CoeffsToSlots.
    reduction_scale: f64,
    output_level: usize,
}

impl Bootstrapper {
    /// Plans the circuit for `params` and encodes its maps. Refuses a spec whose levels do
    /// not fit under the parameters' top level.
    pub fn new(params: &Params, spec: BootstrapSpec) -> Result<Self, CkksError> {
        let n = spec.slots;
        let top = params.max_level();
        let ring = params.n() as f64;
        // Past 2^20 the cosine's interval needs no more halving: a larger K is a mistake.
        if !(spec.k.is_finite() && (1.0..=1e6).contains(&spec.k))
            || spec.degree == 0
            || spec.double_angles > 20
        {
            return Err(CkksError::InvalidParams(format!(
                "bootstrapping bound K = {}, degree {}, {} double angles",
                spec.k, spec.degree, spec.double_angles
            )));
        }
        // Half a unit beyond K for the message and the noise riding on the integer part.
        let k_half_width = spec.k + 0.5;
        let r = spec.double_angles;
        let cosine = Chebyshev::interpolate(
            |y| (std::f64::consts::TAU * (k_half_width * y - 0.25) / f64::from(1u32 << r)).cos(),
            -1.0,
            1.0,
            spec.degree,
        )?;
        let used = spec.levels();
        if used > top {
            return Err(CkksError::InvalidParams(format!(
                "bootstrapping needs {used} levels above the output, the parameters have {top}"
            )));
        }
        let prime = |level: usize| params.q_moduli()[level].value() as f64;
        let encoder = Encoder::new(params);
        let q0 = prime(0);

        // CoeffsToSlots at levels top, top - 1, ...: each map's diagonals at the scale of the
        // prime its rescale removes, so the scale stays the reduction scale.
        let reduction_level = top - spec.coeffs_to_slots_levels;
        let reduction_scale = prime(reduction_level);
        let to_slots_factor = reduction_scale / (q0 * k_half_width * ring);
        let to_slots =
            dft::coeffs_to_slots(&encoder, n, spec.coeffs_to_slots_levels, to_slots_factor)?
                .iter()
                .enumerate()
                .map(|(i, m)| m.encode(&encoder, top - i, prime(top - i)))
                .collect::<Result<Vec<_>, _>>()?;

        // The scale after the double angles, each a square rescaled by its level's prime.
        let mut level = reduction_level - Chebyshev::depth_of(spec.degree);
        let mut scale = reduction_scale;
        for _ in 0..r {
            scale = scale * scale / prime(level);
            level -= 1;
        }
        // SlotsToCoeffs multiplies by q_0 / (2 pi) / scale and brings the scale down to the
        // default one exactly. The scale falls as late as the diagonals allow: the first map
        // keeps as much of it as the others' diagonals (at least MIN_DIAGONAL_SCALE each)
        // leave, so that the rescale noise stays small beside the values until the last map.
        let default_scale = params.default_scale();
        let factor = q0 / (std::f64::consts::TAU * default_scale);
        let maps = dft::slots_to_coeffs(&encoder, n, spec.slots_to_coeffs_levels, factor)?;
        let primes: Vec<f64> = (0..maps.len()).map(|i| prime(level - i)).collect();
        let mut diagonal_scales = Vec::with_capacity(maps.len());
        let mut current = scale;
        for (i, q) in primes.iter().enumerate() {
            let below: f64 = primes[i + 1..].iter().product();
            let left = maps.len() - 1 - i;
            // The scale this map may keep so that the ones after it still reach the default.
            let keep = default_scale * below / MIN_DIAGONAL_SCALE.powi(left as i32);
            let pt_scale = if left == 0 {
                default_scale * q / current
            } else {
                (keep.min(current) * q / current).min(*q)
            };
            current = current * pt_scale / q;
            diagonal_scales.push(pt_scale);
        }
        let to_coeffs = maps
            .iter()
            .zip(&diagonal_scales)
            .enumerate()
            .map(|(i, (m, &pt_scale))| m.encode(&encoder, level - i, pt_scale))
            .collect::<Result<Vec<_>, _>>()?;
        let output_level = level - maps.len();
        Ok(Self {
            params: params.clone(),
            spec,
            to_slots,
            to_coeffs,
            cosine,
            reduction_scale,
            output_level,
        })
    }

    /// The spec the circuit was planned from.
    pub fn spec(&self) -> &BootstrapSpec {
        &self.spec
    }

    /// The level of refreshed ciphertexts: the levels left to the user.
    pub fn output_level(&self) -> usize {
        self.output_level
    }

    /// The rotations of the subring sum: by `n, 2n, ...` below `N/2` (none at full slots).
    fn subring_steps(&self) -> impl Iterator<Item = i64> + '_ {
        let slots = self.params.slots();
        std::iter::successors(Some(self.spec.slots), |&s| Some(s * 2))
            .take_while(move |&s| s < slots)
            .map(|s| s as i64)
    }

    /// Every rotation the circuit needs a Galois key for; it also needs conjugation and
    /// relinearization.
    pub fn rotation_steps(&self) -> Vec<i64> {
        let mut steps: Vec<i64> = self.subring_steps().collect();
        for m in self.to_slots.iter().chain(&self.to_coeffs) {
            steps.extend(m.rotation_steps());
        }
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// The Galois elements of every key the circuit switches with: its rotations and
    /// conjugation (what [`KeyGenerator::galois_keys_for_elements`](crate::KeyGenerator::galois_keys_for_elements)
    /// takes). It also needs relinearization and, for an encapsulated spec, the encapsulation key.
    pub fn galois_elements(&self) -> Vec<u64> {
        let n = self.params.n();
        let mut elements: Vec<u64> = self
            .rotation_steps()
            .into_iter()
            .map(|s| crate::galois_element(s, n))
            .chain([crate::conjugation_element(n)])
            .collect();
        elements.sort_unstable();
        elements.dedup();
        elements
    }

    /// A fresh encryption of the message of `ct` at [`Self::output_level`], at the scale of
    /// `ct`. The message must repeat with the spec's slot count and its values stay within 1
    /// in magnitude (a few times more at a loss of precision). A ciphertext that still has
    /// the output level's levels is refused: bootstrapping it would only lose precision.
    pub fn bootstrap(&self, eval: &Evaluator, ct: &Ciphertext) -> Result<Ciphertext, CkksError> {
        eval.check_ct(ct)?;
        if ct.degree() != 1 {
            return Err(CkksError::NotRelinearized(ct.degree()));
        }
        if ct.level >= self.output_level {
            return Err(CkksError::InvalidParams(format!(
                "a ciphertext at level {} needs no bootstrapping, which refreshes to level {}",
                ct.level, self.output_level
            )));
        }
        let default_scale = self.params.default_scale();
        if !(ct.scale > default_scale / 4.0 && ct.scale < default_scale * 4.0) {
            return Err(CkksError::ScaleOutOfBounds {
                scale_log2: ct.scale.log2(),
                modulus_log2: self.params.log_q(0)?,
            });
        }
        let mut x = self.raise(eval, ct)?;
        // Sparse packing: the sum over rotations by multiples of the slot count keeps the
        // subring part of t, times N / (2 n).
        for step in self.subring_steps() {
            let r = eval.rotate(&x, step)?;
            eval.add_assign(&mut x, &r)?;
        }
        for map in &self.to_slots {
            x = eval.rescale(&eval.apply_linear(&x, map)?)?;
        }
        // Real and imaginary parts (times two), by conjugation.
        let conj = eval.conjugate(&x)?;
        let re = eval.add(&x, &conj)?;
        let im = eval.negate(&mul_by_i(eval, &eval.sub(&x, &conj)?)?)?;
        let coeffs = if self.spec.slots < self.params.slots() {
            // Side by side in one period of 2n: one modular reduction for both.
            let moved = eval.rotate(&im, self.spec.slots as i64)?;
            let both = eval.add(&re, &moved)?;
            self.reduce(eval, &both)?
        } else {
            let (re, im) = (self.reduce(eval, &re)?, self.reduce(eval, &im)?);
            eval.add(&re, &mul_by_i(eval, &im)?)?
        };
        let mut y = coeffs;
        for map in &self.to_coeffs {
            y = eval.rescale(&eval.apply_linear(&y, map)?)?;
        }
        // The maps assumed the default scale; the message keeps the scale it came with.
        y.scale *= ct.scale / default_scale;
        Ok(y)
    }

    /// `ct` read modulo the whole chain, at the top level and the reduction scale (the
    /// CoeffsToSlots factor divides by `q_0` itself, not by the input's scale).
    fn raise(&self, eval: &Evaluator, ct: &Ciphertext) -> Result<Ciphertext, CkksError> {
        let mut low = eval.mod_drop_to(ct, 0)?;
        let keys = if self.spec.encapsulated {
            let keys = eval
                .encapsulation
                .as_ref()
                .ok_or(CkksError::MissingEncapsulationKey)?;
            // Under the sparse secret from here to the switch back.
            to_sparse(eval, &mut low, &keys.0)?;
            Some(keys)
        } else {
            None
        };
        let ctx = self.params.ctx();
        let q0 = &ctx.levels[0].q;
        let top = &ctx.levels[self.params.max_level()].q;
        let polys = low.polys.iter().map(|p| lift(p, q0, top)).collect();
        let mut raised = Ciphertext {
            tag: ct.tag,
            level: self.params.max_level(),
            scale: self.reduction_scale,
            polys,
        };
        if let Some((_, to_dense)) = keys {
            let (u0, u1) = eval.key_switch(&raised.polys[1], to_dense, raised.level);
            let basis = &eval.params().ctx().levels[raised.level].q;
            raised.polys[0].add_assign(basis, &u0);
            raised.polys[1] = u1;
        }
        Ok(raised)
    }

    /// `sin(2 pi x K') / (2 pi)`-like reduction of slots `x` in `[-1, 1]` (times `K' q_0`):
    /// the interpolated cosine and the double angles.
    fn reduce(&self, eval: &Evaluator, x: &Ciphertext) -> Result<Ciphertext, CkksError> {
        let mut c = eval.evaluate_chebyshev(x, &self.cosine)?;
        for _ in 0..self.spec.double_angles {
            let square = eval.mul_relin_rescale(&c, &c)?;
            c = eval.add_scalar(&eval.mul_integer(&square, 2)?, -1.0)?;
        }
        Ok(c)
    }
}

/// A one-limb polynomial (evaluation form over `from`) read as its centered residues and
/// put in evaluation form over `to`: the exact integer, not the fast conversion's, so that
/// modulus raising adds no more than the `q_0 I` of the secret's overflow.
fn lift(p: &RnsPoly, from: &RnsBasis, to: &RnsBasis) -> RnsPoly {
    let m = from.modulus(0).value();
    let mut coeffs = p.clone();
    coeffs.ntt_backward(from);
    let centered: Vec<i64> = coeffs
        .limb(0)
        .iter()
        .map(|&v| {
            if v > m / 2 {
                -((m - v) as i64)
            } else {
                v as i64
            }
        })
        .collect();
    let mut out = RnsPoly::from_signed(to, &centered);
    out.ntt_forward(to);
    out
}

/// `ct`, at level 0, switched to the sparse secret with `(b, a)` over `q_0 p_0`: `c_1`
/// extended to `p_0`, multiplied by the key, and divided by `p_0` with rounding,
/// `(c_0 + u_0, u_1)`.
fn to_sparse(
    eval: &Evaluator,
    ct: &mut Ciphertext,
    key: &(RnsPoly, RnsPoly),
) -> Result<(), CkksError> {
    let small = crate::EncapsulationKey::sparse_basis(eval.params())?;
    let (q0, p0) = (small.slice(0..1), small.slice(1..2));
    let divider = TailDivider::new(&q0, &p0)?;
    let mut extended = ct.polys[1].clone();
    extended.extend(&lift(&ct.polys[1], &q0, &p0));
    let [u0, u1] = [&key.0, &key.1].map(|k| {
        let mut u = k.clone();
        u.mul_assign(&small, &extended);
        divider.divide(u)
    });
    ct.polys[0].add_assign(&q0, &u0);
    ct.polys[1] = u1;
    Ok(())
}

/// `ct` times `i` in every slot: the monomial `X^(N/2)` evaluates to `i` at every slot's
/// root, so the product is exact and costs no level.
pub(crate) fn mul_by_i(eval: &Evaluator, ct: &Ciphertext) -> Result<Ciphertext, CkksError> {
    let params = eval.params();
    let basis = &params.ctx().levels[ct.level].q;
    let mut monomial = vec![0i64; params.n()];
    monomial[params.n() / 2] = 1;
    let mut m = RnsPoly::from_signed(basis, &monomial);
    m.ntt_forward(basis);
    let mut out = ct.clone();
    out.polys.iter_mut().for_each(|p| p.mul_assign(basis, &m));
    Ok(out)
}

/// An evaluator with the relinearization, rotation and conjugation keys `boot` needs (the
/// tests' setup; encapsulation keys are added where a test wants them).
#[cfg(test)]
pub(crate) fn keyed_evaluator(
    boot: &Bootstrapper,
    kg: &mut crate::KeyGenerator,
    sk: &crate::SecretKey,
) -> Evaluator {
    let steps = boot.rotation_steps();
    Evaluator::new(&boot.params)
        .with_relin_key(kg.relin_key(sk).unwrap())
        .unwrap()
        .with_galois_keys(kg.galois_keys(sk, &steps, true).unwrap())
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Complex64, Decryptor, Encryptor, KeyGenerator, ParamsLiteral};

    /// N = 2^11 with a chain for a bootstrap of two CoeffsToSlots levels, the reduction and
    /// two SlotsToCoeffs levels, and two levels left. INSECURE.
    fn params() -> Params {
        Params::new_insecure(ParamsLiteral {
            log_n: 11,
            q_bits: [vec![55, 40, 40], vec![40; 2], vec![55; 10], vec![55; 2]].concat(),
            p_bits: vec![60, 60],
            log_scale: 40,
            digits: 9,
        })
        .unwrap()
    }

    fn spec(slots: usize) -> BootstrapSpec {
        BootstrapSpec {
            slots,
            coeffs_to_slots_levels: 2,
            slots_to_coeffs_levels: 2,
            k: 12.0,
            double_angles: 3,
            degree: 44,
            encapsulated: false,
        }
    }

    struct Fixture {
        params: Params,
        sk: crate::SecretKey,
        kg: KeyGenerator,
        encoder: Encoder,
    }

    fn fixture() -> Fixture {
        let params = params();
        let mut kg = KeyGenerator::with_seed(&params, 21);
        // A sparse secret keeps I below K.
        let sk = kg.sparse_secret_key(32);
        Fixture {
            encoder: Encoder::new(&params),
            params,
            sk,
            kg,
        }
    }

    impl Fixture {
        fn evaluator(&mut self, boot: &Bootstrapper) -> Evaluator {
            keyed_evaluator(boot, &mut self.kg, &self.sk)
        }

        fn encrypt(&self, values: &[Complex64], level: usize) -> Ciphertext {
            let slots = self.params.slots();
            let full: Vec<Complex64> = values.iter().cycle().take(slots).copied().collect();
            let pt = self
                .encoder
                .encode_complex_at(&full, level, self.params.default_scale())
                .unwrap();
            Encryptor::with_secret_key(&self.params, &self.sk)
                .unwrap()
                .encrypt(&pt)
                .unwrap()
        }

        fn decrypt(&self, ct: &Ciphertext) -> Vec<Complex64> {
            let dec = Decryptor::new(&self.params, &self.sk).unwrap();
            self.encoder
                .decode_complex(&dec.decrypt(ct).unwrap())
                .unwrap()
        }
    }

    #[test]
    fn bootstrapping_restores_levels_and_the_message() {
        let mut f = fixture();
        for slots in [8, f.params.slots()] {
            let boot = Bootstrapper::new(&f.params, spec(slots)).unwrap();
            let eval = f.evaluator(&boot);
            let values: Vec<Complex64> = (0..slots)
                .map(|i| Complex64::new((i as f64 * 0.9).sin(), (i as f64 * 0.4).cos() * 0.5))
                .collect();
            let out = boot.bootstrap(&eval, &f.encrypt(&values, 0)).unwrap();
            assert_eq!(out.level(), boot.output_level());
            assert!(boot.output_level() >= 2);
            assert_eq!(out.scale(), f.params.default_scale());
            let got = f.decrypt(&out);
            let err = got
                .iter()
                .enumerate()
                .map(|(i, z)| (z - values[i % slots]).norm())
                .fold(0.0, f64::max);
            // About 2^-18 sparse and 2^-14 at full slots with this small chain.
            assert!(
                err < 2f64.powi(-12),
                "slots {slots}: error 2^{:.1}",
                err.log2()
            );
            // The refreshed ciphertext computes on: a product at the recovered levels.
            let square = eval.mul_relin_rescale(&out, &out).unwrap();
            let got = f.decrypt(&square);
            let err = (got[1] - values[1] * values[1]).norm();
            assert!(err < 2f64.powi(-10), "slots {slots}: square off by {err}");
        }
    }

    #[test]
    fn encapsulation_bootstraps_under_a_uniform_secret() {
        let params = params();
        let mut kg = KeyGenerator::with_seed(&params, 23);
        let sk = kg.secret_key();
        let encoder = Encoder::new(&params);
        let values: Vec<Complex64> = (0..8)
            .map(|i| Complex64::new((i as f64 * 0.7).cos(), 0.0))
            .collect();
        let full: Vec<Complex64> = values
            .iter()
            .cycle()
            .take(params.slots())
            .copied()
            .collect();
        let pt = encoder
            .encode_complex_at(&full, 0, params.default_scale())
            .unwrap();
        let ct = Encryptor::with_secret_key(&params, &sk)
            .unwrap()
            .encrypt(&pt)
            .unwrap();
        let dec = Decryptor::new(&params, &sk).unwrap();
        let error = |boot: &Bootstrapper, eval: &Evaluator| {
            let out = boot.bootstrap(eval, &ct).unwrap();
            let got = encoder.decode_complex(&dec.decrypt(&out).unwrap()).unwrap();
            got.iter()
                .zip(&full)
                .map(|(a, b)| (a - b).norm())
                .fold(0.0, f64::max)
        };
        // Without encapsulation, at full slots: every one of the N coefficients must stay
        // within K = 12, and a uniform secret's overflow (a standard deviation near 11 here)
        // leaves some far beyond it. (At 8 slots only 16 coefficients count, and now and then
        // all of them stay within K.)
        let plain = Bootstrapper::new(&params, spec(params.slots())).unwrap();
        let eval = keyed_evaluator(&plain, &mut kg, &sk);
        assert!(error(&plain, &eval) > 1e-2);
        let encapsulated = Bootstrapper::new(
            &params,
            BootstrapSpec {
                encapsulated: true,
                ..spec(8)
            },
        )
        .unwrap();
        let eval = keyed_evaluator(&encapsulated, &mut kg, &sk);
        assert!(matches!(
            encapsulated.bootstrap(&eval, &ct),
            Err(CkksError::MissingEncapsulationKey)
        ));
        // Through its serialized form, as a server receives it.
        let bytes = kg
            .encapsulation_key(&sk, 32)
            .unwrap()
            .to_bytes(&params)
            .unwrap();
        assert!(crate::EncapsulationKey::from_bytes(&params, &bytes[..bytes.len() / 2]).is_err());
        let key = crate::EncapsulationKey::from_bytes(&params, &bytes).unwrap();
        let eval = eval.with_encapsulation_key(key).unwrap();
        let err = error(&encapsulated, &eval);
        assert!(err < 2f64.powi(-14), "error 2^{:.1}", err.log2());
        // Another key's encapsulation key is refused.
        let other = KeyGenerator::with_seed(&params, 24).secret_key();
        let foreign = KeyGenerator::with_seed(&params, 24)
            .encapsulation_key(&other, 32)
            .unwrap();
        assert!(matches!(
            Evaluator::new(&params)
                .with_relin_key(kg.relin_key(&sk).unwrap())
                .unwrap()
                .with_encapsulation_key(foreign),
            Err(CkksError::KeyMismatch(_))
        ));
        assert!(kg.encapsulation_key(&sk, 0).is_err());
    }

    #[test]
    fn bootstrapping_refuses_what_it_cannot_refresh() {
        let mut f = fixture();
        let boot = Bootstrapper::new(&f.params, spec(8)).unwrap();
        let values = [Complex64::new(0.5, 0.0); 8];
        // A ciphertext with levels to spare.
        let eval = f.evaluator(&boot);
        let high = f.encrypt(&values, boot.output_level());
        assert!(boot
            .bootstrap(&eval, &high)
            .unwrap_err()
            .to_string()
            .contains("needs no"));
        // Keys missing: no Galois keys, then no relinearization key.
        let low = f.encrypt(&values, 0);
        let bare = Evaluator::new(&f.params);
        assert!(matches!(
            boot.bootstrap(&bare, &low),
            Err(CkksError::MissingGaloisKey(_))
        ));
        let steps = boot.rotation_steps();
        let no_relin = Evaluator::new(&f.params)
            .with_galois_keys(f.kg.galois_keys(&f.sk, &steps, true).unwrap())
            .unwrap();
        assert!(matches!(
            boot.bootstrap(&no_relin, &low),
            Err(CkksError::MissingRelinKey)
        ));
        // Another key's ciphertext.
        let other = KeyGenerator::with_seed(&f.params, 22).sparse_secret_key(32);
        let mut enc = Encryptor::with_secret_key(&f.params, &other).unwrap();
        let foreign = enc
            .encrypt(
                &f.encoder
                    .encode_at(&[0.5], 0, f.params.default_scale())
                    .unwrap(),
            )
            .unwrap();
        assert!(matches!(
            boot.bootstrap(&eval, &foreign),
            Err(CkksError::KeyMismatch(_))
        ));
        // A scale far from the default.
        let pt = f.encoder.encode_at(&[0.5], 0, 2f64.powi(30)).unwrap();
        let odd = Encryptor::with_secret_key(&f.params, &f.sk)
            .unwrap()
            .encrypt(&pt)
            .unwrap();
        assert!(matches!(
            boot.bootstrap(&eval, &odd),
            Err(CkksError::ScaleOutOfBounds { .. })
        ));
    }

    #[test]
    fn specs_that_do_not_fit_are_refused() {
        let params = params();
        let mut deep = spec(8);
        deep.degree = 400;
        assert!(Bootstrapper::new(&params, deep).is_err());
        for slots in [0, 3, params.slots() * 2] {
            assert!(Bootstrapper::new(&params, spec(slots)).is_err());
        }
        let mut bad = spec(8);
        bad.k = f64::NAN;
        assert!(Bootstrapper::new(&params, bad).is_err());
        let mut huge = spec(8);
        huge.degree = usize::MAX;
        assert!(Bootstrapper::new(&params, huge).is_err());
        let mut angles = spec(8);
        angles.double_angles = u32::MAX;
        assert!(Bootstrapper::new(&params, angles).is_err());
    }
}
