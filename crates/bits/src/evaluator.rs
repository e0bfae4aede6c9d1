//! Runs [`Builder`] circuits on a backend's encrypted integers.

use crate::{Adder, BitsError, Builder, EncInt, Gates, Summation, Wire, Word};

/// What [`Evaluator::apply`] returns: the output words as integers, then the output bits.
pub type Outputs<T> = (Vec<EncInt<T>>, Vec<T>);

/// A backend and the adder and summation its circuits use.
pub struct Evaluator<B> {
    backend: B,
    adder: Adder,
    summation: Summation,
}

impl<B: Gates> Evaluator<B> {
    /// Ripple-carry adders and tree multipliers: the fewest gates, for the bootstrapped
    /// engine, where depth is free.
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            adder: Adder::Ripple,
            summation: Summation::Tree,
        }
    }

    /// The same evaluator with `adder` for its additions ([`Adder::Prefix`] keeps the depth
    /// low on a leveled engine).
    pub fn with_adder(self, adder: Adder) -> Self {
        Self { adder, ..self }
    }

    /// The same evaluator with `summation` for the sums of rows in its products.
    pub fn with_summation(self, summation: Summation) -> Self {
        Self { summation, ..self }
    }

    /// The backend circuits run on (to read its counters, for instance).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Builds one circuit over `args` with `build` and runs it: the general entry point,
    /// for composing operations into a single circuit. Returns the output words' integers
    /// and bits, in order.
    pub fn apply(
        &self,
        args: &[&EncInt<B::Bit>],
        build: impl FnOnce(&mut Builder, &[Word]) -> Result<(Vec<Word>, Vec<Wire>), BitsError>,
    ) -> Result<Outputs<B::Bit>, BitsError> {
        let mut builder = Builder::new(self.adder, self.summation);
        let words: Vec<Word> = args.iter().map(|a| builder.input(a.format())).collect();
        let (out_words, out_bits) = build(&mut builder, &words)?;
        let wires: Vec<Wire> = out_words
            .iter()
            .flat_map(|w| w.bits().iter().copied())
            .chain(out_bits.iter().copied())
            .collect();
        let inputs: Vec<&B::Bit> = args.iter().flat_map(|a| a.bits()).collect();
        let mut values = builder
            .into_circuit()
            .eval(&self.backend, &inputs, &wires)?
            .into_iter();
        let ints = out_words
            .iter()
            .map(|w| EncInt::from_bits(values.by_ref().take(w.bits().len()).collect(), w.format()))
            .collect::<Result<_, _>>()?;
        Ok((ints, values.collect()))
    }

    /// One operation on one integer, e.g. `ev.unary(&x, Builder::abs)`.
    pub fn unary(
        &self,
        x: &EncInt<B::Bit>,
        op: impl FnOnce(&mut Builder, &Word) -> Result<Word, BitsError>,
    ) -> Result<EncInt<B::Bit>, BitsError> {
        let (mut out, _) = self.apply(&[x], |b, w| Ok((vec![op(b, &w[0])?], vec![])))?;
        out.pop()
            .ok_or_else(|| BitsError::InvalidArgument("no output".into()))
    }

    /// One operation on two integers, e.g. `ev.binary(&x, &y, Builder::add)`.
    pub fn binary(
        &self,
        x: &EncInt<B::Bit>,
        y: &EncInt<B::Bit>,
        op: impl FnOnce(&mut Builder, &Word, &Word) -> Result<Word, BitsError>,
    ) -> Result<EncInt<B::Bit>, BitsError> {
        let (mut out, _) = self.apply(&[x, y], |b, w| Ok((vec![op(b, &w[0], &w[1])?], vec![])))?;
        out.pop()
            .ok_or_else(|| BitsError::InvalidArgument("no output".into()))
    }

    /// A predicate on two integers, e.g. `ev.predicate(&x, &y, Builder::lt)`.
    pub fn predicate(
        &self,
        x: &EncInt<B::Bit>,
        y: &EncInt<B::Bit>,
        op: impl FnOnce(&mut Builder, &Word, &Word) -> Result<Wire, BitsError>,
    ) -> Result<B::Bit, BitsError> {
        let (_, mut bits) = self.apply(&[x, y], |b, w| Ok((vec![], vec![op(b, &w[0], &w[1])?])))?;
        bits.pop()
            .ok_or_else(|| BitsError::InvalidArgument("no output".into()))
    }
}
