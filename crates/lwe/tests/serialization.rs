//! Round trips and rejection of malformed input.

use shroud_lwe::bootstrap::{presets, ClientKey, CompressedServerKey, LweCiphertext, ServerKey};
use shroud_lwe::gsw::{self, GswCiphertext, GswSecretKey};
use shroud_lwe::LweError;
use shroud_math::reseal;

#[test]
fn keys_and_ciphertexts_round_trip() {
    let p = presets::insecure_test();
    let mut client = ClientKey::from_seed(&p, 21).unwrap();
    let server = client.server_key();
    // The size a compiler announces before any key exists, for keys with one and three
    // bootstrapping keys.
    for q in [presets::insecure_test(), presets::insecure_wide_test()] {
        let bytes = ClientKey::from_seed(&q, 3).unwrap().server_key().to_bytes();
        let payload = ServerKey::payload_bytes(&q);
        assert!(
            payload <= bytes.len() && bytes.len() < payload + 1024,
            "{payload} {}",
            bytes.len()
        );
    }
    let bytes = server.to_bytes();
    let server2 = ServerKey::from_bytes(&bytes).unwrap();
    let client2 = ClientKey::from_bytes(&client.to_bytes()).unwrap();
    let (a, b) = (client.encrypt_bit(true), client.encrypt_bit(true));
    let a = LweCiphertext::from_bytes(&p, &a.to_bytes()).unwrap();
    let out = server2.nand(&a, &b).unwrap();
    assert!(!client2.decrypt_bit(&out).unwrap());

    let gp = gsw::presets::insecure_test();
    let mut sk = GswSecretKey::from_seed(&gp, 22).unwrap();
    let ct = sk.encrypt(1).unwrap();
    assert_eq!(GswCiphertext::from_bytes(&gp, &ct.to_bytes()).unwrap(), ct);
}

#[test]
fn malformed_input_is_rejected() {
    let p = presets::insecure_test();
    let mut client = ClientKey::from_seed(&p, 23).unwrap();
    let ct = client.encrypt_bit(false).to_bytes();
    // Truncated, extended, corrupted header, wrong kind, wrong parameters.
    assert!(LweCiphertext::from_bytes(&p, &ct[..ct.len() - 1]).is_err());
    let mut longer = ct.clone();
    longer.push(0);
    assert!(LweCiphertext::from_bytes(&p, &longer).is_err());
    let mut bad_magic = ct.clone();
    bad_magic[0] ^= 1;
    assert!(LweCiphertext::from_bytes(&p, &bad_magic).is_err());
    assert!(ClientKey::from_bytes(&ct).is_err());
    assert!(LweCiphertext::from_bytes(&presets::gates_128(), &ct).is_err());
    assert!(ServerKey::from_bytes(&[]).is_err());
    // A huge announced length must not allocate or panic, even behind a valid digest.
    let mut huge = ct.clone();
    huge[42..50].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(LweCiphertext::from_bytes(&p, &huge).is_err());
    assert!(reseal(&mut huge));
    assert!(LweCiphertext::from_bytes(&p, &huge).is_err());

    // A non-binary secret key: refused by its digest, and by the key check behind it.
    let mut key = client.to_bytes().to_vec();
    let last = key.len() - 1;
    key[last - 7] = 2;
    assert!(ClientKey::from_bytes(&key).is_err());
    assert!(reseal(&mut key));
    assert!(matches!(
        ClientKey::from_bytes(&key),
        Err(LweError::Malformed(m)) if m.contains("binary")
    ));

    // Random garbage never panics.
    let mut seed = 1u64;
    for len in [0usize, 1, 7, 16, 100, 1000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                (seed >> 56) as u8
            })
            .collect();
        assert!(ServerKey::from_bytes(&bytes).is_err());
        assert!(ClientKey::from_bytes(&bytes).is_err());
        assert!(GswCiphertext::from_bytes(&gsw::presets::insecure_test(), &bytes).is_err());
    }

    // A server key with a non-finite Fourier value (a third of the way in: the Fourier key),
    // behind a valid digest.
    let server = client.server_key().to_bytes();
    let mut nan = server.clone();
    let offset = nan.len() / 3;
    // Sixteen 0xff bytes cover at least one whole f64, and all-ones is a NaN.
    nan[offset..offset + 16].fill(0xff);
    assert!(ServerKey::from_bytes(&nan).is_err());
    assert!(reseal(&mut nan));
    assert!(matches!(
        ServerKey::from_bytes(&nan),
        Err(LweError::Malformed(m)) if m.contains("non-finite")
    ));
}

#[test]
fn compressed_keys_expand_to_working_keys_and_refuse_garbage() {
    for p in [presets::insecure_test(), presets::insecure_wide_test()] {
        let mut client = ClientKey::from_seed(&p, 31).unwrap();
        let compressed = client.compressed_server_key();
        let bytes = compressed.to_bytes();
        // The announced size, and the saving over the transformed key.
        let payload = CompressedServerKey::payload_bytes(&p);
        assert!(
            payload <= bytes.len() && bytes.len() < payload + 1024,
            "{payload} {}",
            bytes.len()
        );
        assert!(
            bytes.len() * 2 < ServerKey::payload_bytes(&p),
            "{} {}",
            bytes.len(),
            ServerKey::payload_bytes(&p)
        );
        assert_eq!(CompressedServerKey::from_bytes(&bytes).unwrap(), compressed);
        // Loaded through ServerKey::from_bytes, expanded: the same key as expanding here.
        let server = ServerKey::from_bytes(&bytes).unwrap();
        assert_eq!(server.to_bytes(), compressed.decompress().to_bytes());
        for (x, y) in [(false, false), (false, true), (true, false), (true, true)] {
            let (a, b) = (client.encrypt_bit(x), client.encrypt_bit(y));
            let out = server.nand(&a, &b).unwrap();
            assert_eq!(client.decrypt_bit(&out).unwrap(), !(x && y));
        }
        // Truncations and a flipped length are refused; flipped bytes elsewhere are a
        // (useless) well-formed key or a refusal, never a panic.
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(CompressedServerKey::from_bytes(&bytes[..cut]).is_err());
        }
        let mut seed = 5u64;
        for _ in 0..200 {
            let mut m = bytes.clone();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let at = (seed >> 20) as usize % m.len().min(4096);
            m[at] ^= 1 << (seed >> 61);
            if at >= 10 {
                assert!(CompressedServerKey::from_bytes(&m).is_err(), "flip at {at}");
                reseal(&mut m);
            }
            let _ = CompressedServerKey::from_bytes(&m).map(|k| k.decompress());
        }
    }
}
