//! The bit-list engine: the two-phase network ([`QuantizedMlp`]) as one boolean circuit over
//! encrypted bits (`shroud-bits`), the design as published: plaintext weights, products of
//! encrypted integers by public constants, fast ReLU, secure scale by dropping bits,
//! saturation by comparison and multiplexer. Bit-exact with the integer evaluator on every
//! backend (clear, GSW, bootstrapped gates).
//!
//! Every value is a two's-complement word exactly as wide as its interval needs
//! ([`QuantizedLayer::partial_range`] and the others): sums and products wrap modulo
//! `2^width`, and a value that provably fits its width is exact. A bootstrapped gate costs
//! tens of milliseconds, so the full 784-500-256-10 network (millions of gates) is out of
//! reach on two cores; [`gate_count`] says how far before anything is encrypted.
//!
//! Roles as in the LWE engine: [`BitsClient`] holds the secret key, encrypts an image bit by
//! bit as the server's public [`BitsEncoding`] says and decrypts the logits; [`BitsServer`]
//! holds the model and the evaluation key. Between them travel bytes.

use shroud_bits::backends::{Bootstrapped, Clear};
use shroud_bits::{Adder, Builder, EncInt, Encoding, Evaluator, Format, Gates, Summation, Word};
use shroud_lwe::bootstrap::{BootstrapParams, ClientKey, LweCiphertext, ServerKey};

use super::wire::{fresh_keys, from_bytes, to_bytes, Kind};
use crate::quant::scaling::Rescale;
use crate::quant::two_phase::{QuantizedLayer, QuantizedMlp};
use crate::quant::{signed_max, unsigned_max, Interval};
use crate::NnError;

fn bits_error(e: shroud_bits::BitsError) -> NnError {
    NnError::InvalidConfig(format!("bit-list engine: {e}"))
}

/// The format of every input and hidden activation: `[0, U]` in two's complement.
pub fn input_format(model: &QuantizedMlp) -> Result<Format, NnError> {
    Format::new(model.bits + 1, Encoding::TwosComplement, 0).map_err(bits_error)
}

/// A two's-complement format holding every value of `range`.
fn format_for(range: Interval) -> Result<Format, NnError> {
    Format::new(range.bits().max(2), Encoding::TwosComplement, 0).map_err(bits_error)
}

fn constant(v: i64, format: Format) -> Result<Word, NnError> {
    Word::constant(v, format).map_err(bits_error)
}

/// `r.apply(x)` (`round_shift(x * m, s)`) at a width holding `range` (the values of `x`)
/// times `m`, and the interval of the result.
fn rescale(
    b: &mut Builder,
    x: &Word,
    range: Interval,
    r: Rescale,
) -> Result<(Word, Interval), NnError> {
    let (m, s) = (r.multiplier, r.shift);
    let half = if s > 0 { 1i64 << (s - 1) } else { 0 };
    let f = format_for(Interval {
        lo: range.lo.min(0) * m,
        hi: range.hi.max(0) * m + half,
    })?;
    let x = b.resize(x, f.width()).map_err(bits_error)?;
    let scaled = b.mul_const(&x, m);
    let rounded = b.add(&scaled, &constant(half, f)?).map_err(bits_error)?;
    let out = b.shift_right(&rounded, s);
    let shifted = Interval {
        lo: r.apply(range.lo),
        hi: r.apply(range.hi),
    };
    Ok((out, shifted))
}

/// `round_shift(x, s)`: a rescale by `1 / 2^s`.
fn shift(s: u32) -> Rescale {
    Rescale {
        multiplier: 1,
        shift: s,
    }
}

/// `clamp(x, lo, hi)` by two comparisons with public bounds and two multiplexers.
fn clamp(b: &mut Builder, x: &Word, lo: i64, hi: i64) -> Result<Word, NnError> {
    let f = x.format();
    let (lo_w, hi_w) = (constant(lo, f)?, constant(hi, f)?);
    let below = b.lt(x, &lo_w).map_err(bits_error)?;
    let x = b.select(below, &lo_w, x).map_err(bits_error)?;
    let above = b.lt(&hi_w, &x).map_err(bits_error)?;
    b.select(above, &hi_w, &x).map_err(bits_error)
}

/// `sum_i w_i x_i` over `inputs` of row `k`, at a width holding `range`.
fn dot(b: &mut Builder, x: &[Word], weights: &[i8], range: Interval) -> Result<Word, NnError> {
    let f = format_for(range)?;
    let mut acc = constant(0, f)?;
    for (xi, &w) in x.iter().zip(weights) {
        if w == 0 {
            continue;
        }
        let xi = b.resize(xi, f.width()).map_err(bits_error)?;
        let term = b.mul_const(&xi, w as i64);
        acc = b.add(&acc, &term).map_err(bits_error)?;
    }
    Ok(acc)
}

/// Steps 1-5 of one layer (docs/mnist.md, section 3) on words of the input format.
fn layer(b: &mut Builder, l: &QuantizedLayer, x: &[Word], bits: u32) -> Result<Vec<Word>, NnError> {
    let q = signed_max(bits);
    let u_max = unsigned_max(bits);
    (0..l.outputs)
        .map(|k| {
            let n = &l.neurons[k];
            let row = l.row(k);
            // Phase one and the block secure scales.
            let sum_range = l.sum_range(k);
            let sum_f = format_for(Interval {
                lo: sum_range.lo.min(-q),
                hi: sum_range.hi.max(q),
            })?;
            let mut a = constant(0, sum_f)?;
            for j in 0..l.blocks() {
                let span = l.block_span(j);
                let range = l.partial_range(k, j);
                let p = dot(b, &x[span.clone()], &row[span], range)?;
                let (scaled, scaled_range) = rescale(b, &p, range, n.block_rescale)?;
                let f = format_for(Interval {
                    lo: scaled_range.lo.min(-q),
                    hi: scaled_range.hi.max(q),
                })?;
                let scaled = b.resize(&scaled, f.width()).map_err(bits_error)?;
                let u = clamp(b, &scaled, -q, q)?;
                let u = b.resize(&u, sum_f.width()).map_err(bits_error)?;
                a = b.add(&a, &u).map_err(bits_error)?;
            }
            // Aligned bias: round_shift(round_shift(a, e) + beta, 1).
            let (shifted, shifted_range) = rescale(b, &a, sum_range, shift(n.align_shift))?;
            let with_bias = Interval {
                lo: shifted_range.lo + n.bias.min(0) - 1,
                hi: shifted_range.hi + n.bias.max(0) + 1,
            };
            let f = format_for(with_bias)?;
            let shifted = b.resize(&shifted, f.width()).map_err(bits_error)?;
            let biased = b.add(&shifted, &constant(n.bias, f)?).map_err(bits_error)?;
            let z_range = Interval {
                lo: shifted_range.lo + n.bias,
                hi: shifted_range.hi + n.bias,
            };
            let (z, z_range) = rescale(b, &biased, z_range, shift(1))?;
            // Output secure scale: ReLU and saturation on hidden layers.
            let r = n.output_rescale;
            if l.relu {
                let z = b.relu_fast(&z);
                let positive = Interval {
                    lo: 0,
                    hi: z_range.hi.max(0),
                };
                let (y, y_range) = rescale(b, &z, positive, r)?;
                let f = format_for(Interval {
                    lo: 0,
                    hi: y_range.hi.max(u_max),
                })?;
                let y = b.resize(&y, f.width()).map_err(bits_error)?;
                let y = clamp(b, &y, 0, u_max)?;
                b.resize(&y, bits + 1).map_err(bits_error)
            } else {
                let (y, _) = rescale(b, &z, z_range, r)?;
                Ok(y)
            }
        })
        .collect()
}

/// The logits of `model` for encrypted inputs in [`input_format`], one circuit for the whole
/// network run layer by layer (independent gates in parallel) on the evaluator's backend.
pub fn logits<B: Gates>(
    ev: &Evaluator<B>,
    model: &QuantizedMlp,
    x: &[EncInt<B::Bit>],
) -> Result<Vec<EncInt<B::Bit>>, NnError> {
    model.validate()?;
    let f = input_format(model)?;
    if x.len() != model.layers[0].inputs || x.iter().any(|v| v.format() != f) {
        return Err(NnError::InvalidConfig(format!(
            "the bit-list engine takes {} inputs of {} bits",
            model.layers[0].inputs,
            f.width()
        )));
    }
    let args: Vec<&EncInt<B::Bit>> = x.iter().collect();
    let (out, _) = ev
        .apply(&args, |b, words| {
            let mut a = words.to_vec();
            for l in &model.layers {
                a = layer(b, l, &a, model.bits)
                    .map_err(|e| shroud_bits::BitsError::InvalidArgument(e.to_string()))?;
            }
            Ok((a, vec![]))
        })
        .map_err(bits_error)?;
    Ok(out)
}

/// The evaluator every run uses: ripple-carry adders and tree summation, the fewest
/// bootstraps per addition.
fn evaluator<B: Gates>(backend: B) -> Evaluator<B> {
    Evaluator::new(backend)
        .with_adder(Adder::Ripple)
        .with_summation(Summation::Tree)
}

/// Bootstraps the network takes per image, counted on clear bits without encrypting
/// anything.
pub fn gate_count(model: &QuantizedMlp) -> Result<u64, NnError> {
    Ok(dry_run(model)?.1)
}

/// Runs the circuit on clear zeros: the formats of the logits and the bootstraps per image.
fn dry_run(model: &QuantizedMlp) -> Result<(Vec<Format>, u64), NnError> {
    let mut key = Clear::new();
    let f = input_format(model)?;
    let x = (0..model.layers[0].inputs)
        .map(|_| EncInt::encrypt(&mut key, 0, f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bits_error)?;
    let ev = evaluator(Clear::new());
    let out = logits(&ev, model, &x)?;
    let formats = out.iter().map(EncInt::format).collect();
    Ok((formats, ev.backend().counts().bootstraps))
}

/// How the server wants an image encrypted and how its logits read: public, sent to the
/// client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitsEncoding {
    /// Number of pixels per image.
    pub inputs: usize,
    /// Every pixel's format (its bits travel least significant first).
    pub input: Format,
    /// Each logit's format.
    pub outputs: Vec<Format>,
}

impl BitsEncoding {
    fn input_bits(&self) -> usize {
        self.inputs * self.input.width() as usize
    }

    fn output_bits(&self) -> usize {
        self.outputs.iter().map(|f| f.width() as usize).sum()
    }
}

/// The data owner's side: secret key, encryption of images, decryption of logits.
pub struct BitsClient {
    key: ClientKey,
}

impl BitsClient {
    /// A fresh secret key (seeded from the OS) and the evaluation key for the server, as bytes.
    pub fn new(params: &BootstrapParams) -> Result<(Self, Vec<u8>), NnError> {
        let (key, evaluation_key) = fresh_keys(params)?;
        Ok((Self { key }, evaluation_key))
    }

    /// Encrypts a quantized image (values in `[0, U]`), bit by bit.
    pub fn encrypt_image(
        &mut self,
        encoding: &BitsEncoding,
        x: &[i32],
    ) -> Result<Vec<u8>, NnError> {
        if x.len() != encoding.inputs {
            return Err(NnError::InvalidConfig(format!(
                "an image of {} pixels for a model of {} inputs",
                x.len(),
                encoding.inputs
            )));
        }
        let mut bits = Vec::with_capacity(encoding.input_bits());
        for &v in x {
            let word =
                EncInt::encrypt(&mut self.key, v as i64, encoding.input).map_err(bits_error)?;
            bits.extend_from_slice(word.bits());
        }
        Ok(to_bytes(Kind::Image, &bits))
    }

    /// The logits `y` of the last layer.
    pub fn decrypt_logits(
        &self,
        encoding: &BitsEncoding,
        bytes: &[u8],
    ) -> Result<Vec<i64>, NnError> {
        let mut bits = from_bytes(
            Kind::Logits,
            self.key.params(),
            bytes,
            encoding.output_bits(),
        )?
        .into_iter();
        encoding
            .outputs
            .iter()
            .map(|&f| {
                let word = EncInt::from_bits(bits.by_ref().take(f.width() as usize).collect(), f)
                    .map_err(bits_error)?;
                word.decrypt(&self.key).map_err(bits_error)
            })
            .collect()
    }
}

/// The model owner's side: the two-phase model and the evaluation key, no secret.
pub struct BitsServer {
    model: QuantizedMlp,
    evaluator: Evaluator<Bootstrapped>,
    encoding: BitsEncoding,
    bootstraps: u64,
}

impl BitsServer {
    /// Loads the evaluation key and plans the circuit on clear bits (formats, bootstraps).
    pub fn new(model: QuantizedMlp, evaluation_key: &[u8]) -> Result<Self, NnError> {
        model.validate()?;
        let key = ServerKey::from_bytes(evaluation_key)?;
        let (outputs, bootstraps) = dry_run(&model)?;
        let encoding = BitsEncoding {
            inputs: model.layers[0].inputs,
            input: input_format(&model)?,
            outputs,
        };
        Ok(Self {
            model,
            evaluator: evaluator(Bootstrapped::new(key)),
            encoding,
            bootstraps,
        })
    }

    /// How the client encrypts images and reads logits for this model.
    pub fn encoding(&self) -> BitsEncoding {
        self.encoding.clone()
    }

    /// Bootstraps per image.
    pub fn bootstraps(&self) -> u64 {
        self.bootstraps
    }

    /// Runs the circuit on an encrypted image and returns the encrypted logits; `progress` is
    /// told of bootstraps done, a few times a second, from a watcher thread.
    pub fn infer(
        &self,
        image: &[u8],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<u8>, NnError> {
        let key = self.evaluator.backend().server_key();
        let bits = from_bytes(Kind::Image, key.params(), image, self.encoding.input_bits())?;
        let width = self.encoding.input.width() as usize;
        let x = bits
            .chunks_exact(width)
            .map(|b| EncInt::from_bits(b.to_vec(), self.encoding.input))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bits_error)?;
        let done = std::sync::atomic::AtomicBool::new(false);
        let out = std::thread::scope(|scope| {
            scope.spawn(|| watch_bootstraps(key, &done, progress));
            let out = logits(&self.evaluator, &self.model, &x);
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            out
        })?;
        let bits: Vec<LweCiphertext> = out.iter().flat_map(|y| y.bits().to_vec()).collect();
        Ok(to_bytes(Kind::Logits, &bits))
    }
}

/// Reports the key's bootstrap counter as it grows, until `done`.
fn watch_bootstraps(
    key: &ServerKey,
    done: &std::sync::atomic::AtomicBool,
    progress: &(dyn Fn(usize) + Sync),
) {
    use std::sync::atomic::Ordering;
    let mut seen = key.counts().bootstraps;
    loop {
        let finished = done.load(Ordering::Relaxed);
        let now = key.counts().bootstraps;
        progress((now - seen) as usize);
        seen = now;
        if finished {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
