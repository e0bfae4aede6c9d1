//! # shroud-fuzz
//!
//! Fuzz targets: every deserializer, file loader and option parser Shroud exposes to the
//! outside, as functions of bytes. Whatever the bytes, a target must return (the loaders'
//! `Ok` or `Err`); a panic, an abort or an allocation without bound is a bug.
//!
//! Serialized objects carry a digest of their body ([`shroud_math::WireFormat`]), which
//! random bytes almost never match: each target runs its input as given (the digest and
//! header checks) and again with the digest recomputed ([`shroud_math::reseal`]), so that
//! mutations reach the checks behind it.
//!
//! libFuzzer runs the targets through `cargo fuzz` (the `fuzz/` folder,
//! `scripts/fuzz.sh`); the tests run each on its seeds, its committed corpus and random
//! mutations of them for a few seconds.
//!
//! ```
//! let target = shroud_fuzz::target("lwe_ciphertext").unwrap();
//! for seed in (target.seeds)() {
//!     (target.run)(&seed);
//!     (target.run)(&seed[..seed.len() / 2]);
//! }
//! ```

// Every public item says what it is for (checked by `cargo doc` in scripts/publish-check.sh).
#![warn(missing_docs)]

mod seeds;
mod targets;

/// One fuzz target: its name (that of its `cargo fuzz` target and corpus folder), the
/// function under test and valid inputs to start from.
pub struct Target {
    /// The target's name, shared by its `cargo fuzz` binary and its corpus folder.
    pub name: &'static str,
    /// Runs the code under test on arbitrary bytes; it must return, whatever they are.
    pub run: fn(&[u8]),
    /// Valid inputs that reach deep into the code under test, to mutate from.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "lwe_ciphertext",
        run: targets::lwe_ciphertext,
        seeds: seeds::lwe_ciphertext,
    },
    Target {
        name: "lwe_client_key",
        run: targets::lwe_client_key,
        seeds: seeds::lwe_client_key,
    },
    Target {
        name: "lwe_server_key",
        run: targets::lwe_server_key,
        seeds: seeds::lwe_server_key,
    },
    Target {
        name: "gsw_ciphertext",
        run: targets::gsw_ciphertext,
        seeds: seeds::gsw_ciphertext,
    },
    Target {
        name: "ckks_params",
        run: targets::ckks_params,
        seeds: seeds::ckks_params,
    },
    Target {
        name: "ckks_ciphertext",
        run: targets::ckks_ciphertext,
        seeds: seeds::ckks_ciphertext,
    },
    Target {
        name: "ckks_keys",
        run: targets::ckks_keys,
        seeds: seeds::ckks_keys,
    },
    Target {
        name: "model_files",
        run: targets::model_files,
        seeds: seeds::model_files,
    },
    Target {
        name: "onnx",
        run: targets::onnx,
        seeds: seeds::onnx,
    },
    Target {
        name: "idx",
        run: targets::idx,
        seeds: seeds::idx,
    },
    Target {
        name: "datasets",
        run: targets::datasets,
        seeds: seeds::datasets,
    },
    Target {
        name: "service_requests",
        run: targets::service_requests,
        seeds: seeds::service_requests,
    },
    Target {
        name: "training_messages",
        run: targets::training_messages,
        seeds: seeds::training_messages,
    },
    Target {
        name: "lwe_inference",
        run: targets::lwe_inference,
        seeds: seeds::lwe_inference,
    },
    Target {
        name: "option_values",
        run: targets::option_values,
        seeds: seeds::option_values,
    },
];

/// The target of `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Runs the target `name` on `data`; what the libFuzzer harnesses call. An unknown name is
/// a harness out of step with [`TARGETS`], which the smoke tests rule out.
pub fn run(name: &str, data: &[u8]) {
    if let Some(t) = target(name) {
        (t.run)(data);
    }
}
