use crate::{Ciphertext, CkksError, Params, Plaintext, SecretKey};

/// Recovers the plaintext `c_0 + c_1 s (+ c_2 s^2)` of a ciphertext.
pub struct Decryptor {
    params: Params,
    sk: SecretKey,
}

impl Decryptor {
    /// A decryptor holding a copy of `sk`; fails if `sk` belongs to other parameters.
    pub fn new(params: &Params, sk: &SecretKey) -> Result<Self, CkksError> {
        params.check_same(sk.tag.params)?;
        Ok(Self {
            params: params.clone(),
            sk: sk.clone(),
        })
    }

    /// The plaintext of `ct`, at its level and scale, for [`crate::Encoder::decode`]. Also
    /// decrypts unrelinearized products. Fails if `ct` is under other parameters or another
    /// key.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Plaintext, CkksError> {
        self.params.check_same(ct.tag.params)?;
        self.sk.tag.check(ct.tag)?;
        let basis = &self.params.level_ctx(ct.level)?.q;
        let s = self.sk.poly.prefix(ct.level + 1);
        // Horner: ((c_d s + c_{d-1}) s + ...) + c_0.
        let mut acc = ct
            .polys
            .last()
            .ok_or(CkksError::Internal("a ciphertext has polynomials"))?
            .clone();
        for c in ct.polys.iter().rev().skip(1) {
            acc.mul_assign(basis, &s);
            acc.add_assign(basis, c);
        }
        Ok(Plaintext {
            params_id: ct.tag.params,
            level: ct.level,
            scale: ct.scale,
            poly: acc,
        })
    }
}
