//! The engine thread: one per plugin instance, it owns the model (candle). It turns captures
//! into clips, trains, samples bars and hands their notes to the audio thread through a
//! pre-allocated lock-free queue, bar by bar. Commands come in and status goes out over
//! crossbeam channels; nothing here ever runs on the audio thread.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use candle_core::Device;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sintra_core::clip::{Clip, Meta, Note, TimeSig, Track};
use sintra_core::device::{select, DeviceChoice};
use sintra_core::generate::{GenerateOptions, Generator};
use sintra_core::model::Preset;
use sintra_core::model_file::SintraModel;
use sintra_core::train::{default_threads, total_parameters, train, TrainOptions};

use crate::capture::CaptureMsg;
use crate::monitor::Monitor;
use crate::params::ModelBytes;
use crate::scheduler::PlayNote;

/// What the engine is asked to do.
#[derive(Debug)]
pub enum Command {
    /// Train on the current clip; sample a set of bars afterwards when `generate`.
    Train { generate: bool },
    /// Sample a fresh set of bars from the current model.
    Generate,
    /// Take the clip and model the host just loaded into the shared state (no retraining);
    /// with `stream`, also hand the loaded notes to the audio thread.
    Restore { stream: bool },
    /// Use this clip (from a MIDI file); train and generate at once when `train`.
    LoadClip { clip: Clip, train: bool },
    /// Stop the thread.
    Shutdown,
}

/// What the engine tells whoever listens (the editor); dropped when nobody drains them.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineEvent {
    /// A training step: stage (1-based) of stages, epoch, loss, seconds since training began.
    Progress { stage: usize, stages: usize, epoch: usize, loss: f32, seconds: f64 },
    /// Training finished.
    Trained { seconds: f64, parameters: usize },
    /// A bar of a variation (both 0-based) was sampled.
    BarReady { variation: usize, index: usize, of: usize },
    /// Something failed, in plain words.
    Error(String),
}

/// Events kept for a slow listener.
const EVENT_QUEUE: usize = 1024;

/// What the engine reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Status {
    /// Nothing captured or loaded.
    #[default]
    Empty,
    /// A clip is there and untrained.
    Clip { bars: u32, tracks: usize },
    /// Training: stage (1-based) of stages, epoch of at most `max_epochs`, loss, seconds so far.
    Training { stage: usize, stages: usize, epoch: usize, max_epochs: usize, loss: f32, seconds: f64 },
    /// A model is ready.
    Ready,
    /// Sampling: variation (1-based) of variations, bars done of bars asked in it.
    Generating { variation: usize, variations: usize, done: usize, of: usize },
    /// Something failed, in plain words.
    Error(String),
}

/// What the model is and where it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// Trainable parameters.
    pub parameters: usize,
    /// Size of the model file (saved with the project), bytes.
    pub bytes: usize,
    /// "cpu" or "cuda".
    pub device: &'static str,
}

/// One generated variation: its notes on the timeline and its length in quarter notes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Variation {
    /// Notes, sorted by start.
    pub notes: Vec<PlayNote>,
    /// Length in quarter notes (whole bars).
    pub length: f64,
}

/// A message to the audio thread's timeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlayMsg {
    /// Forget the timeline (a new generation starts).
    Clear,
    /// A note to add.
    Note(PlayNote),
    /// The timeline now holds this many quarter notes.
    Length(f64),
}

/// Sampling settings the engine reads from the parameters when it generates.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Bars per generation.
    pub bars: usize,
    /// Variations per generation (seeds `seed`, `seed + 1`, ...).
    pub variations: usize,
    /// The generation options.
    pub options: GenerateOptions,
    /// Keep sampling ahead of the playhead.
    pub endless: bool,
    /// Train as soon as a capture ends.
    pub auto_train: bool,
}

/// Everything the engine shares with the plugin and the editor (all of it off the audio
/// thread's path, except the atomics).
#[derive(Clone, Default)]
pub struct Shared {
    /// Latest status.
    pub status: Arc<Mutex<Status>>,
    /// Every event so far, collected for display (loss curves, last training, last error):
    /// kept here, not in the editor, so a closed window misses nothing.
    pub monitor: Arc<Mutex<Monitor>>,
    /// The clip, as saved with the project.
    pub clip: Arc<Mutex<Option<Clip>>>,
    /// The model file's bytes, as saved with the project.
    pub model: Arc<Mutex<Option<ModelBytes>>>,
    /// What the model is, once there is one.
    pub info: Arc<Mutex<Option<ModelInfo>>>,
    /// The notes of the variation that plays, as saved with the project.
    pub generated: Arc<Mutex<Vec<PlayNote>>>,
    /// Every variation of the last generation, as saved with the project.
    pub variations: Arc<Mutex<Vec<Variation>>>,
    /// The variation asked to play (0-based); the engine streams it once it is complete.
    pub picked: Arc<AtomicU32>,
    /// The audio thread's position on the timeline (f64 bits), for endless mode and display.
    pub playhead: Arc<AtomicU64>,
    /// Whether the host's transport is playing.
    pub playing: Arc<AtomicBool>,
    /// Loads of saved state by the host so far (a job that sees it change drops its result).
    pub loads: Arc<AtomicU64>,
    /// Raised by the audio thread when state was loaded while it ran: restore and stream.
    pub restore_request: Arc<AtomicBool>,
    /// Raised to stop training or sampling at once.
    pub cancel: Arc<AtomicBool>,
    /// Raised when the plugin goes away.
    pub shutdown: Arc<AtomicBool>,
    /// Capture messages the audio thread could not queue (counted there, reported here).
    pub capture_overflow: Arc<AtomicU32>,
}

/// The plugin's handle on its engine thread; dropping it cancels work and joins the thread.
pub struct Engine {
    /// Commands in.
    commands: Sender<Command>,
    /// Shared state.
    pub shared: Shared,
    /// Progress, results and errors as they happen (dropped when nobody listens).
    pub events: Receiver<EngineEvent>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts the thread. `settings` is called whenever the engine samples.
    pub fn start(
        shared: Shared,
        capture: rtrb::Consumer<CaptureMsg>,
        play: rtrb::Producer<PlayMsg>,
        settings: Arc<dyn Fn() -> Settings + Send + Sync>,
        generate_request: Arc<AtomicBool>,
    ) -> Self {
        let (commands, rx) = crossbeam_channel::unbounded();
        let (events_tx, events) = crossbeam_channel::bounded(EVENT_QUEUE);
        let worker = Worker {
            shared: shared.clone(),
            capture,
            play,
            settings,
            generate_request,
            events: events_tx,
            sampler: rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("one sampling thread"),
            device: None,
            model: None,
            pending: Vec::new(),
            playing: None,
            complete: 0,
        };
        let thread = std::thread::Builder::new()
            .name("sintra-engine".into())
            .spawn(move || worker.run(rx))
            .expect("spawning the engine thread");
        Self { commands, shared, events, thread: Some(thread) }
    }

    /// Sends a command; the engine picks it up between jobs.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// A sender for the editor.
    pub fn commands(&self) -> Sender<Command> {
        self.commands.clone()
    }

    /// Stops the training or sampling under way at its next step.
    pub fn cancel(&self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
        self.shared.cancel.store(true, Ordering::Relaxed);
        let _ = self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The engine thread's state.
struct Worker {
    /// State shared with the plugin.
    shared: Shared,
    /// Captured notes from the audio thread.
    capture: rtrb::Consumer<CaptureMsg>,
    /// Generated notes to the audio thread.
    play: rtrb::Producer<PlayMsg>,
    /// Reads the sampling settings from the parameters.
    settings: Arc<dyn Fn() -> Settings + Send + Sync>,
    /// Raised by the audio thread's generate button.
    generate_request: Arc<AtomicBool>,
    /// Events out.
    events: Sender<EngineEvent>,
    /// One thread for sampling (a bar is a few small products; splitting them costs more than
    /// it saves), built once with the engine.
    sampler: rayon::ThreadPool,
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
}

impl Worker {
    fn run(mut self, commands: Receiver<Command>) {
        let mut endless: Option<Endless> = None;
        loop {
            let command = commands.recv_timeout(Duration::from_millis(10));
            if self.shared.shutdown.load(Ordering::Relaxed) {
                return;
            }
            // A cancel applies to the job under way only.
            self.shared.cancel.store(false, Ordering::Relaxed);
            match command {
                Ok(Command::Shutdown) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                Ok(Command::Train { generate }) => self.train(generate, &mut endless),
                Ok(Command::Generate) => self.generate(&mut endless),
                Ok(Command::Restore { stream }) => {
                    endless = None;
                    self.restore(stream)
                }
                Ok(Command::LoadClip { clip, train }) => {
                    self.set(Status::Clip { bars: clip.bars(), tracks: clip.tracks.len() });
                    *self.shared.clip.lock() = Some(clip);
                    if train {
                        self.train(true, &mut endless);
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if self.shared.restore_request.swap(false, Ordering::Relaxed) {
                endless = None;
                self.restore(true);
            }
            if self.generate_request.swap(false, Ordering::Relaxed) {
                self.generate(&mut endless);
            }
            if self.poll_capture() && (self.settings)().auto_train {
                self.train(true, &mut endless);
            }
            self.apply_pick();
            self.extend(&mut endless);
        }
    }

    fn emit_event(&self, event: EngineEvent) {
        self.shared.monitor.lock().apply(&event);
        let _ = self.events.try_send(event);
    }

    fn set(&self, status: Status) {
        if let Status::Error(e) = &status {
            nice_plug::nice_warn!("SinTra: {e}");
            self.emit_event(EngineEvent::Error(e.clone()));
        }
        *self.shared.status.lock() = status;
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
                }
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
                            self.set(Status::Clip { bars: clip.bars(), tracks: clip.tracks.len() });
                            *self.shared.clip.lock() = Some(clip);
                            ended = true;
                        }
                        Err(e) => self.set(Status::Error(e)),
                    }
                    self.pending.clear();
                }
            }
        }
        ended
    }

    fn loads(&self) -> u64 {
        self.shared.loads.load(Ordering::SeqCst)
    }

    fn restore(&mut self, stream: bool) {
        self.model = None;
        *self.shared.info.lock() = None;
        let clip = self.shared.clip.lock().clone();
        let model = self.shared.model.lock().as_ref().map(|m| m.0.clone());
        let picked = self.shared.picked.load(Ordering::Relaxed) as usize;
        self.complete = self.shared.variations.lock().len();
        self.playing = Some(picked);
        if stream {
            let notes = self.shared.generated.lock().clone();
            let length = self.shared.variations.lock().get(picked).map(|v| v.length);
            self.push(PlayMsg::Clear);
            for &n in &notes {
                self.push(PlayMsg::Note(n));
            }
            self.push(PlayMsg::Length(
                length.unwrap_or_else(|| notes.iter().map(|n| n.end).fold(0.0, f64::max)),
            ));
        }
        let Some(bytes) = model else {
            self.set(
                clip.as_ref()
                    .map_or(Status::Empty, |c| Status::Clip { bars: c.bars(), tracks: c.tracks.len() }),
            );
            return;
        };
        let (device, name) = self.device();
        match SintraModel::from_bytes(&bytes, &device) {
            Ok(m) => {
                self.set_model(m, bytes.len(), name);
                self.set(Status::Ready);
            }
            Err(e) => {
                // Foreign or damaged state: say so and start clean, never crash.
                nice_plug::nice_error!("SinTra: the saved model could not be restored: {e}");
                *self.shared.model.lock() = None;
                self.set(Status::Error(format!("the saved model could not be restored ({e})")));
            }
        }
    }

    /// Trains on the clip (on the chosen device), then samples a set of bars when `generate`.
    fn train(&mut self, generate: bool, endless: &mut Option<Endless>) {
        *endless = None;
        let Some(clip) = self.shared.clip.lock().clone() else {
            self.set(Status::Error("capture or load a clip first".into()));
            return;
        };
        let bars = clip.bars();
        let opts = TrainOptions { preset: Preset::Default, threads: default_threads(), ..Default::default() };
        let (status, monitor) = (self.shared.status.clone(), self.shared.monitor.clone());
        let events = self.events.clone();
        let start = Instant::now();
        let (device, name) = self.device();
        let loads = self.loads();
        let result = train(&clip, bars, &opts, &device, &self.shared.cancel, &mut |p| {
            let (stage, stages, epoch, loss, seconds) =
                (p.stage + 1, p.stages, p.epoch, p.loss, p.elapsed.as_secs_f64());
            let max_epochs = p.max_epochs;
            if epoch == 1 {
                nice_plug::nice_log!("SinTra: training stage {stage} of {stages}");
            }
            *status.lock() = Status::Training { stage, stages, epoch, max_epochs, loss, seconds };
            let event = EngineEvent::Progress { stage, stages, epoch, loss, seconds };
            monitor.lock().apply(&event);
            let _ = events.try_send(event);
        });
        if self.loads() != loads {
            return; // The host loaded a saved state meanwhile: its model wins.
        }
        match result {
            Ok((model, _)) => {
                let bytes = model.to_bytes().ok();
                let size = bytes.as_ref().map_or(0, Vec::len);
                *self.shared.model.lock() = bytes.map(ModelBytes);
                let parameters = total_parameters(&model.stages);
                self.set_model(model, size, name);
                let seconds = start.elapsed().as_secs_f64();
                nice_plug::nice_log!("SinTra: trained in {seconds:.1} s on {name}, {parameters} parameters");
                self.emit_event(EngineEvent::Trained { seconds, parameters });
                self.set(Status::Ready);
                if generate {
                    self.generate(endless);
                }
            }
            Err(e) => self.set(Status::Error(e.to_string())),
        }
    }

    /// Samples a fresh set of variations. The first streams to the audio thread bar by bar
    /// as it is sampled, so it can be heard at once; the others are kept for picking.
    fn generate(&mut self, endless: &mut Option<Endless>) {
        *endless = None;
        let Some(model) = self.model.clone() else {
            self.set(Status::Error("train a model first".into()));
            return;
        };
        let settings = (self.settings)();
        let loads = self.loads();
        // Endless mode keeps extending one stream: one variation.
        let count = if settings.endless { 1 } else { settings.variations.max(1) };
        self.push(PlayMsg::Clear);
        self.shared.generated.lock().clear();
        self.shared.variations.lock().clear();
        self.shared.picked.store(0, Ordering::Relaxed);
        (self.playing, self.complete) = (Some(0), 0);
        for v in 0..count {
            let mut options = settings.options.clone();
            options.seed = options.seed.wrapping_add(v as u64);
            let gen = match self.sampler.install(|| Generator::new(model.clone(), options)) {
                Ok(g) => g,
                Err(e) => return self.set(Status::Error(format!("sampling failed: {e}"))),
            };
            let mut run = Endless { gen, decoder: BarDecoder::new(&model), length: 0.0, variation: v };
            self.shared.variations.lock().push(Variation::default());
            for i in 0..settings.bars {
                if self.loads() != loads {
                    return; // The host loaded a saved state: it is restored next.
                }
                if self.shared.cancel.load(Ordering::Relaxed) {
                    return self.set(Status::Ready);
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
            self.complete = v + 1;
            if v == 0 && settings.endless {
                *endless = Some(run);
            }
            // A variation picked while the others are sampled plays as soon as it is complete.
            self.apply_pick();
        }
        nice_plug::nice_log!("SinTra: generated {count} variations of {} bars", settings.bars);
        self.set(Status::Ready);
    }

    /// Samples one bar of `run`, keeps its notes and, when its variation plays, hands them to
    /// the audio thread.
    fn next_bar(&mut self, run: &mut Endless, last: bool) -> candle_core::Result<()> {
        let bar = self.sampler.install(|| run.gen.next_bar())?;
        let notes = run.decoder.bar(&bar, last);
        run.length += run.decoder.bar_quarters;
        if let Some(v) = self.shared.variations.lock().get_mut(run.variation) {
            v.notes.extend_from_slice(&notes);
            v.length = run.length;
        }
        if self.playing == Some(run.variation) {
            self.shared.generated.lock().extend_from_slice(&notes);
            for n in notes {
                self.push(PlayMsg::Note(n));
            }
            self.push(PlayMsg::Length(run.length));
        }
        Ok(())
    }

    /// Hands the picked variation to the audio thread when it differs from the one it holds
    /// and is fully sampled.
    fn apply_pick(&mut self) {
        let picked = self.shared.picked.load(Ordering::Relaxed) as usize;
        if self.playing == Some(picked) || picked >= self.complete {
            return;
        }
        let Some(v) = self.shared.variations.lock().get(picked).cloned() else { return };
        self.push(PlayMsg::Clear);
        for &n in &v.notes {
            self.push(PlayMsg::Note(n));
        }
        self.push(PlayMsg::Length(v.length));
        *self.shared.generated.lock() = v.notes;
        self.playing = Some(picked);
    }

    /// Endless mode: keeps two bars ahead of the playhead.
    fn extend(&mut self, endless: &mut Option<Endless>) {
        let Some(run) = endless.as_mut() else { return };
        if !(self.settings)().endless {
            *endless = None;
            return;
        }
        let playhead = f64::from_bits(self.shared.playhead.load(Ordering::Relaxed));
        if playhead + 2.0 * run.decoder.bar_quarters >= run.length {
            if let Err(e) = self.next_bar(run, false) {
                self.set(Status::Error(format!("sampling failed: {e}")));
                *endless = None;
            }
        }
    }

    /// Queues a message for the audio thread; a full queue waits here, never there.
    fn push(&mut self, mut msg: PlayMsg) {
        loop {
            match self.play.push(msg) {
                Ok(()) => return,
                Err(rtrb::PushError::Full(m)) => {
                    if self.shared.cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    msg = m;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }
}

/// A generation in progress: the sampler, the note decoder and the timeline length so far.
pub struct Endless {
    /// The sampler, with its per-stage memory.
    gen: Generator<Arc<SintraModel>>,
    /// Turns its bars into notes.
    decoder: BarDecoder,
    /// Quarter notes generated so far.
    length: f64,
    /// Which variation of the set this is (0-based).
    variation: usize,
}

/// Turns sampled bars into notes as they come, holding a pitch across bar lines while it sounds.
pub struct BarDecoder {
    /// Pitches of each token.
    groups: Vec<u128>,
    /// Per track: channel and velocity.
    tracks: Vec<(u8, u8)>,
    /// Per track and pitch, the step its sounding note started at.
    open: Vec<[Option<u32>; 128]>,
    /// Steps decoded so far.
    step: u32,
    /// Length of a bar in quarter notes.
    pub bar_quarters: f64,
}

impl BarDecoder {
    pub fn new(model: &SintraModel) -> Self {
        let dict = model.meta.dictionary();
        let clip = &model.meta.clip;
        Self {
            groups: dict.groups.clone(),
            tracks: clip.tracks.iter().map(|t| (t.channel, t.mean_velocity())).collect(),
            open: vec![[None; 128]; clip.tracks.len()],
            step: 0,
            bar_quarters: clip.meta.steps_per_bar() as f64 / 4.0,
        }
    }

    /// The notes that end in this bar (all still sounding ones too when `last`), sorted by start.
    pub fn bar(&mut self, bar: &[Vec<u32>], last: bool) -> Vec<PlayNote> {
        let mut notes = Vec::new();
        let steps = bar.first().map_or(0, |t| t.len()) as u32;
        for (k, tokens) in bar.iter().enumerate() {
            let (channel, velocity) = self.tracks[k];
            for (i, &tok) in tokens.iter().enumerate() {
                let step = self.step + i as u32;
                let now = self.groups.get(tok as usize).copied().unwrap_or(0);
                for p in 0..128u8 {
                    let sounding = now & (1 << p) != 0;
                    match (self.open[k][p as usize], sounding) {
                        (None, true) => self.open[k][p as usize] = Some(step),
                        (Some(start), false) => {
                            self.open[k][p as usize] = None;
                            notes.push(note(start, step, channel, p, velocity));
                        }
                        _ => {}
                    }
                }
            }
            if last {
                let end = self.step + steps;
                for p in 0..128u8 {
                    if let Some(start) = self.open[k][p as usize].take() {
                        notes.push(note(start, end, channel, p, velocity));
                    }
                }
            }
        }
        self.step += steps;
        notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
        notes
    }
}

fn note(start: u32, end: u32, channel: u8, key: u8, velocity: u8) -> PlayNote {
    PlayNote { start: start as f64 / 4.0, end: end as f64 / 4.0, channel, key, velocity }
}

/// Length of one bar of `clip` in quarter notes.
pub fn bar_quarters(clip: &Clip) -> f64 {
    clip.meta.steps_per_bar() as f64 / 4.0
}

/// Builds a clip from one capture: a track per MIDI channel, positions on the 16th grid from
/// the capture's first bar line, notes still held at the end closed there.
pub fn clip_from_capture(msgs: &[CaptureMsg]) -> Result<Clip, String> {
    let Some(&CaptureMsg::Start { beat: origin }) = msgs.first() else {
        return Err("capture has no start".into());
    };
    let Some(&CaptureMsg::End { beat: end, tempo, num, den }) = msgs.last() else {
        return Err("capture has no end".into());
    };
    let time_sig = TimeSig { num: num.max(1), den: den.max(1) };
    match time_sig.steps_per_bar() {
        Some(s) if s % 4 == 0 => {}
        _ => {
            return Err(format!(
                "the host's meter {time_sig} cannot be learned (bars must be whole quarter notes)"
            ))
        }
    }
    let step = |beat: f64| ((beat - origin) * 4.0).round().max(0.0) as u32;
    let mut open: Vec<[Option<(u32, u8)>; 128]> = vec![[None; 128]; 16];
    let mut per_channel: Vec<Vec<Note>> = vec![Vec::new(); 16];
    for m in msgs {
        if let CaptureMsg::Note { beat, channel, key, velocity } = *m {
            let (ch, key) = ((channel & 15) as usize, key & 127);
            let s = step(beat);
            if let Some((start, vel)) = open[ch][key as usize].take() {
                per_channel[ch].push(Note { pitch: key, start, end: s.max(start + 1), velocity: vel });
            }
            if velocity > 0 {
                open[ch][key as usize] = Some((s, velocity));
            }
        }
    }
    let last = step(end);
    for (ch, keys) in open.iter_mut().enumerate() {
        for (key, slot) in keys.iter_mut().enumerate() {
            if let Some((start, vel)) = slot.take() {
                per_channel[ch].push(Note {
                    pitch: key as u8,
                    start,
                    end: last.max(start + 1),
                    velocity: vel,
                });
            }
        }
    }
    let tracks: Vec<Track> = per_channel
        .into_iter()
        .enumerate()
        .filter(|(_, n)| !n.is_empty())
        .map(|(ch, mut notes)| {
            notes.sort_by_key(|n| (n.start, n.pitch));
            Track { name: format!("Channel {}", ch + 1), channel: ch as u8, program: 0, notes }
        })
        .collect();
    if tracks.is_empty() {
        return Err("the capture has no notes".into());
    }
    let meta = Meta {
        title: "SinTra capture".into(),
        ticks_per_quarter: 480,
        us_per_quarter: (60_000_000.0 / tempo.max(1.0)).round() as u32,
        time_sig,
        key_sig: None,
        pickup: None,
    };
    Ok(Clip { meta, tracks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn start(variations: usize) -> (Engine, rtrb::Consumer<PlayMsg>) {
        let (_cap_tx, cap_rx) = rtrb::RingBuffer::new(16);
        let (play_tx, play_rx) = rtrb::RingBuffer::new(1 << 14);
        let shared = Shared::default();
        let settings = Arc::new(move || Settings {
            bars: 2,
            variations,
            options: GenerateOptions::default(),
            endless: false,
            auto_train: true,
        });
        (Engine::start(shared, cap_rx, play_tx, settings, Arc::default()), play_rx)
    }

    fn chorale(bars: u32) -> Clip {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/midi/bwv349_4track_ts34.mid");
        sintra_core::read_clip(&path).unwrap().select_bars(1, bars).unwrap()
    }

    #[test]
    fn loads_trains_streams_and_reports() {
        let (engine, mut play) = start(1);
        engine.send(Command::LoadClip { clip: chorale(4), train: true });
        let mut seen = Vec::new();
        while !matches!(seen.last(), Some(EngineEvent::BarReady { index: 1, .. })) {
            seen.push(engine.events.recv_timeout(Duration::from_secs(120)).expect("engine events"));
        }
        assert!(seen.iter().any(|e| matches!(e, EngineEvent::Progress { stage: 3, .. })));
        assert!(seen.iter().any(|e| matches!(e, EngineEvent::Trained { .. })));
        let msgs: Vec<PlayMsg> = std::iter::from_fn(|| play.pop().ok()).collect();
        assert_eq!(msgs[0], PlayMsg::Clear);
        // Two 3/4 bars: the timeline ends at 6 quarters, every note inside it, on the 16th grid.
        assert_eq!(msgs.last(), Some(&PlayMsg::Length(6.0)));
        let notes: Vec<PlayNote> =
            msgs.iter().filter_map(|m| if let PlayMsg::Note(n) = m { Some(*n) } else { None }).collect();
        assert!(!notes.is_empty());
        for n in &notes {
            assert!(n.start >= 0.0 && n.end <= 6.0 && n.start < n.end && n.channel < 4, "{n:?}");
            assert_eq!((n.start * 4.0).fract(), 0.0);
        }
        assert_eq!(*engine.shared.generated.lock(), notes);
        assert!(engine.shared.model.lock().is_some(), "the model is kept for the project");
    }

    #[test]
    fn variations_are_kept_and_a_picked_one_replaces_the_timeline() {
        let (engine, mut play) = start(2);
        engine.send(Command::LoadClip { clip: chorale(4), train: true });
        loop {
            let e = engine.events.recv_timeout(Duration::from_secs(120)).expect("engine events");
            if matches!(e, EngineEvent::BarReady { variation: 1, index: 1, .. }) {
                break;
            }
        }
        let variations = engine.shared.variations.lock().clone();
        assert_eq!(variations.len(), 2);
        assert!(variations.iter().all(|v| v.length == 6.0 && !v.notes.is_empty()));
        assert_ne!(variations[0], variations[1], "seeds differ");
        let notes = |msgs: &[PlayMsg]| -> Vec<PlayNote> {
            msgs.iter().filter_map(|m| if let PlayMsg::Note(n) = m { Some(*n) } else { None }).collect()
        };
        // Only the first variation went to the audio thread while sampling.
        let t = Instant::now();
        while *engine.shared.status.lock() != Status::Ready && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let msgs: Vec<PlayMsg> = std::iter::from_fn(|| play.pop().ok()).collect();
        assert_eq!(notes(&msgs), variations[0].notes);
        engine.shared.picked.store(1, Ordering::Relaxed);
        let mut msgs = Vec::new();
        while msgs.last() != Some(&PlayMsg::Length(6.0)) && t.elapsed() < Duration::from_secs(20) {
            msgs.extend(std::iter::from_fn(|| play.pop().ok()));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(msgs[0], PlayMsg::Clear);
        assert_eq!(notes(&msgs), variations[1].notes);
        assert_eq!(*engine.shared.generated.lock(), variations[1].notes, "saved with the project");
    }

    #[test]
    fn trains_without_generating_and_reports_the_model() {
        let (engine, mut play) = start(1);
        engine.send(Command::LoadClip { clip: chorale(4), train: false });
        engine.send(Command::Train { generate: false });
        let parameters = loop {
            match engine.events.recv_timeout(Duration::from_secs(120)).expect("engine events") {
                EngineEvent::Trained { parameters, .. } => break parameters,
                EngineEvent::Progress { .. } => {}
                other => panic!("{other:?}"),
            }
        };
        let t = Instant::now();
        while *engine.shared.status.lock() != Status::Ready && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let bytes = engine.shared.model.lock().as_ref().map(|m| m.0.len()).unwrap();
        let info = engine.shared.info.lock().clone();
        assert_eq!(info, Some(ModelInfo { parameters, bytes, device: "cpu" }));
        // The display's record of it, kept whether or not a window listens.
        let monitor = engine.shared.monitor.lock().clone();
        assert_eq!((monitor.curves.len(), monitor.trained.map(|t| t.1)), (3, Some(parameters)));
        assert!(monitor.curves.iter().all(|c| !c.is_empty() && c[0][0] == 1.0));
        assert!(engine.shared.variations.lock().is_empty());
        assert!(play.pop().is_err(), "nothing was sent to play");

        // A state loaded while the plugin runs: a second engine restores it and streams its notes.
        let (other, mut other_play) = start(1);
        let notes = vec![PlayNote { start: 0.5, end: 1.0, channel: 2, key: 60, velocity: 90 }];
        *other.shared.model.lock() = engine.shared.model.lock().clone();
        *other.shared.generated.lock() = notes.clone();
        *other.shared.variations.lock() = vec![Variation { notes: notes.clone(), length: 6.0 }];
        other.shared.restore_request.store(true, Ordering::Relaxed);
        let t = Instant::now();
        while other.shared.info.lock().is_none() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*other.shared.info.lock(), info);
        assert_eq!(*other.shared.status.lock(), Status::Ready);
        let msgs: Vec<PlayMsg> = std::iter::from_fn(|| other_play.pop().ok()).collect();
        assert_eq!(msgs, vec![PlayMsg::Clear, PlayMsg::Note(notes[0]), PlayMsg::Length(6.0)]);
    }

    #[test]
    fn dropping_mid_training_returns_promptly() {
        let (engine, _play) = start(1);
        engine.send(Command::LoadClip { clip: chorale(12), train: true });
        let first = engine.events.recv_timeout(Duration::from_secs(60)).unwrap();
        assert!(matches!(first, EngineEvent::Progress { .. }), "{first:?}");
        let t = Instant::now();
        drop(engine);
        assert!(t.elapsed() < Duration::from_secs(5), "drop took {:?}", t.elapsed());
    }

    #[test]
    fn cancel_stops_training_and_a_damaged_model_is_refused() {
        let (engine, _play) = start(1);
        engine.send(Command::LoadClip { clip: chorale(12), train: true });
        assert!(matches!(
            engine.events.recv_timeout(Duration::from_secs(60)).unwrap(),
            EngineEvent::Progress { .. }
        ));
        engine.cancel();
        let err = loop {
            match engine.events.recv_timeout(Duration::from_secs(60)).unwrap() {
                EngineEvent::Error(e) => break e,
                EngineEvent::Progress { .. } => {}
                other => panic!("{other:?}"),
            }
        };
        assert!(err.contains("cancelled"), "{err}");
        *engine.shared.model.lock() = Some(ModelBytes(b"not a model".to_vec()));
        engine.send(Command::Restore { stream: false });
        let err = engine.events.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(matches!(&err, EngineEvent::Error(e) if e.contains("could not be restored")), "{err:?}");
        assert!(engine.shared.model.lock().is_none());
    }

    #[test]
    fn capture_becomes_a_clip_per_channel() {
        let msgs = [
            CaptureMsg::Start { beat: 8.0 },
            CaptureMsg::Note { beat: 8.0, channel: 0, key: 60, velocity: 100 },
            CaptureMsg::Note { beat: 8.26, channel: 2, key: 48, velocity: 70 },
            CaptureMsg::Note { beat: 9.0, channel: 0, key: 60, velocity: 0 },
            CaptureMsg::End { beat: 16.0, tempo: 90.0, num: 3, den: 4 },
        ];
        let clip = clip_from_capture(&msgs).unwrap();
        assert_eq!(clip.meta.time_sig, TimeSig { num: 3, den: 4 });
        assert_eq!(clip.meta.us_per_quarter, 666_667);
        let t: Vec<_> = clip.tracks.iter().map(|t| (t.channel, t.notes.clone())).collect();
        assert_eq!(
            t,
            vec![
                (0, vec![Note { pitch: 60, start: 0, end: 4, velocity: 100 }]),
                // Held to the end of the capture: closed there; 8.26 rounds to step 1.
                (2, vec![Note { pitch: 48, start: 1, end: 32, velocity: 70 }]),
            ]
        );
        let bad =
            [CaptureMsg::Start { beat: 0.0 }, CaptureMsg::End { beat: 4.0, tempo: 120.0, num: 4, den: 4 }];
        assert!(clip_from_capture(&bad).unwrap_err().contains("no notes"));
        let odd = [msgs[0], msgs[1], CaptureMsg::End { beat: 4.0, tempo: 120.0, num: 7, den: 8 }];
        assert!(clip_from_capture(&odd).unwrap_err().contains("7/8"));
    }
}
