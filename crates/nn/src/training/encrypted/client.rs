use ndarray::Array2;
use shroud_ckks::packing::{DiagonalMatrix, RowMatrix};
use shroud_ckks::{Decryptor, Encoder, Encryptor, KeyGenerator, Params, SeededCiphertext};
use shroud_math::serde_bytes::ByteBuf;

use super::messages::{from_bytes, to_bytes, BatchMessage, WeightsMessage};
use super::packed::Packed;
use super::{Packing, Shape, StepLevels};
use crate::training::square::Mlp;
use crate::NnError;

/// The data owner: holds the secret key, encrypts batches and weights, and repacks the
/// weights the server returns.
pub struct Client {
    params: Params,
    shape: Shape,
    encoder: Encoder,
    encryptor: Encryptor,
    decryptor: Decryptor,
}

impl Client {
    /// A client with fresh keys, and the evaluation keys (relinearization and the rotations of
    /// `shape`) serialized for the server.
    pub fn new(params: &Params, shape: Shape) -> Result<(Self, Vec<u8>), NnError> {
        Self::with_generator(params, shape, KeyGenerator::new(params))
    }

    /// [`Client::new`] with keys drawn from `seed`: the same seed gives the same keys, which
    /// reproducible tests and fuzzing need. Anyone who knows the seed holds the secret key.
    pub fn with_seed(params: &Params, shape: Shape, seed: u64) -> Result<(Self, Vec<u8>), NnError> {
        Self::with_generator(params, shape, KeyGenerator::with_seed(params, seed))
    }

    fn with_generator(
        params: &Params,
        shape: Shape,
        mut kg: KeyGenerator,
    ) -> Result<(Self, Vec<u8>), NnError> {
        let sk = kg.secret_key();
        let relin = kg.relin_key(&sk)?.to_bytes(params)?;
        let galois = kg
            .galois_keys(&sk, &shape.rotation_steps(), false)?
            .to_bytes(params)?;
        let client = Self {
            params: params.clone(),
            shape,
            encoder: Encoder::new(params),
            // Secret-key encryption: less noise than public-key, and only the client encrypts.
            encryptor: Encryptor::with_secret_key(params, &sk)?,
            decryptor: Decryptor::new(params, &sk)?,
        };
        Ok((
            client,
            to_bytes(&(ByteBuf::from(relin), ByteBuf::from(galois))),
        ))
    }

    /// Encrypts the model's weights (the first message, and the output of every repacking).
    pub fn encrypt_weights(&mut self, model: &Mlp) -> Result<Vec<u8>, NnError> {
        match self.shape.packing {
            Packing::Row => self.encrypt_packed::<RowMatrix>(model),
            Packing::Diagonal(_) => self.encrypt_packed::<DiagonalMatrix>(model),
        }
    }

    /// Each matrix is encrypted at the level where the server first reads it (W1 with the
    /// fresh inputs, W2 with the activations `a`): lower levels are fewer primes to encrypt,
    /// send and parse. The ciphertexts go out seeded, half the bytes.
    fn encrypt_packed<M: Packed>(&mut self, model: &Mlp) -> Result<Vec<u8>, NnError> {
        let levels = StepLevels::new(&self.params, self.shape.packing)?;
        let (slots, scale) = (self.params.slots(), self.params.default_scale());
        let mut encrypt = |w: &Array2<f64>, level: usize| -> Result<_, NnError> {
            let vectors = M::slot_vectors(w, &self.shape, slots)?;
            let cts = self
                .encryptor
                .encrypt_many_seeded(&self.encoder, &vectors, level, scale)?;
            Ok((w.dim(), cts))
        };
        let (w1, w2) = (
            encrypt(&model.w1, levels.w1)?,
            encrypt(&model.w2, levels.w2)?,
        );
        Ok(to_bytes(&WeightsMessage::seeded(w1, w2, &self.params)?))
    }

    /// Packs rows of `m` (one sample each) into one ciphertext, sample `b` in block `b` in
    /// the packing's vector layout.
    fn encrypt_rows(&mut self, m: &Array2<f64>, level: usize) -> Result<SeededCiphertext, NnError> {
        let block = self.shape.block();
        let mut slots = vec![0.0; m.nrows() * block];
        for (row, chunk) in m.rows().into_iter().zip(slots.chunks_mut(block)) {
            self.shape.place(&row.to_vec(), chunk);
        }
        let scale = self.params.default_scale();
        Ok(self
            .encryptor
            .encrypt_values_seeded(&self.encoder, &slots, level, scale)?)
    }

    /// Encrypts a batch: inputs `x` (samples x inputs) and one-hot targets `y`.
    pub fn encrypt_batch(&mut self, x: &Array2<f64>, y: &Array2<f64>) -> Result<Vec<u8>, NnError> {
        let count = x.nrows();
        if count == 0
            || y.nrows() != count
            || x.ncols() != self.shape.inputs
            || y.ncols() != self.shape.outputs
        {
            return Err(NnError::InvalidConfig(format!(
                "batch of {} x {} inputs and {} x {} targets for a {:?} network",
                x.nrows(),
                x.ncols(),
                y.nrows(),
                y.ncols(),
                self.shape
            )));
        }
        if count * self.shape.block() > self.params.slots() {
            return Err(NnError::InvalidConfig(format!(
                "a batch of {count} needs {} slots, the parameters have {}",
                count * self.shape.block(),
                self.params.slots()
            )));
        }
        let levels = StepLevels::new(&self.params, self.shape.packing)?;
        let (cx, cy) = (
            self.encrypt_rows(x, levels.x)?,
            self.encrypt_rows(y, levels.y)?,
        );
        Ok(to_bytes(&BatchMessage::new(count, &cx, &cy, &self.params)?))
    }

    /// Decrypts updated weights (adding the per-sample blocks of a batch of `count`), and
    /// encrypts them afresh for the next step.
    pub fn repack(&mut self, updated: &[u8], count: usize) -> Result<(Mlp, Vec<u8>), NnError> {
        let model = self.decrypt_weights(updated, count)?;
        let fresh = self.encrypt_weights(&model)?;
        Ok((model, fresh))
    }

    /// Reads weights the server returned after a step on a batch of `count` samples.
    pub fn decrypt_weights(&self, updated: &[u8], count: usize) -> Result<Mlp, NnError> {
        match self.shape.packing {
            Packing::Row => self.decrypt_packed::<RowMatrix>(updated, count),
            Packing::Diagonal(_) => self.decrypt_packed::<DiagonalMatrix>(updated, count),
        }
    }

    fn decrypt_packed<M: Packed>(&self, updated: &[u8], count: usize) -> Result<Mlp, NnError> {
        let msg: WeightsMessage = from_bytes(updated)?;
        let (w1, w2): (M, M) = msg.open(&self.params, &self.shape)?;
        let (enc, dec) = (&self.encoder, &self.decryptor);
        Ok(Mlp {
            w1: w1.decrypt_block_sum(&self.shape, enc, dec, count)?,
            w2: w2.decrypt_block_sum(&self.shape, enc, dec, count)?,
        })
    }
}
