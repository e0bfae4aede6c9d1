//! What crosses between client and server: serialized ciphertexts with their shapes.
//! Deserialization validates every ciphertext against the receiver's parameters.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use shroud_ckks::{Ciphertext, CkksError, Params, SeededCiphertext};
use shroud_math::serde_bytes::ByteBuf;
use shroud_math::WireFormat;

use super::packed::Packed;
use super::Shape;
use crate::NnError;

#[derive(Serialize, Deserialize)]
struct MatrixWire {
    rows: usize,
    cols: usize,
    /// The matrix's ciphertexts: its rows or its diagonals, depending on the packing.
    cts: Vec<ByteBuf>,
}

/// Encrypted weights `(W1, W2)`.
#[derive(Serialize, Deserialize)]
pub struct WeightsMessage {
    w1: MatrixWire,
    w2: MatrixWire,
}

/// An encrypted batch: inputs and one-hot targets, `count` samples.
#[derive(Serialize, Deserialize)]
pub struct BatchMessage {
    /// Number of samples in the batch, each in its own block of slots.
    pub count: usize,
    x: ByteBuf,
    y: ByteBuf,
}

const FORMAT: WireFormat = WireFormat {
    magic: *b"SHRN",
    version: 2,
    // Weights of the largest supported network at N = 2^15 stay far below this.
    max_bytes: 1 << 32,
};

/// Protocol messages share one envelope; the message type is checked by decoding its body.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Message;

pub(crate) fn to_bytes<T: Serialize>(msg: &T) -> Vec<u8> {
    FORMAT.write(Message, msg)
}

pub(crate) fn from_bytes<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, NnError> {
    FORMAT
        .read(Message, bytes)
        .map_err(|e| NnError::Ckks(CkksError::Malformed(e.to_string())))
}

fn matrix_to_wire<M: Packed>(m: &M, params: &Params) -> Result<MatrixWire, CkksError> {
    Ok(MatrixWire {
        rows: m.rows(),
        cols: m.cols(),
        cts: m
            .ciphertexts()
            .par_iter()
            .map(|c| c.to_bytes(params).map(ByteBuf::from))
            .collect::<Result<_, _>>()?,
    })
}

fn matrix_from_wire<M: Packed>(
    w: &MatrixWire,
    params: &Params,
    shape: &Shape,
) -> Result<M, CkksError> {
    let cts = w
        .cts
        .par_iter()
        .map(|b| Ciphertext::from_bytes(params, b))
        .collect::<Result<_, _>>()?;
    M::from_ciphertexts(w.rows, w.cols, shape, cts)
}

/// A freshly encrypted `(rows, cols)` matrix as the client sends it.
pub(crate) type SeededMatrix = ((usize, usize), Vec<SeededCiphertext>);

fn seeded_to_wire(
    ((rows, cols), cts): SeededMatrix,
    params: &Params,
) -> Result<MatrixWire, CkksError> {
    Ok(MatrixWire {
        rows,
        cols,
        cts: cts
            .par_iter()
            .map(|c| c.to_bytes(params).map(ByteBuf::from))
            .collect::<Result<_, _>>()?,
    })
}

impl WeightsMessage {
    pub(crate) fn new<M: Packed>(w1: &M, w2: &M, params: &Params) -> Result<Self, CkksError> {
        Ok(Self {
            w1: matrix_to_wire(w1, params)?,
            w2: matrix_to_wire(w2, params)?,
        })
    }

    /// Fresh weights from the client, seeded.
    pub(crate) fn seeded(
        w1: SeededMatrix,
        w2: SeededMatrix,
        params: &Params,
    ) -> Result<Self, CkksError> {
        Ok(Self {
            w1: seeded_to_wire(w1, params)?,
            w2: seeded_to_wire(w2, params)?,
        })
    }

    /// The two matrices, checked against the network's shape.
    pub(crate) fn open<M: Packed>(
        &self,
        params: &Params,
        shape: &Shape,
    ) -> Result<(M, M), CkksError> {
        let (w1, w2): (M, M) = (
            matrix_from_wire(&self.w1, params, shape)?,
            matrix_from_wire(&self.w2, params, shape)?,
        );
        if (w1.rows(), w1.cols(), w2.rows(), w2.cols())
            != (shape.hidden, shape.inputs, shape.outputs, shape.hidden)
        {
            return Err(CkksError::Malformed(format!(
                "weights of {} x {} and {} x {} for a {:?} network",
                w1.rows(),
                w1.cols(),
                w2.rows(),
                w2.cols(),
                shape
            )));
        }
        Ok((w1, w2))
    }
}

impl BatchMessage {
    /// The message for a batch of `count` samples: `x` holds the inputs, `y` the one-hot
    /// targets, both encrypted under `params` by the client.
    pub fn new(
        count: usize,
        x: &SeededCiphertext,
        y: &SeededCiphertext,
        params: &Params,
    ) -> Result<Self, CkksError> {
        Ok(Self {
            count,
            x: ByteBuf::from(x.to_bytes(params)?),
            y: ByteBuf::from(y.to_bytes(params)?),
        })
    }

    /// The inputs and the targets as ciphertexts, each checked against `params`.
    pub fn open(&self, params: &Params) -> Result<(Ciphertext, Ciphertext), CkksError> {
        Ok((
            Ciphertext::from_bytes(params, &self.x)?,
            Ciphertext::from_bytes(params, &self.y)?,
        ))
    }
}
