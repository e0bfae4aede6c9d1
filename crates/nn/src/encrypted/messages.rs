//! What crosses between client and server: serialized ciphertexts with their shapes.
//! Deserialization validates every ciphertext against the receiver's parameters.

use serde::{Deserialize, Serialize};
use shroud_ckks::packing::{DiagonalLayout, DiagonalMatrix};
use shroud_ckks::{Ciphertext, CkksError, Params};
use shroud_math::WireFormat;

use crate::NnError;

#[derive(Serialize, Deserialize)]
struct MatrixWire {
    rows: usize,
    cols: usize,
    diagonals: Vec<Vec<u8>>,
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
    pub count: usize,
    x: Vec<u8>,
    y: Vec<u8>,
}

const FORMAT: WireFormat = WireFormat {
    magic: *b"SHRN",
    version: 1,
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

fn matrix_to_wire(m: &DiagonalMatrix, params: &Params) -> Result<MatrixWire, CkksError> {
    Ok(MatrixWire {
        rows: m.rows(),
        cols: m.cols(),
        diagonals: m
            .diagonals()
            .iter()
            .map(|d| d.to_bytes(params))
            .collect::<Result<_, _>>()?,
    })
}

fn matrix_from_wire(
    w: &MatrixWire,
    params: &Params,
    layout: DiagonalLayout,
) -> Result<DiagonalMatrix, CkksError> {
    let diagonals = w
        .diagonals
        .iter()
        .map(|b| Ciphertext::from_bytes(params, b))
        .collect::<Result<_, _>>()?;
    DiagonalMatrix::from_diagonals(w.rows, w.cols, layout, diagonals)
}

impl WeightsMessage {
    pub fn new(
        w1: &DiagonalMatrix,
        w2: &DiagonalMatrix,
        params: &Params,
    ) -> Result<Self, CkksError> {
        Ok(Self {
            w1: matrix_to_wire(w1, params)?,
            w2: matrix_to_wire(w2, params)?,
        })
    }

    pub fn open(
        &self,
        params: &Params,
        layout: DiagonalLayout,
    ) -> Result<(DiagonalMatrix, DiagonalMatrix), CkksError> {
        Ok((
            matrix_from_wire(&self.w1, params, layout)?,
            matrix_from_wire(&self.w2, params, layout)?,
        ))
    }
}

impl BatchMessage {
    pub fn new(
        count: usize,
        x: &Ciphertext,
        y: &Ciphertext,
        params: &Params,
    ) -> Result<Self, CkksError> {
        Ok(Self {
            count,
            x: x.to_bytes(params)?,
            y: y.to_bytes(params)?,
        })
    }

    pub fn open(&self, params: &Params) -> Result<(Ciphertext, Ciphertext), CkksError> {
        Ok((
            Ciphertext::from_bytes(params, &self.x)?,
            Ciphertext::from_bytes(params, &self.y)?,
        ))
    }
}
