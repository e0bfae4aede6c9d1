#!/usr/bin/env python3
"""Microsoft SEAL reference timings for the Shroud CKKS comparison.

Drives SEAL through TenSEAL's raw bindings (`tenseal.sealapi`, tenseal==0.3.18)
rather than TenSEAL's tensor API, so that what is timed is SEAL's own work
(plus a small, reported, pybind11 conversion cost) and not TenSEAL's wrappers.

stdout: one line per (op, logN), `<op> <logN> <value>`; value in milliseconds
(median over the repetitions, 3 decimals) or in bytes for `ct_bytes`.
stderr: correctness checks and diagnostic notes. Exits non-zero if a check
fails, so a broken pipeline is never timed silently.
"""

import os

# TenSEAL's package __init__ imports numpy, whose OpenBLAS starts a worker
# thread pool at import time. SEAL's evaluator is single-threaded, but pin the
# pools to one thread anyway so the process provably runs on one thread (this
# must happen before the import below).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import math
import random
import statistics
import sys
import tempfile
import time

import tenseal.sealapi as seal

# Coefficient-modulus bit sizes per log2(N). The last prime is SEAL's special
# (key-switching) prime: it is dropped from the data level, so fresh
# ciphertexts live at len(bits) - 1 primes.
COEFF_BITS = {
    13: [60, 40, 40, 60],
    14: [60] + [40] * 7 + [60],
    15: [60] + [40] * 9 + [60],
}
SCALE = 2.0**40
# Fresh error at scale 2^40 is ~1e-9 relative to slot values in [-1, 1]; a
# multiply + rescale stays far below 1e-5. A broken pipeline gives O(1) error.
TOLERANCE = 1e-5


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def thread_count():
    return len(os.listdir("/proc/self/task"))


def samples_ms(fn, reps):
    """Wall times of fn() in ms over `reps` runs, after one untimed warm-up.

    The warm-up lets SEAL's memory pool allocate its buffers once, so the
    timed runs measure steady-state cost, as a long-running user would see.
    """
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def median_ms(fn, reps):
    return statistics.median(samples_ms(fn, reps))


def check(name, log_n, got, want):
    err = max(abs(g - w) for g, w in zip(got, want))
    ok = len(got) >= len(want) and err < TOLERANCE
    log(f"check {name} logN={log_n}: max_abs_err={err:.3e} {'ok' if ok else 'FAIL'}")
    if not ok:
        sys.exit(f"seal_bench: correctness check failed for {name} at logN={log_n}")


def bench(log_n, reps, rng):
    n = 1 << log_n
    slots = n // 2
    results = {}

    parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(n)
    parms.set_coeff_modulus(seal.CoeffModulus.Create(n, COEFF_BITS[log_n]))
    # expand_mod_chain=True so rescale_to_next has levels to go to; TC128 is
    # SEAL's default security level and rejects over-large moduli.
    ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
    if not ctx.parameters_set():
        sys.exit(f"seal_bench: SEAL rejected logN={log_n}: {ctx.parameters_error_message()}")

    keygen = seal.KeyGenerator(ctx)
    # The zero-argument key creators return seal::Serializable<T>, which the
    # bindings cannot convert; the out-parameter overloads return real keys.
    pk = seal.PublicKey()
    keygen.create_public_key(pk)
    rlk = seal.RelinKeys()
    keygen.create_relin_keys(rlk)
    # The list overload that pybind picks first takes Galois *elements*, not
    # steps, so ask SEAL for the element of step +1 (3 for any N) rather than
    # passing [1]. One key only: rotate_vector(1) is then a single key switch,
    # exactly as it would be with SEAL's default power-of-two key set.
    gal_elt = ctx.key_context_data().galois_tool().get_elt_from_step(1)
    gk = seal.GaloisKeys()
    keygen.create_galois_keys([gal_elt], gk)

    encoder = seal.CKKSEncoder(ctx)
    encryptor = seal.Encryptor(ctx, pk)
    decryptor = seal.Decryptor(ctx, keygen.secret_key())
    ev = seal.Evaluator(ctx)
    assert encoder.slot_count() == slots

    a_vals = [rng.uniform(-1.0, 1.0) for _ in range(slots)]
    b_vals = [rng.uniform(-1.0, 1.0) for _ in range(slots)]
    p_vals = [rng.uniform(-1.0, 1.0) for _ in range(slots)]

    def encrypt(values):
        pt = seal.Plaintext()
        encoder.encode(values, SCALE, pt)
        ct = seal.Ciphertext(ctx)
        encryptor.encrypt(pt, ct)
        return ct

    def decrypt(ct):
        pt = seal.Plaintext()
        decryptor.decrypt(ct, pt)
        return encoder.decode_double(pt)

    ct_a = encrypt(a_vals)
    ct_b = encrypt(b_vals)

    # --- encode_encrypt: encode N/2 reals at 2^40, public-key encrypt.
    pt_tmp = seal.Plaintext()
    ct_tmp = seal.Ciphertext(ctx)

    def op_encode_encrypt():
        encoder.encode(a_vals, SCALE, pt_tmp)
        encryptor.encrypt(pt_tmp, ct_tmp)

    results["encode_encrypt"] = median_ms(op_encode_encrypt, reps)
    check("encode_encrypt", log_n, decrypt(ct_tmp), a_vals)

    # The encode binding copies a Python list into a std::vector<double> on
    # every call; that cost is included above. Encoding a single value does
    # the same FFT/NTT work (SEAL zero-pads to N/2 slots), so the difference
    # estimates how much of encode_encrypt is binding overhead, not SEAL.
    one = [a_vals[0]]
    # Minimums, not medians: this is a difference of two fixed costs, and the
    # minimum is the sample least disturbed by scheduler noise.
    conv_ms = min(samples_ms(lambda: encoder.encode(a_vals, SCALE, pt_tmp), reps)) - min(
        samples_ms(lambda: encoder.encode(one, SCALE, pt_tmp), reps)
    )
    log(f"note logN={log_n}: pybind list->vector conversion in encode ~{conv_ms:.3f} ms (included)")

    # --- decrypt_decode: includes the vector->list conversion of N/2 floats.
    def op_decrypt_decode():
        decryptor.decrypt(ct_a, pt_tmp)
        encoder.decode_double(pt_tmp)

    results["decrypt_decode"] = median_ms(op_decrypt_decode, reps)
    check("decrypt_decode", log_n, decrypt(ct_a), a_vals)

    # --- add: out-of-place Evaluator::add, which in SEAL is `dst = a` (a copy
    # into a reused buffer) followed by add_inplace(dst, b): the honest price
    # of producing a new ciphertext. add_inplace alone is logged for reference.
    ct_sum = seal.Ciphertext(ctx)
    results["add"] = median_ms(lambda: ev.add(ct_a, ct_b, ct_sum), reps)
    check("add", log_n, decrypt(ct_sum), [x + y for x, y in zip(a_vals, b_vals)])
    acc = encrypt(a_vals)  # the bindings expose no Ciphertext copy constructor
    log(f"note logN={log_n}: add_inplace alone {median_ms(lambda: ev.add_inplace(acc, ct_b), reps):.3f} ms")

    # --- mul_relin_rescale: fresh inputs each rep (multiply is out-of-place,
    # so ct_a/ct_b stay at the top level); relin and rescale act on the product.
    ct_prod = seal.Ciphertext(ctx)

    def op_mul_relin_rescale():
        ev.multiply(ct_a, ct_b, ct_prod)
        ev.relinearize_inplace(ct_prod, rlk)
        ev.rescale_to_next_inplace(ct_prod)

    results["mul_relin_rescale"] = median_ms(op_mul_relin_rescale, reps)
    check("mul_relin_rescale", log_n, decrypt(ct_prod), [x * y for x, y in zip(a_vals, b_vals)])
    log(f"note logN={log_n}: product size={ct_prod.size()} primes={ct_prod.coeff_modulus_size()} "
        f"scale=2^{math.log2(ct_prod.scale):.4f}")

    # --- mul_plain: the encode is part of the op, because TenSEAL's
    # CKKSVector * list encodes the list at the ciphertext's level each time.
    pt_p = seal.Plaintext()
    ct_mp = seal.Ciphertext(ctx)

    def op_mul_plain():
        encoder.encode(p_vals, ct_a.parms_id(), SCALE, pt_p)
        ev.multiply_plain(ct_a, pt_p, ct_mp)
        ev.rescale_to_next_inplace(ct_mp)

    results["mul_plain"] = median_ms(op_mul_plain, reps)
    check("mul_plain", log_n, decrypt(ct_mp), [x * y for x, y in zip(a_vals, p_vals)])

    # --- rotate_1: out-of-place rotate_vector is `dst = a` then one
    # apply_galois + key switch; the copy is negligible next to the switch.
    # Positive steps rotate left: slot i receives slot i+1.
    ct_rot = seal.Ciphertext(ctx)
    results["rotate_1"] = median_ms(lambda: ev.rotate_vector(ct_a, 1, gk, ct_rot), reps)
    check("rotate_1", log_n, decrypt(ct_rot), a_vals[1:] + a_vals[:1])

    # --- ct_bytes: the bindings only expose Ciphertext.save(path), which
    # uses SEAL's default compr_mode (compr_mode_default: zstd when SEAL is
    # built with zstd, as TenSEAL's is). That default is what reached disk,
    # so it is what we report; the header tells which mode was actually used.
    # The uncompressed size (compr_mode none) for a size-2 ciphertext is
    # 113 + 16*N*L bytes (16 B SEAL header, 73 B ciphertext metadata, 16+8 B
    # inner coefficient-array header, 2*N*L 8-byte words) -- verified once by
    # decompressing the zstd stream of a saved ciphertext.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ct.bin")
        ct_a.save(path)
        results["ct_bytes"] = os.path.getsize(path)
        header = seal.Serialization.SEALHeader()
        seal.Serialization.LoadHeader(path, header, False)
    raw = 113 + 16 * n * ct_a.coeff_modulus_size()
    log(f"note logN={log_n}: ct_bytes saved with compr_mode={header.compr_mode.name} "
        f"(SEAL format {header.version_major}.{header.version_minor}); "
        f"uncompressed would be {raw} bytes")

    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log-n", type=int, nargs="+", default=[13, 14, 15],
                    choices=sorted(COEFF_BITS))
    ap.add_argument("--reps", type=int, default=10,
                    help="timed repetitions per op (median reported; min 5)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.reps < 5:
        ap.error("--reps must be at least 5")

    rng = random.Random(args.seed)
    order = ["encode_encrypt", "decrypt_decode", "add", "mul_relin_rescale",
             "mul_plain", "rotate_1", "ct_bytes"]
    for log_n in args.log_n:
        t0 = time.perf_counter()
        res = bench(log_n, args.reps, rng)
        threads = thread_count()
        log(f"note logN={log_n}: done in {time.perf_counter() - t0:.1f} s, process threads={threads}")
        if threads != 1:
            sys.exit(f"seal_bench: expected 1 thread, found {threads}")
        for op in order:
            val = res[op]
            val = str(val) if op == "ct_bytes" else f"{val:.3f}"
            print(f"{op} {log_n} {val}", flush=True)


if __name__ == "__main__":
    main()
