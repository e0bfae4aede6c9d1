#!/usr/bin/env python3
"""OpenFHE CKKS bootstrapping reference figures (for scripts/ckks-bootstrap.sh).

Measures one bootstrapping configuration of OpenFHE (PyPI wheel `openfhe`,
CPython 3.10; see scripts/openfhe-install.sh) with OpenFHE's own
recommended bootstrapping settings:

  * secret key distribution UNIFORM_TERNARY, HEStd_128_classic, FLEXIBLEAUTO,
    scaling mod size 59, first mod size 60 (the 64-bit-native settings of
    openfhe-python's examples/pke/simple-ckks-bootstrapping.py and
    advanced-ckks-bootstrapping.py);
  * HYBRID key switching with 3 large digits (SetNumLargeDigits(3), OpenFHE's
    default, set explicitly);
  * depth = 10 levels available after bootstrapping
    + CryptoContext.GetBootstrapDepth(levelBudget, UNIFORM_TERNARY);
  * level budget [4, 4] for full slots (simple-ckks-bootstrapping.py uses
    [4, 4]; advanced-ckks-bootstrapping.py says "{4, 4} is good for higher ring
    dimensions (65536 and higher)") and [2, 2] for sparse packing (what was
    used on this machine before, see shared/PEERS.md; each budget entry must be
    at most log2(slots), so it is clamped for very small slot counts);
  * the ring dimension is left to OpenFHE (it picks N = 2^17 for these depths).

The input is encrypted at the last level (MakeCKKSPackedPlaintext(x, 1,
depth - 1, None, slots)), as OpenFHE's examples do, so EvalBootstrap really
refreshes an exhausted ciphertext.

stdout: exactly these lines, `<metric> <value>`, in this order:
  ring_n       ring dimension N chosen by OpenFHE
  keygen_s     KeyGen + EvalMultKeyGen + EvalBootstrapKeyGen, seconds
  key_bytes    BINARY-serialized evaluation keys (mult + automorphism), bytes
  boot_s       EvalBootstrap wall time, median of --runs runs, seconds
  bits         -log2(max |error|) over all slots, worst of the runs
  levels_left  multiplicative levels usable after EvalBootstrap
  peak_gib     peak resident memory (ru_maxrss), GiB
Everything else (progress, checks, extra timings) goes to stderr.

How it runs: the script re-runs itself as a worker process that does all
the OpenFHE work, and supervises it. The supervisor (which never loads
OpenFHE) prints the metric lines, forwards the worker's output (including
anything OpenFHE prints on stdout) to stderr, and can still report when the
worker dies: OpenFHE's std::bad_alloc escapes through OpenMP regions and ends
in std::terminate (SIGABRT), never as a Python MemoryError, and the kernel's
OOM killer sends SIGKILL; neither can be caught inside the process.

Exit status:
  0  success
  2  bad arguments
  3  a check failed (precision below --min-bits, or more CPU busy than
     --threads threads); all metric lines are still printed
  4  out of memory: the worker died of std::bad_alloc (SIGABRT), was killed
     by SIGKILL (the OOM killer), or raised MemoryError. The metrics measured
     before the failure are printed, with peak_gib the worker's peak
     resident memory; stderr names the phase that ran out
  5  the worker died of another signal
  1  any other error (a Python traceback on stderr)
  128+n  the script itself got signal n (SIGINT, SIGTERM, SIGHUP), passed on
     to the worker

Memory: at N = 2^17, 256 slots peak at about 16 GiB (ru_maxrss; keys
10.3 GiB serialized); full slots ([4, 4]) need more than 24 GiB. --max-gib G caps the worker's address space (RLIMIT_AS) so
that it fails with exit status 4 at G GiB instead of pushing the machine
into the OOM killer.
"""

import argparse
import os
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--slots", default="256",
                   help="number of slots to bootstrap (a power of two), or 'full' for N/2 "
                        "(default 256)")
    p.add_argument("--runs", type=int, default=3,
                   help="number of timed EvalBootstrap runs (default 3)")
    p.add_argument("--threads", type=int, default=1,
                   help="OpenMP threads for OpenFHE (default 1)")
    p.add_argument("--level-budget", default=None,
                   help="override the level budget, as 'enc,dec' (e.g. 3,3)")
    p.add_argument("--levels-after", type=int, default=10,
                   help="levels available after bootstrapping, added to the bootstrap depth "
                        "(default 10, as OpenFHE's examples)")
    p.add_argument("--seed", type=int, default=1, help="seed of the input values (default 1)")
    p.add_argument("--min-bits", type=float, default=8.0,
                   help="exit with status 3 if the precision is below this (default 8)")
    p.add_argument("--max-gib", type=float, default=0.0,
                   help="cap the address space at this many GiB (RLIMIT_AS); 0 = no cap")
    p.add_argument("--toy", action="store_true",
                   help="INSECURE smoke test: HEStd_NotSet with N = 2^12, runs in seconds")
    args = p.parse_args(argv)
    if args.slots != "full":
        try:
            s = int(args.slots)
        except ValueError:
            p.error("--slots must be a power of two or 'full'")
        if s < 1 or s & (s - 1):
            p.error("--slots must be a power of two or 'full'")
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if args.threads < 1:
        p.error("--threads must be at least 1")
    if args.level_budget is not None:
        try:
            lb = [int(v) for v in args.level_budget.split(",")]
        except ValueError:
            lb = []
        if len(lb) != 2 or min(lb) < 1:
            p.error("--level-budget must be two positive integers, e.g. 3,3")
        args.level_budget = lb
    return args


ARGS = parse_args(sys.argv[1:])
WORKER_ENV = "OPENFHE_BOOTSTRAP_WORKER"
IS_WORKER = os.environ.get(WORKER_ENV) == "1"
# Worker -> supervisor protocol: lines starting with TAG on the worker's
# stdout, `metric <name> <value>` or `phase <name>`.
TAG = "@@openfhe_bootstrap@@"

import math  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

if IS_WORKER:
    # OpenFHE parallelizes with OpenMP (libgomp is bundled in the wheel).
    # libgomp reads OMP_NUM_THREADS once, when it is loaded, i.e. when openfhe
    # is imported, and the Python bindings expose no call to change it later:
    # set it (and the numpy/BLAS pools) before the imports below. The worker
    # checks afterwards that CPU time / wall time stays at about --threads.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)
    import numpy as np  # noqa: E402
    import openfhe as fhe  # noqa: E402

GIB = 1024.0**3


def log(msg):
    print(f"openfhe_bootstrap: {msg}", file=sys.stderr, flush=True)


def peak_gib():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def n_threads():
    return len(os.listdir("/proc/self/task"))


class Timed:
    """Wall and CPU time of a block; logs cpu/wall so the thread count shows."""

    def __init__(self, what, report):
        self.what = what
        self.report = report

    def __enter__(self):
        self.c0, self.t0 = cpu_s(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu = cpu_s() - self.c0
        if exc[0] is None:
            self.report.cpu_wall.append((self.what, self.cpu, self.wall))
            log(f"{self.what}: {self.wall:.2f} s wall, {self.cpu:.2f} s CPU "
                f"(ratio {self.cpu / max(self.wall, 1e-9):.2f}), {n_threads()} OS threads, "
                f"peak {peak_gib():.2f} GiB")
        return False


ORDER = ["ring_n", "keygen_s", "key_bytes", "boot_s", "bits", "levels_left", "peak_gib"]


class Report:
    """Worker side: sends each metric (and each phase start) to the supervisor."""

    def __init__(self):
        self.cpu_wall = []

    def send(self, *words):
        # Through the real stdout, which is the supervisor's pipe.
        print(TAG, *words, file=sys.__stdout__, flush=True)

    def set(self, key, value):
        self.send("metric", key, value)

    def phase(self, name):
        self.send("phase", name.replace(" ", "_"))
        log(f"{name} ...")


def level_budget_for(slots_arg, slots):
    if ARGS.level_budget is not None:
        return ARGS.level_budget
    # Full packing: [4, 4], OpenFHE's recommendation for N >= 2^16. Sparse
    # packing: [2, 2] (used here before). A budget entry may not exceed
    # log2(slots), hence the clamp for tiny slot counts.
    want = 4 if slots_arg == "full" else 2
    cap = max(1, int(math.log2(slots))) if slots else want
    return [min(want, cap)] * 2


def serialized_key_bytes(cc):
    """Bytes of the BINARY-serialized eval mult + automorphism keys.

    OpenFHE serializes into a named pipe whose reader (`wc -c`) only counts
    the bytes. The keys are about 10 GiB at N = 2^17: a copy in Python (the
    *String variants) would inflate the peak memory this script reports, and a
    temporary file fills the page cache with dirty pages that the kernel then
    has to write back while EvalBootstrap allocates, which slowed the timed
    runs down.
    """
    total = 0
    with tempfile.TemporaryDirectory(prefix="openfhe-keys-") as d:
        for name, fn in (("mult", cc.SerializeEvalMultKey),
                         ("automorphism", cc.SerializeEvalAutomorphismKey)):
            fifo = os.path.join(d, name + ".fifo")
            os.mkfifo(fifo)
            counter = subprocess.Popen(["wc", "-c", fifo], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE)
            ok = False
            try:
                ok = fn(fifo, fhe.BINARY)
            finally:
                if not ok:
                    counter.kill()
                    counter.wait()
            if not ok:
                raise RuntimeError(f"serializing the eval {name} keys failed")
            out, _ = counter.communicate()
            if counter.returncode != 0:
                raise RuntimeError(f"counting the eval {name} key bytes failed")
            size = int(out.split()[0])
            log(f"eval {name} keys: {size} bytes ({size / GIB:.2f} GiB)")
            total += size
    return total


def check_levels(cc, ct, levels_left, sk, x, slots):
    """Spend `levels_left` levels (scalar multiplications by 1), then one more.

    The first must still decrypt to x; the extra one must be refused (or
    decrypt to garbage). This confirms the levels_left figure empirically.
    """
    c = ct
    for _ in range(levels_left):
        c = cc.EvalMult(c, 1.0)
    pt = cc.Decrypt(sk, c)
    pt.SetLength(slots)
    err = float(np.max(np.abs(pt.GetRealPackedValueArray()[:slots] - x)))
    ok_after = err < 1e-2
    log(f"levels check: after {levels_left} multiplications max error {err:.3g} "
        f"({'ok' if ok_after else 'BAD'})")
    try:
        c2 = cc.EvalMult(c, 1.0)
        pt = cc.Decrypt(sk, c2)
        pt.SetLength(slots)
        err2 = float(np.max(np.abs(pt.GetRealPackedValueArray()[:slots] - x)))
        refused = err2 > 1e-2
        log(f"levels check: multiplication {levels_left + 1} gives max error {err2:.3g} "
            f"({'exhausted, as expected' if refused else 'STILL FINE: more levels than reported'})")
    except Exception as e:  # OpenFHE throws once the modulus chain is exhausted
        refused = True
        log(f"levels check: multiplication {levels_left + 1} refused, as expected "
            f"({type(e).__name__}: ...{str(e).strip().splitlines()[0][-110:]})")
    return ok_after and refused


def run(report):
    slots_arg = ARGS.slots
    params = fhe.CCParamsCKKSRNS()
    key_dist = fhe.SecretKeyDist.UNIFORM_TERNARY
    params.SetSecretKeyDist(key_dist)
    if ARGS.toy:
        params.SetSecurityLevel(fhe.SecurityLevel.HEStd_NotSet)
        params.SetRingDim(1 << 12)
    else:
        params.SetSecurityLevel(fhe.SecurityLevel.HEStd_128_classic)
    params.SetNumLargeDigits(3)
    params.SetKeySwitchTechnique(fhe.KeySwitchTechnique.HYBRID)
    if fhe.get_native_int() != 64:
        raise SystemExit("expected a 64-bit-native OpenFHE build (59/60-bit moduli)")
    params.SetScalingModSize(59)
    params.SetFirstModSize(60)
    params.SetScalingTechnique(fhe.ScalingTechnique.FLEXIBLEAUTO)

    # The level budget depends on the slot count only through 'full' vs. sparse
    # (and a clamp for tiny counts), so it can be fixed before N is known.
    pre_slots = None if slots_arg == "full" else int(slots_arg)
    budget = level_budget_for(slots_arg, pre_slots)
    boot_depth = fhe.CryptoContext.GetBootstrapDepth(budget, key_dist)
    depth = ARGS.levels_after + boot_depth
    params.SetMultiplicativeDepth(depth)

    report.phase("GenCryptoContext")
    with Timed("GenCryptoContext", report):
        cc = fhe.GenCryptoContext(params)
    for feature in (fhe.PKE, fhe.KEYSWITCH, fhe.LEVELEDSHE, fhe.ADVANCEDSHE, fhe.FHE):
        cc.Enable(feature)
    ring_n = cc.GetRingDimension()
    report.set("ring_n", ring_n)
    slots = ring_n // 2 if slots_arg == "full" else int(slots_arg)
    if slots > ring_n // 2:
        raise SystemExit(f"--slots {slots} exceeds N/2 = {ring_n // 2}")
    log(f"N = {ring_n} (2^{ring_n.bit_length() - 1}), slots {slots}, level budget {budget}, "
        f"bootstrap depth {boot_depth}, total depth {depth}, "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")

    report.phase("EvalBootstrapSetup")
    with Timed("EvalBootstrapSetup", report):
        cc.EvalBootstrapSetup(budget, [0, 0], slots)

    report.phase("key generation")
    with Timed("key generation (KeyGen + EvalMultKeyGen + EvalBootstrapKeyGen)", report) as t:
        keys = cc.KeyGen()
        cc.EvalMultKeyGen(keys.secretKey)
        cc.EvalBootstrapKeyGen(keys.secretKey, slots)
    report.set("keygen_s", f"{t.wall:.2f}")
    n_rot = len(cc.GetExistingEvalAutomorphismKeyIndices(keys.secretKey.GetKeyTag()))
    log(f"{n_rot} automorphism keys")

    report.phase("key serialization")
    with Timed("key serialization", report):
        report.set("key_bytes", serialized_key_bytes(cc))

    rng = np.random.default_rng(ARGS.seed)
    x = rng.uniform(-1.0, 1.0, slots)
    # Encrypted at the last level: only one level left before bootstrapping.
    pt = cc.MakeCKKSPackedPlaintext(x, 1, depth - 1, None, slots)
    pt.SetLength(slots)
    ct = cc.Encrypt(keys.publicKey, pt)
    log(f"input ciphertext: level {ct.GetLevel()}, {depth - ct.GetLevel()} level(s) remaining")

    times, bits, out = [], [], None
    for i in range(ARGS.runs):
        report.phase(f"EvalBootstrap run {i + 1}")
        with Timed(f"EvalBootstrap run {i + 1}/{ARGS.runs}", report) as t:
            out = cc.EvalBootstrap(ct)
        times.append(t.wall)
        dec = cc.Decrypt(keys.secretKey, out)
        dec.SetLength(slots)
        err = float(np.max(np.abs(dec.GetRealPackedValueArray()[:slots] - x)))
        bits.append(-math.log2(err) if err > 0 else float("inf"))
        log(f"run {i + 1}: max error {err:.3e} = {bits[-1]:.2f} bits")
    report.set("boot_s", f"{statistics.median(times):.2f}")
    report.set("bits", f"{min(bits):.2f}")

    # OpenFHE's examples: levels remaining = depth - level - (noiseScaleDeg - 1)
    # (under FLEXIBLEAUTO the last rescale is deferred, leaving scale degree 2).
    levels_left = depth - out.GetLevel() - (out.GetNoiseScaleDeg() - 1)
    log(f"output ciphertext: level {out.GetLevel()}, noise scale degree "
        f"{out.GetNoiseScaleDeg()} -> {levels_left} levels left (configured {ARGS.levels_after})")
    report.set("levels_left", levels_left)
    report.phase("levels check")
    levels_ok = check_levels(cc, out, levels_left, keys.secretKey, x, slots)

    # One busy thread: CPU time ~ wall time. Use the bootstrap runs, the longest
    # single-kernel phase; allow some slack for the OS.
    ratios = [c / w for what, c, w in report.cpu_wall if what.startswith("EvalBootstrap run") and w > 0]
    ratio = max(ratios)
    threads_ok = ratio <= ARGS.threads + 0.25
    log(f"CPU/wall during EvalBootstrap: {ratio:.2f} (--threads {ARGS.threads}): "
        f"{'ok' if threads_ok else 'TOO MANY THREADS BUSY'}")

    ok = True
    if min(bits) < ARGS.min_bits:
        log(f"CHECK FAILED: precision {min(bits):.2f} bits < --min-bits {ARGS.min_bits}")
        ok = False
    if not threads_ok:
        log("CHECK FAILED: more threads busy than --threads")
        ok = False
    if not levels_ok:
        log("warning: the empirical levels check disagrees with levels_left (see above)")
    return ok


def set_parent_death_signal():
    """Let the worker die with the supervisor (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def worker_main():
    set_parent_death_signal()
    # Anything else written to stdout (OpenFHE's own prints included) goes to
    # stderr; only Report.send() uses the real stdout.
    sys.stdout = sys.stderr
    if ARGS.max_gib > 0:
        cap = int(ARGS.max_gib * GIB)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        log(f"address space capped at {ARGS.max_gib} GiB")
    log(f"OpenFHE {fhe.__version__}, slots {ARGS.slots}, runs {ARGS.runs}, "
        f"threads {ARGS.threads}{', TOY (insecure) parameters' if ARGS.toy else ''}")
    report = Report()
    t0 = time.perf_counter()
    try:
        ok = run(report)
    except MemoryError as e:
        log(f"OUT OF MEMORY ({type(e).__name__}: {e}) after {time.perf_counter() - t0:.1f} s; "
            f"peak {peak_gib():.2f} GiB")
        return 4
    report.set("peak_gib", f"{peak_gib():.2f}")
    log(f"total {time.perf_counter() - t0:.1f} s")
    return 0 if ok else 3


def supervise():
    env = dict(os.environ, **{WORKER_ENV: "1"})
    cmd = [sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
    worker = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    received = []

    def forward(signum, _frame):
        # Don't leave a worker holding 13+ GiB behind.
        received.append(signum)
        worker.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, forward)

    metrics, phase, bad_alloc = {}, "startup", False
    for raw in worker.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        words = line.split()
        if words[:1] == [TAG]:
            if words[1:2] == ["metric"] and len(words) == 4:
                metrics[words[2]] = words[3]
            elif words[1:2] == ["phase"] and len(words) == 3:
                phase = words[2]
            continue
        if "std::bad_alloc" in line:
            bad_alloc = True
        print(line, file=sys.stderr, flush=True)
    rc = worker.wait()

    if received:
        log(f"interrupted by {signal.Signals(received[0]).name}")
        return 128 + received[0]
    if rc < 0:
        sig = -rc
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGKILL or (sig == signal.SIGABRT and bad_alloc):
            why = "std::bad_alloc" if bad_alloc else "SIGKILL, most likely the kernel's OOM killer"
            log(f"OUT OF MEMORY: the worker died of {name} ({why}) during phase {phase}")
            rc = 4
        else:
            log(f"the worker died of signal {name} during phase {phase}")
            rc = 5
    elif rc == 4:
        log(f"OUT OF MEMORY (MemoryError) during phase {phase}")
    if rc in (4, 5) and "peak_gib" not in metrics:
        # ru_maxrss of waited-for children, in KiB: the worker's peak.
        kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        metrics["peak_gib"] = f"{kib * 1024 / GIB:.2f}"
    for key in ORDER:
        if key in metrics:
            print(f"{key} {metrics[key]}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(worker_main() if IS_WORKER else supervise())
