//! An integer of any backend: its bits (least significant first) and its public format.

use crate::{BitKey, BitsError, Format};

/// An integer of a backend whose bits are `T` (ciphertexts, or clear bits): the bits, least
/// significant first, and the public [`Format`] that says what they stand for.
#[derive(Clone, Debug)]
pub struct EncInt<T> {
    bits: Vec<T>,
    format: Format,
}

impl<T> EncInt<T> {
    /// Checks that there is one bit per position of `format`.
    pub fn from_bits(bits: Vec<T>, format: Format) -> Result<Self, BitsError> {
        if bits.len() != format.width() as usize {
            return Err(BitsError::BitCount {
                expected: format.width() as usize,
                found: bits.len(),
            });
        }
        Ok(Self { bits, format })
    }

    /// Encrypts the raw value `raw` (the number `raw / 2^scale`) bit by bit.
    pub fn encrypt<K: BitKey<Bit = T>>(
        key: &mut K,
        raw: i64,
        format: Format,
    ) -> Result<Self, BitsError> {
        let bits = format
            .encode(raw)?
            .into_iter()
            .map(|b| key.encrypt_bit(b))
            .collect::<Result<_, _>>()?;
        Ok(Self { bits, format })
    }

    /// The raw value.
    pub fn decrypt<K: BitKey<Bit = T>>(&self, key: &K) -> Result<i64, BitsError> {
        let bits: Vec<bool> = self
            .bits
            .iter()
            .map(|b| key.decrypt_bit(b))
            .collect::<Result<_, _>>()?;
        self.format.decode(&bits)
    }

    /// The bits, least significant first.
    pub fn bits(&self) -> &[T] {
        &self.bits
    }

    /// The public format: width, encoding and scale.
    pub fn format(&self) -> Format {
        self.format
    }
}
