//! Hostile requests against a running service, to check that it refuses what it must:
//! malformed and oversized bodies, mutated ciphertexts and keys, missing or wrong
//! credentials, unknown models and routes, bad queries. Every one must get a 4xx answer;
//! a 5xx or a dropped connection is a failure of the service. `shroud client probe` and
//! `scripts/serve-check.sh` run it; the service's tests run a shorter one.

use ureq::http::Method;

use crate::api::{frame_step, Registration, KEY_HEADER};
use crate::client::ServiceClient;

/// What the service answered to the probe's requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeReport {
    /// Hostile requests sent.
    pub requests: usize,
    /// Answered 400-499.
    pub refused: usize,
    /// Answered 500-599: the service failed on input it should have refused.
    pub server_errors: usize,
    /// Answered 1xx-3xx: accepted what it should have refused.
    pub accepted: usize,
    /// No answer (connection refused or dropped).
    pub unreachable: usize,
    /// The first few requests that were not refused, for the report.
    pub failures: Vec<String>,
}

/// What the probe starts from: a model's name, a registered key, a valid encrypted input
/// for that model and a valid (compressed) evaluation key.
pub struct ProbeInputs<'a> {
    /// The name of a hosted model, whose inference route most requests target.
    pub model: &'a str,
    /// A registered key of that model's parameters, whose credentials the probe uses and
    /// alters.
    pub key: &'a Registration,
    /// A valid encrypted input for the model, which the probe mutates.
    pub ciphertext: &'a [u8],
    /// A valid compressed evaluation key, which the probe truncates and mutates.
    pub evaluation_key: &'a [u8],
    /// A body larger than the service's limit, sent every 100th request (0: never).
    pub oversized_bytes: usize,
}

/// A small deterministic generator: the probe must be reproducible, not secret.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// One hostile request: method, path, headers, body.
struct Hostile {
    what: &'static str,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn hostile(n: usize, rng: &mut Lcg, inputs: &ProbeInputs) -> Hostile {
    let infer = format!("/v1/models/{}/infer", inputs.model);
    let auth = |key: &Registration| {
        vec![
            (KEY_HEADER.to_string(), key.key_id.clone()),
            ("authorization".to_string(), format!("Bearer {}", key.token)),
        ]
    };
    let ours = auth(inputs.key);
    let ct = inputs.ciphertext;
    let mutate = |rng: &mut Lcg, base: &[u8], within: usize| {
        let mut m = base.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(within.min(m.len()));
            m[at] ^= 1 << rng.below(8);
        }
        m
    };
    let request = |what, method, path: &str, headers: Vec<(String, String)>, body| Hostile {
        what,
        method,
        path: path.to_string(),
        headers,
        body,
    };
    if inputs.oversized_bytes > 0 && n % 100 == 99 {
        // As a well-behaved client sends a large body: the service's 413 comes before the
        // upload (without the header, a service that answers early closes the connection
        // under the client's feet, as HTTP allows).
        let mut headers = ours;
        headers.push(("expect".to_string(), "100-continue".to_string()));
        return request(
            "oversized body",
            Method::POST,
            &infer,
            headers,
            vec![0; inputs.oversized_bytes],
        );
    }
    match n % 16 {
        0 => {
            let len = rng.below(1 << 16);
            request("random body", Method::POST, &infer, ours, rng.bytes(len))
        }
        1 => {
            let cut = rng.below(ct.len());
            request(
                "truncated ciphertext",
                Method::POST,
                &infer,
                ours,
                ct[..cut].to_vec(),
            )
        }
        // The envelope: magic, version, kind, lengths.
        2 => {
            let m = mutate(rng, ct, 24);
            if m == ct {
                return request("empty body", Method::POST, &infer, ours, Vec::new());
            }
            request("mutated ciphertext header", Method::POST, &infer, ours, m)
        }
        3 => {
            let mut long = ct.to_vec();
            let extra = 1 + rng.below(64);
            long.extend(rng.bytes(extra));
            request(
                "ciphertext with trailing bytes",
                Method::POST,
                &infer,
                ours,
                long,
            )
        }
        4 => {
            let wrong = Registration {
                token: hex(&rng.bytes(32)),
                ..inputs.key.clone()
            };
            request(
                "wrong token",
                Method::POST,
                &infer,
                auth(&wrong),
                ct.to_vec(),
            )
        }
        5 => request(
            "no credentials",
            Method::POST,
            &infer,
            Vec::new(),
            ct.to_vec(),
        ),
        6 => {
            let unknown = Registration {
                key_id: hex(&rng.bytes(16)),
                ..inputs.key.clone()
            };
            request(
                "unknown key id",
                Method::POST,
                &infer,
                auth(&unknown),
                ct.to_vec(),
            )
        }
        7 => {
            let malformed = vec![
                (KEY_HEADER.to_string(), "../../etc/passwd".to_string()),
                (
                    "authorization".to_string(),
                    "Basic Zm9vOmJhcg==".to_string(),
                ),
            ];
            request(
                "malformed credentials",
                Method::POST,
                &infer,
                malformed,
                ct.to_vec(),
            )
        }
        8 => request(
            "unknown model",
            Method::POST,
            "/v1/models/no-such-model/infer",
            ours,
            ct.to_vec(),
        ),
        9 => {
            let len = rng.below(1 << 12);
            request(
                "random key",
                Method::POST,
                "/v1/keys?client=probe&kind=lwe",
                Vec::new(),
                rng.bytes(len),
            )
        }
        10 => {
            let key = inputs.evaluation_key;
            let cut = rng.below(key.len());
            request(
                "truncated key",
                Method::POST,
                "/v1/keys?client=probe&kind=lwe",
                Vec::new(),
                key[..cut].to_vec(),
            )
        }
        11 => {
            let queries = [
                "/v1/keys?client=../x&kind=lwe",
                "/v1/keys?kind=lwe",
                "/v1/keys?client=probe&kind=quantum",
                "/v1/keys?client=probe&kind=training&inputs=4",
                "/v1/keys?client=probe&kind=training&inputs=0&hidden=10&outputs=3&packing=row&lr=0.1",
                "/v1/keys?client=probe&kind=training&inputs=4&hidden=10&outputs=3&packing=row&lr=NaN",
                "/v1/keys?client=probe&kind=lwe&kind=lwe&%zz",
            ];
            let q = queries[rng.below(queries.len())];
            request(
                "bad registration query",
                Method::POST,
                q,
                Vec::new(),
                rng.bytes(64),
            )
        }
        12 => {
            let len = rng.below(1 << 10);
            let body = if rng.below(2) == 0 {
                rng.bytes(len)
            } else {
                frame_step(&rng.bytes(len), ct)
            };
            request(
                "bad training step",
                Method::POST,
                "/v1/training/step",
                ours,
                body,
            )
        }
        13 => {
            let other = hex(&rng.bytes(16));
            request(
                "delete another key",
                Method::DELETE,
                &format!("/v1/keys/{other}"),
                ours,
                Vec::new(),
            )
        }
        14 => {
            let paths = [
                "/v2/models",
                "/v1/models/x/y/z",
                "/v1/keys/",
                "/%00",
                "/v1/models/%C3%A9",
            ];
            let p = paths[rng.below(paths.len())];
            request("unknown route", Method::GET, p, Vec::new(), Vec::new())
        }
        // A small body: a service may answer 405 before reading any, and a large one would
        // then meet a closed connection.
        _ => request(
            "wrong method",
            Method::PUT,
            &infer,
            ours,
            ct[..ct.len().min(64)].to_vec(),
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `count` hostile requests (reproducibly from `seed`) and reports the answers.
pub fn probe(client: &ServiceClient, inputs: &ProbeInputs, count: usize, seed: u64) -> ProbeReport {
    let mut rng = Lcg(seed);
    let mut report = ProbeReport::default();
    for n in 0..count {
        let h = hostile(n, &mut rng, inputs);
        let headers: Vec<(&str, &str)> = h
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // A path the HTTP library refuses to send is refused before the service: count it
        // as refused only if the library says so, never silently.
        let outcome = client.raw(h.method.clone(), &h.path, &headers, &h.body);
        report.requests += 1;
        let failure = match outcome {
            Ok(400..=499) => {
                report.refused += 1;
                None
            }
            Ok(status @ 500..=599) => {
                report.server_errors += 1;
                Some(format!("{} ({} {}): {status}", h.what, h.method, h.path))
            }
            Ok(status) => {
                report.accepted += 1;
                Some(format!("{} ({} {}): {status}", h.what, h.method, h.path))
            }
            Err(e) => {
                report.unreachable += 1;
                Some(format!("{} ({} {}): {e}", h.what, h.method, h.path))
            }
        };
        if let Some(f) = failure.filter(|_| report.failures.len() < 10) {
            report.failures.push(f);
        }
    }
    report
}
