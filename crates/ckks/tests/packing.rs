//! Packed matrix algorithms against plain ndarray arithmetic, on non-square and
//! non-power-of-two shapes, with their operation counts checked against their formulas.

use ndarray::{Array1, Array2};
use shroud_ckks::packing::{encrypt_periodic, Cost, DiagonalLayout, DiagonalMatrix, RowMatrix};
use shroud_ckks::*;
use shroud_math::{Modulus, Sampler};

struct Keys {
    params: Params,
    encoder: Encoder,
    encryptor: Encryptor,
    decryptor: Decryptor,
    eval: Evaluator,
}

fn keys(steps: &[i64]) -> Keys {
    let params = Params::new_insecure(presets::insecure_test_n12()).unwrap();
    let mut kg = KeyGenerator::with_seed(&params, 5);
    let sk = kg.secret_key();
    let pk = kg.public_key(&sk).unwrap();
    let eval = Evaluator::new(&params)
        .with_relin_key(kg.relin_key(&sk).unwrap())
        .unwrap()
        .with_galois_keys(kg.galois_keys(&sk, steps, false).unwrap())
        .unwrap();
    Keys {
        encoder: Encoder::new(&params),
        encryptor: Encryptor::with_public_key(&params, &pk).unwrap(),
        decryptor: Decryptor::new(&params, &sk).unwrap(),
        params,
        eval,
    }
}

fn random_matrix(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut s = Sampler::from_seed(seed);
    let q = Modulus::new(1 << 30).unwrap();
    let mut raw = vec![0u64; rows * cols];
    s.uniform(&q, &mut raw);
    Array2::from_shape_vec(
        (rows, cols),
        raw.iter()
            .map(|&r| r as f64 / (1u64 << 29) as f64 - 1.0)
            .collect(),
    )
    .unwrap()
}

/// Entries in logical (row-major) order, whatever the memory layout.
fn flat(a: &Array2<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

const SHAPES: [(usize, usize); 6] = [(3, 6), (10, 4), (3, 10), (5, 5), (1, 3), (7, 2)];
const TOL: f64 = 1e-4;

#[test]
fn diagonal_products_transposes_and_outer_products() {
    for (case, &(m, n)) in SHAPES.iter().enumerate() {
        let d = DiagonalMatrix::dim_for(m, n);
        for layout in [DiagonalLayout::Plain, DiagonalLayout::Stepped { baby: 2 }] {
            let mut k = keys(&DiagonalMatrix::rotation_steps(d, layout));
            let (top, scale) = (k.params.max_level(), k.params.default_scale());
            let w = random_matrix(m, n, case as u64);
            let x = random_matrix(1, n, 100 + case as u64).row(0).to_owned();
            let enc_w =
                DiagonalMatrix::encrypt(&w, d, layout, &k.encoder, &mut k.encryptor, top, scale)
                    .unwrap();
            let back = enc_w.decrypt(&k.encoder, &k.decryptor).unwrap();
            assert!(max_diff(&flat(&back), &flat(&w)) < TOL);

            let enc_x = encrypt_periodic(
                &k.encoder,
                &mut k.encryptor,
                x.as_slice().unwrap(),
                d,
                top,
                scale,
            )
            .unwrap();
            let (y, cost) = enc_w.matvec(&k.eval, &enc_x).unwrap();
            let got = k.encoder.decode(&k.decryptor.decrypt(&y).unwrap()).unwrap();
            let want: Array1<f64> = w.dot(&x);
            assert!(
                max_diff(&got[..m], want.as_slice().unwrap()) < TOL,
                "{m}x{n} {layout:?}"
            );
            assert!(
                got[m..d].iter().all(|v| v.abs() < TOL),
                "padding stays zero"
            );
            assert!(
                max_diff(&got[d..d + m], want.as_slice().unwrap()) < TOL,
                "periodic output"
            );
            let expected = match layout {
                DiagonalLayout::Plain => (d as u64, d as u64 - 1, d as u64),
                DiagonalLayout::Stepped { baby } => {
                    let giants = d.div_ceil(baby) as u64;
                    let rot = (baby.min(d) as u64 - 1) + (giants - 1);
                    (d as u64, rot, rot + giants)
                }
            };
            assert_eq!(
                (cost.ops.ct_mul, cost.ops.rotations, cost.ops.key_switches),
                expected,
                "{m}x{n} {layout:?}"
            );
            assert_eq!((cost.depth, cost.ops.rescales), (1, 1));

            let (t, cost) = enc_w.transpose(&k.eval).unwrap();
            let tw = t.decrypt(&k.encoder, &k.decryptor).unwrap();
            assert!(max_diff(&flat(&tw), &flat(&w.t().to_owned())) < TOL);
            assert_eq!(
                (cost.ops.ct_mul, cost.ops.pt_mul, cost.depth),
                (0, 0, 0),
                "rotations only"
            );
            assert!(cost.ops.rotations < d as u64);
            if layout == DiagonalLayout::Plain {
                assert_eq!(cost.ops.rotations, d as u64 - 1);
            }

            // Outer product u v^T from periodic vectors.
            let u = random_matrix(1, m, 200 + case as u64).row(0).to_owned();
            let enc_u = encrypt_periodic(
                &k.encoder,
                &mut k.encryptor,
                u.as_slice().unwrap(),
                d,
                top,
                scale,
            )
            .unwrap();
            let (o, cost) =
                DiagonalMatrix::outer(&k.eval, &enc_u, &enc_x, (m, n), d, layout, true).unwrap();
            let ow = o.decrypt(&k.encoder, &k.decryptor).unwrap();
            let want = Array2::from_shape_fn((m, n), |(i, j)| u[i] * x[j]);
            assert!(max_diff(&flat(&ow), &flat(&want)) < TOL);
            assert_eq!((cost.ops.ct_mul, cost.depth), (d as u64, 1));
            // Inputs one level down, as gradients are: the raw product stays at their level.
            let (below_u, below_x) = (
                k.eval.mod_drop_to(&enc_u, top - 1).unwrap(),
                k.eval.mod_drop_to(&enc_x, top - 1).unwrap(),
            );
            let (raw, cost) =
                DiagonalMatrix::outer(&k.eval, &below_u, &below_x, (m, n), d, layout, false)
                    .unwrap();
            let rw = raw.decrypt(&k.encoder, &k.decryptor).unwrap();
            assert!(max_diff(&flat(&rw), &flat(&want)) < TOL);
            assert_eq!(
                (cost.ops.key_switches, cost.ops.rescales, cost.depth),
                (cost.ops.rotations, 0, 0),
                "no relinearization, no rescale"
            );
            assert!(
                raw.transpose(&k.eval).is_err(),
                "unrelinearized diagonals refuse rotations"
            );

            // Fresh weights brought down to the gradient's level and scale, then updated.
            let fresh = enc_w
                .scaled_to(&k.eval, 0.5, o.level(), o.diagonals()[0].scale())
                .unwrap();
            let upd = fresh
                .sub(&k.eval, &o)
                .unwrap()
                .decrypt(&k.encoder, &k.decryptor)
                .unwrap();
            let want_upd = &w * 0.5 - &want;
            assert!(max_diff(&flat(&upd), &flat(&want_upd)) < TOL);
            let raw_upd = enc_w
                .scaled_to(&k.eval, 0.5, raw.level(), raw.diagonals()[0].scale())
                .unwrap()
                .sub(&k.eval, &raw)
                .unwrap()
                .decrypt(&k.encoder, &k.decryptor)
                .unwrap();
            assert!(max_diff(&flat(&raw_upd), &flat(&want_upd)) < TOL);
        }
    }
}

/// Diagonals that arrive from elsewhere (a deserialized message) are checked before any
/// algorithm indexes them: no diagonal, too few, or a baby step that leaves no giant step.
#[test]
fn from_diagonals_refuses_what_the_algorithms_cannot_run() {
    let mut k = keys(&[1]);
    let w = random_matrix(4, 4, 3);
    let m = DiagonalMatrix::encrypt(
        &w,
        4,
        DiagonalLayout::Plain,
        &k.encoder,
        &mut k.encryptor,
        1,
        k.params.default_scale(),
    )
    .unwrap();
    let d = m.diagonals().to_vec();
    let refused = |rows, cols, layout, diagonals: Vec<Ciphertext>| {
        matches!(
            DiagonalMatrix::from_diagonals(rows, cols, layout, diagonals),
            Err(CkksError::InvalidParams(_))
        )
    };
    assert!(refused(0, 0, DiagonalLayout::Plain, vec![]));
    assert!(refused(4, 4, DiagonalLayout::Plain, d[..3].to_vec()));
    assert!(refused(
        4,
        4,
        DiagonalLayout::Stepped { baby: 0 },
        d.clone()
    ));
    assert!(refused(
        4,
        4,
        DiagonalLayout::Stepped { baby: 5 },
        d.clone()
    ));
    assert!(DiagonalMatrix::from_diagonals(4, 4, DiagonalLayout::Stepped { baby: 2 }, d).is_ok());
}

/// Vectors in block layout: `vs[b]` at offsets `0..len` of block `b`.
fn encrypt_blocks(k: &mut Keys, vs: &[Vec<f64>], block: usize, level: usize) -> Ciphertext {
    let mut slots = vec![0.0; vs.len() * block];
    for (b, v) in vs.iter().enumerate() {
        slots[b * block..b * block + v.len()].copy_from_slice(v);
    }
    let scale = k.params.default_scale();
    k.encryptor
        .encrypt(&k.encoder.encode_at(&slots, level, scale).unwrap())
        .unwrap()
}

/// Entries `0..len` of each of the first `blocks` blocks.
fn decrypt_blocks(
    k: &Keys,
    ct: &Ciphertext,
    block: usize,
    blocks: usize,
    len: usize,
) -> Vec<Vec<f64>> {
    let v = k.encoder.decode(&k.decryptor.decrypt(ct).unwrap()).unwrap();
    (0..blocks)
        .map(|b| v[b * block..b * block + len].to_vec())
        .collect()
}

#[test]
fn row_products_and_transposes() {
    for (case, &(m, n)) in SHAPES.iter().enumerate() {
        let mut k = keys(&RowMatrix::rotation_steps(m, n));
        let block = RowMatrix::block_for(m, n);
        let (top, scale) = (k.params.max_level(), k.params.default_scale());
        let w = random_matrix(m, n, 300 + case as u64);
        // Two samples, one per block.
        let xs = random_matrix(2, n, 400 + case as u64);
        let xv: Vec<Vec<f64>> = xs.rows().into_iter().map(|r| r.to_vec()).collect();
        let enc_w =
            RowMatrix::encrypt(&w, block, &k.encoder, &mut k.encryptor, top, scale).unwrap();
        let enc_x = encrypt_blocks(&mut k, &xv, block, top);
        let (y, cost) = enc_w.matvec(&k.eval, &k.encoder, &enc_x).unwrap();
        let got = decrypt_blocks(&k, &y, block, 2, block);
        for (b, g) in got.iter().enumerate() {
            let want = w.dot(&xs.row(b));
            assert!(max_diff(&g[..m], want.as_slice().unwrap()) < TOL, "{m}x{n}");
            assert!(g[m..].iter().all(|v| v.abs() < TOL), "clean output");
        }
        let log_span = n.next_power_of_two().trailing_zeros() as u64;
        let (mu, nu) = (m as u64, n as u64);
        assert_eq!(
            Cost {
                ops: OpCounts {
                    ct_mul: mu,
                    pt_mul: mu,
                    rotations: mu * log_span + mu - 1,
                    rescales: 2 * mu,
                    key_switches: mu + mu * log_span + mu - 1
                },
                depth: 2
            },
            cost,
            "{m}x{n}"
        );

        let (t, cost) = enc_w.transpose(&k.eval, &k.encoder).unwrap();
        let tw = t.decrypt(&k.encoder, &k.decryptor).unwrap();
        assert!(max_diff(&flat(&tw), &flat(&w.t().to_owned())) < TOL);
        // N masks and N * M rotations to gather, plus M - 1 to lay the rows end to end
        // (the rotation of row 0, column 0 by zero is free).
        assert_eq!((cost.ops.pt_mul, cost.ops.ct_mul, cost.depth), (nu, 0, 1));
        assert_eq!(cost.ops.rotations, nu * mu - 1 + mu - 1);
        // The transpose multiplies clean vectors correctly despite its leftovers, in every
        // block.
        let zs = random_matrix(2, m, 500 + case as u64);
        let zv: Vec<Vec<f64>> = zs.rows().into_iter().map(|r| r.to_vec()).collect();
        let enc_z = encrypt_blocks(&mut k, &zv, block, t.level());
        let (tz, _) = t.matvec(&k.eval, &k.encoder, &enc_z).unwrap();
        for (b, g) in decrypt_blocks(&k, &tz, block, 2, n).iter().enumerate() {
            assert!(max_diff(g, w.t().dot(&zs.row(b)).as_slice().unwrap()) < TOL);
        }
        assert!(
            t.transpose(&k.eval, &k.encoder).is_err(),
            "second transpose needs re-encryption"
        );

        // Outer products per block, and their sum over the blocks.
        let us = random_matrix(2, m, 600 + case as u64);
        let uv: Vec<Vec<f64>> = us.rows().into_iter().map(|r| r.to_vec()).collect();
        let enc_u = encrypt_blocks(&mut k, &uv, block, top);
        let outer = |b: usize| Array2::from_shape_fn((m, n), |(i, j)| us[[b, i]] * xs[[b, j]]);
        let (o, cost) =
            RowMatrix::outer(&k.eval, &k.encoder, &enc_u, &enc_x, (m, n), block, true).unwrap();
        assert_eq!((cost.ops.ct_mul, cost.depth), (mu, 2));
        let got = o.decrypt_block_sum(&k.encoder, &k.decryptor, 2).unwrap();
        assert!(max_diff(&flat(&got), &flat(&(outer(0) + outer(1)))) < TOL);
        // diag(u) W, raw: one level (the broadcast mask) and three-polynomial rows.
        let (sw, cost) = enc_w
            .scale_rows(&k.eval, &k.encoder, &enc_u, false)
            .unwrap();
        assert_eq!((cost.ops.rescales, cost.depth), (mu, 1));
        let got = sw.decrypt(&k.encoder, &k.decryptor).unwrap();
        let want = Array2::from_shape_fn((m, n), |(i, j)| us[[0, i]] * w[[i, j]]);
        assert!(max_diff(&flat(&got), &flat(&want)) < TOL);
        let upd = enc_w
            .scaled_to(&k.eval, 0.5, sw.level(), sw.row_ciphertexts()[0].scale())
            .unwrap()
            .sub(&k.eval, &sw)
            .unwrap()
            .decrypt(&k.encoder, &k.decryptor)
            .unwrap();
        assert!(max_diff(&flat(&upd), &flat(&(&w * 0.5 - &want))) < TOL);
    }
}
