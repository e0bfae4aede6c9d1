//! The HTTP service (docs/api.md): routes, authorization, limits, metrics, and its start and
//! graceful stop. Heavy work (parsing keys, inference, training steps) runs on the blocking
//! pool, each job under `catch_unwind` so that no input can take the process down.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use shroud_nn::engines::GraphServer;
use shroud_nn::NnError;
use tower_http::catch_panic::CatchPanicLayer;

use crate::api::{
    unframe_step, Health, KeyKind, ModelSpec, RegisterQuery, Registration, TrainingSpec,
    BOOTSTRAPS_HEADER, KEY_HEADER, SECONDS_HEADER,
};
use crate::metrics::{Metrics, RequestLabels, RouteLabels};
use crate::models::{ModelSource, Models};
use crate::store::{check_client, parse_key, KeyStore, LoadedKey, StoreLimits};
use crate::ServeError;

/// How a service runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The address and port to listen on (port 0: one the system chooses).
    pub listen: SocketAddr,
    /// The key store's directory (shared by replicas).
    pub store: PathBuf,
    /// The models to host, each loaded and planned when the service starts.
    pub models: Vec<ModelSource>,
    /// The key store's memory cap and per-client quotas.
    pub limits: StoreLimits,
    /// Largest body of a key registration.
    pub max_key_bytes: usize,
    /// Largest body of an inference or a training step.
    pub max_body_bytes: usize,
    /// A PEM certificate chain and private key: HTTPS instead of HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How long running requests may take to finish once a stop is asked.
    pub shutdown_grace: Duration,
}

impl ServeConfig {
    /// Defaults sized for the 128-bit MNIST model: keys up to 1 GiB, bodies up to 64 MiB,
    /// 8 GiB of keys loaded, 4 keys and 2 GiB per client.
    pub fn new(listen: SocketAddr, store: PathBuf, models: Vec<ModelSource>) -> Self {
        Self {
            listen,
            store,
            models,
            limits: StoreLimits {
                memory_bytes: 8 << 30,
                keys_per_client: 4,
                bytes_per_client: 2 << 30,
            },
            max_key_bytes: 1 << 30,
            max_body_bytes: 64 << 20,
            tls: None,
            shutdown_grace: Duration::from_secs(600),
        }
    }
}

#[derive(Clone)]
struct AppState {
    store: Arc<KeyStore>,
    models: Arc<Models>,
    metrics: Arc<Metrics>,
}

/// A service bound to its address, ready to run.
pub struct Service {
    listener: TcpListener,
    router: Router,
    tls: Option<(PathBuf, PathBuf)>,
    grace: Duration,
}

impl Service {
    /// Loads and plans the models, opens the key store and binds the address.
    pub fn bind(config: &ServeConfig) -> Result<Self, ServeError> {
        let models = Arc::new(Models::load(&config.models)?);
        let store = Arc::new(KeyStore::open(&config.store, config.limits)?);
        let state = AppState {
            store,
            models,
            metrics: Arc::new(Metrics::default()),
        };
        let listener = TcpListener::bind(config.listen)
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .map_err(|e| ServeError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
        Ok(Self {
            listener,
            router: router(state, config.max_key_bytes, config.max_body_bytes),
            tls: config.tls.clone(),
            grace: config.shutdown_grace,
        })
    }

    /// The bound address (with the port the system chose for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener
            .local_addr()
            .map_err(|e| ServeError::Internal(e.to_string()))
    }

    /// Serves until `shutdown` completes, then stops accepting connections and lets running
    /// requests finish (up to the grace period).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let handle = Handle::new();
        let stopper = handle.clone();
        let grace = self.grace;
        tokio::spawn(async move {
            shutdown.await;
            stopper.graceful_shutdown(Some(grace));
        });
        let app = self.router.into_make_service();
        let io = |e: std::io::Error| ServeError::Internal(e.to_string());
        match self.tls {
            Some((cert, key)) => {
                let tls = RustlsConfig::from_pem_file(&cert, &key)
                    .await
                    .map_err(|e| {
                        ServeError::Config(format!(
                            "TLS certificate {} or key {}: {e}",
                            cert.display(),
                            key.display()
                        ))
                    })?;
                axum_server::from_tcp_rustls(self.listener, tls)
                    .map_err(io)?
                    .handle(handle)
                    .serve(app)
                    .await
                    .map_err(io)
            }
            None => axum_server::from_tcp(self.listener)
                .map_err(io)?
                .handle(handle)
                .serve(app)
                .await
                .map_err(io),
        }
    }
}

/// Resolves on SIGINT or SIGTERM: what `shroud serve` stops on.
pub async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn router(state: AppState, max_key_bytes: usize, max_body_bytes: usize) -> Router {
    // A body limit is checked twice: against the declared length before anything is read
    // (so a client that sent `expect: 100-continue` gets its 413 before uploading), and by
    // axum while reading a body of undeclared length.
    let limited = |max: usize| {
        (
            DefaultBodyLimit::max(max),
            middleware::from_fn(move |request: Request, next: Next| {
                declared_size(max, request, next)
            }),
        )
    };
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{name}", get(model_spec))
        .route(
            "/v1/models/{name}/infer",
            post(infer).layer(limited(max_body_bytes)),
        )
        .route("/v1/keys", post(register).layer(limited(max_key_bytes)))
        .route("/v1/keys/{id}", delete(delete_key))
        .route(
            "/v1/training/step",
            post(train_step).layer(limited(max_body_bytes)),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .fallback(|| async { ServeError::bad("no such route (see docs/api.md)").into_response() })
        .layer(CatchPanicLayer::custom(|_| {
            ServeError::Internal("the request panicked".into()).into_response()
        }))
        .with_state(state)
}

/// 413 for a request whose declared length is over `max`, before its body is read.
async fn declared_size(max: usize, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > max as u64 => {
            ServeError::TooLarge(format!("{n} bytes; the limit is {max}")).into_response()
        }
        _ => next.run(request).await,
    }
}

/// Counts every routed request by route and status, and times it.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let start = Instant::now();
    state.metrics.in_flight.inc();
    let response = next.run(request).await;
    let m = &state.metrics;
    m.in_flight.dec();
    m.requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            status: response.status().as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { route })
        .observe(start.elapsed().as_secs_f64());
    response
}

/// Runs `job` on the blocking pool; a panic becomes an internal error.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, ServeError> + Send + 'static,
) -> Result<T, ServeError> {
    tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(AssertUnwindSafe(job))
            .unwrap_or_else(|_| Err(ServeError::Internal("the computation panicked".into())))
    })
    .await
    .map_err(|e| ServeError::Internal(e.to_string()))?
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ServeError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ServeError::TooLarge(e.body_text()),
        _ => ServeError::bad(e.body_text()),
    })
}

/// The key id and token of a request: `x-shroud-key: ID` and `authorization: Bearer TOKEN`.
fn credentials(headers: &HeaderMap) -> Result<(String, String), ServeError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let id = text(KEY_HEADER)
        .ok_or_else(|| ServeError::Unauthorized(format!("no {KEY_HEADER} header")))?;
    let token = text(header::AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ServeError::Unauthorized("no bearer token".into()))?;
    Ok((id.to_string(), token.trim().to_string()))
}

/// What an engine's error means for the client: what it sent cannot be used (400), or the
/// server failed (500).
fn engine_error(e: NnError) -> ServeError {
    match e {
        // A broken invariant is the service's fault, whatever layer reports it.
        NnError::Internal(_)
        | NnError::Lwe(shroud_lwe::LweError::Internal(_))
        | NnError::Ckks(shroud_ckks::CkksError::Internal(_)) => ServeError::Internal(e.to_string()),
        NnError::Malformed(_) | NnError::InvalidConfig(_) | NnError::Lwe(_) | NnError::Ckks(_) => {
            ServeError::bad(e.to_string())
        }
        other => ServeError::Internal(other.to_string()),
    }
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        models: state.models.len(),
    })
}

async fn metrics(State(state): State<AppState>) -> Response {
    let (keys, bytes) = state.store.loaded();
    let m = &state.metrics;
    m.keys_loaded.set(keys as i64);
    m.key_bytes_loaded.set(bytes as i64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response()
}

async fn list_models(State(state): State<AppState>) -> Json<Vec<ModelSpec>> {
    Json(state.models.specs())
}

async fn model_spec(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ModelSpec>, ServeError> {
    state
        .models
        .get(&name)
        .map(|m| Json(m.spec.clone()))
        .ok_or_else(|| ServeError::NotFound(format!("no model {name}")))
}

async fn register(
    State(state): State<AppState>,
    query: Result<Query<RegisterQuery>, QueryRejection>,
    upload: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Registration>), ServeError> {
    let Query(q) = query.map_err(|e| ServeError::bad(e.body_text()))?;
    let upload = body(upload)?;
    let kind = q.kind.unwrap_or(KeyKind::Lwe);
    let training = match kind {
        KeyKind::Lwe => None,
        KeyKind::Training => {
            let missing = |what: &str| ServeError::bad(format!("a training key needs {what}"));
            Some(TrainingSpec {
                inputs: q.inputs.ok_or_else(|| missing("inputs"))?,
                hidden: q.hidden.ok_or_else(|| missing("hidden"))?,
                outputs: q.outputs.ok_or_else(|| missing("outputs"))?,
                packing: q.packing.ok_or_else(|| missing("packing"))?,
                lr: q.lr.ok_or_else(|| missing("lr"))?,
            })
        }
    };
    let (store, models) = (state.store.clone(), state.models.clone());
    let registration = blocking(move || {
        check_client(&q.client)?;
        store.check_quota(&q.client, upload.len())?;
        let (loaded, params) = parse_key(kind, training.as_ref(), &upload)?;
        if kind == KeyKind::Lwe && !models.serves(&params) {
            return Err(ServeError::bad(format!(
                "no model here is compiled for parameters {params}"
            )));
        }
        store.register(&q.client, kind, training, params, &upload, loaded)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(registration)))
}

async fn delete_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ServeError> {
    let (key, token) = credentials(&headers)?;
    if key != id {
        return Err(ServeError::Forbidden(format!(
            "the request names key {key} and deletes key {id}"
        )));
    }
    let store = state.store.clone();
    blocking(move || {
        store.authorize(&id, &token)?;
        store.delete(&id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    upload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServeError> {
    let model = state
        .models
        .get(&name)
        .ok_or_else(|| ServeError::NotFound(format!("no model {name}")))?;
    let graph = model.graph.clone();
    let (id, token) = credentials(&headers)?;
    let upload = body(upload)?;
    let store = state.store.clone();
    let (output, seconds, bootstraps) = blocking(move || {
        let record = store.authorize(&id, &token)?;
        if record.kind != KeyKind::Lwe || record.params != graph.params().name {
            return Err(ServeError::bad(format!(
                "key {id} is a {:?} key of parameters {}; model {name} needs an LWE key of {}",
                record.kind,
                record.params,
                graph.params().name
            )));
        }
        let LoadedKey::Lwe(key) = store.load(&record)? else {
            return Err(ServeError::Internal(format!("key {id} is not an LWE key")));
        };
        let server = GraphServer::with_key(graph, key).map_err(engine_error)?;
        let start = Instant::now();
        let output = server.infer(&upload, &|_| {}).map_err(engine_error)?;
        Ok((
            output,
            start.elapsed().as_secs_f64(),
            server.plan().bootstraps,
        ))
    })
    .await?;
    let m = &state.metrics;
    m.bootstraps.inc_by(bootstraps as u64);
    if seconds > 0.0 {
        m.bootstrap_rate.set(bootstraps as f64 / seconds);
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                HeaderName::from_static(BOOTSTRAPS_HEADER),
                bootstraps.to_string(),
            ),
            (
                HeaderName::from_static(SECONDS_HEADER),
                format!("{seconds:.3}"),
            ),
        ],
        output,
    )
        .into_response())
}

async fn train_step(
    State(state): State<AppState>,
    headers: HeaderMap,
    upload: Result<Bytes, BytesRejection>,
) -> Result<Response, ServeError> {
    let (id, token) = credentials(&headers)?;
    let upload = body(upload)?;
    let store = state.store.clone();
    let output = blocking(move || {
        let record = store.authorize(&id, &token)?;
        if record.kind != KeyKind::Training {
            return Err(ServeError::bad(format!("key {id} is not a training key")));
        }
        let LoadedKey::Training(server) = store.load(&record)? else {
            return Err(ServeError::Internal(format!(
                "key {id} is not a training key"
            )));
        };
        let (weights, batch) = unframe_step(&upload).map_err(ServeError::bad)?;
        let (updated, _) = server.step(weights, batch).map_err(engine_error)?;
        Ok(updated)
    })
    .await?;
    state.metrics.training_steps.inc();
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], output).into_response())
}
