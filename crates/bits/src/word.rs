//! Integers inside a circuit under construction: a [`Word`] is wires plus a format, and
//! [`Builder`] holds the circuit and the integer operations on words. Every operation of the
//! crate is written here once, for every backend; composite operations (slow ReLU,
//! polynomials, Newton iterations) build one circuit, so independent gates of different
//! steps share layers.
//!
//! Overflow: sums, differences and products wrap modulo the encoding's modulus (`2^w` in
//! two's complement, `2^w - 1` in ones' complement), except ones' complement products (see
//! [`Builder::mul`]); comparisons, max, ReLU and the ones' complement negation and absolute
//! value are exact.

use crate::arith::adder::{add, Adder};
use crate::arith::compare::{equal, less_than};
use crate::arith::multiply::{constant_rows, product_rows};
use crate::arith::sum::{sum_rows, Summation};
use crate::{BitsError, Circuit, Encoding, Format, Wire};

/// An integer of a circuit: wires, least significant first, and its format.
#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    bits: Vec<Wire>,
    format: Format,
}

impl Word {
    /// A public value, as constant wires (operations on it fold away).
    pub fn constant(raw: i64, format: Format) -> Result<Self, BitsError> {
        let bits = format.encode(raw)?.into_iter().map(Wire::Const).collect();
        Ok(Self { bits, format })
    }

    /// The wires, least significant first.
    pub fn bits(&self) -> &[Wire] {
        &self.bits
    }

    /// The public format of the integer.
    pub fn format(&self) -> Format {
        self.format
    }

    fn sign(&self) -> Wire {
        self.bits[self.bits.len() - 1]
    }

    /// The raw value if every wire is a constant.
    fn as_constant(&self) -> Option<i64> {
        let bits: Option<Vec<bool>> = self
            .bits
            .iter()
            .map(|w| match w {
                Wire::Const(b) => Some(*b),
                Wire::Node(_) => None,
            })
            .collect();
        self.format.decode(&bits?).ok()
    }

    /// The sign wire repeated up to `width` (exact in both encodings).
    fn extended(&self, width: usize) -> Vec<Wire> {
        let mut bits = self.bits.clone();
        bits.resize(width.max(bits.len()), self.sign());
        bits
    }
}

/// A fraction `num / den` of two words of one format: division is multiplication by the
/// swapped pair, so no division circuit is needed until a value is read.
#[derive(Clone, Debug, PartialEq)]
pub struct Fraction {
    /// The numerator.
    pub num: Word,
    /// The denominator, of the numerator's format.
    pub den: Word,
}

/// The circuit under construction and the operations on its words.
pub struct Builder {
    circuit: Circuit,
    adder: Adder,
    summation: Summation,
}

fn same_format(a: &Word, b: &Word) -> Result<Format, BitsError> {
    if a.format != b.format {
        return Err(BitsError::FormatMismatch {
            left: a.format,
            right: b.format,
        });
    }
    Ok(a.format)
}

impl Builder {
    /// An empty circuit whose additions use `adder` and whose products sum their rows with
    /// `summation`.
    pub fn new(adder: Adder, summation: Summation) -> Self {
        Self {
            circuit: Circuit::new(),
            adder,
            summation,
        }
    }

    /// The circuit built so far (for its [`Circuit::stats`], for instance).
    pub fn circuit(&self) -> &Circuit {
        &self.circuit
    }

    /// The finished circuit, to evaluate with [`Circuit::eval`].
    pub fn into_circuit(self) -> Circuit {
        self.circuit
    }

    /// An input integer of `format`: one fresh input wire per bit, bound in creation order
    /// at evaluation.
    pub fn input(&mut self, format: Format) -> Word {
        Word {
            bits: self.circuit.inputs(format.width() as usize),
            format,
        }
    }

    fn not_all(&mut self, bits: &[Wire]) -> Vec<Wire> {
        bits.iter().map(|&w| self.circuit.not(w)).collect()
    }

    fn xor_all(&mut self, bits: &[Wire], with: Wire) -> Vec<Wire> {
        bits.iter().map(|&w| self.circuit.xor(w, with)).collect()
    }

    /// `a + b + carry_in` at the width of `a`: wrapped sum and carry out.
    fn add_bits(&mut self, a: &[Wire], b: &[Wire], carry_in: Wire) -> (Vec<Wire>, Wire) {
        add(&mut self.circuit, self.adder, a, b, carry_in)
    }

    /// `x + bit`, wrapping.
    fn increment(&mut self, x: &[Wire], bit: Wire) -> Vec<Wire> {
        let zeros = vec![Wire::Const(false); x.len()];
        self.add_bits(x, &zeros, bit).0
    }

    /// Sum in the encoding's ring: ones' complement adds the carry out back in (the
    /// end-around carry; a second carry cannot occur).
    fn ring_add(&mut self, encoding: Encoding, a: &[Wire], b: &[Wire]) -> Vec<Wire> {
        let (sum, carry) = self.add_bits(a, b, Wire::Const(false));
        match encoding {
            Encoding::TwosComplement => sum,
            Encoding::OnesComplement => self.add_bits(a, b, carry).0,
        }
    }

    /// `a + b`, wrapping.
    pub fn add(&mut self, a: &Word, b: &Word) -> Result<Word, BitsError> {
        let format = same_format(a, b)?;
        let bits = self.ring_add(format.encoding(), &a.bits, &b.bits);
        Ok(Word { bits, format })
    }

    /// `a - b`, wrapping.
    pub fn sub(&mut self, a: &Word, b: &Word) -> Result<Word, BitsError> {
        same_format(a, b)?;
        let minus_b = self.neg(b);
        self.add(a, &minus_b)
    }

    /// `-x`: free in ones' complement, `NOT x + 1` in two's (where `-MIN` wraps to `MIN`).
    pub fn neg(&mut self, x: &Word) -> Word {
        let inverted = self.not_all(&x.bits);
        let bits = match x.format.encoding() {
            Encoding::OnesComplement => inverted,
            Encoding::TwosComplement => self.increment(&inverted, Wire::Const(true)),
        };
        Word {
            bits,
            format: x.format,
        }
    }

    /// `|x|`: one XOR with the sign per bit in ones' complement; two's complement adds the
    /// sign back (`|MIN|` wraps to `MIN`).
    pub fn abs(&mut self, x: &Word) -> Word {
        let sign = x.sign();
        let flipped = self.xor_all(&x.bits, sign);
        let bits = match x.format.encoding() {
            Encoding::OnesComplement => flipped,
            Encoding::TwosComplement => self.increment(&flipped, sign),
        };
        Word {
            bits,
            format: x.format,
        }
    }

    /// The two's complement bits of `x` (ones' complement negatives plus one; both zeros
    /// become the one zero), for comparisons.
    fn canonical(&mut self, x: &Word) -> Vec<Wire> {
        match x.format.encoding() {
            Encoding::TwosComplement => x.bits.clone(),
            Encoding::OnesComplement => self.increment(&x.bits, x.sign()),
        }
    }

    /// `a < b` as an encrypted bit.
    pub fn lt(&mut self, a: &Word, b: &Word) -> Result<Wire, BitsError> {
        same_format(a, b)?;
        // Flipping the sign bits maps signed order onto unsigned order.
        let flip = |bits: Vec<Wire>, c: &mut Circuit| {
            let mut bits = bits;
            let top = bits.len() - 1;
            bits[top] = c.not(bits[top]);
            bits
        };
        let (ca, cb) = (self.canonical(a), self.canonical(b));
        let (ua, ub) = (flip(ca, &mut self.circuit), flip(cb, &mut self.circuit));
        Ok(less_than(&mut self.circuit, self.adder, &ua, &ub))
    }

    /// `a == b` as an encrypted bit (`+0 == -0` in ones' complement).
    pub fn eq(&mut self, a: &Word, b: &Word) -> Result<Wire, BitsError> {
        same_format(a, b)?;
        let (ca, cb) = (self.canonical(a), self.canonical(b));
        Ok(equal(&mut self.circuit, &ca, &cb))
    }

    /// `select ? a : b`, bit by bit.
    pub fn select(&mut self, select: Wire, a: &Word, b: &Word) -> Result<Word, BitsError> {
        let format = same_format(a, b)?;
        let bits = a
            .bits
            .iter()
            .zip(&b.bits)
            .map(|(&x, &y)| self.circuit.mux(select, x, y))
            .collect();
        Ok(Word { bits, format })
    }

    /// The larger of `a` and `b`, exactly: one comparison and one select.
    pub fn max(&mut self, a: &Word, b: &Word) -> Result<Word, BitsError> {
        let a_smaller = self.lt(a, b)?;
        self.select(a_smaller, b, a)
    }

    /// The maximum of a window by a balanced tree of comparisons: exact, `ceil(log2 n)`
    /// comparisons deep.
    pub fn max_pool(&mut self, window: &[Word]) -> Result<Word, BitsError> {
        let mut level = window.to_vec();
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            for pair in level.chunks(2) {
                next.push(match pair {
                    [a, b] => self.max(a, b)?,
                    _ => pair[0].clone(),
                });
            }
            level = next;
        }
        level
            .pop()
            .ok_or_else(|| BitsError::InvalidArgument("max pooling over an empty window".into()))
    }

    /// Fast ReLU, one gate per bit: `AND(NOT sign, x_i)` in two's complement; in ones'
    /// complement `OR(sign, x_i)`, so a negative input becomes all ones, which is `-0`.
    pub fn relu_fast(&mut self, x: &Word) -> Word {
        let sign = x.sign();
        let bits = match x.format.encoding() {
            Encoding::OnesComplement => x.bits.iter().map(|&w| self.circuit.or(sign, w)).collect(),
            Encoding::TwosComplement => {
                let positive = self.circuit.not(sign);
                x.bits
                    .iter()
                    .map(|&w| self.circuit.and(positive, w))
                    .collect()
            }
        };
        Word {
            bits,
            format: x.format,
        }
    }

    /// Slow ReLU, `(x + |x|) / 2`, computed one bit wider so that it is exact.
    pub fn relu_slow(&mut self, x: &Word) -> Result<Word, BitsError> {
        let width = x.format.width();
        let wide = self.resize(x, width + 1)?;
        let magnitude = self.abs(&wide);
        let twice = self.add(&wide, &magnitude)?;
        let halved = self.shift_right(&twice, 1);
        self.resize(&halved, width)
    }

    /// Sign-extends or cuts to `width` bits (cutting keeps the low bits: exact for values
    /// that fit, modulo `2^width` in two's complement otherwise).
    pub fn resize(&mut self, x: &Word, width: u32) -> Result<Word, BitsError> {
        let format = x.format.with_width(width)?;
        let mut bits = x.extended(width as usize);
        bits.truncate(width as usize);
        Ok(Word { bits, format })
    }

    /// `x / 2^k` at the same format, rounding toward minus infinity in two's complement
    /// and toward zero in ones' complement (the sign is shifted in): no gates.
    pub fn shift_right(&mut self, x: &Word, k: u32) -> Word {
        let width = x.bits.len();
        let mut bits: Vec<Wire> = x.bits.iter().skip(k as usize).copied().collect();
        bits.resize(width, x.sign());
        Word {
            bits,
            format: x.format,
        }
    }

    /// Secure scale: drops the `k` lowest bits and `k` fractional bits, so the number keeps
    /// its value up to the dropped precision and the word is `k` bits narrower. No gates.
    pub fn rescale(&mut self, x: &Word, k: u32) -> Result<Word, BitsError> {
        let f = x.format;
        if k > f.scale() {
            return Err(BitsError::InvalidArgument(format!(
                "cannot drop {k} bits of a scale of {}",
                f.scale()
            )));
        }
        let format = Format::new(f.width() - k, f.encoding(), f.scale() - k)?;
        Ok(Word {
            bits: x.bits[k as usize..].to_vec(),
            format,
        })
    }

    fn sum(&mut self, rows: &[Vec<Wire>], width: usize) -> Vec<Wire> {
        sum_rows(&mut self.circuit, self.summation, rows, width)
    }

    /// `|x|`'s `w - 1` magnitude bits and the sign, for ones' complement products.
    fn magnitude(&mut self, x: &Word) -> (Vec<Wire>, Wire) {
        let sign = x.sign();
        let bits = &x.bits[..x.bits.len() - 1];
        (self.xor_all(bits, sign), sign)
    }

    /// Ones' complement word of `width` bits from a magnitude and a sign.
    fn signed_magnitude(&mut self, magnitude: &[Wire], sign: Wire, width: usize) -> Vec<Wire> {
        let mut bits = self.xor_all(&magnitude[..width - 1], sign);
        bits.push(sign);
        bits
    }

    /// Product at `width` bits with scale `sa + sb`. Two's complement: the low `width` bits
    /// of the product of the sign-extended operands (exact when the product fits). Ones'
    /// complement: sign and magnitude, the magnitude wrapping modulo `2^(width - 1)`.
    fn product(&mut self, a: &Word, b: &Word, width: u32) -> Result<Word, BitsError> {
        if a.format.width() != b.format.width() || a.format.encoding() != b.format.encoding() {
            return Err(BitsError::FormatMismatch {
                left: a.format,
                right: b.format,
            });
        }
        let format = Format::new(
            width,
            a.format.encoding(),
            a.format.scale() + b.format.scale(),
        )?;
        let w = width as usize;
        let bits = match format.encoding() {
            Encoding::TwosComplement => {
                let (ea, eb) = (a.extended(w), b.extended(w));
                let rows = product_rows(&mut self.circuit, &ea, &eb, w);
                self.sum(&rows, w)
            }
            Encoding::OnesComplement => {
                let (ma, sa) = self.magnitude(a);
                let (mb, sb) = self.magnitude(b);
                let rows = product_rows(&mut self.circuit, &ma, &mb, w - 1);
                let m = self.sum(&rows, w - 1);
                let sign = self.circuit.xor(sa, sb);
                self.signed_magnitude(&m, sign, w)
            }
        };
        Ok(Word { bits, format })
    }

    /// `a * b` at the operands' width, wrapping (see `Builder::product`'s rules).
    pub fn mul(&mut self, a: &Word, b: &Word) -> Result<Word, BitsError> {
        self.product(a, b, a.format.width())
    }

    /// The exact product, twice as wide.
    pub fn mul_full(&mut self, a: &Word, b: &Word) -> Result<Word, BitsError> {
        self.product(a, b, 2 * a.format.width())
    }

    /// `x * k` for a public integer `k`, shift-and-add over the non-adjacent form of `k`,
    /// wrapping like [`Builder::mul`].
    pub fn mul_const(&mut self, x: &Word, k: i64) -> Word {
        let w = x.bits.len();
        let bits = match x.format.encoding() {
            Encoding::TwosComplement => {
                let rows = constant_rows(&mut self.circuit, &x.bits, k as i128, w);
                self.sum(&rows, w)
            }
            Encoding::OnesComplement => {
                let (m, sign) = self.magnitude(x);
                let rows = constant_rows(&mut self.circuit, &m, (k as i128).abs(), w - 1);
                let product = self.sum(&rows, w - 1);
                let sign = if k < 0 { self.circuit.not(sign) } else { sign };
                self.signed_magnitude(&product, sign, w)
            }
        };
        Word {
            bits,
            format: x.format,
        }
    }

    /// Fixed-point product in `a`'s format: the exact product with `b`'s fractional bits
    /// dropped, cut to `a`'s width. A public operand goes through [`Builder::mul_const`].
    pub fn mul_fixed(&mut self, a: &Word, b: &Word) -> Result<Word, BitsError> {
        let (a, b) = match (a.as_constant(), b.as_constant()) {
            (Some(_), None) => (b, a),
            _ => (a, b),
        };
        let full = match b.as_constant() {
            Some(k) => {
                let wide = self.resize(a, 2 * a.format.width())?;
                self.mul_const(&wide, k)
            }
            None => self.mul_full(a, b)?,
        };
        // Dropping b's fractional bits leaves a's scale, at the doubled width.
        let shifted = Word {
            format: Format::new(2 * a.format.width(), a.format.encoding(), a.format.scale())?,
            ..self.shift_right(&full, b.format.scale())
        };
        self.resize(&shifted, a.format.width())
    }

    /// A public real number in `format`, rounded to the nearest step.
    pub fn real(&self, value: f64, format: Format) -> Result<Word, BitsError> {
        let raw = (value * (1u64 << format.scale()) as f64).round();
        if !raw.is_finite() || raw.abs() >= (1u64 << 62) as f64 {
            return Err(BitsError::InvalidArgument(format!(
                "{value} is not representable"
            )));
        }
        Word::constant(raw as i64, format)
    }

    /// `sum coeffs[i] x^i` by Horner's rule in `x`'s fixed-point format.
    pub fn polynomial(&mut self, x: &Word, coeffs: &[f64]) -> Result<Word, BitsError> {
        let (last, rest) = coeffs
            .split_last()
            .ok_or_else(|| BitsError::InvalidArgument("polynomial without coefficients".into()))?;
        let mut acc = self.real(*last, x.format)?;
        for &c in rest.iter().rev() {
            let product = self.mul_fixed(x, &acc)?;
            let constant = self.real(c, x.format)?;
            acc = self.add(&product, &constant)?;
        }
        Ok(acc)
    }

    /// `exp(x)` by its Taylor polynomial of `terms` terms around 0.
    pub fn exp_taylor(&mut self, x: &Word, terms: usize) -> Result<Word, BitsError> {
        let coeffs: Vec<f64> = (0..terms)
            .scan(1.0, |factorial, i| {
                *factorial *= i.max(1) as f64;
                Some(1.0 / *factorial)
            })
            .collect();
        self.polynomial(x, &coeffs)
    }

    /// `sigmoid(x) = 1/2 + x/4 - x^3/48 + x^5/480`, its Taylor polynomial of degree 5
    /// (close on about [-2, 2]).
    pub fn sigmoid_taylor(&mut self, x: &Word) -> Result<Word, BitsError> {
        self.polynomial(x, &[0.5, 0.25, 0.0, -1.0 / 48.0, 0.0, 1.0 / 480.0])
    }

    /// `(a/b) * (c/d) = ac / bd` in fixed point.
    pub fn frac_mul(&mut self, x: &Fraction, y: &Fraction) -> Result<Fraction, BitsError> {
        Ok(Fraction {
            num: self.mul_fixed(&x.num, &y.num)?,
            den: self.mul_fixed(&x.den, &y.den)?,
        })
    }

    /// `(a/b) / (c/d) = ad / bc`: a product with the swapped pair.
    pub fn frac_div(&mut self, x: &Fraction, y: &Fraction) -> Result<Fraction, BitsError> {
        let reciprocal = Fraction {
            num: y.den.clone(),
            den: y.num.clone(),
        };
        self.frac_mul(x, &reciprocal)
    }

    /// `a/b + c/d = (ad + cb) / bd`.
    pub fn frac_add(&mut self, x: &Fraction, y: &Fraction) -> Result<Fraction, BitsError> {
        let ad = self.mul_fixed(&x.num, &y.den)?;
        let cb = self.mul_fixed(&y.num, &x.den)?;
        Ok(Fraction {
            num: self.add(&ad, &cb)?,
            den: self.mul_fixed(&x.den, &y.den)?,
        })
    }

    /// `x^n` in fixed point by repeated squaring.
    fn power(&mut self, x: &Word, n: u32) -> Result<Word, BitsError> {
        if n == 1 {
            return Ok(x.clone());
        }
        let half = self.power(x, n / 2)?;
        let square = self.mul_fixed(&half, &half)?;
        if n % 2 == 1 {
            self.mul_fixed(&square, x)
        } else {
            Ok(square)
        }
    }

    /// The design's smooth max pooling: `(sum x_i^n)^(1/n)`, which tends to the maximum of
    /// non-negative inputs as `n` grows, with the `n`-th root found by `iterations` Newton
    /// steps `y <- ((n-1) y^n + S) / (n y^(n-1))` from the public `guess`, on fractions so no
    /// step divides. Words must be wide enough for `S` and the pair's growth (they wrap).
    pub fn max_pool_ln(
        &mut self,
        window: &[Word],
        n: u32,
        iterations: usize,
        guess: f64,
    ) -> Result<Fraction, BitsError> {
        let first = window
            .first()
            .ok_or_else(|| BitsError::InvalidArgument("max pooling over an empty window".into()))?;
        if n < 2 {
            return Err(BitsError::InvalidArgument(
                "the L_n norm needs n >= 2".into(),
            ));
        }
        let format = first.format;
        let mut s = self.power(first, n)?;
        for x in &window[1..] {
            let p = self.power(x, n)?;
            s = self.add(&s, &p)?;
        }
        let mut y = Fraction {
            num: self.real(guess, format)?,
            den: self.real(1.0, format)?,
        };
        for _ in 0..iterations {
            // y = N / D: N' = (n-1) N^n + S D^n, D' = n N^(n-1) D.
            let (num_pow, den_pow) = (self.power(&y.num, n)?, self.power(&y.den, n)?);
            let scaled = self.mul_const(&num_pow, n as i64 - 1);
            let s_dn = self.mul_fixed(&s, &den_pow)?;
            let num_prev = self.power(&y.num, n - 1)?;
            let nd = self.mul_fixed(&num_prev, &y.den)?;
            y = Fraction {
                num: self.add(&scaled, &s_dn)?,
                den: self.mul_const(&nd, n as i64),
            };
        }
        Ok(y)
    }
}
