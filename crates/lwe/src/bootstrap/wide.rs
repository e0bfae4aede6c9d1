//! Exact arithmetic on integers wider than a bootstrap's message space.
//!
//! A lookup table reads only the top few bits of a phase, so a 16-bit integer cannot enter one
//! directly. [`WideCiphertext`] keeps a signed integer `v` at scale `2^(64 - width)` together
//! with the interval `v` is known to lie in and a bound on its noise; sums with plaintext
//! weights are exact as long as the interval fits `width` bits. Then:
//!
//! - [`ServerKey::floor_shift`] computes `floor(v / 2^r)` exactly by clearing low bits in
//!   rounds of up to `message_bits + 1` bits. A round multiplies the ciphertext by a power of
//!   two so that its lowest `d` bits become the top of the torus, bootstraps the top one of
//!   them with a sign table (the only function the negacyclic rotation computes on a full
//!   torus), subtracts it, then bootstraps the remaining `d - 1` bits, which now have a zero
//!   padding bit, with an ordinary table, and subtracts those. Two bootstraps per round.
//! - [`ServerKey::clamped_table`] computes `T[clamp(v, 0, 2^w - 1)]`: the window digit
//!   `l = v mod 2^w` comes out of one round; the rest `h = floor(v / 2^w)` gives a flag for
//!   "below" or "above" the window, from one table of `h` when `h` is narrow, else from sign
//!   bootstraps of `h` and `h - 1` (after further rounds if `h` is too wide for a sign's
//!   margin); a last table reads `l` and the flag together on the whole torus, where the
//!   negacyclic rotation supplies the "above" half for free. Four bootstraps in all when `h`
//!   is narrow.
//!
//! The `_many` forms run many integers in lock step, every stage of bootstraps as one batch
//! sharing passes over the key; bootstraps whose outputs only feed other bootstraps use the
//! light key when the parameters have one, or the coarse key where the noise they leave is
//! lifted little enough (each round's key is planned with the rest).
//!
//! Every bootstrap's failure probability is checked against [`MAX_LOG2_FAILURE`] from the
//! tracked noise before it runs; an operation that cannot meet it returns an error.

use super::keys::ServerKey;
use super::lwe::LweCiphertext;
use super::params::{BootstrapParams, KeyLevel};
use super::pbs::{Lut, Rotation, MAX_LOG2_FAILURE};
use crate::LweError;

/// A round of `d` bits bootstraps its top bit, then the rest if there is any.
fn round_bootstraps(d: u32) -> usize {
    if d >= 2 {
        2
    } else {
        1
    }
}

/// Bits of the smallest two's-complement register holding every integer of `[lo, hi]`.
pub(crate) fn signed_bits(lo: i64, hi: i64) -> u32 {
    let magnitude = |v: i64| if v < 0 { !v } else { v };
    65 - magnitude(lo).max(magnitude(hi)).leading_zeros()
}

/// What is public about a wide integer: its width, the interval it lies in and its noise.
/// Enough to plan an operation (its bootstraps and whether each meets the failure bound)
/// without a ciphertext.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WideShape {
    /// `v` is stored at scale `2^(64 - width)`.
    pub width: u32,
    /// The smallest value `v` may take.
    pub lo: i64,
    /// The largest value `v` may take.
    pub hi: i64,
    /// Noise variance as a fraction of the torus, squared.
    pub variance: f64,
}

impl WideShape {
    /// Errors if `[lo, hi]` does not fit `width` bits.
    pub fn new(width: u32, lo: i64, hi: i64, variance: f64) -> Result<Self, LweError> {
        if !(2..=62).contains(&width) || lo > hi || signed_bits(lo, hi) > width {
            return Err(LweError::InvalidParams(format!(
                "[{lo}, {hi}] does not fit a {width}-bit wide integer"
            )));
        }
        Ok(Self {
            width,
            lo,
            hi,
            variance,
        })
    }

    /// The scale `2^(64 - width)` of one unit of `v`.
    fn unit(&self) -> u64 {
        1 << (64 - self.width)
    }

    /// The shape of `v - 1`.
    fn minus_one(self) -> Self {
        Self {
            lo: self.lo - 1,
            hi: self.hi - 1,
            ..self
        }
    }
}

/// A signed integer `v` in a known interval, encrypted at scale `2^(64 - width)`.
#[derive(Clone, Debug)]
pub struct WideCiphertext {
    ct: LweCiphertext,
    shape: WideShape,
}

impl WideCiphertext {
    /// Wraps `ct`, an encryption of `v` in `[lo, hi]` at scale `2^(64 - width)` whose noise
    /// has variance at most `variance`; errors if the interval does not fit `width` bits.
    pub fn new(
        ct: LweCiphertext,
        width: u32,
        lo: i64,
        hi: i64,
        variance: f64,
    ) -> Result<Self, LweError> {
        Ok(Self {
            ct,
            shape: WideShape::new(width, lo, hi, variance)?,
        })
    }

    /// `sum_i k_i * x_i + constant`, all terms at one width; the interval is tracked exactly.
    pub fn weighted_sum<'a>(
        terms: impl IntoIterator<Item = (&'a WideCiphertext, i64)> + Clone,
        constant: i64,
    ) -> Result<Self, LweError> {
        let width = terms
            .clone()
            .into_iter()
            .next()
            .ok_or(LweError::EmptySum)?
            .0
            .shape
            .width;
        let (mut lo, mut hi, mut variance) = (constant, constant, 0.0);
        for (x, k) in terms.clone() {
            if x.shape.width != width {
                return Err(LweError::WidthMismatch(width, x.shape.width));
            }
            let scaled = |v: i64| v.checked_mul(k).ok_or(LweError::RangeOverflow);
            let (a, b) = (scaled(x.shape.lo)?, scaled(x.shape.hi)?);
            lo = lo.checked_add(a.min(b)).ok_or(LweError::RangeOverflow)?;
            hi = hi.checked_add(a.max(b)).ok_or(LweError::RangeOverflow)?;
            variance += (k as f64).powi(2) * x.shape.variance;
        }
        let ct = LweCiphertext::weighted_sum(terms.into_iter().map(|(x, k)| (&x.ct, k)))?;
        let ct = ct.with_body_added((constant as u64).wrapping_shl(64 - width));
        Self::new(ct, width, lo, hi, variance)
    }

    /// The LWE ciphertext of `v` at scale `2^(64 - width)`.
    pub fn ciphertext(&self) -> &LweCiphertext {
        &self.ct
    }

    /// What is public about it: width, interval and noise.
    pub fn shape(&self) -> WideShape {
        self.shape
    }

    /// `v` is stored at scale `2^(64 - width)`.
    pub fn width(&self) -> u32 {
        self.shape.width
    }

    /// The interval `v` lies in.
    pub fn range(&self) -> (i64, i64) {
        (self.shape.lo, self.shape.hi)
    }

    /// Bound on the noise variance, as a fraction of the torus, squared.
    pub fn variance(&self) -> f64 {
        self.shape.variance
    }
}

/// Plans wide-integer operations from the parameters alone: the shape each leaves, the
/// bootstraps it takes and the keys they go through, every bootstrap's failure probability
/// checked against [`MAX_LOG2_FAILURE`]. A server plans with it before running anything
/// ([`ServerKey::planner`]), and a compiler plans a whole network without any key.
#[derive(Clone, Copy, Debug)]
pub struct WidePlanner<'a> {
    params: &'a BootstrapParams,
}

impl<'a> WidePlanner<'a> {
    /// A planner for the parameter set `params`.
    pub fn new(params: &'a BootstrapParams) -> Self {
        Self { params }
    }

    /// Noise variance of a bootstrap's output.
    pub fn output_variance(&self) -> f64 {
        self.params.bootstrap_output_variance()
    }

    /// Noise variance of a bootstrap's output through the key at `level` (the next more
    /// precise one if the parameters lack it): the noise rounds and saturation flags add.
    pub fn output_variance_at(&self, level: KeyLevel) -> f64 {
        self.params.at(level).bootstrap_output_variance()
    }

    /// Noise variance of a fresh encryption under the large key.
    pub fn fresh_variance(&self) -> f64 {
        self.params.glwe_noise_std.powi(2)
    }

    /// Errors unless the client decrypts `x` (at its width) correctly but with probability
    /// below the bound: what a result read by the client, not by a bootstrap, must meet.
    pub fn plan_decryption(&self, x: &WideShape) -> Result<(), LweError> {
        within_bound(self.params.log2_decryption_failure(x.width, x.variance))
    }

    /// Errors unless a table of `bits` bits fails with probability below the bound on an
    /// input of this noise variance.
    fn check_failure(&self, bits: u32, input_variance: f64) -> Result<(), LweError> {
        within_bound(self.params.log2_failure_with(bits, input_variance))
    }

    /// A round of `d` bits on `x` through the cheapest key that works, and the shape it
    /// leaves: the coarse key when its bootstraps meet the bound and what it leaves can still
    /// be read by a round of the widest digit (whose margin is the narrowest any later
    /// bootstrap reads `x` with: every read compares the same lifted noise with half a
    /// digit, and the key-switching and modulus-switching noise weigh most on the widest),
    /// otherwise the light key. The last rounds, whose outputs are lifted least, are the
    /// ones that qualify.
    fn plan_cheapest_round(&self, x: &WideShape, d: u32) -> Result<Round, LweError> {
        if self.params.resolve(KeyLevel::Coarse) == KeyLevel::Coarse {
            if let Ok(next) = self.plan_round(x, d, KeyLevel::Coarse) {
                let widest = (self.params.message_bits + 1).min(next.width.saturating_sub(2));
                if widest == 0 || self.plan_round(&next, widest, KeyLevel::Light).is_ok() {
                    return Ok(Round::new(d, KeyLevel::Coarse, next));
                }
            }
        }
        let next = self.plan_round(x, d, KeyLevel::Light)?;
        Ok(Round::new(d, KeyLevel::Light, next))
    }

    /// The shape after a round of `d` bits through the key at `level`, if both of its
    /// bootstraps meet the bound.
    fn plan_round(&self, x: &WideShape, d: u32, level: KeyLevel) -> Result<WideShape, LweError> {
        if d == 0 || d > self.params.message_bits + 1 || d + 1 >= x.width {
            return Err(LweError::InvalidParams(format!(
                "a round of {d} bits on a {}-bit integer",
                x.width
            )));
        }
        let lift = 4f64.powi((x.width - d) as i32);
        let boot = self.output_variance_at(level);
        self.check_failure(d - 1, x.variance * lift)?;
        if d >= 2 {
            self.check_failure(d - 1, (x.variance + boot) * lift)?;
        }
        Ok(WideShape {
            width: x.width - d,
            lo: x.lo.div_euclid(1 << d),
            hi: x.hi.div_euclid(1 << d),
            variance: x.variance + round_bootstraps(d) as f64 * boot,
        })
    }

    /// The rounds of `floor_shift` by `r` and the shape they leave. Each round takes as many
    /// bits as its bootstraps' failure bound allows: a wider digit has a narrower margin, and
    /// while the noise lifted with the digit scales with it, the key-switching and
    /// modulus-switching noise does not.
    fn floor_plan(&self, x: &WideShape, r: u32) -> Result<(Vec<Round>, WideShape), LweError> {
        let (mut shape, mut rounds, mut left) = (*x, Vec::new(), r);
        while left > 0 {
            let widest = left.min(self.params.message_bits + 1);
            let mut last_error = None;
            let step = (1..=widest)
                .rev()
                .find_map(|d| match self.plan_cheapest_round(&shape, d) {
                    Ok(round) => Some(round),
                    Err(e) => {
                        last_error = Some(e);
                        None
                    }
                });
            let round = step.ok_or_else(|| {
                last_error.unwrap_or(LweError::Internal("at least one round size tried"))
            })?;
            shape = round.next;
            left -= round.bits;
            rounds.push(round);
        }
        Ok((rounds, shape))
    }

    /// The shape `floor_shift` by `r` leaves and the bootstraps it takes, once each is checked
    /// against the failure bound.
    pub fn plan_floor_shift(&self, x: &WideShape, r: u32) -> Result<(WideShape, usize), LweError> {
        let (rounds, shape) = self.floor_plan(x, r)?;
        Ok((shape, rounds.iter().map(|r| round_bootstraps(r.bits)).sum()))
    }

    /// The rounds that bring `x` within a sign's margin (a floor keeps the sign), the shape
    /// they leave, and the bits its interval then needs.
    fn plan_sign(&self, x: &WideShape) -> Result<(Vec<Round>, WideShape, u32), LweError> {
        let cap = self.params.message_bits + 1;
        let (mut x, mut rounds) = (*x, Vec::new());
        loop {
            let need = signed_bits(x.lo, x.hi);
            if need <= cap {
                break;
            }
            let round = self.plan_cheapest_round(&x, (need - cap).min(cap))?;
            x = round.next;
            rounds.push(round);
        }
        let need = signed_bits(x.lo, x.hi).max(1);
        self.check_failure(need - 1, x.variance * 4f64.powi((x.width - need) as i32))?;
        Ok((rounds, x, need))
    }

    /// The bootstraps `clamped_table` takes on `x` with a table of `2^w` entries, once every
    /// one of them is checked against the failure bound: an engine plans a whole network with
    /// this before it encrypts anything.
    pub fn plan_clamped_table(&self, x: &WideShape, w: u32) -> Result<usize, LweError> {
        Ok(self.clamped_plan(x, w)?.bootstraps)
    }

    /// The keys `clamped_table` runs its window round and its flag through, the cheapest
    /// pair whose bootstraps all meet the bound, and what they take.
    fn clamped_plan(&self, x: &WideShape, w: u32) -> Result<ClampedPlan, LweError> {
        if w == 0 || w + 1 > self.params.message_bits {
            return Err(LweError::LutSize {
                expected: 1 << (self.params.message_bits - 1),
                found: 1 << w,
            });
        }
        if x.width < w + 3 {
            return Err(LweError::InvalidParams(format!(
                "a {w}-bit window of a {}-bit integer",
                x.width
            )));
        }
        use KeyLevel::{Coarse, Light};
        let mut last_error = None;
        for (window, flag) in [
            (Coarse, Coarse),
            (Light, Coarse),
            (Coarse, Light),
            (Light, Light),
        ] {
            match self.try_clamped_plan(x, w, window, flag) {
                Ok(plan) => return Ok(plan),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or(LweError::Internal("four pairs of keys tried")))
    }

    fn try_clamped_plan(
        &self,
        x: &WideShape,
        w: u32,
        window: KeyLevel,
        flag: KeyLevel,
    ) -> Result<ClampedPlan, LweError> {
        let h = self.plan_round(x, w, window)?;
        let l_variance = self.output_variance_at(window) * round_bootstraps(w) as f64;
        // The table's input: l lifted to the scale of a (w + 2)-bit message, plus the flag:
        // one table's noise, or two sign tests'.
        let narrow = self.narrow_rest(&h);
        // The wide path tests the sign of h - 1, which must fit h's width too: an interval
        // reaching the bottom of its width would wrap there and flag "above" at random.
        let below = h.minus_one();
        if narrow.is_none() && signed_bits(below.lo, below.hi) > h.width {
            return Err(LweError::InvalidParams(format!(
                "a {w}-bit window of a {}-bit integer in [{}, {}] leaves no room below its \
                 interval for the clamp's test; encrypt it one bit wider",
                x.width, x.lo, x.hi
            )));
        }
        let flag_parts = if narrow.is_some() { 1.0 } else { 2.0 };
        self.check_failure(
            w + 1,
            l_variance * 4f64.powi((x.width - w - 2) as i32)
                + flag_parts * self.output_variance_at(flag),
        )?;
        let rounds = round_bootstraps(w);
        let bootstraps = if narrow.is_some() {
            // The flag, then the table.
            rounds + 2
        } else {
            let (below, _, _) = self.plan_sign(&h)?;
            let (above, _, _) = self.plan_sign(&h.minus_one())?;
            let signs: usize = below
                .iter()
                .chain(&above)
                .map(|r| round_bootstraps(r.bits))
                .sum();
            // below, above, the table.
            rounds + signs + 3
        };
        Ok(ClampedPlan {
            window,
            flag,
            narrow,
            bootstraps,
        })
    }

    /// When `h` is narrow enough for its flag to come from one table: the smallest `b` with
    /// `|h| < 2^b` (at most `message_bits`) and the lift that puts `h` on the whole torus in
    /// `2^(b+1)` boxes, the box size of a padded `b`-bit table. The negacyclic half of the
    /// rotation serves the negative `h` (see `clamped_table_many`), so `h` may span
    /// `[-(2^b - 1), 2^b - 1]`, nearly twice what a padded `b`-bit input holds.
    fn narrow_rest(&self, h: &WideShape) -> Option<(u32, i64)> {
        let magnitude = h.lo.unsigned_abs().max(h.hi.unsigned_abs());
        let b = (64 - magnitude.leading_zeros()).max(1);
        if b > self.params.message_bits || h.width < b + 1 {
            return None;
        }
        let up = 1i64 << (h.width - b - 1);
        self.check_failure(b, h.variance * (up as f64).powi(2))
            .ok()
            .map(|_| (b, up))
    }
}

impl ServerKey {
    /// The planner of this key's parameters.
    pub fn planner(&self) -> WidePlanner<'_> {
        WidePlanner::new(&self.params)
    }

    /// Runs one stage of bootstraps, all of them together: their blind rotations share
    /// passes over the key (see [`ServerKey::rotate_batch`]), which is what the `_many`
    /// operations gain by running many integers in lock step. Returns the accumulators.
    fn run(&self, jobs: &[Job]) -> Vec<Vec<u64>> {
        let rotations: Vec<Rotation> = jobs
            .iter()
            .map(|j| Rotation {
                input: &j.input,
                test_poly: &j.poly,
                offset: j.offset,
                level: j.level,
            })
            .collect();
        self.rotate_batch(&rotations)
    }

    /// `+c` for phases in `[0, 1/2)`, `-c` for `[1/2, 1)`.
    fn sign_job(&self, input: LweCiphertext, c: u64, level: KeyLevel) -> Job {
        Job {
            input,
            poly: vec![c; self.params.polynomial_size],
            offset: 0,
            level,
        }
    }

    /// A padded `bits`-bit table with raw torus outputs, the box centred on its message.
    fn table_job(
        &self,
        input: LweCiphertext,
        bits: u32,
        outputs: &[u64],
        level: KeyLevel,
    ) -> Result<Job, LweError> {
        let lut = Lut::raw(self, bits, outputs)?;
        Ok(Job {
            input,
            offset: self.lut_offset(&lut)?,
            poly: lut.poly,
            level,
        })
    }

    /// One round on each integer of a stage (`d` bits through the key at `level` on `x` for
    /// `(x, d, level)`, `1 <= d <= message_bits + 1`), in two shared stages of bootstraps:
    /// clears the `d` low bits of `v`, leaving `floor(v / 2^d)` at width `width - d`, and
    /// returns `v mod 2^d` at the former scale.
    fn rounds(
        &self,
        xs: &mut [(&mut WideCiphertext, u32, KeyLevel)],
    ) -> Result<Vec<LweCiphertext>, LweError> {
        let nexts = xs
            .iter()
            .map(|(x, d, level)| self.planner().plan_round(&x.shape, *d, *level))
            .collect::<Result<Vec<_>, _>>()?;
        // Multiplying by 2^(width - d) puts bit d - 1 of v at the top of the torus.
        let lift = |x: &WideCiphertext, d: u32| x.ct.scalar_mul(1i64 << (x.shape.width - d));
        let half = |x: &WideCiphertext, d: u32| (x.shape.unit() << (d - 1)) >> 1;
        // The top bit of each digit, by its sign, half a digit step from both boundaries.
        let tops: Vec<Job> = xs
            .iter()
            .map(|(x, d, level)| {
                let input = lift(x, *d).with_body_added(1 << (63 - d));
                self.sign_job(input, half(x, *d).wrapping_neg(), *level)
            })
            .collect();
        let mut digits = Vec::with_capacity(xs.len());
        for ((x, d, _), acc) in xs.iter_mut().zip(self.run(&tops)) {
            let top = self.extract(&acc, 0).with_body_added(half(x, *d));
            x.ct = x.ct.sub(&top)?;
            digits.push(top);
        }
        // The d - 1 bits left, now with a zero padding bit above them.
        let (mut rests, mut owners) = (Vec::new(), Vec::new());
        for (i, (x, d, level)) in xs.iter().enumerate() {
            if *d >= 2 {
                let unit = x.shape.unit();
                let outputs: Vec<u64> = (0..1u64 << (d - 1)).map(|m| m * unit).collect();
                rests.push(self.table_job(lift(x, *d), d - 1, &outputs, *level)?);
                owners.push(i);
            }
        }
        for (i, acc) in owners.into_iter().zip(self.run(&rests)) {
            let rest = self.extract(&acc, 0);
            xs[i].0.ct = xs[i].0.ct.sub(&rest)?;
            digits[i] = digits[i].add(&rest)?;
        }
        for ((x, _, _), next) in xs.iter_mut().zip(nexts) {
            x.shape = next;
        }
        Ok(digits)
    }

    /// Runs the rounds `plans[i]` on `xs[i]`, the `j`-th rounds of all integers as one stage.
    fn run_rounds(&self, xs: &mut [WideCiphertext], plans: &[Vec<Round>]) -> Result<(), LweError> {
        let longest = plans.iter().map(Vec::len).max().unwrap_or(0);
        for j in 0..longest {
            let mut stage: Vec<(&mut WideCiphertext, u32, KeyLevel)> = xs
                .iter_mut()
                .zip(plans)
                .filter_map(|(x, plan)| plan.get(j).map(|r| (x, r.bits, r.level)))
                .collect();
            self.rounds(&mut stage)?;
        }
        Ok(())
    }

    /// `floor(v / 2^r)`, exactly, at width `width - r`.
    pub fn floor_shift(&self, x: &WideCiphertext, r: u32) -> Result<WideCiphertext, LweError> {
        Ok(self
            .floor_shift_many(std::slice::from_ref(x), &[r])?
            .remove(0))
    }

    /// `floor(v_i / 2^r_i)` for many integers at once, in lock step: the bootstraps of the
    /// same round of every integer run together and share their passes over the key.
    pub fn floor_shift_many(
        &self,
        xs: &[WideCiphertext],
        rs: &[u32],
    ) -> Result<Vec<WideCiphertext>, LweError> {
        same_length(xs.len(), rs.len())?;
        for x in xs {
            self.check(&x.ct)?;
        }
        let plans = xs
            .iter()
            .zip(rs)
            .map(|(x, &r)| Ok(self.planner().floor_plan(&x.shape, r)?.0))
            .collect::<Result<Vec<_>, LweError>>()?;
        let mut out = xs.to_vec();
        self.run_rounds(&mut out, &plans)?;
        Ok(out)
    }

    /// `v >= 0` as the sign of a phase, for each integer: rounds as planned (in lock step),
    /// then the sign-extension bits above the interval shifted out and half a unit added.
    /// Sign bootstraps of a result give `+c` for `v >= 0` and `-c` otherwise.
    fn sign_inputs(&self, mut xs: Vec<WideCiphertext>) -> Result<Vec<LweCiphertext>, LweError> {
        let (rounds, needs): (Vec<Vec<Round>>, Vec<u32>) = xs
            .iter()
            .map(|x| {
                self.planner()
                    .plan_sign(&x.shape)
                    .map(|(r, _, need)| (r, need))
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        self.run_rounds(&mut xs, &rounds)?;
        Ok(xs
            .iter()
            .zip(needs)
            .map(|(x, need)| {
                let up = 1i64 << (x.shape.width - need);
                x.ct.scalar_mul(up).with_body_added(1 << (63 - need))
            })
            .collect())
    }

    /// `T[clamp(v, 0, 2^w - 1)]` for a table of `2^w` signed values, encrypted at scale
    /// `2^(64 - out_width)`: a wide integer in `[min T, max T]`, whose noise is that of a
    /// bootstrap through the key at `level` (see [`WidePlanner::output_variance_at`]; the caller
    /// chooses it for what reads the result).
    pub fn clamped_table(
        &self,
        x: &WideCiphertext,
        table: &[i64],
        out_width: u32,
        level: KeyLevel,
    ) -> Result<WideCiphertext, LweError> {
        Ok(self
            .clamped_table_many(std::slice::from_ref(x), &[table], out_width, level)?
            .remove(0))
    }

    /// `T_i[clamp(v_i, 0, 2^w_i - 1)]` for many integers at once, each with its own table, in
    /// lock step (the bootstraps of each stage of every integer run together); the tables
    /// through the key at `level`.
    pub fn clamped_table_many(
        &self,
        xs: &[WideCiphertext],
        tables: &[&[i64]],
        out_width: u32,
        level: KeyLevel,
    ) -> Result<Vec<WideCiphertext>, LweError> {
        same_length(xs.len(), tables.len())?;
        for x in xs {
            self.check(&x.ct)?;
        }
        let (mut ws, mut plans) = (Vec::with_capacity(xs.len()), Vec::with_capacity(xs.len()));
        let mut bounds = Vec::with_capacity(xs.len());
        if !(3..=62).contains(&out_width) {
            return Err(LweError::InvalidParams(format!(
                "output width {out_width} of a clamped table (3..=62)"
            )));
        }
        for (x, table) in xs.iter().zip(tables) {
            if !table.len().is_power_of_two() {
                return Err(LweError::LutSize {
                    expected: 1 << (self.params.message_bits - 1),
                    found: table.len(),
                });
            }
            // Every entry fits the output width, so the centred outputs below cannot wrap.
            let (lo, hi) = table
                .iter()
                .fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
            if signed_bits(lo, hi) > out_width {
                return Err(LweError::SignedOutOfRange {
                    value: if hi > -lo { hi } else { lo },
                    bits: out_width,
                });
            }
            let w = table.len().trailing_zeros();
            plans.push(self.planner().clamped_plan(&x.shape, w)?);
            ws.push(w);
            bounds.push((lo, hi));
        }
        let out_unit = 1u64 << (64 - out_width);

        // The window digit l = v mod 2^w of each integer; h = floor(v / 2^w) is left.
        let mut hs = xs.to_vec();
        let ls = {
            let mut stage: Vec<(&mut WideCiphertext, u32, KeyLevel)> = hs
                .iter_mut()
                .zip(&ws)
                .zip(&plans)
                .map(|((h, &w), plan)| (h, w, plan.window))
                .collect();
            self.rounds(&mut stage)?
        };

        // The table reads u = l + 2^w z on the whole torus, at the scale of a (w + 2)-bit
        // message: z = 0 inside the window, 1 below it (h < 0), 3 above it (h >= 1). Its test
        // polynomial holds T[l] - c for u < 2^w and T_0 - c for u in [2^w, 2^(w+1)), with
        // c = (T_0 + T_top) / 2; the negacyclic rotation gives the negation of the latter,
        // T_top - c, for u in [3 * 2^w, 2^(w+2)). Adding c back gives T_0 below, T[l] inside
        // and T_top above from one bootstrap. The flag 2^w z (2^62 below, 3 * 2^62 above) is
        // a table of h when h is narrow (ABOVE = -BELOW on the torus, so the negacyclic half
        // serves the negative h), else two sign tests after the rounds that bring h and h - 1
        // within a sign's margin.
        const BELOW: u64 = 1 << 62;
        const ABOVE: u64 = 3 << 62;
        let narrow: Vec<_> = plans.iter().map(|plan| plan.narrow).collect();
        let wide_rests: Vec<WideCiphertext> = hs
            .iter()
            .zip(&narrow)
            .filter(|(_, n)| n.is_none())
            .flat_map(|(h, _)| {
                let h1 = WideCiphertext {
                    ct: h.ct.with_body_added(h.shape.unit().wrapping_neg()),
                    shape: h.shape.minus_one(),
                };
                [h.clone(), h1]
            })
            .collect();
        let mut sign_inputs = self.sign_inputs(wide_rests)?.into_iter();
        let mut jobs = Vec::new();
        for ((h, rest), plan) in hs.iter().zip(&narrow).zip(&plans) {
            match *rest {
                Some((b, up)) => {
                    // Box 0 (h = 0) holds 0, boxes 1 .. 2^b (h >= 1) ABOVE; a negative h lands
                    // in the second half, where the rotation negates box h + 2^b: -ABOVE =
                    // BELOW.
                    let flag: Vec<u64> = (0..1u64 << b)
                        .map(|m| if m == 0 { 0 } else { ABOVE })
                        .collect();
                    jobs.push(self.table_job(h.ct.scalar_mul(up), b, &flag, plan.flag)?);
                }
                None => {
                    // [h < 0] BELOW and [h - 1 >= 0] ABOVE: sign outputs -+c, plus c.
                    let mut sign_input = || {
                        sign_inputs
                            .next()
                            .ok_or(LweError::Internal("two sign inputs per wide rest"))
                    };
                    let below = sign_input()?;
                    let above = sign_input()?;
                    jobs.push(self.sign_job(below, (BELOW >> 1).wrapping_neg(), plan.flag));
                    jobs.push(self.sign_job(above, ABOVE >> 1, plan.flag));
                }
            }
        }
        let accs = self.run(&jobs);
        let mut accs = accs.iter();
        let (mut finals, mut centres) = (Vec::with_capacity(xs.len()), Vec::new());
        for (i, rest) in narrow.iter().enumerate() {
            let mut next = || {
                accs.next()
                    .map(|acc| self.extract(acc, 0))
                    .ok_or(LweError::Internal("one job per flag part"))
            };
            let flag = match rest {
                Some(_) => next()?,
                None => {
                    let below = next()?.with_body_added(BELOW >> 1);
                    let above = next()?.with_body_added(ABOVE >> 1);
                    below.add(&above)?
                }
            };
            let (w, table) = (ws[i], tables[i]);
            let l_up = 1i64 << (xs[i].shape.width - w - 2);
            let u = ls[i].scalar_mul(l_up).add(&flag)?;
            let (t_lo, t_hi) = (table[0], table[table.len() - 1]);
            let half_unit = out_unit >> 1;
            let outputs: Vec<u64> = (0..2 << w)
                .map(|m| {
                    let t = if m < table.len() { table[m] } else { t_lo };
                    ((2 * t - t_lo - t_hi) as u64).wrapping_mul(half_unit)
                })
                .collect();
            finals.push(self.table_job(u, w + 1, &outputs, level)?);
            centres.push(((t_lo + t_hi) as u64).wrapping_mul(half_unit));
        }
        let accs = self.run(&finals);
        accs.iter()
            .zip(bounds)
            .zip(centres)
            .map(|((acc, (min_t, max_t)), c)| {
                let y = self.extract(acc, 0).with_body_added(c);
                WideCiphertext::new(
                    y,
                    out_width,
                    min_t,
                    max_t,
                    self.planner().output_variance_at(level),
                )
            })
            .collect()
    }
}

/// A bootstrap waiting for the others of its stage. Bootstraps whose outputs are only read
/// by further bootstraps (rounds, saturation flags) run through the light or the coarse key,
/// as the plan allows; those whose outputs are the result (the clamped tables) through the
/// key the caller names.
struct Job {
    input: LweCiphertext,
    poly: Vec<u64>,
    offset: usize,
    level: KeyLevel,
}

/// A planned round: its digit, its key and the shape it leaves.
#[derive(Clone, Copy, Debug)]
struct Round {
    bits: u32,
    level: KeyLevel,
    next: WideShape,
}

impl Round {
    fn new(bits: u32, level: KeyLevel, next: WideShape) -> Self {
        Self { bits, level, next }
    }
}

/// How `clamped_table` runs on one integer: the keys of its window round and of its flag,
/// the flag's table when the rest is narrow (see `narrow_rest`), and its bootstraps.
#[derive(Clone, Copy, Debug)]
struct ClampedPlan {
    window: KeyLevel,
    flag: KeyLevel,
    narrow: Option<(u32, i64)>,
    bootstraps: usize,
}

/// Errors unless a failure probability (log2) is below [`MAX_LOG2_FAILURE`].
fn within_bound(log2: f64) -> Result<(), LweError> {
    if log2 > MAX_LOG2_FAILURE {
        return Err(LweError::FailureProbability {
            log2,
            limit_log2: MAX_LOG2_FAILURE,
        });
    }
    Ok(())
}

fn same_length(a: usize, b: usize) -> Result<(), LweError> {
    if a != b {
        return Err(LweError::InvalidParams(format!(
            "{a} integers with {b} parameters"
        )));
    }
    Ok(())
}
