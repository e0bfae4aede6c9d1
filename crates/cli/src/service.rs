//! `shroud serve` and `shroud client`: the service and the doctor's side of it, on two
//! machines (docs/api.md, docs/deployment.md).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use shroud_lwe::bootstrap::ClientKey;
use shroud_nn::datasets::iris::prepare_iris;
use shroud_nn::datasets::read_at_most;
use shroud_nn::engines::LweClient;
use shroud_nn::model_file::{CompiledModel, ModelFile};
use shroud_nn::training::encrypted::{default_params, PackingName};
use shroud_nn::training::square::{train_plain, TrainConfig};
use shroud_serve::api::{ModelSpec, Registration};
use shroud_serve::client::ServiceClient;
use shroud_serve::models::ModelSource;
use shroud_serve::probe::{probe, ProbeInputs};
use shroud_serve::server::{stop_signal, ServeConfig, Service};

use crate::iris::{progress, report, TrainOptions};
use crate::mnist::{params_by_name, progress_bar};
use crate::models::read_inputs;

const SECRET_FILE: &str = "secret.key";
const EVALUATION_FILE: &str = "evaluation.key";
const REGISTRATION_FILE: &str = "registration.json";
/// The largest files of the keys directory read back: an evaluation key (the LWE format's
/// own limit), a secret key, and the small ones (a registration, a PEM file).
const MAX_KEY_FILE: u64 = 1 << 31;
const MAX_SECRET_FILE: u64 = 1 << 24;
const MAX_SMALL_FILE: u64 = 1 << 20;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// The key store's directory; replicas share it (a volume).
    #[arg(long, default_value = "target/serve/store")]
    store: PathBuf,
    /// A hosted model, `NAME=PATH[@PARAMS]` (a compiled model of `shroud compile`; PARAMS a
    /// bootstrapping preset, wide_128 by default). Repeat for more.
    #[arg(long = "model", required = true)]
    models: Vec<ModelSource>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest key upload, in MiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
    max_key_mib: u64,
    /// Largest ciphertext body (inference, training step), in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65536))]
    max_body_mib: u64,
    /// MiB of keys held loaded; least recently used keys beyond it are dropped and
    /// reloaded from the store on demand.
    #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u64).range(1..))]
    memory_mib: u64,
    /// Keys one client may register.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    quota_keys: u64,
    /// MiB of keys one client may register.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..))]
    quota_mib: u64,
    /// Seconds running requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, default_value_t = 600)]
    grace_secs: u64,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mib = |m: u64| m.saturating_mul(1 << 20);
    let mut config = ServeConfig::new(args.listen, args.store, args.models);
    config.limits.memory_bytes = mib(args.memory_mib);
    config.limits.keys_per_client = args.quota_keys as usize;
    config.limits.bytes_per_client = mib(args.quota_mib);
    config.max_key_bytes = usize::try_from(mib(args.max_key_mib))?;
    config.max_body_bytes = usize::try_from(mib(args.max_body_mib))?;
    config.tls = args.tls_cert.zip(args.tls_key);
    config.shutdown_grace = Duration::from_secs(args.grace_secs);
    let t = Instant::now();
    let service = Service::bind(&config)?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "serving {} model(s) on {scheme}://{} (store {}), ready in {:.1} s",
        config.models.len(),
        service.local_addr()?,
        config.store.display(),
        t.elapsed().as_secs_f64()
    );
    for m in &config.models {
        println!("  {} = {} at {}", m.name, m.path.display(), m.params);
    }
    std::io::stdout().flush()?;
    tokio::runtime::Runtime::new()?.block_on(service.run(stop_signal()))?;
    println!("stopped");
    Ok(())
}

#[derive(Args)]
pub struct Connection {
    /// The service's address.
    #[arg(long, env = "SHROUD_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A PEM certificate to trust instead of the system's roots (a self-signed service).
    #[arg(long)]
    ca: Option<PathBuf>,
}

impl Connection {
    fn client(&self) -> anyhow::Result<ServiceClient> {
        Ok(match &self.ca {
            Some(path) => {
                let pem = read_at_most(path, MAX_SMALL_FILE)
                    .with_context(|| format!("{}", path.display()))?;
                ServiceClient::with_ca(&self.server, &pem)?
            }
            None => ServiceClient::new(&self.server)?,
        })
    }
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// The service's models: parameters, bootstraps, estimated latency, key size.
    Models {
        #[command(flatten)]
        connection: Connection,
    },
    /// A secret key (kept here, readable by its owner only) and its evaluation key, for the
    /// parameters of --params, or of a model of the service.
    Keygen {
        #[arg(long, conflicts_with = "model")]
        params: Option<String>,
        /// A model of the service whose parameters to use (asks --server).
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Directory of this client's keys.
        #[arg(long, default_value = "target/client")]
        keys: PathBuf,
    },
    /// Upload the evaluation key once; keeps the key id and its token.
    Register {
        /// This client's name (quotas count keys per name).
        #[arg(long)]
        client: String,
        #[command(flatten)]
        connection: Connection,
        #[arg(long, default_value = "target/client")]
        keys: PathBuf,
    },
    /// Encrypt inputs here, have the service classify them, decrypt the answers.
    Infer {
        #[arg(long)]
        model: String,
        /// A PNG image, a CSV of input rows (no header), or a dataset (its test part).
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value_t = 0)]
        index: usize,
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        count: u64,
        /// The compiled model, if you have it too: every decrypted output is compared with
        /// its integer evaluator's (checks that the service runs the model you expect).
        #[arg(long)]
        verify: Option<PathBuf>,
        #[command(flatten)]
        connection: Connection,
        #[arg(long, default_value = "target/client")]
        keys: PathBuf,
    },
    /// Send hostile requests (malformed, mutated, oversized, unauthorized) and check that
    /// the service refuses every one with a 4xx and keeps serving.
    Probe {
        #[arg(long)]
        model: String,
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Size of the oversized bodies sent every 100th request, in MiB (0: none); more
        /// than the service's --max-body-mib.
        #[arg(long, default_value_t = 65)]
        oversized_mib: u64,
        #[command(flatten)]
        connection: Connection,
        #[arg(long, default_value = "target/client")]
        keys: PathBuf,
    },
    /// Encrypted training with the service as the server.
    Train {
        #[command(subcommand)]
        what: TrainWhat,
    },
}

#[derive(Subcommand)]
pub enum TrainWhat {
    /// The 4-10-3 network on Iris: the data and the weights encrypted here, every step on
    /// the service, the repacking here; ends with the plaintext run for comparison.
    Iris {
        #[arg(long)]
        client: String,
        #[command(flatten)]
        options: TrainOptions,
        #[command(flatten)]
        connection: Connection,
    },
}

pub fn client(command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Models { connection } => models(&connection),
        ClientCommand::Keygen {
            params,
            model,
            connection,
            keys,
        } => keygen(params, model, &connection, &keys),
        ClientCommand::Register {
            client,
            connection,
            keys,
        } => register(&client, &connection, &keys),
        ClientCommand::Infer {
            model,
            input,
            index,
            count,
            verify,
            connection,
            keys,
        } => infer(
            &model,
            &input,
            index..index.saturating_add(count as usize),
            verify.as_deref(),
            &connection,
            &keys,
        ),
        ClientCommand::Probe {
            model,
            count,
            seed,
            oversized_mib,
            connection,
            keys,
        } => run_probe(
            &model,
            count as usize,
            seed,
            oversized_mib,
            &connection,
            &keys,
        ),
        ClientCommand::Train {
            what:
                TrainWhat::Iris {
                    client,
                    options,
                    connection,
                },
        } => train_iris(
            &client,
            options.packing,
            &options.config(),
            &options.data,
            &connection,
        ),
    }
}

fn models(connection: &Connection) -> anyhow::Result<()> {
    let service = connection.client()?;
    for m in service.models()? {
        println!(
            "{}: from {}, {} ({}-bit security), input {}, {} outputs; {} bootstraps, about \
             {:.1} s per inference; evaluation key {:.1} MB",
            m.name,
            m.source,
            m.params,
            m.security_bits,
            m.interface.input.shape,
            m.encoding.outputs,
            m.bootstraps,
            m.estimated_seconds,
            m.evaluation_key_bytes as f64 / 1e6
        );
    }
    Ok(())
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

fn keygen(
    params: Option<String>,
    model: Option<String>,
    connection: &Connection,
    keys: &Path,
) -> anyhow::Result<()> {
    let name = match (params, model) {
        (Some(p), _) => p,
        (None, Some(m)) => connection.client()?.model(&m)?.params,
        (None, None) => "wide_128".into(),
    };
    let params = params_by_name(&name)?;
    std::fs::create_dir_all(keys).with_context(|| format!("creating {}", keys.display()))?;
    let t = Instant::now();
    let (client, evaluation_key) = LweClient::new(&params)?;
    write_private(&keys.join(SECRET_FILE), &client.key().to_bytes())?;
    std::fs::write(keys.join(EVALUATION_FILE), &evaluation_key)?;
    println!(
        "keys for {} ({}-bit security) in {:.1} s: {} (secret, stays here), {} ({:.1} MB, for \
         the service)",
        params.name,
        params.security_bits,
        t.elapsed().as_secs_f64(),
        keys.join(SECRET_FILE).display(),
        keys.join(EVALUATION_FILE).display(),
        evaluation_key.len() as f64 / 1e6
    );
    Ok(())
}

fn register(client: &str, connection: &Connection, keys: &Path) -> anyhow::Result<()> {
    let path = keys.join(EVALUATION_FILE);
    let key = read_at_most(&path, MAX_KEY_FILE)
        .with_context(|| format!("{} (run `shroud client keygen` first)", path.display()))?;
    let service = connection.client()?;
    let bar = progress_bar(key.len(), "bytes");
    let t = Instant::now();
    let registration = service.register(client, &key, None, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    let json = serde_json::to_vec_pretty(&registration)?;
    write_private(&keys.join(REGISTRATION_FILE), &json)?;
    println!(
        "registered key {} ({}, {:.1} MB) for {client} in {:.1} s; its token is in {}",
        registration.key_id,
        registration.params,
        registration.bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        keys.join(REGISTRATION_FILE).display()
    );
    Ok(())
}

/// The service, one of its models, and the secret key and registration this client keeps
/// in its keys directory.
fn session(
    connection: &Connection,
    model: &str,
    keys: &Path,
) -> anyhow::Result<(ServiceClient, ModelSpec, LweClient, Registration)> {
    let service = connection.client()?;
    let spec = service.model(model)?;
    let (lwe, registration) = load_client(keys)?;
    Ok((service, spec, lwe, registration))
}

/// The secret key and the registration a client keeps in its keys directory.
fn load_client(keys: &Path) -> anyhow::Result<(LweClient, Registration)> {
    let secret = zeroize::Zeroizing::new(
        read_at_most(&keys.join(SECRET_FILE), MAX_SECRET_FILE).with_context(|| {
            format!(
                "{} (run `shroud client keygen`)",
                keys.join(SECRET_FILE).display()
            )
        })?,
    );
    let lwe = LweClient::from_key(ClientKey::from_bytes(&secret)?);
    let text = read_at_most(&keys.join(REGISTRATION_FILE), MAX_SMALL_FILE).with_context(|| {
        format!(
            "{} (run `shroud client register`)",
            keys.join(REGISTRATION_FILE).display()
        )
    })?;
    let registration: Registration = serde_json::from_slice(&text)
        .with_context(|| format!("{}", keys.join(REGISTRATION_FILE).display()))?;
    Ok((lwe, registration))
}

fn infer(
    model: &str,
    input: &Path,
    examples: std::ops::Range<usize>,
    verify: Option<&Path>,
    connection: &Connection,
    keys: &Path,
) -> anyhow::Result<()> {
    let (service, spec, mut lwe, registration) = session(connection, model, keys)?;
    let reference = verify.map(CompiledModel::load).transpose()?;
    let (inputs, labels) = read_inputs(input, spec.interface.input.shape)?;
    let (index, end) = (examples.start, examples.end);
    let count = end - index;
    if end > inputs.len() {
        anyhow::bail!(
            "examples {index}..{end} outside the {} of {}",
            inputs.len(),
            input.display()
        );
    }
    println!(
        "model {} at {} ({}-bit security): about {:.1} s per inference",
        spec.name, spec.params, spec.security_bits, spec.estimated_seconds
    );
    let (mut total, mut exact) = (0.0, 0);
    for (i, x) in inputs.iter().enumerate().take(end).skip(index) {
        let spinner = ProgressBar::new_spinner();
        spinner.set_message(format!("example {i}: the service computes"));
        spinner.enable_steady_tick(Duration::from_millis(200));
        let answer = service.classify(&spec, &mut lwe, &registration, x)?;
        spinner.finish_and_clear();
        total += answer.seconds;
        let verdict = match &reference {
            Some(m) => {
                let want = m.quantized.eval(&m.quantized.quantize_input(x)?)?;
                exact += usize::from(want == answer.outputs);
                if want == answer.outputs {
                    "; outputs equal the integer evaluator's"
                } else {
                    "; outputs DIFFER from the integer evaluator's"
                }
            }
            None => "",
        };
        let label = labels
            .get(i)
            .map(|l| format!(" (label {l})"))
            .unwrap_or_default();
        println!(
            "example {i}{label}: class {}, {:.2} s ({} s on the service); sent {:.2} MB, \
             received {:.3} MB{verdict}; scores {:?}",
            answer.class,
            answer.seconds,
            answer
                .server_seconds
                .map_or_else(|| "?".into(), |s| format!("{s:.2}")),
            answer.bytes_sent as f64 / 1e6,
            answer.bytes_received as f64 / 1e6,
            answer
                .scores
                .iter()
                .map(|s| (s * 1e4).round() / 1e4)
                .collect::<Vec<_>>()
        );
    }
    let (sent, received) = service.traffic();
    let exact = match reference {
        Some(_) => format!("{:.4}", exact as f64 / count as f64),
        None => "unverified".into(),
    };
    println!(
        "client infer: examples={count} exact={exact} mean_latency_s={:.3} sent_mb={:.3} \
         received_mb={:.3}",
        total / count as f64,
        sent as f64 / 1e6,
        received as f64 / 1e6
    );
    Ok(())
}

fn run_probe(
    model: &str,
    count: usize,
    seed: u64,
    oversized_mib: u64,
    connection: &Connection,
    keys: &Path,
) -> anyhow::Result<()> {
    let (service, spec, mut lwe, registration) = session(connection, model, keys)?;
    let evaluation_key = read_at_most(&keys.join(EVALUATION_FILE), MAX_KEY_FILE)
        .with_context(|| format!("{}", keys.join(EVALUATION_FILE).display()))?;
    let ciphertext = lwe.encrypt_input(&spec.encoding, &vec![0; spec.encoding.inputs])?;
    let t = Instant::now();
    let report = probe(
        &service,
        &ProbeInputs {
            model,
            key: &registration,
            ciphertext: &ciphertext,
            evaluation_key: &evaluation_key,
            oversized_bytes: usize::try_from(oversized_mib.saturating_mul(1 << 20))?,
        },
        count,
        seed,
    );
    for f in &report.failures {
        println!("not refused: {f}");
    }
    println!(
        "probe: requests={} refused_4xx={} server_errors={} accepted={} unreachable={} seconds={:.1}",
        report.requests,
        report.refused,
        report.server_errors,
        report.accepted,
        report.unreachable,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn train_iris(
    client: &str,
    packing: PackingName,
    config: &TrainConfig,
    data: &Path,
    connection: &Connection,
) -> anyhow::Result<()> {
    let service = connection.client()?;
    let (train, test) = prepare_iris(data, config.test_fraction, config.seed)?;
    let packing = packing.packing();
    let params = default_params(packing)?;
    println!(
        "Iris on {}: {} training samples, batch {}, {} epochs; CKKS N = {} ({}-bit security)",
        connection.server,
        train.len(),
        config.batch,
        config.epochs,
        params.n(),
        params.security_bits().unwrap_or(0)
    );
    let upload = ProgressBar::new_spinner();
    let bar = progress(config.epochs, "encrypted");
    let t = Instant::now();
    let run = service.train(
        client,
        &train,
        &test,
        config,
        &params,
        packing,
        &|n| upload.set_message(format!("evaluation keys sent: {:.1} MB", n as f64 / 1e6)),
        |s| report(&bar, s),
    )?;
    upload.finish_and_clear();
    bar.finish();
    let secs = t.elapsed().as_secs_f64();
    let (_, plain) = train_plain(&train, &test, config, |_| {})?;
    let (last, plain_last) = (run.history.last(), plain.last());
    let (sent, received) = service.traffic();
    println!(
        "client train iris: iterations={} wall_s={secs:.1} test_acc={:.4} plain_test_acc={:.4} \
         key_mb={:.1} sent_mb={:.1} received_mb={:.1}",
        run.iterations,
        last.map_or(0.0, |s| s.test_acc),
        plain_last.map_or(0.0, |s| s.test_acc),
        run.key_bytes as f64 / 1e6,
        sent as f64 / 1e6,
        received as f64 / 1e6
    );
    Ok(())
}
