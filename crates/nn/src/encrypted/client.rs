use ndarray::Array2;
use shroud_ckks::packing::DiagonalMatrix;
use shroud_ckks::{Ciphertext, Decryptor, Encoder, Encryptor, KeyGenerator, Params};

use super::messages::{from_bytes, to_bytes, BatchMessage, WeightsMessage};
use super::Shape;
use crate::mlp::Mlp;
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
        let mut kg = KeyGenerator::new(params);
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
        Ok((client, to_bytes(&(relin, galois))))
    }

    fn encrypt_matrix(&mut self, w: &Array2<f64>) -> Result<DiagonalMatrix, NnError> {
        let (level, scale) = (self.params.max_level(), self.params.default_scale());
        Ok(DiagonalMatrix::encrypt(
            w,
            self.shape.dim(),
            self.shape.layout,
            &self.encoder,
            &mut self.encryptor,
            level,
            scale,
        )?)
    }

    /// Encrypts the model's weights (the first message, and the output of every repacking).
    pub fn encrypt_weights(&mut self, model: &Mlp) -> Result<Vec<u8>, NnError> {
        let (w1, w2) = (
            self.encrypt_matrix(&model.w1)?,
            self.encrypt_matrix(&model.w2)?,
        );
        Ok(to_bytes(&WeightsMessage::new(&w1, &w2, &self.params)?))
    }

    /// Packs rows of `m` (one sample each) into one ciphertext, sample `b` repeated with the
    /// packing period across block `b`.
    fn encrypt_rows(&mut self, m: &Array2<f64>) -> Result<Ciphertext, NnError> {
        let (d, block) = (self.shape.dim(), self.shape.block());
        let mut slots = vec![0.0; m.nrows() * block];
        for (b, row) in m.rows().into_iter().enumerate() {
            for p in 0..block {
                slots[b * block + p] = row.get(p % d).copied().unwrap_or(0.0);
            }
        }
        let pt =
            self.encoder
                .encode_at(&slots, self.params.max_level(), self.params.default_scale())?;
        Ok(self.encryptor.encrypt(&pt)?)
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
        let (cx, cy) = (self.encrypt_rows(x)?, self.encrypt_rows(y)?);
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
        let msg: WeightsMessage = from_bytes(updated)?;
        let (w1, w2) = msg.open(&self.params, self.shape.layout)?;
        let block = self.shape.block();
        Ok(Mlp {
            w1: w1.decrypt_block_sum(&self.encoder, &self.decryptor, block, count)?,
            w2: w2.decrypt_block_sum(&self.encoder, &self.decryptor, block, count)?,
        })
    }
}
