//! How an integer is laid out in bits: width, signed encoding and fixed-point scale. All of
//! it is public; only the bits are encrypted.

use crate::BitsError;

/// The two signed encodings of the design.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `-x` is the bitwise NOT of `x`: negation and absolute value are cheap, zero has two
    /// forms (`+0`, all zeros, and `-0`, all ones), sums wrap modulo `2^w - 1`.
    OnesComplement,
    /// `-x` is `NOT x + 1`: one zero, sums wrap modulo `2^w` like Rust's `wrapping_add`.
    TwosComplement,
}

/// Width in bits (2 to 62), encoding and scale: the bits hold the integer `raw`, and the
/// number they stand for is `raw / 2^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Format {
    width: u32,
    encoding: Encoding,
    scale: u32,
}

/// Widths stay below 63 so that every product of two raw values fits an `i128`.
const MAX_WIDTH: u32 = 62;

impl Format {
    /// A format of `width` bits and `scale` fractional bits; errors with
    /// [`BitsError::InvalidFormat`] unless the width is 2 to 62 and the scale below it.
    pub fn new(width: u32, encoding: Encoding, scale: u32) -> Result<Self, BitsError> {
        if !(2..=MAX_WIDTH).contains(&width) {
            return Err(BitsError::InvalidFormat(format!(
                "width {width} is outside 2..={MAX_WIDTH}"
            )));
        }
        if scale >= width {
            return Err(BitsError::InvalidFormat(format!(
                "scale {scale} leaves no integer bits in width {width}"
            )));
        }
        Ok(Self {
            width,
            encoding,
            scale,
        })
    }

    /// Width in bits, the sign bit included.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// How negative values are encoded.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Fractional bits: the bits hold `raw` and stand for `raw / 2^scale`.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// The same encoding and scale at another width.
    pub fn with_width(&self, width: u32) -> Result<Self, BitsError> {
        Self::new(width, self.encoding, self.scale)
    }

    /// The same width and encoding at another scale.
    pub fn with_scale(&self, scale: u32) -> Result<Self, BitsError> {
        Self::new(self.width, self.encoding, scale)
    }

    /// The largest raw value, `2^(width - 1) - 1`.
    pub fn max(&self) -> i64 {
        (1i64 << (self.width - 1)) - 1
    }

    /// The smallest raw value: `-max` in ones' complement, `-max - 1` in two's.
    pub fn min(&self) -> i64 {
        match self.encoding {
            Encoding::OnesComplement => -self.max(),
            Encoding::TwosComplement => -self.max() - 1,
        }
    }

    /// The modulus wrapping operations reduce by: `2^w - 1` or `2^w`.
    pub fn modulus(&self) -> i128 {
        match self.encoding {
            Encoding::OnesComplement => (1i128 << self.width) - 1,
            Encoding::TwosComplement => 1i128 << self.width,
        }
    }

    /// The representable raw value congruent to `v` modulo [`Format::modulus`]: what a
    /// wrapping operation returns for the exact result `v`.
    pub fn wrap(&self, v: i128) -> i64 {
        let m = self.modulus();
        let r = v.rem_euclid(m);
        (if r > self.max() as i128 { r - m } else { r }) as i64
    }

    /// The bits of `raw`, least significant first (a negative value in ones' complement is
    /// the NOT of its magnitude).
    pub fn encode(&self, raw: i64) -> Result<Vec<bool>, BitsError> {
        if raw < self.min() || raw > self.max() {
            return Err(BitsError::OutOfRange {
                value: raw,
                format: *self,
            });
        }
        let pattern = match self.encoding {
            Encoding::OnesComplement if raw < 0 => !(-raw),
            _ => raw,
        };
        Ok((0..self.width).map(|i| pattern >> i & 1 == 1).collect())
    }

    /// The raw value of `bits` (both zeros of ones' complement decode to 0).
    pub fn decode(&self, bits: &[bool]) -> Result<i64, BitsError> {
        if bits.len() != self.width as usize {
            return Err(BitsError::BitCount {
                expected: self.width as usize,
                found: bits.len(),
            });
        }
        let unsigned = bits
            .iter()
            .rev()
            .fold(0i64, |acc, &b| acc << 1 | i64::from(b));
        let negative = bits[bits.len() - 1];
        Ok(match (negative, self.encoding) {
            (false, _) => unsigned,
            (true, Encoding::TwosComplement) => unsigned - (1i64 << self.width),
            (true, Encoding::OnesComplement) => unsigned - ((1i64 << self.width) - 1),
        })
    }

    /// The number `raw` stands for.
    pub fn to_real(&self, raw: i64) -> f64 {
        raw as f64 / (1u64 << self.scale) as f64
    }
}
