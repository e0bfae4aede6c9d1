//! Training with no client in the loop: the data owner encrypts the training set and the
//! initial model once, the [`Trainer`] runs every SGD step and refreshes the model by
//! bootstrapping when its levels run out, and the owner decrypts the final model. Nothing
//! passes between them in the meantime.
//!
//! Everything lives in two ciphertexts laid out by [`TileLayout`]: the whole training set
//! (one sample per tile, in the forms the step reads) and the whole model (the same tile
//! everywhere, a sparse packing that bootstrapping refreshes as it is). A batch is a mask
//! over the tiles, so the batches may change every epoch without the owner's help. One step
//! (for an `I-H-K` network, `R` rows of `2w` columns per tile):
//!
//! | value | how | levels |
//! |---|---|---|
//! | `h_r` | model times inputs, window sum over `w` columns | 1 |
//! | `a = h^2`, `2 h x^T`, `W2` alone | products, a mask | 2 |
//! | `o = W2 a` | product, sum over the `R` rows | 3 |
//! | `e = c (o - y)` on the batch | mask with the batch and the rate | 4 |
//! | `e` in every row; `grad W2 = e a^T` | broadcast over the rows, product (not rescaled) | 4 |
//! | `t = W2^T e`; `grad W1 = t (2 h x^T)` | product, window sum, product (not rescaled) | 5 |
//! | update | copy of `grad W1`, sum over the tiles, the model raised to the gradients' scale, one rescale | 6 |
//!
//! Six levels and about thirty key switches per step; with the eighteen user levels of
//! [`presets::n16_training`], three steps per bootstrap. The gradients are summed over the
//! tiles before their one rescale, at a scale a larger prime above the model's (the
//! training chain's update primes), so that the small error terms keep their precision and
//! the model comes out at exactly the default scale: rescale noise is added once per step.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ndarray::Array2;
use shroud_ckks::bootstrap::presets::{self, BootstrapPreset};
use shroud_ckks::bootstrap::{BootstrapSpec, Bootstrapper};
use shroud_ckks::{
    galois_element, Ciphertext, CkksError, Decryptor, EncapsulationKey, Encoder, Encryptor,
    Evaluator, GaloisKeys, KeyGenerator, Params, Plaintext, RelinKey, SecretKey,
};

use super::checkpoint::{Checkpoint, Progress};
use super::tiles::TileLayout;
use crate::datasets::iris::Dataset;
use crate::training::square::{epoch_batches, evaluate, EpochStats, Mlp, TrainConfig};
use crate::NnError;

/// Levels one training step consumes.
pub const STEP_LEVELS: usize = 6;

/// The model is stored divided by this, which keeps its slots well within the bootstrapping
/// range of 1: trained Iris weights stay near 1.4 in magnitude (seeds 1 to 5, 400 epochs).
/// Weights beyond 4 would be refreshed with less precision.
pub const KAPPA: f64 = 4.0;

/// The evaluation keys of server-only training: relinearization, the sparse-secret
/// encapsulation of bootstrapping, and the rotations of the step and of bootstrapping with
/// conjugation ([`Trainer::galois_elements`]). Each has its own serialized form.
pub struct TrainerKeys {
    /// The relinearization key, for the products of the step and of bootstrapping.
    pub relin: RelinKey,
    /// The switch to and from the sparse ephemeral secret under which bootstrapping raises
    /// the modulus ([`EncapsulationKey`]).
    pub encapsulation: EncapsulationKey,
    /// Keys for every element of [`Trainer::galois_elements`].
    pub galois: GaloisKeys,
}

/// What the data owner sends once: the training set in the two forms the step reads, the
/// targets, and the initial model, all at the level bootstrapping refreshes to.
pub struct TrainingUpload {
    /// Number of training samples, one per tile; at most [`TileLayout::tiles`].
    pub samples: usize,
    /// The inputs for the forward products (see [`TileLayout::product_inputs`]).
    pub inputs: Ciphertext,
    /// The inputs for the first-layer gradient (see [`TileLayout::gradient_inputs`]).
    pub gradient_inputs: Ciphertext,
    /// The one-hot targets (see [`TileLayout::targets`]).
    pub targets: Ciphertext,
    /// The initial model divided by [`KAPPA`], its tile repeated in every tile of the
    /// ciphertext.
    pub model: Ciphertext,
}

/// The data owner: holds the secret key, encrypts the training set and the initial model,
/// decrypts the trained model.
pub struct DataOwner {
    params: Params,
    secret: SecretKey,
    layout: TileLayout,
    level: usize,
    encoder: Encoder,
    encryptor: Encryptor,
    decryptor: Decryptor,
}

impl DataOwner {
    /// An owner with fresh keys, and the evaluation keys the trainer asked for (its
    /// [`Trainer::galois_elements`], encapsulation under an ephemeral secret of `weight`
    /// nonzero coefficients); data is encrypted at `level`, the trainer's refresh level.
    pub fn new(
        params: &Params,
        layout: TileLayout,
        level: usize,
        galois_elements: &[u64],
        weight: usize,
    ) -> Result<(Self, TrainerKeys), NnError> {
        let mut kg = KeyGenerator::new(params);
        let secret = kg.secret_key();
        Self::with_generator(params, layout, level, (galois_elements, weight), kg, secret)
    }

    /// [`Self::new`] with keys drawn from `seed`, for reproducible tests. Anyone who knows the
    /// seed holds the secret key.
    pub fn with_seed(
        params: &Params,
        layout: TileLayout,
        level: usize,
        galois_elements: &[u64],
        weight: usize,
        seed: u64,
    ) -> Result<(Self, TrainerKeys), NnError> {
        let mut kg = KeyGenerator::with_seed(params, seed);
        let secret = kg.secret_key();
        Self::with_generator(params, layout, level, (galois_elements, weight), kg, secret)
    }

    /// [`Self::new`] with an existing secret key (a run that resumes): fresh evaluation keys
    /// for it, which work on everything encrypted under it before.
    pub fn from_secret_key(
        params: &Params,
        layout: TileLayout,
        level: usize,
        galois_elements: &[u64],
        weight: usize,
        secret: SecretKey,
    ) -> Result<(Self, TrainerKeys), NnError> {
        let kg = KeyGenerator::new(params);
        Self::with_generator(params, layout, level, (galois_elements, weight), kg, secret)
    }

    fn with_generator(
        params: &Params,
        layout: TileLayout,
        level: usize,
        (galois_elements, weight): (&[u64], usize),
        mut kg: KeyGenerator,
        secret: SecretKey,
    ) -> Result<(Self, TrainerKeys), NnError> {
        if level > params.max_level() || layout.tiles() * layout.tile() != params.slots() {
            return Err(NnError::InvalidConfig(format!(
                "level {level} and a layout of {} tiles of {} for {} slots",
                layout.tiles(),
                layout.tile(),
                params.slots()
            )));
        }
        let keys = TrainerKeys {
            relin: kg.relin_key(&secret)?,
            encapsulation: kg.encapsulation_key(&secret, weight)?,
            galois: kg.galois_keys_for_elements(&secret, galois_elements)?,
        };
        let owner = Self {
            params: params.clone(),
            layout,
            level,
            encoder: Encoder::new(params),
            encryptor: Encryptor::with_secret_key(params, &secret)?,
            decryptor: Decryptor::new(params, &secret)?,
            secret,
        };
        Ok((owner, keys))
    }

    /// The secret key, to keep for a run that may resume ([`Checkpoint`]).
    pub fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    /// Encrypts the training set (features `x`, one-hot targets `y`, a sample per row) and
    /// the initial model.
    pub fn upload(
        &mut self,
        x: &Array2<f64>,
        y: &Array2<f64>,
        model: &Mlp,
    ) -> Result<TrainingUpload, NnError> {
        if x.nrows() != y.nrows() {
            return Err(NnError::CountMismatch {
                images: x.nrows(),
                labels: y.nrows(),
            });
        }
        let l = &self.layout;
        let slots = [
            l.product_inputs(x, KAPPA)?,
            l.gradient_inputs(x)?,
            l.targets(y)?,
            l.repeat(&l.model_tile(model, KAPPA)?),
        ];
        let scale = self.params.default_scale();
        let [inputs, gradient_inputs, targets, model] = self
            .encryptor
            .encrypt_many(&self.encoder, &slots, self.level, scale)?
            .try_into()
            .map_err(|_| NnError::Internal("four ciphertexts for four vectors"))?;
        Ok(TrainingUpload {
            samples: x.nrows(),
            inputs,
            gradient_inputs,
            targets,
            model,
        })
    }

    /// The model a trainer returned.
    pub fn decrypt_model(&self, model: &Ciphertext) -> Result<Mlp, NnError> {
        let slots = self.encoder.decode(&self.decryptor.decrypt(model)?)?;
        self.layout.read_model(&slots, KAPPA)
    }
}

/// The server of server-only training: evaluation keys only.
pub struct Trainer {
    params: Params,
    layout: TileLayout,
    lr: f64,
    boot: Bootstrapper,
    eval: Evaluator,
    encoder: Encoder,
    /// The mask of the second layer at each level a step starts at, encoded once.
    second_layer: Vec<OnceLock<Plaintext>>,
}

/// Counts and times of a training run on the server.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrainerStats {
    /// SGD steps done.
    pub steps: usize,
    /// Bootstraps of the model done.
    pub bootstraps: usize,
    /// Time spent in the steps, summed.
    pub step_time: Duration,
    /// Time spent bootstrapping, summed.
    pub bootstrap_time: Duration,
}

impl Trainer {
    /// A trainer for `layout` on `params` with the bootstrapping circuit `spec`, whose slot
    /// count must be the layout's tile, at learning rate `lr`. Keys come with
    /// [`Self::with_keys`].
    pub fn new(
        params: &Params,
        spec: BootstrapSpec,
        layout: TileLayout,
        lr: f64,
    ) -> Result<Self, NnError> {
        if spec.slots != layout.tile() || layout.tiles() * layout.tile() != params.slots() {
            return Err(NnError::InvalidConfig(format!(
                "bootstrapping {} slots for tiles of {} in {} slots",
                spec.slots,
                layout.tile(),
                params.slots()
            )));
        }
        if !(lr.is_finite() && lr > 0.0) {
            return Err(NnError::InvalidConfig(format!("learning rate {lr}")));
        }
        let boot = Bootstrapper::new(params, spec)?;
        if boot.output_level() < STEP_LEVELS {
            return Err(NnError::InvalidConfig(format!(
                "bootstrapping leaves {} levels, a step needs {STEP_LEVELS}",
                boot.output_level()
            )));
        }
        Ok(Self {
            params: params.clone(),
            layout,
            lr,
            eval: Evaluator::new(params),
            encoder: Encoder::new(params),
            second_layer: (0..=params.max_level()).map(|_| OnceLock::new()).collect(),
            boot,
        })
    }

    /// The Galois elements whose keys the trainer needs: the step's rotations and the
    /// bootstrap's (conjugation among them).
    pub fn galois_elements(&self) -> Vec<u64> {
        let n = self.params.n();
        let mut elements: Vec<u64> = self
            .layout
            .rotation_steps()
            .into_iter()
            .map(|s| galois_element(s, n))
            .chain(self.boot.galois_elements())
            .collect();
        elements.sort_unstable();
        elements.dedup();
        elements
    }

    /// The level the data and the model are encrypted at, and that bootstrapping restores.
    pub fn level(&self) -> usize {
        self.boot.output_level()
    }

    /// The trainer with the evaluation keys the data owner made for it; a trainer needs them
    /// before it can step or bootstrap.
    pub fn with_keys(mut self, keys: TrainerKeys) -> Result<Self, NnError> {
        self.eval = Evaluator::new(&self.params)
            .with_relin_key(keys.relin)?
            .with_encapsulation_key(keys.encapsulation)?
            .with_galois_keys(keys.galois)?;
        Ok(self)
    }

    /// Runs one step per batch of `batches` (sample indices) from `model`, bootstrapping it
    /// when a step would not fit in its levels; `stats` counts on from a run this one resumes
    /// ([`TrainerStats::default`] for a new run). `on_step` sees the counts and the model after
    /// each step (to report progress, or to save it), and may stop the run with an error.
    pub fn train(
        &self,
        upload: &TrainingUpload,
        mut model: Ciphertext,
        mut stats: TrainerStats,
        batches: impl IntoIterator<Item = Vec<usize>>,
        mut on_step: impl FnMut(&TrainerStats, &Ciphertext) -> Result<(), NnError>,
    ) -> Result<(Ciphertext, TrainerStats), NnError> {
        self.check_upload(upload)?;
        if model.level() > self.level() {
            return Err(NnError::Malformed(format!(
                "a model at level {} above the refresh level {}",
                model.level(),
                self.level()
            )));
        }
        for batch in batches {
            if model.level() < STEP_LEVELS {
                let t = Instant::now();
                model = self.refresh(&model)?;
                stats.bootstrap_time += t.elapsed();
                stats.bootstraps += 1;
            }
            let t = Instant::now();
            model = self.step(&model, upload, &batch)?;
            stats.step_time += t.elapsed();
            stats.steps += 1;
            on_step(&stats, &model)?;
        }
        Ok((model, stats))
    }

    /// The model refreshed by bootstrapping, at [`Self::level`].
    pub fn refresh(&self, model: &Ciphertext) -> Result<Ciphertext, NnError> {
        Ok(self.boot.bootstrap(&self.eval, model)?)
    }

    fn check_upload(&self, upload: &TrainingUpload) -> Result<(), NnError> {
        let level = self.level();
        let data = [&upload.inputs, &upload.gradient_inputs, &upload.targets];
        if upload.samples == 0 || upload.samples > self.layout.tiles() {
            return Err(NnError::InvalidConfig(format!(
                "{} samples for {} tiles",
                upload.samples,
                self.layout.tiles()
            )));
        }
        if data.iter().any(|c| c.level() < level) || upload.model.level() > level {
            return Err(NnError::Malformed(format!(
                "training data below level {level} or a model above it"
            )));
        }
        Ok(())
    }

    /// One SGD step on the samples `batch` (see the module's table): the updated model,
    /// [`STEP_LEVELS`] below `model`.
    pub fn step(
        &self,
        model: &Ciphertext,
        data: &TrainingUpload,
        batch: &[usize],
    ) -> Result<Ciphertext, NnError> {
        let (e, l) = (&self.eval, &self.layout);
        let level = model.level();
        if level < STEP_LEVELS {
            return Err(CkksError::LevelsExhausted(level).into());
        }
        let scale = self.params.default_scale();
        if (model.scale() / scale - 1.0).abs() > 1e-9 {
            return Err(CkksError::ScaleMismatch(model.scale().log2(), scale.log2()).into());
        }
        if batch.is_empty() || batch.iter().any(|&s| s >= data.samples) {
            return Err(NnError::InvalidConfig(format!(
                "a batch of {} samples among {}",
                batch.len(),
                data.samples
            )));
        }
        let cols = l.cols() as i64;
        let (p, w2) = rayon::join(
            || e.relin_rescale(&e.multiply(model, &data.inputs)?),
            || e.rescale(&e.mul_plain(model, self.second_layer_mask(level)?)?),
        );
        let (p, w2) = (p?, w2?);
        // h in columns [0, w] of every row: each input met once by the window.
        let h = e.sum_slots(&p, l.half())?;
        let (a, u) = rayon::join(
            || e.relin_rescale(&e.multiply(&h, &h)?),
            || e.relin_rescale(&e.multiply(&h, &data.gradient_inputs)?),
        );
        let (a, u) = (a?, u?);
        let o = e.rotate_and_add(&e.relin_rescale(&e.multiply(&w2, &a)?)?, l.rows(), cols)?;
        let diff = e.sub(&o, &e.scaled_to(&data.targets, 1.0, o.level(), o.scale())?)?;
        // The batch's errors times the rate and the loss's 2 / (B K), in the model's units,
        // at the scale that puts the first layer's gradient, two products later and before
        // its rescale, exactly at the default scale times the prime that rescale removes: the
        // updated model comes out at the default scale, and the scales cannot drift from one
        // step to the next. With the training chain's larger update primes the errors keep
        // that much more of their precision (presets::n16_training).
        let rate = -self.lr * 2.0 / (l.outputs() * batch.len()) as f64 / KAPPA;
        let err_level = diff.level() - 1;
        let err_scale = self.prime(err_level) * self.prime(err_level - 1) / u.scale();
        let mask = self.encoder.encode_at(
            &l.error_mask(batch, rate)?,
            diff.level(),
            err_scale * self.prime(diff.level()) / diff.scale(),
        )?;
        let err = e.rescale(&e.mul_plain(&diff, &mask)?)?;
        let err = e.rotate_and_add(&err, l.rows(), -cols)?;
        let (g2, g1) = rayon::join(
            || e.relinearize(&e.multiply(&err, &a)?),
            || -> Result<Ciphertext, CkksError> {
                let t = e.relin_rescale(&e.multiply(&w2, &err)?)?;
                e.relinearize(&e.multiply(&e.sum_slots(&t, l.half())?, &u)?)
            },
        );
        // The gradients are summed over the tiles before their rescale, whose noise then
        // comes once: the update, the model raised to its scale, one rescale.
        let mut g = g1?;
        let copy = e.rotate(&g, -(l.half() as i64))?;
        e.add_assign(&mut g, &copy)?;
        let g2 = e.scaled_to(&g2?, 1.0, g.level(), g.scale())?;
        e.add_assign(&mut g, &g2)?;
        let mut next = e.rotate_and_add(&g, l.tiles(), l.tile() as i64)?;
        let raised = e
            .mul_large_scalar_to(&*e.at_level(model, next.level())?, 1.0, next.scale())?
            .ok_or(NnError::Internal(
                "the update's scale is a prime above the model's",
            ))?;
        e.add_assign(&mut next, &raised)?;
        e.rescale_assign(&mut next)?;
        Ok(next)
    }

    fn prime(&self, level: usize) -> f64 {
        self.params.q_moduli()[level].value() as f64
    }

    /// The mask that takes the second layer out of a model at the default scale, at the
    /// scale of the prime its rescale removes (which keeps the default scale).
    fn second_layer_mask(&self, level: usize) -> Result<&Plaintext, CkksError> {
        let cell = self
            .second_layer
            .get(level)
            .ok_or(CkksError::LevelMismatch(self.params.max_level(), level))?;
        if let Some(pt) = cell.get() {
            return Ok(pt);
        }
        let pt = self.encoder.encode_at(
            &self.layout.second_layer_mask(KAPPA),
            level,
            self.prime(level),
        )?;
        Ok(cell.get_or_init(|| pt))
    }
}

/// The outcome of a server-only training run.
#[derive(Clone, Debug)]
pub struct ServerOnlyRun {
    /// The trained model, as the data owner decrypted it.
    pub model: Mlp,
    /// Metrics of the decrypted final model.
    pub stats: EpochStats,
    /// Steps, bootstraps and their times, over every part of the run (each process that
    /// resumed it from its checkpoint).
    pub trainer: TrainerStats,
    /// Circuit setup, key generation and encryption of the upload (of this part, when
    /// resumed).
    pub setup: Duration,
    /// Setup and training of every part of the run.
    pub wall: Duration,
    /// Steps done before this part (0 for a run that did not resume).
    pub resumed_at: usize,
    /// Levels the data and the model are refreshed to ([`Trainer::level`]).
    pub levels: usize,
    /// Ring dimension `N` of the parameters (the ciphertexts have `N / 2` slots).
    pub ring_n: usize,
    /// Estimated classical security of the parameters in bits, `None` when below 128 bits
    /// (the insecure test circuit).
    pub security_bits: Option<u32>,
}

/// A circuit for tiles of a slot count: the parameters and the bootstrapping preset.
pub type Circuit = fn(usize) -> Result<(Params, BootstrapPreset), NnError>;

/// The 128-bit circuit: [`presets::n16_training`].
pub fn secure_circuit(tile: usize) -> Result<(Params, BootstrapPreset), NnError> {
    let preset = presets::n16_training(tile);
    Ok((Params::new(preset.params.clone())?, preset))
}

/// [`presets::insecure_test_training`]: N = 2^12, eight Iris tiles. INSECURE: for tests only.
pub fn insecure_test_circuit(tile: usize) -> Result<(Params, BootstrapPreset), NnError> {
    let preset = presets::insecure_test_training(tile);
    Ok((Params::new_insecure(preset.params.clone())?, preset))
}

/// Trains like [`crate::training::square::train_plain`] (same initialization, same batches in the same
/// order) with the training set and the model encrypted once and every step on a
/// [`Trainer`], on the parameters `circuit` gives for the layout's tile
/// ([`secure_circuit`] at 128 bits); `on_step` sees the trainer's counts after each step.
/// With a `checkpoint` folder the run saves its state there as it goes and a run with the
/// same settings resumes from it (the folder then holds the secret key: keep it as such).
pub fn train_server_only(
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    circuit: Circuit,
    checkpoint: Option<&Path>,
    mut on_step: impl FnMut(&TrainerStats),
) -> Result<ServerOnlyRun, NnError> {
    if config.batch == 0 || config.epochs == 0 || train.is_empty() {
        return Err(NnError::InvalidConfig(
            "batch, epochs and training set must be non-empty".into(),
        ));
    }
    let t = Instant::now();
    let (inputs, outputs) = (train.features.ncols(), train.classes());
    let (params, preset) = circuit(TileLayout::tile_for(inputs, config.hidden, outputs))?;
    let layout = TileLayout::new(inputs, config.hidden, outputs, params.slots())?;
    let trainer = Trainer::new(&params, preset.spec.clone(), layout, config.lr)?;
    let checkpoint = checkpoint.map(Checkpoint::open).transpose()?;
    let run_id = format!(
        "{inputs}-{}-{outputs} samples={} epochs={} batch={} lr={} std={} seed={} n={}",
        config.hidden,
        train.len(),
        config.epochs,
        config.batch,
        config.lr,
        config.init_std,
        config.seed,
        params.n()
    );
    let saved = match &checkpoint {
        Some(c) => c.load(&params, &run_id)?,
        None => None,
    };
    let (level, elements) = (trainer.level(), trainer.galois_elements());
    let weight = preset.ephemeral_weight;
    let (mut owner, keys) = match saved {
        Some((ref secret, _)) => {
            DataOwner::from_secret_key(&params, layout, level, &elements, weight, secret.clone())?
        }
        None => DataOwner::new(&params, layout, level, &elements, weight)?,
    };
    let trainer = trainer.with_keys(keys)?;
    let initial = Mlp::init(inputs, config.hidden, outputs, config.init_std, config.seed);
    let upload = owner.upload(&train.features, &train.one_hot(), &initial)?;
    let (model, before) = match saved {
        Some((_, Some((progress, model)))) => (model, progress),
        _ => (upload.model.clone(), Progress::default()),
    };
    if let Some(c) = &checkpoint {
        c.save_secret_key(&params, owner.secret_key())?;
    }
    let setup = t.elapsed();

    let done = before.stats.steps;
    let batches = (1..=config.epochs)
        .flat_map(|epoch| epoch_batches(train.len(), config.batch, config.seed, epoch))
        .skip(done);
    let progress_at = |stats: &TrainerStats| Progress {
        stats: *stats,
        wall: before.wall + t.elapsed(),
    };
    let (trained, stats) = trainer.train(&upload, model, before.stats, batches, |s, m| {
        on_step(s);
        match &checkpoint {
            Some(c) if s.steps % SAVE_EVERY == 0 => c.save(&params, &run_id, &progress_at(s), m),
            _ => Ok(()),
        }
    })?;
    let wall = progress_at(&stats).wall;
    if let Some(c) = &checkpoint {
        c.save(&params, &run_id, &progress_at(&stats), &trained)?;
    }
    let model = owner.decrypt_model(&trained)?;
    Ok(ServerOnlyRun {
        stats: evaluate(&model, train, test, config.epochs)?,
        model,
        trainer: stats,
        setup,
        wall,
        resumed_at: done,
        levels: trainer.level(),
        ring_n: params.n(),
        security_bits: params.security_bits(),
    })
}

/// Steps between two saves of a checkpointed run (a minute or two at 128 bits).
const SAVE_EVERY: usize = 60;
