//! CKKS bootstrapping: a ciphertext whose levels are used up is brought back to a high level
//! with the same message, up to a small error.
//!
//! The pipeline (Cheon, Han, Kim, Kim, Song, "Bootstrapping for approximate homomorphic
//! encryption", EUROCRYPT 2018, with the improvements of Chen, Chillotti, Song 2019 and
//! Bossuat, Mouchet, Troncoso-Pastoriza, Hubaux 2021):
//! 1. modulus raising: the ciphertext at the last prime `q_0` is read modulo the whole
//!    chain, so its plaintext becomes `m + q_0 I` for a small integer polynomial `I`;
//! 2. CoeffsToSlots ([`dft`]): a homomorphic inverse DFT puts the coefficients of `m + q_0 I`
//!    into the slots;
//! 3. modular reduction: an approximation of `x mod q_0` slot by slot removes `q_0 I`;
//! 4. SlotsToCoeffs ([`dft`]): the DFT puts the coefficients back.

pub mod dft;
