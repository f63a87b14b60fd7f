//! The engine thread's loop and its jobs: restore a loaded project, turn captures into clips,
//! train, sample variations and keep endless play ahead of the playhead.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::Device;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use sintra_core::device::{select, DeviceChoice};
use sintra_core::generate::{Generator, Kept};
use sintra_core::model::Preset;
use sintra_core::model_file::SintraModel;
use sintra_core::train::{default_threads, total_parameters, train_from, warm_fits, TrainOptions};

use super::redraw::{as_clip, redraw_variation};
use super::{
    clip_from_capture, BarDecoder, Command, EngineEvent, Listener, ModelInfo, PlayMsg, Settings, Shared,
    Status,
};
use crate::capture::{CaptureMsg, RECORDING};
use crate::project::{ModelBytes, Variation, MAX_SAVED_BARS};

/// Bars of variation 1 sampled at a capture's end from the model of its bars so far, while the
/// clip's own training runs (8 s at 120 BPM in 4/4).
const EARLY_BARS: usize = 4;
/// A capture is learned while it goes on once it has this many bars.
const PRETRAIN_FROM: u32 = 3;

/// Redraws draw from seeds this far past the variations' own.
const REDRAW_SEEDS: u64 = 1 << 20;

/// Endless play keeps this many bars behind the playhead on the audio thread's timeline.
const WINDOW_BARS: f64 = 16.0;

/// The engine thread's state.
pub(super) struct Worker {
    /// State shared with the plugin.
    shared: Shared,
    /// Captured notes from the audio thread.
    capture: rtrb::Consumer<CaptureMsg>,
    /// Generated notes to the audio thread.
    play: rtrb::Producer<PlayMsg>,
    /// Reads the sampling settings from the parameters.
    settings: Arc<dyn Fn() -> Settings + Send + Sync>,
    /// Hears every event.
    listener: Listener,
    /// Two threads for sampling, one per half of the candidate bars (a bar is a few small
    /// products: splitting each costs more than it saves), built once with the engine; `None`
    /// when the system gave no threads, and sampling runs on the engine thread itself.
    sampler: Option<rayon::ThreadPool>,
    /// Where the maths runs (CUDA when built in and present), chosen at first use.
    device: Option<(Device, &'static str)>,
    /// The trained model.
    model: Option<Arc<SintraModel>>,
    /// Capture messages of the capture in progress.
    pending: Vec<CaptureMsg>,
    /// The variation the audio thread holds.
    playing: Option<usize>,
    /// Variations of the current set that are fully sampled.
    complete: usize,
    /// The state load this worker has restored (see `ProjectStore::loads`).
    loads: u64,
    /// Endless play under way.
    endless: Option<Run>,
    /// Redraws so far: each draws with a seed of its own.
    redraws: u64,
    /// The capture under way's last bar line (`CaptureMsg::Bar`): what has been recorded.
    bar_line: Option<CaptureMsg>,
    /// A model of the capture under way's bars so far (`pretrain`) and how many bars it learned:
    /// the first bars play from it, and the clip's training starts from it.
    warm: Option<(Arc<SintraModel>, u32)>,
    /// Bars of variation 1 sampled from `warm` at the capture's end (with the state load they
    /// belong to): `generate` goes on from them.
    early: Option<(u64, usize)>,
}

/// What a job started under, to tell when it must stop early.
#[derive(Clone, Copy)]
struct Job {
    /// The user's cancel count at the start.
    cancels: u64,
    /// The state load the job works on.
    loads: u64,
}

impl Job {
    /// The user cancelled it.
    fn cancelled(&self, shared: &Shared) -> bool {
        shared.cancels.load(Ordering::SeqCst) != self.cancels
    }

    /// Cancelled, unloaded, or overtaken by a state load (whose project wins).
    fn stopped(&self, shared: &Shared) -> bool {
        self.cancelled(shared)
            || shared.shutdown.load(Ordering::SeqCst)
            || shared.project.loads() != self.loads
    }
}

/// A variation being sampled: the sampler, the note decoder and the timeline length so far.
struct Run {
    /// The sampler, with its per-stage memory.
    gen: Generator<Arc<SintraModel>>,
    /// Turns its bars into notes.
    decoder: BarDecoder,
    /// Quarter notes sampled so far.
    length: f64,
    /// Which variation of the set this is (0-based).
    variation: usize,
    /// The job it belongs to.
    job: Job,
    /// Timeline position before which endless play has told the audio thread to forget notes.
    trimmed: f64,
}

impl Worker {
    pub(super) fn new(
        shared: Shared,
        capture: rtrb::Consumer<CaptureMsg>,
        play: rtrb::Producer<PlayMsg>,
        settings: Arc<dyn Fn() -> Settings + Send + Sync>,
        listener: Listener,
        sampler: Result<rayon::ThreadPool, String>,
    ) -> Self {
        let sampler = sampler
            .map_err(|e| {
                let e = format!("no sampling threads ({e}): sampling runs on the engine thread alone");
                *shared.status.lock() = Status::Error(e.clone());
                nice_plug::nice_warn!("SinTra: {e}");
            })
            .ok();
        Self {
            shared,
            capture,
            play,
            settings,
            listener,
            sampler,
            device: None,
            model: None,
            pending: Vec::new(),
            playing: None,
            complete: 0,
            loads: 0,
            endless: None,
            redraws: 0,
            bar_line: None,
            warm: None,
            early: None,
        }
    }

    pub(super) fn run(mut self, commands: Receiver<Command>) {
        loop {
            let command = commands.recv_timeout(Duration::from_millis(10));
            if self.shared.shutdown.load(Ordering::SeqCst) {
                return;
            }
            match command {
                Ok(Command::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(command) => {
                    let job = command.is_job();
                    self.guarded(|w| w.command(command));
                    if job {
                        self.shared.busy.store(false, Ordering::SeqCst);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.shared.project.loads() != self.loads {
                self.guarded(Self::restore);
            }
            if self.shared.generate_request.swap(false, Ordering::SeqCst) {
                self.guarded(Self::generate);
                self.shared.busy.store(false, Ordering::SeqCst);
            }
            if self.poll_capture() && (self.settings)().auto_train && self.shared.begin_job() {
                self.guarded(|w| w.train(true));
                self.shared.busy.store(false, Ordering::SeqCst);
            } else if self.wants_pretraining() && self.shared.begin_job() {
                self.guarded(Self::pretrain);
                self.shared.busy.store(false, Ordering::SeqCst);
            }
            self.guarded(Self::apply_pick);
            self.guarded(Self::extend);
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Train { generate } => self.train(generate),
            Command::Generate => self.generate(),
            Command::LoadClip { clip, train } => {
                if let Err(e) = clip.check_length() {
                    return self.set(Status::Error(e));
                }
                let (bars, tracks) = (clip.bars(), clip.tracks.len());
                nice_plug::nice_log!("SinTra: loaded a clip of {bars} bars, {tracks} tracks");
                self.set(Status::Clip { bars, tracks });
                self.shared.project.lock().set_clip(clip);
                if train {
                    self.train(true);
                }
            }
            Command::Redraw { first, last } => self.redraw(first, last),
            Command::UndoRedraw => self.undo_redraw(),
            Command::Keep { tracks } => self.shared.project.lock().kept = tracks,
            Command::Shutdown => {}
            #[cfg(test)]
            Command::Panic => panic!("a test asked for it"),
        }
    }

    /// Runs a job; a panic in it (a candle error, a bug) becomes an error in plain words and
    /// leaves the engine usable.
    fn guarded(&mut self, job: impl FnOnce(&mut Self)) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| job(self))) {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            self.endless = None;
            self.set(Status::Error(format!("an internal error stopped the job ({what}); try again")));
        }
    }

    /// Runs `f` on the sampling threads (or here, without them).
    fn sample<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.sampler {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    fn job(&self) -> Job {
        Job { cancels: self.shared.cancels.load(Ordering::SeqCst), loads: self.loads }
    }

    fn emit_event(&self, event: EngineEvent) {
        (self.listener)(&event);
    }

    /// Sets the status, then tells the listener of an error (so whoever hears it reads it).
    fn set(&self, status: Status) {
        let error = if let Status::Error(e) = &status { Some(e.clone()) } else { None };
        *self.shared.status.lock() = status;
        if let Some(e) = error {
            nice_plug::nice_warn!("SinTra: {e}");
            self.emit_event(EngineEvent::Error(e));
        }
    }

    /// The device, chosen once: CUDA when this build has it and a GPU answers, else the CPU.
    fn device(&mut self) -> (Device, &'static str) {
        self.device.get_or_insert_with(|| select(DeviceChoice::Auto).unwrap_or((Device::Cpu, "cpu"))).clone()
    }

    fn set_model(&mut self, model: SintraModel, bytes: usize, device: &'static str) {
        let parameters = total_parameters(&model.stages);
        *self.shared.info.lock() = Some(ModelInfo { parameters, bytes, device });
        self.model = Some(Arc::new(model));
    }

    /// Drains the capture queue; true when a capture has just ended and became the clip.
    fn poll_capture(&mut self) -> bool {
        let mut ended = false;
        while let Ok(msg) = self.capture.pop() {
            match msg {
                CaptureMsg::Start { .. } => {
                    self.pending.clear();
                    self.pending.push(msg);
                    (self.bar_line, self.warm) = (None, None);
                }
                CaptureMsg::Bar { .. } => self.bar_line = Some(msg),
                CaptureMsg::Note { .. } => self.pending.push(msg),
                CaptureMsg::End { .. } => {
                    self.pending.push(msg);
                    let lost = self.shared.capture_overflow.swap(0, Ordering::Relaxed);
                    if lost > 0 {
                        let e = format!("{lost} captured note events were lost (the capture queue was full)");
                        nice_plug::nice_warn!("SinTra: {e}");
                        self.emit_event(EngineEvent::Error(e));
                    }
                    match clip_from_capture(&self.pending) {
                        Ok(clip) => {
                            let (bars, tracks) = (clip.bars(), clip.tracks.len());
                            nice_plug::nice_log!("SinTra: loaded a clip of {bars} bars, {tracks} tracks");
                            self.set(Status::Clip { bars, tracks });
                            self.shared.project.lock().set_clip(clip);
                            ended = true;
                        }
                        Err(e) => self.set(Status::Error(e)),
                    }
                    self.pending.clear();
                    self.bar_line = None;
                }
            }
        }
        ended
    }

    /// Whether the capture under way has bars the warm model has not learned (two or more
    /// since, or its first three), and clips are trained as they arrive.
    fn wants_pretraining(&self) -> bool {
        let Some(CaptureMsg::Bar { beat, num, den, .. }) = self.bar_line else { return false };
        let Some(&CaptureMsg::Start { beat: start }) = self.pending.first() else { return false };
        let bars = ((beat - start) / (num as f64 * 4.0 / den.max(1) as f64)).round() as u32;
        let learned = self.warm.as_ref().map_or(0, |w| w.1);
        bars >= PRETRAIN_FROM.max(learned + 2) && (self.settings)().auto_train
    }

    /// Learns the capture's bars so far while it goes on (from the last such model), so that
    /// at its end the first bars play at once and the clip's training starts near its end.
    /// Stops, keeping the model before, when the capture ends or anything else stops the job.
    fn pretrain(&mut self) {
        let Some(CaptureMsg::Bar { beat, tempo, num, den }) = self.bar_line else { return };
        let mut msgs = self.pending.clone();
        msgs.push(CaptureMsg::End { beat, tempo, num, den });
        let Ok(clip) = clip_from_capture(&msgs) else { return };
        if clip.check_length().is_err() || clip.bars() < 2 {
            return;
        }
        let job = self.job();
        let opts = TrainOptions { preset: Preset::Default, threads: default_threads(), ..Default::default() };
        let (device, _) = self.device();
        let (shared, stop) = (self.shared.clone(), AtomicBool::new(false));
        let warm = self.warm.as_ref().map(|w| w.0.clone());
        let bars = clip.bars();
        let result = train_from(&clip, bars, &opts, warm.as_deref(), &device, &stop, &mut |_| {
            if job.stopped(&shared) || shared.capture_phase.load(Ordering::Relaxed) != RECORDING {
                stop.store(true, Ordering::SeqCst);
            }
        });
        if let Ok((model, _)) = result {
            nice_plug::nice_log!("SinTra: learned the capture's first {bars} bars while it goes on");
            self.warm = Some((Arc::new(model), bars));
        }
    }

    /// Takes the project the host loaded (all of it, at once): its notes go to the audio
    /// thread (which skips them if it already has them) and its model is rebuilt, no training.
    fn restore(&mut self) {
        self.endless = None;
        self.model = None;
        *self.shared.info.lock() = None;
        let (loads, project) = self.shared.project.snapshot();
        self.loads = loads;
        self.complete = project.variations.len();
        self.playing = Some(project.picked as usize);
        if let Some(v) = project.playing() {
            self.stream(PlayMsg::Restore { loads }, v);
        }
        let clip_status = project
            .clip
            .as_ref()
            .map_or(Status::Empty, |c| Status::Clip { bars: c.bars(), tracks: c.tracks.len() });
        let Some(bytes) = project.model else {
            return self.set(clip_status);
        };
        let (device, name) = self.device();
        match SintraModel::from_bytes(&bytes.bytes, &device) {
            Ok(m) => {
                self.set_model(m, bytes.bytes.len(), name);
                self.set(Status::Ready);
            }
            Err(e) => {
                // Foreign or damaged state: say so and start clean, never crash.
                nice_plug::nice_error!("SinTra: the saved model could not be restored: {e}");
                let mut p = self.shared.project.lock();
                if self.shared.project.loads() == loads {
                    p.model = None;
                }
                drop(p);
                self.set(Status::Error(format!("the saved model could not be restored ({e})")));
            }
        }
    }

    /// Trains on the clip (on the chosen device), then samples a set of bars when `generate`.
    fn train(&mut self, generate: bool) {
        self.endless = None;
        let job = self.job();
        let Some(clip) = self.shared.project.clip().clone() else {
            return self.set(Status::Error("capture or load a clip first".into()));
        };
        let opts = TrainOptions { preset: Preset::Default, threads: default_threads(), ..Default::default() };
        let (shared, listener) = (self.shared.clone(), self.listener.clone());
        let start = Instant::now();
        // A model of the capture's bars so far: the first bars play from it at once, and the
        // clip's training starts from it.
        let warm = self.warm.take().map(|w| w.0).filter(|w| warm_fits(w, &clip, &opts));
        if let (true, Some(w)) = (generate, &warm) {
            self.early_bars(w, &clip, job);
        }
        let (device, name) = self.device();
        let stop = AtomicBool::new(false);
        let result = train_from(&clip, clip.bars(), &opts, warm.as_deref(), &device, &stop, &mut |p| {
            let (stage, stages, epoch, loss, seconds) =
                (p.stage + 1, p.stages, p.epoch, p.loss, p.elapsed.as_secs_f64());
            if epoch == 1 {
                nice_plug::nice_log!("SinTra: training stage {stage} of {stages}");
            }
            let max_epochs = p.max_epochs;
            *shared.status.lock() = Status::Training { stage, stages, epoch, max_epochs, loss, seconds };
            listener(&EngineEvent::Progress { stage, stages, epoch, loss, seconds });
            if job.stopped(&shared) {
                stop.store(true, Ordering::SeqCst);
            }
        });
        if job.stopped(&self.shared) && !job.cancelled(&self.shared) {
            return; // Unloading, or the host loaded a saved state: its project wins.
        }
        let model = match result {
            Ok((model, _)) => model,
            Err(e) => return self.set(Status::Error(e.to_string())),
        };
        let bytes = match model.to_bytes() {
            Ok(b) => ModelBytes::new(b),
            Err(e) => return self.set(Status::Error(format!("the model could not be kept: {e}"))),
        };
        let size = bytes.bytes.len();
        {
            let mut p = self.shared.project.lock();
            if self.shared.project.loads() != job.loads {
                return;
            }
            p.model = Some(bytes);
        }
        let parameters = total_parameters(&model.stages);
        self.set_model(model, size, name);
        let seconds = start.elapsed().as_secs_f64();
        nice_plug::nice_log!("SinTra: trained in {seconds:.1} s on {name}, {parameters} parameters");
        self.emit_event(EngineEvent::Trained { seconds, parameters });
        self.set(Status::Ready);
        if generate {
            self.generate();
        }
    }

    /// Samples a fresh set of variations. The first streams to the audio thread bar by bar
    /// as it is sampled, so it can be heard at once; the others are kept for picking.
    fn generate(&mut self) {
        self.endless = None;
        let Some(model) = self.model.clone() else {
            return self.set(Status::Error("train a model first".into()));
        };
        let settings = (self.settings)();
        let job = self.job();
        // Endless mode keeps extending one stream: one variation.
        let count = if settings.endless { 1 } else { settings.variations.max(1) };
        // Bars of variation 1 that already play (`early_bars`): it goes on from them.
        let early = self.early.take().filter(|&(loads, _)| loads == job.loads).map_or(0, |e| e.1);
        if early == 0 {
            {
                let mut p = self.shared.project.lock();
                if self.shared.project.loads() != job.loads {
                    return;
                }
                p.variations.clear();
            }
            self.shared.project.set_picked(0);
            self.push(PlayMsg::Clear { loads: job.loads });
        }
        (self.playing, self.complete) = (Some(0), 0);
        let keep = self.kept(&model.meta.clip);
        for v in 0..count {
            let mut options = settings.options.clone();
            options.seed = options.seed.wrapping_add(v as u64);
            options.keep.clone_from(&keep);
            let first = if v == 0 { early.min(settings.bars) } else { 0 };
            let run = self.run_for(&model, options, v, job).and_then(|mut run| {
                if first > 0 {
                    self.go_on_from(&mut run, &model, first)?;
                }
                Ok(run)
            });
            let mut run = match run {
                Ok(run) => run,
                Err(e) => return self.set(Status::Error(format!("sampling failed: {e}"))),
            };
            if first == 0 {
                self.shared.project.variations().push(Variation::default());
            }
            for i in first..settings.bars {
                if job.stopped(&self.shared) {
                    if job.cancelled(&self.shared) {
                        self.set(Status::Ready);
                    }
                    return;
                }
                let last = i + 1 == settings.bars && !settings.endless;
                if let Err(e) = self.next_bar(&mut run, last) {
                    return self.set(Status::Error(format!("sampling failed: {e}")));
                }
                self.set(Status::Generating {
                    variation: v + 1,
                    variations: count,
                    done: i + 1,
                    of: settings.bars,
                });
                self.emit_event(EngineEvent::BarReady { variation: v, index: i, of: settings.bars });
            }
            if let Some(var) = self.shared.project.variations().get_mut(v) {
                var.notes.sort_by(|a, b| a.start.total_cmp(&b.start));
            }
            self.complete = v + 1;
            if v == 0 && settings.endless {
                self.endless = Some(run);
            }
            // A variation picked while the others are sampled plays as soon as it is complete.
            self.apply_pick();
        }
        nice_plug::nice_log!("SinTra: generated {count} variations of {} bars", settings.bars);
        self.set(Status::Ready);
    }

    /// At a capture's end, before its training: the first bars of variation 1 from the model
    /// of its bars so far (`warm`), following the clip's bars it has not learned, streamed at
    /// once; `generate` goes on from them with the clip's own model.
    fn early_bars(&mut self, warm: &Arc<SintraModel>, clip: &sintra_core::Clip, job: Job) {
        let settings = (self.settings)();
        let bars = settings.bars.min(EARLY_BARS);
        let mut options = settings.options.clone();
        options.keep = self.kept(clip);
        let mut run = match self.run_for(warm, options, 0, job) {
            Ok(run) => run,
            Err(_) => return,
        };
        let learned = warm.meta.bars;
        if self.sample(|| run.gen.follow_clip(clip, learned..clip.bars(), false)).is_err() {
            return;
        }
        {
            let mut p = self.shared.project.lock();
            if self.shared.project.loads() != job.loads {
                return;
            }
            p.variations.clear();
            p.variations.push(Variation::default());
        }
        self.shared.project.set_picked(0);
        self.push(PlayMsg::Clear { loads: job.loads });
        (self.playing, self.complete) = (Some(0), 0);
        for i in 0..bars {
            if self.next_bar(&mut run, i + 1 == bars).is_err() {
                return;
            }
        }
        nice_plug::nice_log!("SinTra: the first {bars} bars play, from the capture's first {learned} bars");
        self.early = Some((job.loads, bars));
    }

    /// `run` (of the clip's model) goes on after the first `bars` bars of its variation, which
    /// another model drew (`early_bars`).
    fn go_on_from(&self, run: &mut Run, model: &SintraModel, bars: usize) -> candle_core::Result<()> {
        let Some(v) = self.shared.project.variations().get(run.variation).cloned() else { return Ok(()) };
        let drawn = as_clip(model, &v);
        self.sample(|| run.gen.follow_clip(&drawn, 0..bars as u32, true))?;
        run.length = v.length;
        run.decoder.jump_to(v.length);
        Ok(())
    }

    /// The tracks the editor keeps, their bars from `clip` (none when every track or none is
    /// kept, or the tracks are not `clip`'s).
    fn kept(&self, clip: &sintra_core::Clip) -> Option<Kept> {
        let kept = self.shared.project.lock().kept_tracks();
        let some = kept.iter().any(|&k| k) && !kept.iter().all(|&k| k);
        (some && kept.len() == clip.tracks.len()).then(|| Kept { tracks: kept, source: clip.clone() })
    }

    /// Draws bars `first..=last` of the variation that plays again; the old one is kept for
    /// `undo_redraw`.
    fn redraw(&mut self, first: u32, last: u32) {
        self.endless = None;
        let Some(model) = self.model.clone() else {
            return self.set(Status::Error("train a model first".into()));
        };
        let (job, picked) = (self.job(), self.shared.project.picked());
        let Some(old) = self.shared.project.variations().get(picked).cloned() else {
            return self.set(Status::Error("generate first, then redraw bars".into()));
        };
        let mut options = (self.settings)().options;
        self.redraws += 1;
        options.seed = options.seed.wrapping_add(REDRAW_SEEDS).wrapping_add(self.redraws);
        options.keep = self.kept(&model.meta.clip);
        let of = (last + 1).saturating_sub(first) as usize;
        self.set(Status::Generating { variation: picked + 1, variations: 1, done: 0, of });
        let new = match self.sample(|| redraw_variation(&model, &options, &old, (first, last))) {
            Ok(v) => v,
            Err(e) => return self.set(Status::Error(format!("redrawing failed: {e}"))),
        };
        self.replace(job, picked, new, Some((picked, old)));
        nice_plug::nice_log!("SinTra: redrew bars {first}-{last} of variation {}", picked + 1);
    }

    /// Puts back the variation as it was before the last redraw.
    fn undo_redraw(&mut self) {
        let (job, undo) = (self.job(), self.shared.project.lock().undo.take());
        match undo {
            Some((k, v)) => self.replace(job, k, v, None),
            None => self.set(Status::Error("there is no redraw to undo".into())),
        }
    }

    /// Variation `k` becomes `v` (the audio thread's timeline too, when it plays), `undo`
    /// what undoes it.
    fn replace(&mut self, job: Job, k: usize, v: Variation, undo: Option<(usize, Variation)>) {
        {
            let mut p = self.shared.project.lock();
            if self.shared.project.loads() != job.loads || k >= p.variations.len() {
                return;
            }
            p.variations[k] = v.clone();
            p.undo = undo;
        }
        if self.playing == Some(k) {
            self.stream(PlayMsg::Clear { loads: job.loads }, &v);
        }
        self.set(Status::Ready);
    }

    fn run_for(
        &self,
        model: &Arc<SintraModel>,
        options: sintra_core::generate::GenerateOptions,
        variation: usize,
        job: Job,
    ) -> candle_core::Result<Run> {
        let decoder = BarDecoder::new(model, options.keep.clone());
        let gen = self.sample(|| Generator::new(model.clone(), options))?;
        Ok(Run { gen, decoder, length: 0.0, variation, job, trimmed: 0.0 })
    }

    /// Samples one bar of `run`, keeps its notes (up to `MAX_SAVED_BARS`) and, when its
    /// variation plays, hands them to the audio thread.
    fn next_bar(&mut self, run: &mut Run, last: bool) -> candle_core::Result<()> {
        let bar = self.sample(|| run.gen.next_bar())?;
        let closeness = run.gen.closeness() as f32;
        let notes = run.decoder.bar(&bar, last);
        run.length += run.decoder.bar_quarters;
        let bars = (run.length / run.decoder.bar_quarters).round() as usize;
        {
            let mut p = self.shared.project.lock();
            if self.shared.project.loads() != run.job.loads {
                return Ok(()); // A loaded project replaced this one.
            }
            match p.variations.get_mut(run.variation) {
                Some(v) if bars <= MAX_SAVED_BARS => {
                    v.notes.extend_from_slice(&notes);
                    v.length = run.length;
                    v.closeness.push(closeness);
                }
                _ => {}
            }
        }
        if self.playing == Some(run.variation) {
            for n in notes {
                self.push(PlayMsg::Note(n));
            }
            self.push(PlayMsg::Length(run.length));
        }
        Ok(())
    }

    /// Hands `v` to the audio thread after `header`, sorted by start (so the audio thread
    /// appends instead of inserting).
    fn stream(&mut self, header: PlayMsg, v: &Variation) {
        let mut notes = v.notes.clone();
        notes.sort_by(|a, b| a.start.total_cmp(&b.start));
        self.push(header);
        for n in notes {
            self.push(PlayMsg::Note(n));
        }
        self.push(PlayMsg::Length(v.length));
    }

    /// Hands the picked variation to the audio thread when it differs from the one it holds
    /// and is fully sampled.
    fn apply_pick(&mut self) {
        let picked = self.shared.project.picked();
        if self.playing == Some(picked) || picked >= self.complete {
            return;
        }
        let Some(v) = self.shared.project.variations().get(picked).cloned() else { return };
        self.endless = None;
        self.stream(PlayMsg::Clear { loads: self.loads }, &v);
        self.playing = Some(picked);
    }

    /// Endless mode: keeps four bars ahead of the playhead, continuing the variation that plays
    /// (after a reload or a switch of mode too), and tells the audio thread to forget what lies
    /// far behind it.
    fn extend(&mut self) {
        if !(self.settings)().endless {
            self.endless = None;
            return;
        }
        if self.endless.is_none() {
            self.endless = self.resume();
        }
        let Some(mut run) = self.endless.take() else { return };
        let bar = run.decoder.bar_quarters;
        let playhead = f64::from_bits(self.shared.playhead.load(Ordering::Relaxed));
        if !playhead.is_finite() {
            self.endless = Some(run);
            return;
        }
        if playhead > run.length + bar {
            // Far ahead (a seek, or a reload deep into an endless run): continue from there.
            run.length = (playhead / bar).floor() * bar;
            run.decoder.jump_to(run.length);
        }
        // Four bars ahead (seconds of slack for a busy machine); a few bars at a time when
        // behind, without holding up other work.
        for _ in 0..8 {
            if playhead + 4.0 * bar < run.length {
                break;
            }
            if let Err(e) = self.next_bar(&mut run, false) {
                return self.set(Status::Error(format!("sampling failed: {e}")));
            }
        }
        let before = playhead - WINDOW_BARS * bar;
        if before > run.trimmed + bar {
            self.push(PlayMsg::Trim(before));
            run.trimmed = before;
        }
        self.endless = Some(run);
    }

    /// An endless run that continues the complete variation that plays.
    fn resume(&mut self) -> Option<Run> {
        let model = self.model.clone()?;
        let k = self.playing.filter(|&k| k < self.complete)?;
        let length = self.shared.project.variations().get(k)?.length;
        let mut options = (self.settings)().options;
        options.seed = options.seed.wrapping_add(k as u64).wrapping_add(length as u64);
        options.keep = self.kept(&model.meta.clip);
        let mut run = self.run_for(&model, options, k, self.job()).ok()?;
        run.length = length;
        run.decoder.jump_to(length);
        self.push(PlayMsg::Append { loads: self.loads });
        Some(run)
    }

    /// Queues a message for the audio thread; a full queue waits here, never there.
    fn push(&mut self, mut msg: PlayMsg) {
        loop {
            match self.play.push(msg) {
                Ok(()) => return,
                Err(rtrb::PushError::Full(m)) => {
                    if self.shared.shutdown.load(Ordering::Relaxed) {
                        return;
                    }
                    msg = m;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }
}
