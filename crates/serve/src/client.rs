//! The client of the service: the doctor's side. Its secret keys never leave it; it sends
//! evaluation keys once, then ciphertexts, and decrypts what comes back.
//!
//! Every call retries by itself, a bounded number of times with growing waits, when the
//! service cannot be reached or answers 502/503/504 (a restart, a replica going away); an
//! answer of the API (4xx, 500) is final. Inference and training steps are safe to repeat:
//! the service keeps no state between them but the keys.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use shroud_ckks::Params;
use shroud_nn::datasets::iris::Dataset;
use shroud_nn::engines::LweClient;
use shroud_nn::quant::argmax;
use shroud_nn::training::encrypted::{
    train_encrypted_with, EncryptedRun, Packing, PhaseTimes, Shape, StepServer,
};
use shroud_nn::training::square::{EpochStats, TrainConfig};
use shroud_nn::NnError;
use ureq::http::{Method, Request};
use ureq::tls::{parse_pem, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, SendBody};

use crate::api::{
    frame_step, ErrorBody, Health, KeyKind, ModelSpec, PackingName, Registration, TrainingSpec,
    BOOTSTRAPS_HEADER, KEY_HEADER, SECONDS_HEADER,
};
use crate::store::{check_client, valid_name};
use crate::ServeError;

/// Largest answer read: JSON documents and encrypted outputs are far smaller.
const MAX_ANSWER_BYTES: u64 = 1 << 30;

/// Bodies from this size on ask the service first (`expect: 100-continue`): a refusal (a
/// wrong token, a quota, a limit) comes before the upload instead of after it.
const ASK_FIRST_BYTES: usize = 1 << 20;

/// How a call retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1: no retry).
    pub attempts: u32,
    /// The first wait; each next one doubles, up to `max_wait`.
    pub first_wait: Duration,
    /// The longest wait between two attempts.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    /// 12 attempts over about a minute: enough for a service to restart and load its models.
    fn default() -> Self {
        Self {
            attempts: 12,
            first_wait: Duration::from_millis(250),
            max_wait: Duration::from_secs(8),
        }
    }
}

/// A connection to one service.
pub struct ServiceClient {
    base: String,
    agent: Agent,
    retry: RetryPolicy,
    sent: AtomicU64,
    received: AtomicU64,
}

/// An encrypted answer and what the service said of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The encrypted output, as the service sent it.
    pub output: Vec<u8>,
    /// Bootstraps the service ran, from its [`BOOTSTRAPS_HEADER`] (`None` if absent or not
    /// a number).
    pub bootstraps: Option<usize>,
    /// Seconds the service spent evaluating, from its [`SECONDS_HEADER`].
    pub server_seconds: Option<f64>,
}

/// A decrypted classification.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    /// The model's integer outputs, decrypted.
    pub outputs: Vec<i64>,
    /// Their real values (probabilities if the model ends with a softmax).
    pub scores: Vec<f64>,
    /// Index of the largest output: the predicted class.
    pub class: usize,
    /// Bytes of the encrypted input sent.
    pub bytes_sent: usize,
    /// Bytes of the encrypted answer received.
    pub bytes_received: usize,
    /// Wall time of the round trip in seconds (encryption and decryption excluded).
    pub seconds: f64,
    /// The service's own time in seconds, if it reported it.
    pub server_seconds: Option<f64>,
}

enum Failure {
    Retry(String),
    Final(ServeError),
}

struct Call<'a> {
    method: Method,
    path: String,
    auth: Option<&'a Registration>,
    body: Option<&'a [u8]>,
}

impl ServiceClient {
    /// A client of the service at `base` (`http://host:port` or `https://...`), trusting
    /// the system's usual roots for HTTPS.
    pub fn new(base: &str) -> Result<Self, ServeError> {
        Self::build(base, TlsConfig::default())
    }

    /// A client that trusts only the certificates in `ca_pem` (a self-signed service).
    pub fn with_ca(base: &str, ca_pem: &[u8]) -> Result<Self, ServeError> {
        let certs: Vec<_> = parse_pem(ca_pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(ServeError::Config("no certificate in the CA file".into()));
        }
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&certs))
            .build();
        Self::build(base, tls)
    }

    fn build(base: &str, tls: TlsConfig) -> Result<Self, ServeError> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ServeError::Config(format!(
                "{base:?}: the service's address starts with http:// or https://"
            )));
        }
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .tls_config(tls)
            .build()
            .new_agent();
        Ok(Self {
            base: base.to_string(),
            agent,
            retry: RetryPolicy::default(),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        })
    }

    /// The same client retrying as `retry` says instead of [`RetryPolicy::default`].
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Bytes of bodies sent and received so far.
    pub fn traffic(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }

    /// `GET /health`: the service's status, version and number of models.
    pub fn health(&self) -> Result<Health, ServeError> {
        self.json(Method::GET, "/health")
    }

    /// The specs of every hosted model, each checked as [`Self::model`] checks one.
    pub fn models(&self) -> Result<Vec<ModelSpec>, ServeError> {
        let specs: Vec<ModelSpec> = self.json(Method::GET, "/v1/models")?;
        specs.iter().try_for_each(check_spec)?;
        Ok(specs)
    }

    /// A model's spec, checked: a client does not trust the service's documents either.
    pub fn model(&self, name: &str) -> Result<ModelSpec, ServeError> {
        let spec: ModelSpec = self.json(Method::GET, &format!("/v1/models/{}", segment(name)?))?;
        check_spec(&spec)?;
        Ok(spec)
    }

    /// Uploads an evaluation key (`training`: the network of a CKKS training key, else an
    /// LWE key) for `client`; `progress` is told the bytes sent so far.
    pub fn register(
        &self,
        client: &str,
        key: &[u8],
        training: Option<&TrainingSpec>,
        progress: &dyn Fn(u64),
    ) -> Result<Registration, ServeError> {
        check_client(client)?;
        let mut path = format!("/v1/keys?client={client}");
        match training {
            None => path += "&kind=lwe",
            Some(t) => {
                path += &format!(
                    "&kind=training&inputs={}&hidden={}&outputs={}&packing={}&lr={}",
                    t.inputs,
                    t.hidden,
                    t.outputs,
                    t.packing.name(),
                    t.lr
                );
            }
        }
        let answer = self.retrying(|| {
            let mut reader = Progress {
                inner: key,
                sent: 0,
                progress,
            };
            let request = Request::builder()
                .method(Method::POST)
                .uri(format!("{}{path}", self.base))
                .header("content-type", "application/octet-stream")
                .header("content-length", key.len())
                .header("expect", "100-continue")
                .body(SendBody::from_reader(&mut reader))
                .map_err(|e| Failure::Final(ServeError::Internal(e.to_string())))?;
            self.finish(self.agent.run(request), key.len())
        })?;
        let registration: Registration = parse_json(&answer.0)?;
        let expected = if training.is_some() {
            KeyKind::Training
        } else {
            KeyKind::Lwe
        };
        if registration.kind != expected || registration.bytes != key.len() as u64 {
            return Err(ServeError::Transport(
                "the registration does not describe the key sent".into(),
            ));
        }
        Ok(registration)
    }

    /// Runs model `name` on an encrypted input with a registered key.
    pub fn infer(
        &self,
        name: &str,
        key: &Registration,
        input: &[u8],
    ) -> Result<Answer, ServeError> {
        let (output, headers) = self.call(Call {
            method: Method::POST,
            path: format!("/v1/models/{}/infer", segment(name)?),
            auth: Some(key),
            body: Some(input),
        })?;
        let header = |h: &str| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Ok(Answer {
            output,
            bootstraps: header(BOOTSTRAPS_HEADER).and_then(|v| v.parse().ok()),
            server_seconds: header(SECONDS_HEADER).and_then(|v| v.parse().ok()),
        })
    }

    /// Quantizes, encrypts and sends one input; decrypts and reads the answer.
    pub fn classify(
        &self,
        spec: &ModelSpec,
        lwe: &mut LweClient,
        key: &Registration,
        input: &[f32],
    ) -> Result<Classification, ServeError> {
        let nn = |e: NnError| ServeError::bad(e.to_string());
        if lwe.params().name != spec.params {
            return Err(ServeError::bad(format!(
                "the secret key is of parameters {}; model {} runs at {}",
                lwe.params().name,
                spec.name,
                spec.params
            )));
        }
        let x = spec.interface.quantize(input).map_err(nn)?;
        let upload = lwe.encrypt_input(&spec.encoding, &x).map_err(nn)?;
        let start = Instant::now();
        let answer = self.infer(&spec.name, key, &upload)?;
        let seconds = start.elapsed().as_secs_f64();
        let outputs = lwe
            .decrypt_output(&spec.encoding, &answer.output)
            .map_err(|e| ServeError::Transport(format!("the answer does not decrypt: {e}")))?;
        let scores = spec.interface.dequantize(&outputs);
        let class = argmax(&outputs);
        Ok(Classification {
            outputs,
            scores,
            class,
            bytes_sent: upload.len(),
            bytes_received: answer.output.len(),
            seconds,
            server_seconds: answer.server_seconds,
        })
    }

    /// One encrypted training step: the updated weights' shares.
    pub fn train_step(
        &self,
        key: &Registration,
        weights: &[u8],
        batch: &[u8],
    ) -> Result<Vec<u8>, ServeError> {
        let body = frame_step(weights, batch);
        let (updated, _) = self.call(Call {
            method: Method::POST,
            path: "/v1/training/step".into(),
            auth: Some(key),
            body: Some(&body),
        })?;
        Ok(updated)
    }

    /// Deletes a registered key from the service.
    pub fn delete_key(&self, key: &Registration) -> Result<(), ServeError> {
        self.call(Call {
            method: Method::DELETE,
            path: format!("/v1/keys/{}", segment(&key.key_id)?),
            auth: Some(key),
            body: None,
        })
        .map(drop)
    }

    /// Trains like `shroud_nn::training::encrypted::train_encrypted` with the service as the server:
    /// registers the training key as `client`, runs every step remotely, deletes the key at
    /// the end. The secret key and the plaintext never leave this process.
    #[allow(clippy::too_many_arguments)]
    pub fn train(
        &self,
        client: &str,
        train: &Dataset,
        test: &Dataset,
        config: &TrainConfig,
        params: &Params,
        packing: Packing,
        progress: &dyn Fn(u64),
        on_epoch: impl FnMut(&EpochStats),
    ) -> Result<EncryptedRun, ServeError> {
        let packing_name = PackingName::of(packing)
            .ok_or_else(|| ServeError::bad(format!("the service does not train {packing:?}")))?;
        let mut registered = None;
        let connect = |shape: Shape, keys: &[u8]| {
            let spec = TrainingSpec {
                inputs: shape.inputs,
                hidden: shape.hidden,
                outputs: shape.outputs,
                packing: packing_name,
                lr: config.lr,
            };
            let key = self
                .register(client, keys, Some(&spec), progress)
                .map_err(remote)?;
            registered = Some(key.clone());
            Ok(RemoteStep { client: self, key })
        };
        let run = train_encrypted_with(train, test, config, params, packing, connect, on_epoch);
        if let Some(key) = &registered {
            // The key is large and counts against the quota: drop it whatever happened.
            let _ = self.delete_key(key);
        }
        run.map_err(|e| match e {
            NnError::Remote(reason) => ServeError::Transport(reason),
            other => ServeError::bad(other.to_string()),
        })
    }

    /// One request exactly as given, no retry, no check of the answer: its status, or why
    /// there was none. For probing a service with requests the API does not allow.
    pub fn raw(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<u16, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body).map_err(|e| e.to_string())?;
        let mut response = self.agent.run(request).map_err(|e| e.to_string())?;
        // Drain the answer so the connection can be reused.
        let _ = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec();
        self.sent.fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(response.status().as_u16())
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, ServeError> {
        let (body, _) = self.call(Call {
            method,
            path: path.into(),
            auth: None,
            body: None,
        })?;
        parse_json(&body)
    }

    fn call(&self, call: Call) -> Result<(Vec<u8>, ureq::http::HeaderMap), ServeError> {
        self.retrying(|| {
            let mut request = Request::builder()
                .method(call.method.clone())
                .uri(format!("{}{}", self.base, call.path));
            if let Some(key) = call.auth {
                request = request
                    .header(KEY_HEADER, key.key_id.as_str())
                    .header("authorization", format!("Bearer {}", key.token));
            }
            let body = call.body.unwrap_or_default();
            if call.body.is_some() {
                request = request.header("content-type", "application/octet-stream");
            }
            if body.len() >= ASK_FIRST_BYTES {
                request = request.header("expect", "100-continue");
            }
            let request = request
                .body(body)
                .map_err(|e| Failure::Final(ServeError::bad(e.to_string())))?;
            self.finish(self.agent.run(request), body.len())
        })
    }

    /// Reads a response: its body and headers on success, the API's error otherwise.
    fn finish(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        sent: usize,
    ) -> Result<(Vec<u8>, ureq::http::HeaderMap), Failure> {
        let mut response = response.map_err(|e| Failure::Retry(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| Failure::Retry(e.to_string()))?;
        self.sent.fetch_add(sent as u64, Ordering::Relaxed);
        self.received
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        match status {
            200..=299 => Ok((body, response.headers().clone())),
            502..=504 => Err(Failure::Retry(format!("status {status}"))),
            _ => {
                let message = serde_json::from_slice::<ErrorBody>(&body)
                    .map(|e| e.error)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(500).collect());
                Err(Failure::Final(ServeError::from_status(status, message)))
            }
        }
    }

    fn retrying<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, ServeError> {
        let mut wait = self.retry.first_wait;
        let mut last = String::new();
        for n in 1..=self.retry.attempts.max(1) {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retry(reason)) => {
                    last = reason;
                    if n < self.retry.attempts {
                        sleep(wait);
                        wait = (wait * 2).min(self.retry.max_wait);
                    }
                }
            }
        }
        Err(ServeError::Transport(format!(
            "{} unreachable after {} attempts: {last}",
            self.base, self.retry.attempts
        )))
    }
}

/// A training step run by the service.
struct RemoteStep<'a> {
    client: &'a ServiceClient,
    key: Registration,
}

impl StepServer for RemoteStep<'_> {
    fn step(&mut self, weights: &[u8], batch: &[u8]) -> Result<(Vec<u8>, PhaseTimes), NnError> {
        let updated = self
            .client
            .train_step(&self.key, weights, batch)
            .map_err(remote)?;
        Ok((updated, PhaseTimes::default()))
    }
}

fn remote(e: ServeError) -> NnError {
    NnError::Remote(e.to_string())
}

/// Counts the bytes of an upload as they go.
struct Progress<'a> {
    inner: &'a [u8],
    sent: u64,
    progress: &'a dyn Fn(u64),
}

impl Read for Progress<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent += n as u64;
        (self.progress)(self.sent);
        Ok(n)
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ServeError> {
    serde_json::from_slice(body)
        .map_err(|e| ServeError::Transport(format!("not an answer of the API: {e}")))
}

/// A name or id as one path segment: the characters model names and key ids use.
fn segment(s: &str) -> Result<&str, ServeError> {
    if valid_name(s) {
        Ok(s)
    } else {
        Err(ServeError::bad(format!(
            "{s:?} is not a model name or key id"
        )))
    }
}

fn check_spec(spec: &ModelSpec) -> Result<(), ServeError> {
    spec.check().map_err(|reason| {
        ServeError::Transport(format!("the service's model {}: {reason}", spec.name))
    })
}
