//! What `/metrics` reports, in the Prometheus text format: requests by route and status,
//! their latencies, bootstraps run and their rate, keys loaded.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The labels of `shroud_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route as the router matched it (`/v1/models/{name}/infer`, not the model's
    /// name), or `unmatched`.
    pub route: String,
    /// The HTTP status of the answer.
    pub status: u16,
}

/// The labels of `shroud_request_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route as the router matched it, or `unmatched`.
    pub route: String,
}

/// The service's metrics and the registry (prefix `shroud_`) that exposes them; the
/// [`Default`] registers every one.
pub struct Metrics {
    registry: Registry,
    /// `shroud_requests_total`: requests answered, by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// `shroud_request_seconds`: request latency in seconds, by route.
    pub latency: Family<RouteLabels, Histogram>,
    /// `shroud_bootstraps_total`: bootstraps run by inferences.
    pub bootstraps: Counter,
    /// Bootstraps per second of the last inference.
    pub bootstrap_rate: Gauge<f64, AtomicU64>,
    /// `shroud_keys_loaded`: keys held in memory, updated when `/metrics` is read.
    pub keys_loaded: Gauge,
    /// `shroud_key_bytes_loaded`: bytes of those keys as expanded in memory, updated when
    /// `/metrics` is read.
    pub key_bytes_loaded: Gauge,
    /// `shroud_training_steps_total`: encrypted training steps run.
    pub training_steps: Counter,
    /// Requests being answered now.
    pub in_flight: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("shroud");
        let requests = Family::<RequestLabels, Counter>::default();
        // 1 ms to about 20 minutes.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 4.0, 11))
        });
        let bootstraps = Counter::default();
        let bootstrap_rate = Gauge::<f64, AtomicU64>::default();
        let keys_loaded = Gauge::default();
        let key_bytes_loaded = Gauge::default();
        let training_steps = Counter::default();
        let in_flight = Gauge::default();
        registry.register("requests", "Requests by route and status", requests.clone());
        registry.register(
            "request_seconds",
            "Request latency by route",
            latency.clone(),
        );
        registry.register("bootstraps", "Bootstraps run", bootstraps.clone());
        registry.register(
            "bootstraps_per_second",
            "Bootstraps per second of the last inference",
            bootstrap_rate.clone(),
        );
        registry.register("keys_loaded", "Keys held in memory", keys_loaded.clone());
        registry.register(
            "key_bytes_loaded",
            "Bytes of the keys held in memory",
            key_bytes_loaded.clone(),
        );
        registry.register(
            "training_steps",
            "Encrypted training steps run",
            training_steps.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Requests being answered",
            in_flight.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            bootstraps,
            bootstrap_rate,
            keys_loaded,
            key_bytes_loaded,
            training_steps,
            in_flight,
        }
    }
}

impl Metrics {
    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
