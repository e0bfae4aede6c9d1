//! # shroud-serve
//!
//! Shroud across a network: a service that holds models and evaluation keys and computes on
//! ciphertexts, and the client that holds the secret keys. The doctor's image is encrypted
//! on the client; the service runs the model on it and answers with a ciphertext only the
//! client can read. Encrypted training runs the same way: the service steps, the client
//! repacks.
//!
//! - [`server`]: the HTTP service (axum on tokio, TLS through rustls), its routes
//!   (docs/api.md), authorization by a token per key, body limits, `/health` and
//!   `/metrics`, graceful shutdown;
//! - [`store`]: the key store, a directory that survives restarts and that replicas share,
//!   with a memory cap on the keys held loaded and a quota per client;
//! - [`models`]: the compiled models a service hosts;
//! - [`client`]: the client API (registration, inference, training), which retries by
//!   itself when the service restarts;
//! - [`api`]: the JSON documents and framing both sides use;
//! - [`probe`]: hostile requests that check a running service refuses what it must.
//!
//! It sits above `shroud-nn` and under the CLI (`shroud serve`, `shroud client`).
//!
//! ```no_run
//! use shroud_lwe::bootstrap::presets;
//! use shroud_nn::engines::LweClient;
//! use shroud_serve::client::ServiceClient;
//!
//! // The doctor: a secret key that stays here, and its evaluation key for the service.
//! let service = ServiceClient::new("https://models.example.org:8443")?;
//! let spec = service.model("wdbc")?;
//! let params = presets::by_name(&spec.params).expect("a preset");
//! let (mut secret, evaluation_key) = LweClient::new(&params)?;
//! let key = service.register("clinic-7", &evaluation_key, None, &|_| {})?;
//! let record = vec![0.5f32; spec.interface.input.shape.len()];
//! let answer = service.classify(&spec, &mut secret, &key, &record)?;
//! println!("class {} with scores {:?}", answer.class, answer.scores);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Library code reports errors instead of panicking (docs/reliability.md); tests may panic.
// Indexing stays allowed: hot loops index by lengths checked where objects are built or
// loaded.
// Every public item says what it is for (checked by `cargo doc` in scripts/publish-check.sh).
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod api;
pub mod client;
mod error;
pub mod metrics;
pub mod models;
pub mod probe;
pub mod server;
pub mod store;

pub use error::ServeError;
