//! Coarse-to-fine generation, bar by bar: stage 1 predicts the next bar from the last one (its
//! Transformer-XL memory carrying across bars), the finer stages refine it from the upsampled
//! coarser bar, each with its own memory. Bars come out one at a time, so a caller can play
//! the first while the rest are sampled.

mod candidates;
mod draw;
pub mod feel;
mod guard;
pub mod keep;
mod moves;
pub mod redraw;
mod rhythm;
pub mod sampling;
pub mod velocity;
mod voicing;
mod weights;

use std::ops::{Deref, Range};
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{Device, Result, Tensor};
use rand::{Rng as _, SeedableRng};

use crate::clip::{Clip, Track};
use crate::model::inference::{Before, CpuStage, PlainKeys};
use crate::model::ops::Rng;
use crate::model::StageModel;
use crate::model_file::SintraModel;
use crate::pitch_group::{decode, encode_with, Dictionary};
use crate::pyramid::{bars_at, upsample_bars};
use candidates::Chooser;
pub use candidates::Cost;
use draw::{constraints, sample, ClipMoves, HeldNotes, Shape};
use guard::CopyGuard;
pub use keep::Kept;
use moves::Moves;
pub use redraw::{redraw, starts_with_clip, RedrawError};
use rhythm::Rhythm;
use sampling::log_probability;
use voicing::Voicing;
use weights::REDRAWS;

/// Where generation starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Primer {
    /// From the clip's last bar: the output continues the clip.
    LastBar,
    /// From a real bar drawn with the seed, as in the paper.
    RandomBar,
}

/// Sampling settings.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Seed of the sampling stream.
    pub seed: u64,
    /// Nucleus mass per stage, coarse to fine (0 = argmax); the paper's 0.9 / 0.3 / 0.3.
    pub top_p: Vec<f32>,
    /// Softmax temperature for every stage (1 = the model's own distribution, which replays a
    /// learned clip); 3 by default, for variety (docs/model.md, "Why each rule").
    pub temperature: f32,
    /// Where to start.
    pub primer: Primer,
    /// Candidate bars drawn for each bar (in two halves on the CPU, see `next_bar`; the first
    /// stage's on a ladder of temperatures); 1 keeps the one drawn at `temperature`. 8 by
    /// default, enough for the harmony (docs/model.md, "Why each rule"). Below similarity 0.5
    /// up to three times as many (`pool`).
    pub candidates: usize,
    /// How close to the clip the kept bars are, 0..1: the candidate whose best cell match
    /// with a clip bar (`eval::bar_match`) is nearest `similarity` wins, with a bonus for
    /// harmony and the model's likelihood; a verbatim copy only at 1.
    pub similarity: f32,
    /// Tracks whose new bars are given (`Kept`), the others drawn to fit them.
    pub keep: Option<Kept>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            top_p: vec![0.9, 0.3, 0.3],
            temperature: 3.0,
            primer: Primer::LastBar,
            candidates: 8,
            similarity: 0.5,
            keep: None,
        }
    }
}

/// The first stage draws its candidates on a ladder of temperatures, from the setting to
/// `spread(similarity)` times it (geometric), narrowing above 0.5 to none at 1: a model that
/// has learned its clip gives near copies at any one temperature, so the similarity setting
/// needs bolder candidates to choose from (docs/model.md, "Why each rule"). The finer stages
/// refine at the setting.
fn spread(similarity: f32) -> f32 {
    1.0 + 2.0 * (2.0 * (1.0 - similarity.clamp(0.0, 1.0))).min(1.0)
}

/// How many candidates to draw for a bar: `candidates` from similarity 0.5 up, growing to
/// three times as many at 0, where the bar least like the clip is asked for (docs/model.md,
/// "Why each rule"). One candidate stays one.
fn pool(candidates: usize, similarity: f32) -> usize {
    if candidates <= 1 {
        return 1;
    }
    let widen = 1.0 + 4.0 * (0.5 - similarity.clamp(0.0, 1.0)).max(0.0);
    (candidates as f32 * widen).round() as usize
}

/// Samples bars one after the other from a trained model (`&SintraModel` or an `Arc` of one).
pub struct Generator<M: Deref<Target = SintraModel>> {
    /// The model.
    model: M,
    /// Settings.
    opts: GenerateOptions,
    /// Sampling stream.
    rng: Rng,
    /// Per stage, the memory for its next input: each layer's keys and values of the bar
    /// before, `[1, heads, T, d_head]`.
    mems: Vec<Option<Vec<PlainKeys>>>,
    /// The last bar at the first stage's resolution, `[tracks, tokens]`.
    last: Vec<u32>,
    /// The clip bar generation started from (0-based).
    pub primer_bar: usize,
    /// Keeps one of the candidate bars.
    chooser: Chooser,
    /// Where in the bar each track may start notes at the finest stage.
    rhythm: Rhythm,
    /// How the clip's tracks hold, re-strike and change at each stage and position.
    moves: Moves,
    /// The clip's vertical sonorities, which the tracks of a step are drawn to agree with.
    voicing: Voicing,
    /// Keeps the first stage's draws from going on copying a clip bar.
    guard: CopyGuard,
    /// The last bar at the finest resolution, per track: what each track's first step moves from.
    before: Vec<Vec<u32>>,
    /// The model's dictionary.
    dict: Dictionary,
    /// The dictionary of the bars handed out (the model's and `Moves::articulate`'s re-strikes).
    out: Dictionary,
    /// Per bar of the kept tracks' source, per track, a kept track's tokens at the finest
    /// resolution (empty when no track is kept).
    kept: Vec<Vec<Option<Vec<u32>>>>,
    /// New bars handed out so far.
    bars_out: usize,
    /// The bar that must follow the next one (`lead_into`), per track at the first stage's
    /// resolution.
    lead: Option<Vec<Vec<u32>>>,
    /// The last bar's match with the clip (`eval::bar_match`, the measure behind similarity).
    closeness: f64,
    /// With `explain`, the last bar's choice: every candidate's cost and which was kept.
    choice: Option<Choice>,
    /// Whether to keep each bar's `choice` (`--explain`).
    explain: bool,
}

/// A bar: per track, its tokens at the finest resolution.
pub type Bar = Vec<Vec<u32>>;

/// One bar's choice among its candidates, for `sintra generate --explain`.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// Every candidate's cost, term by term, in the order drawn.
    pub costs: Vec<Cost>,
    /// The one kept.
    pub kept: usize,
}

impl<M: Deref<Target = SintraModel> + Sync> Generator<M> {
    /// Primes every stage's memory with the clip up to the primer bar.
    pub fn new(model: M, opts: GenerateOptions) -> Result<Self> {
        let mut rng = Rng::seed_from_u64(opts.seed);
        let meta = &model.meta;
        let bars = meta.bars as usize;
        let primer_bar = match opts.primer {
            Primer::LastBar => bars - 1,
            Primer::RandomBar => rng.random_range(0..bars),
        };
        let enc = encode_with(&meta.clip, meta.bars, &meta.dictionary());
        // The first stage's next input is the primer bar, so its memory is the bar before;
        // a finer stage's next input is the new bar, so its memory is the primer bar.
        let mems = (model.primed(prime)?.iter().enumerate())
            .map(|(s, keys)| {
                let upto = if s == 0 { primer_bar } else { primer_bar + 1 };
                (upto > 0).then(|| keys.iter().map(|k| k.bar(upto - 1, bars)).collect())
            })
            .collect();
        let spb = meta.clip.meta.steps_per_bar() as usize;
        let stride = model.stages[0].stride;
        let last = enc
            .rolls
            .iter()
            .flat_map(|r| r.tokens[primer_bar * spb..][..spb].iter().step_by(stride))
            .copied()
            .collect();
        let out = meta.output_dictionary();
        let chooser = Chooser::new(meta, &enc, &out, opts.similarity);
        let rhythm = Rhythm::new(&enc, spb);
        let strides: Vec<usize> = model.stages.iter().map(|s| s.stride).collect();
        let moves = Moves::new(&enc, spb, &strides, opts.similarity);
        let before =
            enc.rolls.iter().map(|r| r.tokens[primer_bar * spb..(primer_bar + 1) * spb].to_vec()).collect();
        let voicing = Voicing::new(&enc, meta.clip.drum_tracks());
        let guard = CopyGuard::new(&enc, spb, stride, opts.similarity);
        let dict = enc.dict.clone();
        let kept = opts.keep.as_ref().map_or_else(Vec::new, |k| k.tokens(&dict));
        Ok(Self {
            model,
            opts,
            rng,
            mems,
            last,
            primer_bar,
            chooser,
            rhythm,
            moves,
            voicing,
            guard,
            before,
            dict,
            out,
            kept,
            bars_out: 0,
            lead: None,
            closeness: 0.0,
            choice: None,
            explain: false,
        })
    }

    /// Takes `given` (per track, tokens of the model's dictionary at the finest resolution) as
    /// the next bar, as if drawn: every stage's memory and the next input go on from it. Bars
    /// kept from an earlier generation are followed this way before bars are drawn anew.
    pub fn follow(&mut self, given: &[Vec<u32>]) -> Result<()> {
        let tracks = self.before.len();
        let at = |stride: usize| -> Vec<Vec<u32>> {
            given.iter().map(|t| t.iter().step_by(stride).copied().collect()).collect()
        };
        for (s, stage) in self.model.stages.iter().enumerate() {
            let input = match s {
                0 => self.last.clone(),
                _ => {
                    let coarse = self.model.stages[s - 1].stride;
                    upsample(&[at(coarse)], coarse / stage.stride)
                }
            };
            let cpu = self.model.cpu_stages()?.map(|c| &c[s]);
            let mems = self.mems[s].as_deref();
            let (_, keys) = forward(&stage.model, cpu, &self.model.device, &input, (1, tracks), mems)?;
            self.mems[s] = Some(keys.iter().map(|k| k.bar(0, 1)).collect());
        }
        self.last = at(self.model.stages[0].stride).concat();
        self.before = given.to_vec();
        self.bars_out += 1;
        Ok(())
    }

    /// Follows bars `bars` (0-based) of `clip`, a clip on the model's tracks and meter: each is
    /// taken as if drawn, its groups the model lacks as their nearest ones. `new`: they are
    /// new bars (drawn by another model), which kept tracks count; else the clip's own bars
    /// beyond what this model learned.
    pub fn follow_clip(&mut self, clip: &Clip, bars: Range<u32>, new: bool) -> Result<()> {
        let tokens = keep::bar_tokens(clip, bars.end, &self.dict);
        let counted = self.bars_out;
        for bar in &tokens[bars.start as usize..] {
            self.follow(bar)?;
        }
        if !new {
            self.bars_out = counted;
        }
        Ok(())
    }

    /// The next bar drawn must lead into `next` (per track, tokens of the model's dictionary at
    /// the finest resolution): its choice weighs how likely the first stage finds `next` after
    /// each candidate (`Chooser::pick`). For the last of bars drawn again between kept ones.
    pub fn lead_into(&mut self, next: &[Vec<u32>]) {
        let stride = self.model.stages[0].stride;
        self.lead = Some(next.iter().map(|t| t.iter().step_by(stride).copied().collect()).collect());
    }

    /// Per candidate of `drawn` (in order), minus the first stage's mean log-probability per
    /// token of the bar `lead_into` asked for after it (none without one).
    fn lead_costs(&mut self, drawn: &[Drawn]) -> Result<Vec<f64>> {
        let Some(next) = self.lead.take() else { return Ok(Vec::new()) };
        let stage = &self.model.stages[0];
        let tracks = self.before.len();
        let mems: Vec<PlainKeys> = drawn[0].memories[0].0.iter().map(|k| k.bar(0, 1)).collect();
        let firsts: Vec<Vec<Vec<u32>>> = drawn.iter().flat_map(|d| d.firsts.iter().cloned()).collect();
        let (distinct, which) = distinct_bars(&firsts);
        let cpu = self.model.cpu_stages()?.map(|c| &c[0]);
        let input = upsample(&distinct, 1);
        let dev = &self.model.device;
        let (logits, _) = forward(&stage.model, cpu, dev, &input, (distinct.len(), tracks), Some(&mems))?;
        let (vocab, steps) = (self.dict.len(), next.first().map_or(0, Vec::len));
        let mut own = Vec::new();
        let mut cost = |bar: usize| {
            let mut ll = 0.0;
            for (k, tokens) in stage.allowed.iter().enumerate().take(tracks) {
                for (i, &tok) in next[k].iter().enumerate() {
                    let at = ((bar * tracks + k) * steps + i) * vocab;
                    let l = &logits[at..at + vocab];
                    own.clear();
                    own.extend(tokens.iter().map(|&t| l[t as usize]));
                    ll += log_probability(l[tok as usize], &own) as f64;
                }
            }
            -ll / (tracks * steps).max(1) as f64
        };
        let costs: Vec<f64> = (0..distinct.len()).map(&mut cost).collect();
        Ok(which.iter().map(|&w| costs[w]).collect())
    }

    /// How close the last bar `next_bar` gave is to the clip: its best share of equal (track,
    /// step) cells against a clip bar or a bar-long window of it from a beat.
    pub fn closeness(&self) -> f64 {
        self.closeness
    }

    /// Keeps each bar's choice for [`last_choice`](Self::last_choice) (`--explain`).
    pub fn explain(&mut self) {
        self.explain = true;
    }

    /// The last bar's choice among its candidates, where [`explain`](Self::explain) asked.
    pub fn last_choice(&self) -> Option<&Choice> {
        self.choice.as_ref()
    }

    /// This bar's kept tokens per track (`None` where the track is drawn), empty if none is.
    fn kept_now(&self) -> &[Option<Vec<u32>>] {
        match self.kept.len() {
            0 => &[],
            n => &self.kept[self.bars_out % n],
        }
    }

    /// Samples the next bar: per track, its tokens at the finest stage's resolution, in
    /// `ModelMeta::output_dictionary` (the model's tokens and the articulation's). Draws
    /// candidate bars through every stage and keeps one (see `pick`); the stages' memories go
    /// on from the kept one.
    ///
    /// Where every candidate is a near copy below similarity `NEAR_COPY`, the bar's
    /// candidates are drawn again (`REDRAWS`) and the choice is among all of them (not with
    /// one candidate: it is kept as drawn).
    ///
    /// On the CPU the candidates go in two halves, each through all the stages on a thread and
    /// a random stream of its own (drawn from the generator's, so a seed gives the same bars
    /// on any pool): every product is too small to gain from splitting, the candidates are
    /// independent until the choice, and one hand-off a bar costs less than one per stage. A
    /// GPU takes them as one batch.
    pub fn next_bar(&mut self) -> Result<Vec<Vec<u32>>> {
        let k = pool(self.opts.candidates, self.opts.similarity);
        let half = if self.model.device.is_cpu() && k > 1 { k / 2 } else { k };
        let parts: Vec<Range<usize>> = [0..half, half..k].into_iter().filter(|p| !p.is_empty()).collect();
        let (mut drawn, mut articulated, mut likelihood) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..=REDRAWS {
            let batch = self.draw_parts(k, &parts)?;
            // Each candidate as it would be handed out, so the choice counts its onsets.
            for d in &batch {
                for b in &d.bars {
                    let mut bar = self.moves.articulate(b, &self.before, &self.out, &mut self.rng);
                    for (k, kept) in self.kept_now().iter().enumerate() {
                        if let Some(tokens) = kept {
                            bar[k].clone_from(tokens);
                        }
                    }
                    articulated.push(bar);
                }
                likelihood.extend_from_slice(&d.likelihood);
            }
            drawn.extend(batch);
            if round == REDRAWS || !self.chooser.wants_redraw(&articulated) {
                break;
            }
        }
        let before: Vec<_> =
            self.before.iter().map(|b| b.last().map_or(0, |&t| self.dict.group(t))).collect();
        let lead = self.lead_costs(&drawn)?;
        let keep = if self.explain {
            // The same choice as `pick`'s, its costs kept for `last_choice`.
            let costs = self.chooser.costs(&articulated, &likelihood, &before, &lead);
            let kept = candidates::cheapest(&costs);
            self.choice = Some(Choice { costs, kept });
            kept
        } else {
            self.chooser.pick(&articulated, &likelihood, &before, &lead)
        };
        let (mut part, mut c) = (0, keep);
        while c >= drawn[part].bars.len() {
            c -= drawn[part].bars.len();
            part += 1;
        }
        let mut kept = drawn.swap_remove(part);
        for (s, (keys, which)) in kept.memories.iter().enumerate() {
            let bars = which.iter().max().map_or(1, |m| m + 1);
            self.mems[s] = Some(keys.iter().map(|k| k.bar(which[c], bars)).collect());
        }
        self.last = kept.firsts[c].concat();
        self.before = kept.bars.swap_remove(c);
        self.bars_out += 1;
        self.closeness = self.chooser.closeness(&articulated[keep]);
        Ok(articulated.swap_remove(keep))
    }

    /// Draws the `parts` of `k` candidates, each on a thread and a random stream of its own.
    fn draw_parts(&mut self, k: usize, parts: &[Range<usize>]) -> Result<Vec<Drawn>> {
        let mut streams: Vec<Rng> = parts.iter().map(|_| Rng::seed_from_u64(self.rng.random())).collect();
        Ok(match (parts, &mut streams[..]) {
            ([a, b], [ra, rb]) => {
                let (x, y) = rayon::join(|| self.draw(k, a.clone(), ra), || self.draw(k, b.clone(), rb));
                vec![x?, y?]
            }
            _ => vec![self.draw(k, 0..k, &mut streams[0])?],
        })
    }

    /// Draws candidates `part` of `k` through every stage with `rng`.
    fn draw(&self, k: usize, part: Range<usize>, rng: &mut Rng) -> Result<Drawn> {
        let n = part.len();
        let mut drawn =
            Drawn { bars: Vec::new(), firsts: Vec::new(), memories: Vec::new(), likelihood: vec![0f32; n] };
        for (s, stage) in self.model.stages.iter().enumerate() {
            // Candidates with the same input get the same logits: each distinct input runs
            // once (all of them at the first stage, whose input is the last bar).
            let (input, which, bars) = if s == 0 {
                (self.last.clone(), vec![0; n], 1)
            } else {
                let factor = self.model.stages[s - 1].stride / stage.stride;
                let (distinct, which) = distinct_bars(&drawn.bars);
                (upsample(&distinct, factor), which, distinct.len())
            };
            let cpu = self.model.cpu_stages()?.map(|c| &c[s]);
            let (model, dev, tracks) = (&stage.model, &self.model.device, self.before.len());
            let (distinct, keys) = forward(model, cpu, dev, &input, (bars, tracks), self.mems[s].as_deref())?;
            let logits = select(&distinct, bars, &which);
            drawn.memories.push((keys, which));
            let p = self.opts.top_p.get(s).copied().unwrap_or(0.0);
            let t = self.opts.temperature;
            let temps: Vec<f32> = part
                .clone()
                .map(|c| {
                    if s == 0 && k > 1 {
                        t * spread(self.opts.similarity).powf(c as f32 / (k - 1) as f32)
                    } else {
                        t
                    }
                })
                .collect();
            let stride = stage.stride;
            let moves = ClipMoves { moves: &self.moves, stage: s, first: part.start };
            let coarse = (s > 0).then(|| self.model.stages[s - 1].stride);
            let held = coarse.map(|coarse| HeldNotes {
                coarse: &drawn.bars,
                factor: coarse / stride,
                before: self.before.iter().map(|b| b[b.len() - coarse]).collect(),
                dict: &self.dict,
                drums: self.voicing.drum_tracks(),
            });
            let rhythm = (stride == 1).then_some(&self.rhythm);
            let guard = (s == 0).then_some(&self.guard);
            let shape = Shape {
                constraints: constraints(&moves, rhythm, held.as_ref(), &self.voicing, guard),
                before: self.before.iter().map(|b| b[b.len() - stride]).collect(),
                dict: &self.dict,
                allowed: &stage.allowed,
                voicing: &self.voicing,
                guard,
                kept: self
                    .kept_now()
                    .iter()
                    .map(|t| t.as_ref().map(|t| t.iter().step_by(stride).copied().collect()))
                    .collect(),
            };
            drawn.bars = sample(&logits, p, &temps, &shape, rng, &mut drawn.likelihood)?;
            if s == 0 {
                drawn.firsts = drawn.bars.clone();
            }
        }
        Ok(drawn)
    }
}

/// Some of a bar's candidates, drawn through every stage.
struct Drawn {
    /// Per candidate, per track, its tokens at the finest stage.
    bars: Vec<Vec<Vec<u32>>>,
    /// The same at the first stage (the first stage's next input).
    firsts: Vec<Vec<Vec<u32>>>,
    /// Per stage, each layer's keys and values of its distinct inputs, and which each
    /// candidate had.
    memories: Vec<(Vec<PlainKeys>, Vec<usize>)>,
    /// Per candidate, the model's log-likelihood of its tokens.
    likelihood: Vec<f32>,
}

/// Per stage and layer, the keys and values of every bar of the model's clip,
/// `[bars, heads, T, d_head]`, each bar attending to the one before: the stage's inputs over
/// the clip, real bars for the first stage and the upsampled real coarser bars (what the
/// converged coarser stage predicts) for the others.
fn prime(model: &SintraModel) -> Result<Vec<Vec<PlainKeys>>> {
    let meta = &model.meta;
    let bars = meta.bars as usize;
    let enc = encode_with(&meta.clip, meta.bars, &meta.dictionary());
    let real = |stride: usize| bars_at(&enc, bars, stride, &model.device);
    let mut primed = Vec::with_capacity(model.stages.len());
    for (s, stage) in model.stages.iter().enumerate() {
        let stride = stage.stride;
        let inputs = match s {
            0 => real(stride)?,
            _ => {
                let coarse = model.stages[s - 1].stride;
                upsample_bars(&real(coarse)?, coarse / stride)?
            }
        };
        primed.push(match model.cpu_stages()? {
            Some(cpu) => cpu[s].forward(&inputs.flatten_all()?.to_vec1()?, bars, Before::Previous)?.1,
            None => stage
                .model
                .forward(&inputs, None, None)?
                .1
                .iter()
                .map(PlainKeys::new)
                .collect::<Result<_>>()?,
        });
    }
    Ok(primed)
}

/// The distinct bars among `bars`, in order of first appearance, and which of them each is.
fn distinct_bars(bars: &[Vec<Vec<u32>>]) -> (Vec<Vec<Vec<u32>>>, Vec<usize>) {
    let mut distinct: Vec<Vec<Vec<u32>>> = Vec::new();
    let which = bars
        .iter()
        .map(|bar| match distinct.iter().position(|d| d == bar) {
            Some(i) => i,
            None => {
                distinct.push(bar.clone());
                distinct.len() - 1
            }
        })
        .collect();
    (distinct, which)
}

/// Bar `which[c]` of `bars` bars' flat logits for every candidate `c`.
fn select(logits: &[f32], bars: usize, which: &[usize]) -> Vec<f32> {
    let per = logits.len() / bars;
    which.iter().flat_map(|&i| &logits[i * per..(i + 1) * per]).copied().collect()
}

/// A stage's forward pass over `(bars, tracks)` bars of tokens `input` `[B, tracks, T]`,
/// each attending to `mems`: the logits `[B, tracks, T, vocab]` and each layer's keys and
/// values of every bar. On the CPU (`cpu`) the plain pass, with no tensor at all.
fn forward(
    model: &StageModel,
    cpu: Option<&CpuStage>,
    dev: &Device,
    input: &[u32],
    (bars, tracks): (usize, usize),
    mems: Option<&[PlainKeys]>,
) -> Result<(Vec<f32>, Vec<PlainKeys>)> {
    if let Some(cpu) = cpu {
        return cpu.forward(input, bars, mems.map_or(Before::Nothing, Before::Bar));
    }
    let (t, heads) = (input.len() / (bars * tracks), model.config().n_head);
    let input = Tensor::from_slice(input, (bars, tracks, t), dev)?;
    let mems = mems
        .map(|m| m.iter().map(|k| k.to_tensors(1, heads, t, dev)).collect::<Result<Vec<_>>>())
        .transpose()?;
    let (logits, kvs) = model.forward(&input, mems.as_deref(), None)?;
    let keys = kvs.iter().map(PlainKeys::new).collect::<Result<_>>()?;
    Ok((logits.to_device(&Device::Cpu)?.flatten_all()?.to_vec1()?, keys))
}

/// Bars of per-track tokens as `[bars, tracks, T x factor]`, each token `factor` times (a
/// coarser stage's bars as a finer stage's input, as `pyramid::upsample_bars`).
fn upsample(bars: &[Vec<Vec<u32>>], factor: usize) -> Vec<u32> {
    bars.iter().flatten().flatten().flat_map(|&t| std::iter::repeat_n(t, factor)).collect()
}

/// Why generation stopped early.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The cancel flag was raised.
    #[error("generation was cancelled")]
    Cancelled,
    /// The maths failed.
    #[error("model error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Samples `bars` bars, handing each to `on_bar` (index, tokens) as soon as it is done.
pub fn generate(
    model: &SintraModel,
    opts: &GenerateOptions,
    bars: usize,
    cancel: &AtomicBool,
    on_bar: &mut (dyn FnMut(usize, &[Vec<u32>]) + Send),
) -> std::result::Result<Vec<Vec<Vec<u32>>>, GenerateError> {
    generate_explained(model, opts, bars, cancel, false, on_bar).map(|(bars, _)| bars)
}

/// [`generate`], with each bar's choice among its candidates where `explain` asks (else none).
pub fn generate_explained(
    model: &SintraModel,
    opts: &GenerateOptions,
    bars: usize,
    cancel: &AtomicBool,
    explain: bool,
    on_bar: &mut (dyn FnMut(usize, &[Vec<u32>]) + Send),
) -> std::result::Result<(Vec<Bar>, Vec<Choice>), GenerateError> {
    // One bar is a few small matrices: one thread for each half of the candidates
    // (`Generator::next_bar`) beats splitting every product.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().map_err(candle_core::Error::wrap)?;
    pool.install(|| {
        let mut gen = Generator::new(model, opts.clone())?;
        if explain {
            gen.explain();
        }
        let (mut out, mut choices) = (Vec::with_capacity(bars), Vec::new());
        for i in 0..bars {
            if cancel.load(Ordering::Relaxed) {
                return Err(GenerateError::Cancelled);
            }
            let bar = gen.next_bar()?;
            on_bar(i, &bar);
            out.push(bar);
            choices.extend(gen.last_choice().cloned());
        }
        Ok((out, choices))
    })
}

/// The generated bars as a clip with the model clip's tempo, meter, key, names, channels and
/// programs, velocities and timing shaped like the clip's (see `velocity` and `feel`; scale the
/// feel with [`feel::scale`]); with `include_clip`, the clip comes first. Kept tracks (`keep`)
/// play their source's notes, velocities, nudges and all.
pub fn to_clip(model: &SintraModel, bars: &[Vec<Vec<u32>>], include_clip: bool, keep: Option<&Kept>) -> Clip {
    to_clip_from(model, bars, include_clip, keep, 0)
}

/// [`to_clip`] for bars that are the new bars from `first` (0-based) on: the kept tracks play
/// their source's bars from there.
fn to_clip_from(
    model: &SintraModel,
    bars: &[Vec<Vec<u32>>],
    include_clip: bool,
    keep: Option<&Kept>,
    first: usize,
) -> Clip {
    let meta = &model.meta;
    let dict = meta.output_dictionary();
    let spb = meta.clip.meta.steps_per_bar();
    let offset = if include_clip { meta.bars * spb } else { 0 };
    let dynamics = crate::velocity::Dynamics::new(&meta.clip);
    let feel = feel::Feel::new(&meta.clip);
    let tracks = meta
        .clip
        .tracks
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let tokens: Vec<u32> = bars.iter().flat_map(|b| b[k].iter().copied()).collect();
            let new = match keep.filter(|keep| keep.tracks.get(k) == Some(&true)) {
                Some(keep) => {
                    (0..bars.len()).flat_map(|b| keep.notes(k, first + b, b as u32 * spb)).collect()
                }
                None => {
                    let mut notes = decode(&dict, &tokens, &|step, pitch| dynamics.velocity(k, step, pitch));
                    notes.iter_mut().for_each(|n| n.nudge = feel.nudge(k, n));
                    notes
                }
            };
            let mut notes = if include_clip { t.notes.clone() } else { Vec::new() };
            notes.extend(new.into_iter().map(|n| crate::clip::Note {
                start: n.start + offset,
                end: n.end + offset,
                ..n
            }));
            Track { notes, ..t.clone() }
        })
        .collect();
    let mut clip_meta = meta.clip.meta.clone();
    if !include_clip {
        clip_meta.pickup = None;
    }
    Clip { meta: clip_meta, tracks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attention::KeyValues;
    use crate::model::{build_stage, init_weights, Preset};

    #[test]
    fn distinct_inputs_on_either_pass_give_the_batch_logits() {
        let allowed = vec![(0..6).collect::<Vec<u32>>(); 2];
        let (vm, model) = build_stage(Preset::Tiny.config(), 6, 4, &allowed, &Device::Cpu).unwrap();
        init_weights(&vm, &mut Rng::seed_from_u64(3)).unwrap();
        let bar = |seed: u32| (0..2).map(|k| (0..4).map(|i| (i * 5 + k * 3 + seed) % 6).collect()).collect();
        let bars: Vec<Vec<Vec<u32>>> = vec![bar(0), bar(1), bar(0), bar(2), bar(1)];
        let (distinct, which) = distinct_bars(&bars);
        assert_eq!(which, vec![0, 1, 0, 2, 1]);
        let tensor =
            |bars: &[Vec<Vec<u32>>]| Tensor::from_vec(upsample(bars, 1), (bars.len(), 2, 4), &Device::Cpu);
        let (_, kvs) = model.forward(&tensor(&bars[..1]).unwrap(), None, None).unwrap();
        let mems: Vec<KeyValues> = kvs.iter().map(|kv| kv.bar(0).unwrap()).collect();
        let (want, want_kvs) = model.forward(&tensor(&bars).unwrap(), Some(&mems), None).unwrap();
        let want = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let want_keys = PlainKeys::new(&want_kvs[0]).unwrap();
        // The plain pass and the tensor pass, each input once.
        let mems: Vec<PlainKeys> = mems.iter().map(|kv| PlainKeys::new(kv).unwrap()).collect();
        let cpu = CpuStage::new(&model).unwrap();
        for cpu in [Some(&cpu), None] {
            let input = upsample(&distinct, 1);
            let (got, keys) = forward(&model, cpu, &Device::Cpu, &input, (3, 2), Some(&mems)).unwrap();
            let got = select(&got, distinct.len(), &which);
            let d = want.iter().zip(&got).map(|(w, g)| (w - g).abs()).fold(0f32, f32::max);
            assert!(want.len() == got.len() && d < 1e-5, "{d}");
            let keys: Vec<f32> = which.iter().flat_map(|&i| keys[0].bar(i, 3).k).collect();
            let d = want_keys.k.iter().zip(&keys).map(|(w, g)| (w - g).abs()).fold(0f32, f32::max);
            assert!(want_keys.k.len() == keys.len() && d < 1e-5, "{d}");
        }
    }

    #[test]
    fn upsampling_repeats_each_token() {
        // As training's upsampling of a coarser stage's bars.
        let bars: Vec<Vec<Vec<u32>>> = vec![vec![vec![1, 2], vec![3, 4]], vec![vec![5, 6], vec![7, 8]]];
        let want = vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8];
        assert_eq!(upsample(&bars, 2), want);
        let tensor = Tensor::from_vec(upsample(&bars, 1), (2, 2, 2), &Device::Cpu).unwrap();
        assert_eq!(upsample_bars(&tensor, 2).unwrap().flatten_all().unwrap().to_vec1::<u32>().unwrap(), want);
    }
}
