//! What `/metrics` reports, in the Prometheus text format: requests by route and status,
//! their latencies, bootstraps run and their rate, keys loaded.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub bootstraps: Counter,
    /// Bootstraps per second of the last inference.
    pub bootstrap_rate: Gauge<f64, AtomicU64>,
    pub keys_loaded: Gauge,
    pub key_bytes_loaded: Gauge,
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
