//! Training the pyramid on one clip: stages in order, coarse to fine, each warm-started from the
//! one before; each step takes the whole clip (every bar at once, each with the bar before it as
//! its Transformer-XL memory), so a step costs about what one bar did in the reference.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use candle_nn::VarMap;
use rand::SeedableRng;

use crate::clip::{check_bars, Clip};
use crate::model::ops::Rng;
use crate::model::{build_stage, init_weights, parameter_count, Config, Preset, StageModel};
use crate::model_file::{ModelMeta, SintraModel, Stage};
use crate::pitch_group::{encode_bars, encode_extending};
use crate::pyramid::{bars_at, upsample_bars, vocabulary, Resolution};

/// What to train and how.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The named sizes.
    pub preset: Preset,
    /// The sizes used: the preset's, unless changed for an experiment.
    pub config: Config,
    /// Stages, coarse to fine (the paper's three, or `[Sixteenth]` for the single-stage ablation).
    pub resolutions: Vec<Resolution>,
    /// Most steps per stage.
    pub max_epochs: usize,
    /// A stage stops once its training loss is at or below this.
    pub target_loss: f32,
    /// A stage also stops after this many epochs without a 10% better loss (0: never).
    pub patience: usize,
    /// Seed for initialisation and dropout.
    pub seed: u64,
    /// CPU threads for the maths.
    pub threads: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            preset: Preset::Default,
            config: Preset::Default.config(),
            resolutions: Resolution::ALL.to_vec(),
            max_epochs: 400,
            target_loss: 0.01,
            patience: 50,
            seed: 0,
            threads: default_threads(),
        }
    }
}

/// All cores but one (so the host and its audio keep one), at least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// A training report after each step.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Stage index, 0-based.
    pub stage: usize,
    /// Number of stages.
    pub stages: usize,
    /// The stage's resolution.
    pub resolution: Resolution,
    /// Steps done in this stage.
    pub epoch: usize,
    /// Most steps in this stage.
    pub max_epochs: usize,
    /// Mean cross-entropy (nats) over the clip's bars at this step.
    pub loss: f32,
    /// Time since training started.
    pub elapsed: Duration,
}

/// How one stage went.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StageReport {
    /// "4th", "8th" or "16th".
    pub resolution: &'static str,
    /// Steps taken.
    pub epochs: usize,
    /// Training loss at the last step.
    pub final_loss: f32,
    /// Wall time of the stage.
    pub seconds: f64,
}

/// Why training did not finish.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The cancel flag was raised.
    #[error("training was cancelled")]
    Cancelled,
    /// The clip cannot be trained on.
    #[error("{0}")]
    Clip(String),
    /// The maths failed (out of memory, device error).
    #[error("model error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The learning rate of a warm start, relative to the stage's own: at the full rate Adam's
/// first steps throw a warm stage out of its minimum (BWV 227.1's 8th stage took 179 epochs
/// to the target from bars 1-11's model, cold 192); at 0.1 it took 4-17 on the chorales, and
/// training from the end of a capture halved on the groove and the prelude (`sintra bench`).
const WARM_RATE: f64 = 0.1;

/// Mean cross-entropy of logits `[B, K, T, V]` against tokens `[B, K, T]`.
pub fn loss(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let v = logits.dim(3)?;
    candle_nn::loss::cross_entropy(&logits.reshape(((), v))?, &targets.flatten_all()?)
}

/// Trains the pyramid on `clip` (all of its bars, at least two and at most
/// [`MAX_BARS`](crate::clip::MAX_BARS): a longer clip is refused, see [`Clip::check_length`]),
/// on `device`.
///
/// `progress` hears about every step; raising `cancel` stops at the next step with
/// [`TrainError::Cancelled`].
pub fn train(
    clip: &Clip,
    bars: u32,
    opts: &TrainOptions,
    device: &Device,
    cancel: &AtomicBool,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<(SintraModel, Vec<StageReport>), TrainError> {
    train_from(clip, bars, opts, None, device, cancel, progress)
}

/// [`train`], each stage starting from `warm`'s where given: a model of the same sizes, stages
/// and tracks trained on an earlier part of the clip (a capture's bars so far). Its dictionary
/// is kept and extended (its tokens keep their meaning), so its weights go on where they were
/// and the new tokens' rows start fresh; a `warm` model of other sizes or tracks is ignored.
pub fn train_from(
    clip: &Clip,
    bars: u32,
    opts: &TrainOptions,
    warm: Option<&SintraModel>,
    device: &Device,
    cancel: &AtomicBool,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<(SintraModel, Vec<StageReport>), TrainError> {
    if bars < 2 {
        return Err(TrainError::Clip(format!("training needs at least 2 bars, the clip has {bars}")));
    }
    // The whole clip is one batch at every step: a clip longer than the limit would make each
    // step take minutes and the job hours (and the same check runs before anything is built).
    clip.check_length().map_err(TrainError::Clip)?;
    check_bars(bars).map_err(TrainError::Clip)?;
    if opts.resolutions.is_empty() {
        return Err(TrainError::Clip("no stages to train".into()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| TrainError::Clip(format!("cannot start {} threads: {e}", opts.threads)))?;
    let warm = warm.filter(|w| warm_fits(w, clip, opts));
    pool.install(|| train_in_pool(clip, bars, opts, warm, device, cancel, progress))
}

/// Whether `warm` can start training on `clip` with `opts` ([`train_from`]): the same sizes,
/// stages, tracks (MIDI channels) and bar length.
pub fn warm_fits(warm: &SintraModel, clip: &Clip, opts: &TrainOptions) -> bool {
    let m = &warm.meta;
    let res: Vec<Resolution> = warm.stages.iter().map(|s| s.resolution).collect();
    let channels = |c: &Clip| c.tracks.iter().map(|t| t.channel).collect::<Vec<_>>();
    m.config == opts.config
        && res == opts.resolutions
        && channels(&m.clip) == channels(clip)
        && m.clip.meta.grid == clip.meta.grid
        && m.clip.meta.steps_per_bar() == clip.meta.steps_per_bar()
}

fn train_in_pool(
    clip: &Clip,
    bars: u32,
    opts: &TrainOptions,
    warm: Option<&SintraModel>,
    device: &Device,
    cancel: &AtomicBool,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<(SintraModel, Vec<StageReport>), TrainError> {
    let start = Instant::now();
    let enc = match warm {
        Some(w) => encode_extending(clip, bars, w.meta.dictionary()),
        None => encode_bars(clip, bars),
    };
    let cfg = opts.config;
    let vocab = enc.dict.len();
    let mut rng = Rng::seed_from_u64(opts.seed);
    let mut stages: Vec<Stage> = Vec::new();
    let mut reports = Vec::new();
    // Input of the current stage: bars 0..B-1 for the first, then the coarser predictions.
    let mut inputs: Option<Tensor> = None;

    for (si, &res) in opts.resolutions.iter().enumerate() {
        let stage_start = Instant::now();
        let stride = res.stride(clip.meta.grid);
        let real = bars_at(&enc, bars as usize, stride, device)?;
        let n = bars as usize - 1;
        let targets = real.narrow(0, 1, n)?;
        let input = match (&inputs, stages.last()) {
            (Some(prev), Some(p)) => upsample_bars(prev, p.stride / stride)?,
            _ => real.narrow(0, 0, n)?,
        };
        let allowed: Vec<Vec<u32>> = enc
            .rolls
            .iter()
            .map(|r| vocabulary(&r.tokens, res, clip.meta.grid).into_iter().collect())
            .collect();
        let per_bar = real.dim(2)?;
        let (varmap, model) = build_stage(cfg, vocab, per_bar, &allowed, device)?;
        init_weights(&varmap, &mut rng)?;
        match (warm, stages.last()) {
            (Some(w), _) => copy_grown(&w.stages[si].varmap, &varmap)?,
            (None, Some(prev)) => copy_vars(&prev.varmap, &varmap)?,
            (None, None) => {}
        }

        // A warm stage is near its minimum already: the full rate would throw it out again.
        let cfg = if warm.is_some() { Config { lr: cfg.lr * WARM_RATE, ..cfg } } else { cfg };
        let (epochs, final_loss) =
            fit(&model, &varmap, &cfg, &input, &targets, opts, &mut rng, cancel, &mut |epoch, loss| {
                progress(&Progress {
                    stage: si,
                    stages: opts.resolutions.len(),
                    resolution: res,
                    epoch,
                    max_epochs: opts.max_epochs,
                    loss,
                    elapsed: start.elapsed(),
                })
            })?;

        // The frozen stage's own prediction feeds the next stage.
        let (logits, _) = model.forward(&input, None, None)?;
        inputs = Some(logits.argmax(3)?.to_dtype(DType::U32)?);
        reports.push(StageReport {
            resolution: res.label(),
            epochs,
            final_loss,
            seconds: stage_start.elapsed().as_secs_f64(),
        });
        stages.push(Stage { resolution: res, stride, allowed, varmap, model });
    }

    let meta = ModelMeta::new(opts.preset, cfg, clip.clone(), bars, &enc.dict, &stages, opts.seed);
    Ok((SintraModel::new(meta, stages, device), reports))
}

/// Adam with the paper's betas over a cosine schedule until the target loss or the last epoch.
#[allow(clippy::too_many_arguments)]
fn fit(
    model: &StageModel,
    varmap: &VarMap,
    cfg: &Config,
    input: &Tensor,
    targets: &Tensor,
    opts: &TrainOptions,
    rng: &mut Rng,
    cancel: &AtomicBool,
    report: &mut dyn FnMut(usize, f32),
) -> Result<(usize, f32), TrainError> {
    let params = ParamsAdamW { lr: cfg.lr, beta1: 0.5, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 };
    let mut opt = AdamW::new(varmap.all_vars(), params)?;
    let mut last = f32::INFINITY;
    let (mut best, mut best_epoch) = (f32::INFINITY, 0);
    for epoch in 1..=opts.max_epochs {
        if cancel.load(Ordering::Relaxed) {
            return Err(TrainError::Cancelled);
        }
        let progress = (epoch - 1) as f64 / opts.max_epochs as f64;
        opt.set_learning_rate(cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()));
        let (logits, _) = model.forward(input, None, Some(rng))?;
        let l = loss(&logits, targets)?;
        opt.backward_step(&l)?;
        last = l.to_scalar::<f32>()?;
        if cfg.dropout > 0.0 {
            // The clip's loss as the model now stands, without dropout's noise.
            last = loss(&model.forward(input, None, None)?.0, targets)?.to_scalar::<f32>()?;
        }
        report(epoch, last);
        if last <= opts.target_loss {
            return Ok((epoch, last));
        }
        // A clip whose next bar is ambiguous has a loss floor above the target: stop once the
        // best loss has not improved by 10% for `patience` epochs instead of running them all.
        if last < best * 0.9 {
            (best, best_epoch) = (last, epoch);
        } else if opts.patience > 0 && epoch - best_epoch >= opts.patience {
            return Ok((epoch, last));
        }
    }
    Ok((opts.max_epochs, last))
}

/// Warm start: copies every variable of `from` into the same-named one of `to` of the same
/// shape (the bar-position table of a finer stage keeps its own initialisation).
fn copy_vars(from: &VarMap, to: &VarMap) -> candle_core::Result<()> {
    let src = from.data().lock().expect("var map lock");
    let dst = to.data().lock().expect("var map lock");
    for (name, var) in dst.iter() {
        match src.get(name) {
            Some(s) if s.dims() == var.dims() => var.set(s.as_tensor())?,
            _ => {}
        }
    }
    Ok(())
}

/// Warm start from a model of a shorter clip: every variable of `from` into the same-named one
/// of `to`, whole where the shapes agree, else into its first rows where only the vocabulary
/// grew (the embedding, the heads); the new tokens' rows keep their initialisation.
fn copy_grown(from: &VarMap, to: &VarMap) -> candle_core::Result<()> {
    let src = from.data().lock().expect("var map lock");
    let dst = to.data().lock().expect("var map lock");
    for (name, var) in dst.iter() {
        let Some(s) = src.get(name) else { continue };
        let (a, b) = (s.dims(), var.dims());
        if a == b {
            var.set(s.as_tensor())?;
        } else if a.len() == b.len()
            && a.iter().zip(b).filter(|(x, y)| x != y).count() == 1
            && a.iter().zip(b).all(|(x, y)| x <= y)
        {
            let ranges: Vec<std::ops::Range<usize>> = a.iter().map(|&n| 0..n).collect();
            var.set(&var.as_tensor().slice_assign(&ranges, s.as_tensor())?)?;
        }
    }
    Ok(())
}

/// Total parameters over all stages.
pub fn total_parameters(stages: &[Stage]) -> usize {
    stages.iter().map(|s| parameter_count(&s.varmap)).sum()
}
