//! Exact floors and clamped tables on wide integers against the clear computation.

use proptest::prelude::*;
use shroud_lwe::bootstrap::{presets, ClientKey, KeyLevel, ServerKey, WideCiphertext, WideShape};
use shroud_lwe::LweError;
use std::sync::{Mutex, OnceLock};

fn keys() -> &'static (Mutex<ClientKey>, ServerKey) {
    static KEYS: OnceLock<(Mutex<ClientKey>, ServerKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut client = ClientKey::from_seed(&presets::insecure_wide_test(), 5).unwrap();
        let server = client.server_key();
        (Mutex::new(client), server)
    })
}

const WIDTH: u32 = 17;
const RANGE: i64 = 1 << 15;

fn encrypt(v: i64) -> WideCiphertext {
    let (client, server) = keys();
    let ct = client.lock().unwrap().encrypt_scaled(v, WIDTH).unwrap();
    WideCiphertext::new(ct, WIDTH, -RANGE, RANGE, server.planner().fresh_variance()).unwrap()
}

fn decrypt(x: &WideCiphertext) -> i64 {
    keys()
        .0
        .lock()
        .unwrap()
        .decrypt_scaled(x.ciphertext(), x.width())
        .unwrap()
}

fn clamped(table: &[i64], v: i64) -> i64 {
    table[v.clamp(0, table.len() as i64 - 1) as usize]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn floor_shift_is_exact(v in -RANGE..=RANGE, r in 1u32..14) {
        let out = keys().1.floor_shift(&encrypt(v), r).unwrap();
        prop_assert_eq!(out.width(), WIDTH - r);
        prop_assert_eq!(decrypt(&out), v.div_euclid(1 << r));
        let (lo, hi) = out.range();
        prop_assert!(lo <= decrypt(&out) && decrypt(&out) <= hi);
    }

    #[test]
    fn clamped_tables_are_exact(v in -RANGE..=RANGE, r in 0u32..12, seed in 0i64..1000) {
        let table: Vec<i64> = (0..8).map(|i| (i * seed) % 23 - 4).collect();
        let server = &keys().1;
        let x = server.floor_shift(&encrypt(v), r).unwrap();
        let y = server.clamped_table(&x, &table, 12, KeyLevel::Full).unwrap();
        prop_assert_eq!(decrypt(&y), clamped(&table, v.div_euclid(1 << r)));
    }
}

#[test]
fn window_edges_and_saturation() {
    let server = &keys().1;
    let table: Vec<i64> = (0..8).map(|i| 3 * i - 10).collect();
    for v in [-RANGE, -9000, -9, -8, -1, 0, 1, 7, 8, 9, 16, 9000, RANGE] {
        let y = server
            .clamped_table(&encrypt(v), &table, 10, KeyLevel::Full)
            .unwrap();
        assert_eq!(decrypt(&y), clamped(&table, v), "v = {v}");
    }
    // Output widths the torus cannot hold and tables of no power-of-two length are refused.
    for width in [2, 63] {
        assert!(matches!(
            server.clamped_table(&encrypt(1), &table, width, KeyLevel::Full),
            Err(LweError::InvalidParams(_))
        ));
    }
    assert!(matches!(
        server.clamped_table(&encrypt(1), &table[..5], 10, KeyLevel::Full),
        Err(LweError::LutSize { .. })
    ));
    // A rest h = floor(v / 8) in [-15, 15]: its flag is one table on the whole torus, the
    // negative half served by the negacyclic rotation (four bootstraps in all).
    let (lo, hi) = (-120, 127);
    let shape = WideShape::new(WIDTH, lo, hi, server.planner().fresh_variance()).unwrap();
    assert_eq!(server.planner().plan_clamped_table(&shape, 3).unwrap(), 4);
    for v in [lo, -113, -112, -9, -8, -1, 0, 7, 8, 9, 120, hi] {
        let ct = encrypt(v).ciphertext().clone();
        let x = WideCiphertext::new(ct, WIDTH, lo, hi, server.planner().fresh_variance()).unwrap();
        let y = server
            .clamped_table(&x, &table, 10, KeyLevel::Full)
            .unwrap();
        assert_eq!(decrypt(&y), clamped(&table, v), "v = {v}");
    }
}

#[test]
fn plans_count_the_bootstraps_that_run() {
    // A key of its own, so that its counter sees only this test.
    let mut client = ClientKey::from_seed(&presets::insecure_wide_test(), 8).unwrap();
    let server = client.server_key();
    for (r, range) in [(0, 40), (3, 900), (7, RANGE), (11, RANGE)] {
        let ct = client.encrypt_scaled(17, WIDTH).unwrap();
        let x = WideCiphertext::new(ct, WIDTH, -range, range, server.planner().fresh_variance())
            .unwrap();
        let before = server.counts().bootstraps;
        let t = server.floor_shift(&x, r).unwrap();
        let (shape, floor) = server.planner().plan_floor_shift(&x.shape(), r).unwrap();
        assert_eq!(shape, t.shape());
        let planned = floor + server.planner().plan_clamped_table(&shape, 3).unwrap();
        server
            .clamped_table(&t, &[0, 1, 2, 3, 4, 5, 6, 7], 10, KeyLevel::Full)
            .unwrap();
        assert_eq!(
            server.counts().bootstraps - before,
            planned as u64,
            "r = {r}"
        );
    }
    // Every bootstrap through one of the three keys, and each key used: the tables through
    // the full key, the first rounds of wide floors through the light one, the last rounds
    // and the flags through the coarse one.
    let c = server.counts();
    assert_eq!(c.by_key.iter().sum::<u64>(), c.bootstraps);
    assert!(c.by_key.iter().all(|&n| n > 0), "{:?}", c.by_key);
}

#[test]
fn integers_in_lock_step_are_exact() {
    // Different shifts, intervals and tables in one batch: narrow rests (one interleaved
    // bootstrap), wide rests (sign tests after rounds of their own) and rounds of different
    // counts all share stages.
    // A key of its own, so that its counter sees only this test.
    let mut client = ClientKey::from_seed(&presets::insecure_wide_test(), 9).unwrap();
    let server = client.server_key();
    let cases: [(i64, i64, u32); 6] = [
        (-30_000, RANGE, 2),
        (517, 900, 3),
        (-3, 40, 0),
        (29_999, RANGE, 11),
        (1234, RANGE, 7),
        (-640, 2000, 5),
    ];
    let xs: Vec<WideCiphertext> = cases
        .iter()
        .map(|&(v, range, _)| {
            let ct = client.encrypt_scaled(v, WIDTH).unwrap();
            WideCiphertext::new(ct, WIDTH, -range, range, server.planner().fresh_variance())
                .unwrap()
        })
        .collect();
    let decrypt = |x: &WideCiphertext| client.decrypt_scaled(x.ciphertext(), x.width()).unwrap();
    let rs: Vec<u32> = cases.iter().map(|c| c.2).collect();
    let tables: Vec<Vec<i64>> = (0..cases.len() as i64)
        .map(|i| (0..8).map(|j| (j * (i + 3)) % 17 - 5).collect())
        .collect();
    let refs: Vec<&[i64]> = tables.iter().map(Vec::as_slice).collect();
    let before = server.counts().bootstraps;
    let ts = server.floor_shift_many(&xs, &rs).unwrap();
    let ys = server
        .clamped_table_many(&ts, &refs, 12, KeyLevel::Coarse)
        .unwrap();
    let ran = server.counts().bootstraps - before;
    let mut planned = 0;
    for (i, &(v, _, r)) in cases.iter().enumerate() {
        assert_eq!(decrypt(&ts[i]), v.div_euclid(1 << r), "floor, case {i}");
        assert_eq!(
            decrypt(&ys[i]),
            clamped(&tables[i], v.div_euclid(1 << r)),
            "case {i}"
        );
        let (shape, floor) = server
            .planner()
            .plan_floor_shift(&xs[i].shape(), r)
            .unwrap();
        planned += floor + server.planner().plan_clamped_table(&shape, 3).unwrap();
    }
    assert_eq!(ran, planned as u64);
    assert!(server.floor_shift_many(&xs, &rs[1..]).is_err());
}

#[test]
fn weighted_sums_track_their_interval() {
    let server = &keys().1;
    let narrow = |v: i64| {
        let x = encrypt(v);
        WideCiphertext::new(x.ciphertext().clone(), WIDTH, -2000, 2000, x.variance()).unwrap()
    };
    let (a, b) = (narrow(1200), narrow(-77));
    let s = WideCiphertext::weighted_sum([(&a, 3), (&b, -5)], 11).unwrap();
    let want = 3 * 1200 + 5 * 77 + 11;
    assert_eq!(decrypt(&s), want);
    assert_eq!(s.range(), (-16_000 + 11, 16_000 + 11));
    // A sum whose interval no longer fits 17 bits is refused rather than wrapped.
    assert!(WideCiphertext::weighted_sum([(&a, 100)], 0).is_err());
    let t = server.floor_shift(&s, 4).unwrap();
    assert_eq!(decrypt(&t), want >> 4);
}

#[test]
fn what_cannot_be_exact_is_refused() {
    let server = &keys().1;
    let x = encrypt(5);
    // A table that is not a power of two, or wider than a bootstrap can select.
    assert!(server
        .clamped_table(&x, &[0; 6], 10, KeyLevel::Full)
        .is_err());
    assert!(server
        .clamped_table(&x, &[0; 16], 10, KeyLevel::Full)
        .is_err());
    // Noise too large for the rounds' margins.
    let noisy = WideCiphertext::new(x.ciphertext().clone(), WIDTH, -RANGE, RANGE, 1e-6).unwrap();
    assert!(matches!(
        server.floor_shift(&noisy, 8),
        Err(LweError::FailureProbability { .. })
    ));
    // An interval that does not fit the width.
    assert!(WideCiphertext::new(x.ciphertext().clone(), 8, -200, 200, 0.0).is_err());
    // A ciphertext of another parameter set (and dimension).
    let mut other = ClientKey::from_seed(&presets::gates_128(), 1).unwrap();
    let ct = other.encrypt_scaled(5, WIDTH).unwrap();
    let foreign =
        WideCiphertext::new(ct, WIDTH, -RANGE, RANGE, server.planner().fresh_variance()).unwrap();
    assert!(matches!(
        server.floor_shift(&foreign, 3),
        Err(LweError::Mismatch(_))
    ));
    assert!(server
        .clamped_table(&foreign, &[0; 8], 10, KeyLevel::Full)
        .is_err());
}

#[test]
fn real_parameters_clamp_a_wide_integer() {
    // wide_128 (128-bit): a 16-bit accumulator, bucketed by 2^6 and looked up in 8 buckets.
    let params = presets::wide_128();
    let mut client = ClientKey::from_seed(&params, 3).unwrap();
    let server = client.server_key();
    let table = [0, 2, 4, 6, 8, 10, 12, 15];
    for v in [-20_000, 100, 300, 20_000] {
        let ct = client.encrypt_scaled(v, 17).unwrap();
        let x =
            WideCiphertext::new(ct, 17, -RANGE, RANGE, server.planner().fresh_variance()).unwrap();
        let t = server.floor_shift(&x, 6).unwrap();
        let y = server
            .clamped_table(&t, &table, 16, KeyLevel::Light)
            .unwrap();
        let got = client.decrypt_scaled(y.ciphertext(), 16).unwrap();
        assert_eq!(got, clamped(&table, v >> 6), "v = {v}");
    }
}

/// The clamp tests the sign of the part above the window minus one: an interval reaching the
/// bottom of its width leaves that test no room (it would wrap and flag "above" at random),
/// so it is refused; with the room, every value is exact.
#[test]
fn intervals_reaching_the_bottom_of_their_width() {
    let (client, server) = keys();
    let table = [0i64, 2, 5, 7, 9, 11, 14, 15];
    let fresh = server.planner().fresh_variance();
    let at = |v: i64, width: u32, lo: i64, hi: i64| {
        let ct = client.lock().unwrap().encrypt_scaled(v, width).unwrap();
        WideCiphertext::new(ct, width, lo, hi, fresh).unwrap()
    };
    // Above the 3-bit window, [-4, 3] fills 3 bits and [-5, 2] does not; [-256, 255] fills 9.
    for (width, lo, hi) in [(6, -25, 30), (12, -2048, 2047)] {
        let shape = WideShape::new(width, lo, hi, fresh).unwrap();
        assert!(server.planner().plan_clamped_table(&shape, 3).is_err());
        assert!(matches!(
            server.clamped_table(&at(1, width, lo, hi), &table, 5, KeyLevel::Full),
            Err(LweError::InvalidParams(_))
        ));
    }
    // One bit wider, or one window of room below: the values next to the window's edges,
    // several times each (the refused case failed at random, often once in a few tries).
    for (width, lo, hi) in [(7, -25, 30), (12, -2040, 2047)] {
        for v in [lo, -9, -8, -1, 0, 1, 2, 7, 8, 9, hi] {
            for _ in 0..3 {
                let y = server
                    .clamped_table(&at(v, width, lo, hi), &table, 5, KeyLevel::Full)
                    .unwrap();
                assert_eq!(
                    decrypt(&y),
                    clamped(&table, v),
                    "{v} in [{lo}, {hi}] at {width} bits"
                );
            }
        }
    }
}
