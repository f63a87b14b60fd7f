//! The engine thread: one per plugin instance, it owns the model (candle). It turns captures
//! into clips, trains, samples bars and hands their notes to the audio thread through a
//! pre-allocated lock-free queue, bar by bar. Commands come in and status goes out over
//! crossbeam channels; nothing here ever runs on the audio thread.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use candle_core::Device;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use sintra_core::clip::{Clip, Meta, Note, TimeSig, Track};
use sintra_core::generate::{GenerateOptions, Generator};
use sintra_core::model::Preset;
use sintra_core::model_file::SintraModel;
use sintra_core::train::{default_threads, train, TrainOptions};

use crate::capture::CaptureMsg;
use crate::params::ModelBytes;
use crate::scheduler::PlayNote;

/// What the engine is asked to do.
#[derive(Debug)]
pub enum Command {
    /// Train on the current clip, then generate.
    Train,
    /// Sample a fresh set of bars from the current model.
    Generate,
    /// Take a clip and model restored from the host's project (no retraining).
    Restore { clip: Option<Clip>, model: Option<Vec<u8>> },
    /// Use this clip (from a MIDI file); trains at once when training after capture is on.
    LoadClip(Clip),
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
    /// A bar was sampled and handed to the audio thread.
    BarReady { index: usize, of: usize },
    /// Something failed, in plain words.
    Error(String),
}

/// Events kept for a slow listener.
const EVENT_QUEUE: usize = 1024;

/// What the engine reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Nothing captured or loaded.
    Empty,
    /// A clip is there and untrained.
    Clip { bars: u32, tracks: usize },
    /// Training: stage (1-based) of stages, epoch, loss.
    Training { stage: usize, stages: usize, epoch: usize, loss: f32 },
    /// A model is ready.
    Ready,
    /// Sampling: bars done of bars asked.
    Generating { done: usize, of: usize },
    /// Something failed, in plain words.
    Error(String),
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
    /// The generation options.
    pub options: GenerateOptions,
    /// Keep sampling ahead of the playhead.
    pub endless: bool,
    /// Train as soon as a capture ends.
    pub auto_train: bool,
}

/// Everything the engine shares with the plugin (all of it off the audio thread's path,
/// except the atomics).
#[derive(Clone)]
pub struct Shared {
    /// Latest status.
    pub status: Arc<Mutex<Status>>,
    /// The clip, as saved with the project.
    pub clip: Arc<Mutex<Option<Clip>>>,
    /// The model file's bytes, as saved with the project.
    pub model: Arc<Mutex<Option<ModelBytes>>>,
    /// The generated notes, as saved with the project.
    pub generated: Arc<Mutex<Vec<PlayNote>>>,
    /// The audio thread's position on the timeline (f64 bits), for endless mode.
    pub playhead: Arc<AtomicU64>,
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
    /// Progress, results and errors, for the editor.
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
            model: None,
            pending: Vec::new(),
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
    /// The trained model.
    model: Option<Arc<SintraModel>>,
    /// Capture messages of the capture in progress.
    pending: Vec<CaptureMsg>,
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
                Ok(Command::Train) => self.train_and_generate(&mut endless),
                Ok(Command::Generate) => self.generate(&mut endless),
                Ok(Command::Restore { clip, model }) => {
                    endless = None;
                    self.restore(clip, model)
                }
                Ok(Command::LoadClip(clip)) => {
                    self.set(Status::Clip { bars: clip.bars(), tracks: clip.tracks.len() });
                    *self.shared.clip.lock() = Some(clip);
                    if (self.settings)().auto_train {
                        self.train_and_generate(&mut endless);
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if self.generate_request.swap(false, Ordering::Relaxed) {
                self.generate(&mut endless);
            }
            if self.poll_capture() && (self.settings)().auto_train {
                self.train_and_generate(&mut endless);
            }
            self.extend(&mut endless);
        }
    }

    fn emit_event(&self, event: EngineEvent) {
        let _ = self.events.try_send(event);
    }

    fn set(&self, status: Status) {
        if let Status::Error(e) = &status {
            nice_plug::nice_warn!("SinTra: {e}");
            self.emit_event(EngineEvent::Error(e.clone()));
        }
        *self.shared.status.lock() = status;
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

    fn restore(&mut self, clip: Option<Clip>, model: Option<Vec<u8>>) {
        self.model = None;
        let Some(bytes) = model else {
            self.set(
                clip.as_ref()
                    .map_or(Status::Empty, |c| Status::Clip { bars: c.bars(), tracks: c.tracks.len() }),
            );
            return;
        };
        match SintraModel::from_bytes(&bytes, &Device::Cpu) {
            Ok(m) => {
                self.model = Some(Arc::new(m));
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

    fn train_and_generate(&mut self, endless: &mut Option<Endless>) {
        *endless = None;
        let Some(clip) = self.shared.clip.lock().clone() else {
            self.set(Status::Error("capture or load a clip first".into()));
            return;
        };
        let bars = clip.bars();
        let opts = TrainOptions { preset: Preset::Default, threads: default_threads(), ..Default::default() };
        let status = self.shared.status.clone();
        let events = self.events.clone();
        let start = std::time::Instant::now();
        let result = train(&clip, bars, &opts, &Device::Cpu, &self.shared.cancel, &mut |p| {
            *status.lock() =
                Status::Training { stage: p.stage + 1, stages: p.stages, epoch: p.epoch, loss: p.loss };
            let (stage, stages, epoch, loss) = (p.stage + 1, p.stages, p.epoch, p.loss);
            let _ = events.try_send(EngineEvent::Progress {
                stage,
                stages,
                epoch,
                loss,
                seconds: p.elapsed.as_secs_f64(),
            });
        });
        match result {
            Ok((model, _)) => {
                let parameters = sintra_core::train::total_parameters(&model.stages);
                self.emit_event(EngineEvent::Trained { seconds: start.elapsed().as_secs_f64(), parameters });
                *self.shared.model.lock() = model.to_bytes().ok().map(ModelBytes);
                self.model = Some(Arc::new(model));
                self.set(Status::Ready);
                self.generate(endless);
            }
            Err(e) => self.set(Status::Error(e.to_string())),
        }
    }

    /// Samples a fresh set of bars and streams them to the audio thread bar by bar.
    fn generate(&mut self, endless: &mut Option<Endless>) {
        *endless = None;
        let Some(model) = self.model.clone() else {
            self.set(Status::Error("train a model first".into()));
            return;
        };
        let settings = (self.settings)();
        let result = self.sampler.install(|| Generator::new(model.clone(), settings.options.clone()));
        let gen = match result {
            Ok(g) => g,
            Err(e) => return self.set(Status::Error(format!("sampling failed: {e}"))),
        };
        self.push(PlayMsg::Clear);
        self.shared.generated.lock().clear();
        let mut run = Endless { gen, decoder: BarDecoder::new(&model), length: 0.0 };
        for i in 0..settings.bars {
            if self.shared.cancel.load(Ordering::Relaxed) {
                return;
            }
            let last = i + 1 == settings.bars && !settings.endless;
            if let Err(e) = self.next_bar(&mut run, last) {
                return self.set(Status::Error(format!("sampling failed: {e}")));
            }
            self.set(Status::Generating { done: i + 1, of: settings.bars });
            self.emit_event(EngineEvent::BarReady { index: i, of: settings.bars });
        }
        self.set(Status::Ready);
        *endless = settings.endless.then_some(run);
    }

    /// Samples one bar of `run` and hands its notes to the audio thread.
    fn next_bar(&mut self, run: &mut Endless, last: bool) -> candle_core::Result<()> {
        let bar = self.sampler.install(|| run.gen.next_bar())?;
        let notes = run.decoder.bar(&bar, last);
        run.length += run.decoder.bar_quarters;
        self.shared.generated.lock().extend_from_slice(&notes);
        for n in notes {
            self.push(PlayMsg::Note(n));
        }
        self.push(PlayMsg::Length(run.length));
        Ok(())
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

    fn start(auto_train: bool) -> (Engine, rtrb::Consumer<PlayMsg>) {
        let (_cap_tx, cap_rx) = rtrb::RingBuffer::new(16);
        let (play_tx, play_rx) = rtrb::RingBuffer::new(1 << 14);
        let shared = Shared {
            status: Arc::new(Mutex::new(Status::Empty)),
            clip: Arc::default(),
            model: Arc::default(),
            generated: Arc::default(),
            playhead: Arc::default(),
            cancel: Arc::default(),
            shutdown: Arc::default(),
            capture_overflow: Arc::default(),
        };
        let settings = Arc::new(move || Settings {
            bars: 2,
            options: GenerateOptions::default(),
            endless: false,
            auto_train,
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
        let (engine, mut play) = start(true);
        engine.send(Command::LoadClip(chorale(4)));
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
    fn dropping_mid_training_returns_promptly() {
        let (engine, _play) = start(true);
        engine.send(Command::LoadClip(chorale(12)));
        let first = engine.events.recv_timeout(Duration::from_secs(60)).unwrap();
        assert!(matches!(first, EngineEvent::Progress { .. }), "{first:?}");
        let t = Instant::now();
        drop(engine);
        assert!(t.elapsed() < Duration::from_secs(5), "drop took {:?}", t.elapsed());
    }

    #[test]
    fn cancel_stops_training_and_a_damaged_model_is_refused() {
        let (engine, _play) = start(true);
        engine.send(Command::LoadClip(chorale(12)));
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
        engine.send(Command::Restore { clip: None, model: Some(b"not a model".to_vec()) });
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
