//! SinTra as a CLAP/VST3 note effect: it captures a clip from the host, learns it on an engine
//! thread and plays generated bars back in time with the transport.
//!
//! The audio thread (`process`) only reads notes and the transport, writes captures into a
//! pre-allocated queue and schedules notes it already holds; everything with candle lives on
//! the engine thread (`engine`).

pub mod capture;
pub mod editor;
pub mod engine;
pub mod export;
pub mod monitor;
pub mod params;
pub mod project;
pub mod roll;
pub mod scheduler;
pub mod startup;
mod thru;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;
use nice_plug_egui::{EguiEditor, EguiEditorState};
use parking_lot::Mutex;
use sintra_core::generate::{GenerateOptions, Primer};

use capture::{Capture, Position};
use engine::{Command, Engine, PlayMsg, Settings, Shared};
use monitor::Monitor;
use params::{PlayMode, SintraParams};
use scheduler::{Block, Event, Mode, PlayNote, Scheduler};
use thru::Thru;

/// Notes the audio thread's timeline can hold (allocated once).
const TIMELINE_CAPACITY: usize = 1 << 16;
/// Capture queue size, in note events.
const CAPTURE_QUEUE: usize = 1 << 14;
/// Messages from the engine taken per block, so a large restore never makes one block slow.
const PLAY_MSGS_PER_BLOCK: usize = 2048;

/// The plugin instance.
pub struct SinTra {
    /// Parameters and persisted state.
    params: Arc<SintraParams>,
    /// The engine thread; started in `default`, joined on drop.
    engine: Engine,
    /// Capture state and its queue's producer; allocated in `default`.
    capture: Capture,
    /// Generated notes from the engine; allocated in `default`.
    play: rtrb::Consumer<PlayMsg>,
    /// Generated notes sorted by start; capacity reserved in `default`, never grown.
    timeline: Vec<PlayNote>,
    /// Length of the timeline in quarter notes.
    length: f64,
    /// Sample-accurate note placement; its buffers are allocated in `default`.
    scheduler: Scheduler,
    /// Incoming MIDI passed on, and the keys it holds; allocated in `default`.
    thru: Thru,
    /// This block's generated events; capacity reserved in `default`.
    generated: Vec<NoteEvent<()>>,
    /// Host sample rate, from `activate`.
    sample_rate: f32,
    /// Last seen value of the arm parameter (for its rising edge); set to the restored value
    /// when a state loads and at the first activation, so a restored "on" is not a press.
    arm_was: bool,
    /// Last seen value of the generate parameter (as `arm_was`).
    generate_was: bool,
    /// Whether `activate` has run once (the values a host set before it are restored ones).
    activated: bool,
    /// Raised by the editor, taken here: arm, disarm or end the capture.
    capture_toggle: Arc<AtomicBool>,
    /// Raised here while the host gives no song position (nothing can be recorded or played).
    no_position: Arc<AtomicBool>,
    /// State loads seen (see `ProjectStore::loads`).
    applied_loads: u64,
    /// The state load whose notes the timeline holds (filled in `activate`).
    filled_loads: u64,
    /// Whether the notes coming from the engine belong to the current timeline.
    accept: bool,
    /// The engine's events collected for display; the engine's listener writes it.
    monitor: Arc<Mutex<Monitor>>,
    /// The editor window's size, kept while the plugin lives.
    editor_state: Arc<EguiEditorState>,
    /// Bars selected on the roll's ruler when the editor first opens (the standalone's
    /// `--select`).
    selection: Option<(u32, u32)>,
}

impl Default for SinTra {
    fn default() -> Self {
        let params = Arc::new(SintraParams::default());
        let (capture_tx, capture_rx) = rtrb::RingBuffer::new(CAPTURE_QUEUE);
        let capture = Capture::new(capture_tx);
        let (play_tx, play_rx) = rtrb::RingBuffer::new(TIMELINE_CAPACITY);
        let shared = Shared {
            project: params.project.clone(),
            capture_overflow: capture.overflow.clone(),
            capture_phase: capture.phase.clone(),
            ..Shared::default()
        };
        let settings = {
            let params = params.clone();
            Arc::new(move || settings(&params)) as Arc<dyn Fn() -> Settings + Send + Sync>
        };
        let monitor = Arc::new(Mutex::new(Monitor::default()));
        let listener = {
            let monitor = monitor.clone();
            Arc::new(move |e: &engine::EngineEvent| monitor.lock().apply(e)) as engine::Listener
        };
        let engine = Engine::start(shared, capture_rx, play_tx, settings, listener);
        let startup = startup::take();
        let selection = startup.as_ref().and_then(|s| s.select);
        if let Some(s) = startup {
            params.place_after(&s.clip);
            let _ = engine.send(Command::LoadClip { clip: s.clip, train: false });
            let _ = engine.send(Command::Keep { tracks: s.keep });
            if s.train {
                let _ = engine.send(Command::Train { generate: s.generate });
            }
        }
        Self {
            params,
            engine,
            capture,
            play: play_rx,
            timeline: Vec::with_capacity(TIMELINE_CAPACITY),
            length: 0.0,
            scheduler: Scheduler::new(),
            thru: Thru::new(),
            generated: Vec::with_capacity(scheduler::EVENTS),
            sample_rate: 48_000.0,
            arm_was: false,
            generate_was: false,
            activated: false,
            capture_toggle: Arc::default(),
            no_position: Arc::default(),
            applied_loads: 0,
            filled_loads: 0,
            accept: false,
            monitor,
            editor_state: editor::default_state(),
            selection,
        }
    }
}

/// The engine's sampling settings from the parameters.
fn settings(p: &SintraParams) -> Settings {
    Settings {
        bars: p.bars.value().max(1) as usize,
        variations: p.variations.value().max(1) as usize,
        options: GenerateOptions {
            seed: p.seed.value().max(0) as u64,
            top_p: vec![p.top_p1.value(), p.top_p2.value(), p.top_p3.value()],
            temperature: p.temperature.value().max(0.01),
            primer: Primer::LastBar,
            similarity: p.similarity.value(),
            ..GenerateOptions::default()
        },
        endless: p.mode.value() == PlayMode::Endless,
        auto_train: p.auto_train.value(),
    }
}

impl SinTra {
    /// Takes the engine's messages into the timeline: no allocation (capacity is reserved),
    /// a bounded number per block.
    fn drain_play_queue(&mut self) {
        for _ in 0..PLAY_MSGS_PER_BLOCK {
            let Ok(msg) = self.play.pop() else { return };
            match msg {
                PlayMsg::Clear { loads } => {
                    self.accept = loads == self.applied_loads;
                    if self.accept {
                        self.clear_timeline();
                    }
                }
                PlayMsg::Restore { loads } => {
                    // Skipped when `activate` already filled the timeline from this load.
                    self.accept = loads == self.applied_loads && loads != self.filled_loads;
                    if self.accept {
                        self.clear_timeline();
                        self.filled_loads = loads;
                    }
                }
                PlayMsg::Append { loads } => self.accept = loads == self.applied_loads,
                PlayMsg::Note(n) if self.accept && self.timeline.len() < self.timeline.capacity() => {
                    // Notes come sorted, so this appends or moves a short tail.
                    let at = self.timeline.partition_point(|m| m.start <= n.start);
                    self.timeline.insert(at, n);
                }
                PlayMsg::Length(l) if self.accept => self.length = l,
                PlayMsg::Trim(before) if self.accept => {
                    let k = self.timeline.partition_point(|n| n.start < before);
                    self.timeline.drain(..k);
                }
                PlayMsg::Note(_) | PlayMsg::Length(_) | PlayMsg::Trim(_) => {}
            }
        }
    }

    /// Forgets the timeline; what sounds from it ends at the next block.
    fn clear_timeline(&mut self) {
        self.timeline.clear();
        self.length = 0.0;
        self.scheduler.silence();
    }

    /// A state was loaded, or the host set values before the first activation: the switches'
    /// restored values are not presses. They keep the values the host stored, so a host that
    /// sends its own copy again after loading the state changes nothing.
    fn sync_switches(&mut self) {
        self.arm_was = self.params.arm.value();
        self.generate_was = self.params.generate.value();
    }

    /// The arm and generate parameters act on their rising edges; the editor's capture button
    /// on its flag.
    fn switches(&mut self) {
        let arm = self.params.arm.value();
        if arm && !self.arm_was {
            self.capture.arm();
        }
        self.arm_was = arm;
        if self.capture_toggle.swap(false, Ordering::Relaxed) {
            self.capture.toggle();
        }
        let generate = self.params.generate.value();
        if generate && !self.generate_was && self.engine.shared.begin_job() {
            self.engine.shared.generate_request.store(true, Ordering::SeqCst);
        }
        self.generate_was = generate;
    }
}

impl Plugin for SinTra {
    const NAME: &'static str = "SinTra";
    const VENDOR: &'static str = "SinTra";
    const URL: &'static str = "https://github.com/sintra-audio/sintra";
    const EMAIL: &'static str = "hello@sintra.audio";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout::const_default(),
    ];
    // A note effect sits before an instrument: pedal, mod wheel, pitch bend and pressure must
    // reach it, so CCs come in and go out.
    const MIDI_INPUT: MidiConfig = MidiConfig::MidiCCs;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;
    const SAMPLE_ACCURATE_AUTOMATION: bool = false;

    type Editor = EguiEditor<editor::App>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        let link = editor::Link {
            engine: self.engine.handle(),
            monitor: self.monitor.clone(),
            capture_toggle: self.capture_toggle.clone(),
            capture_phase: self.capture.phase.clone(),
            capture_notes: self.capture.notes.clone(),
            capture_bars: self.capture.bars.clone(),
            no_position: self.no_position.clone(),
            selection: self.selection,
        };
        editor::create(self.params.clone(), link, self.editor_state.clone())
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        config: &BufferConfig,
        _ctx: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.sample_rate = config.sample_rate;
        // A saved state was loaded (a project opened): its notes go on the timeline now, so an
        // offline render that starts at once plays them; the engine rebuilds its model. A plain
        // re-activation keeps what is there. Off the audio thread, so locks are fine here.
        let loads = self.params.project.loads();
        if loads != self.filled_loads {
            (self.applied_loads, self.filled_loads, self.accept) = (loads, loads, false);
            self.clear_timeline();
            let project = self.params.project.lock();
            if let Some(v) = project.playing() {
                self.timeline.extend(v.notes.iter().take(TIMELINE_CAPACITY).copied());
                self.timeline.sort_by(|a, b| a.start.total_cmp(&b.start));
                self.length = v.length;
            }
            drop(project);
            self.sync_switches();
        }
        if !self.activated {
            self.activated = true;
            self.sync_switches();
        }
        true
    }

    fn reset(&mut self) {
        self.scheduler.reset();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        // A state loaded while running (no re-activation): forget the old timeline at once; the
        // engine restores the whole new project and streams its notes.
        let loads = self.params.project.loads();
        if loads != self.applied_loads {
            (self.applied_loads, self.accept) = (loads, false);
            self.clear_timeline();
            self.sync_switches();
        }
        self.drain_play_queue();
        self.switches();

        let t = context.transport();
        let tempo = t.tempo.unwrap_or(120.0);
        let num = t.time_sig_numerator.unwrap_or(4).clamp(1, 64) as u8;
        let den = t.time_sig_denominator.unwrap_or(4).clamp(1, 64) as u8;
        let beats_per_bar = num as f64 * 4.0 / den as f64;
        let bps = tempo / 60.0 / self.sample_rate as f64;
        let samples = buffer.samples() as u32;
        // Without a song position nothing can be placed in time: record and play nothing.
        let position = t.pos_beats().map(|beat| Position {
            beat,
            beats_per_sample: bps,
            samples,
            bar_start: capture::bar_line(beat, t.bar_start_pos_beats(), beats_per_bar),
            beats_per_bar,
            tempo,
            num,
            den,
            preroll: t.preroll_active == Some(true),
        });
        self.no_position.store(position.is_none(), Ordering::Relaxed);
        let playing = t.playing && position.is_some();
        let beat = position.map_or(0.0, |p| p.beat);
        self.engine.shared.playing.store(playing, Ordering::Relaxed);

        let was_recording = matches!(self.capture.state, capture::State::Recording { .. });
        let bars = self.params.capture_bars.value().max(1) as u32;
        self.capture.transport(playing, position.as_ref(), bars);
        if was_recording && self.capture.state == capture::State::Idle {
            // The timeline starts at the bar line after the captured region, counted in bars
            // from the capture's own first bar line (a pickup or an earlier meter may differ).
            if let Some((start, end)) = self.capture.last_capture {
                let bars = ((end - start) / beats_per_bar - 1e-9).ceil().max(1.0);
                self.params.project.set_origin(start + bars * beats_per_bar);
            }
        }

        // Incoming MIDI: capture notes, pass everything through when thru is on, and always
        // pass the note-off of a note that was passed on.
        let thru = self.params.thru.value();
        self.thru.begin();
        while let Some(event) = context.next_event() {
            if let NoteEvent::NoteOn { timing, channel, key, velocity, .. }
            | NoteEvent::NoteOff { timing, channel, key, velocity, .. } = event
            {
                let on = matches!(event, NoteEvent::NoteOn { .. });
                if let (Some(ch), Some(k)) = (channel.number(), key.number()) {
                    let vel = if on { ((velocity * 127.0).round() as u8).max(1) } else { 0 };
                    self.capture.note(beat + timing as f64 * bps, ch, k, vel);
                }
            }
            self.thru.take(event, thru);
        }

        // Generated notes for this block.
        let start_bar = self.params.start_bar.value();
        let origin =
            if start_bar > 0 { (start_bar - 1) as f64 * beats_per_bar } else { self.params.project.origin() };
        let mode = match self.params.mode.value() {
            PlayMode::Off => Mode::Off,
            PlayMode::Once => Mode::Once,
            PlayMode::Loop => Mode::Loop,
            PlayMode::Endless => Mode::Endless,
        };
        let mode = if origin.is_nan() { Mode::Off } else { mode };
        let feel = self.params.feel.value() as f64;
        let block = Block { playing, beat, beats_per_sample: bps, samples, feel };
        let generated = &mut self.generated;
        generated.clear();
        self.scheduler.process(&self.timeline, origin, self.length, mode, &block, &mut |e| {
            generated.push(match e {
                Event::On { timing, channel, key, velocity } => NoteEvent::NoteOn {
                    timing,
                    voice_id: VoiceID::Wildcard,
                    channel: Channel::Number(channel),
                    key: Key::Number(key),
                    velocity: velocity as f32 / 127.0,
                },
                Event::Off { timing, channel, key } => NoteEvent::NoteOff {
                    timing,
                    voice_id: VoiceID::Wildcard,
                    channel: Channel::Number(channel),
                    key: Key::Number(key),
                    velocity: 0.0,
                },
            });
        });
        if !origin.is_nan() && position.is_some() {
            self.engine.shared.playhead.store((beat - origin).to_bits(), Ordering::Relaxed);
        }

        // Thru and generated events merged in time order: at one time, generated note-offs,
        // then what came in (in its own order), then generated note-ons.
        let (thru, generated) = (self.thru.events(), &self.generated);
        let (mut i, mut j) = (0, 0);
        while i < thru.len() || j < generated.len() {
            let take_generated = match (thru.get(i), generated.get(j)) {
                (Some(a), Some(b)) => {
                    b.timing() < a.timing()
                        || (b.timing() == a.timing() && matches!(b, NoteEvent::NoteOff { .. }))
                }
                (None, _) => true,
                (_, None) => false,
            };
            let e = if take_generated { &generated[j] } else { &thru[i] };
            let _ = context.try_send_event(*e);
            if take_generated {
                j += 1;
            } else {
                i += 1;
            }
        }
        ProcessStatus::KeepAlive
    }
}

impl ClapPlugin for SinTra {
    const CLAP_ID: &'static str = "audio.sintra.sintra";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Learns one multi-track clip and plays new bars that continue it");
    const CLAP_MANUAL_URL: Option<&'static str> = Some(Self::URL);
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[ClapFeature::NoteEffect, ClapFeature::Utility];
}

impl Vst3Plugin for SinTra {
    const VST3_CLASS_ID: [u8; 16] = *b"SinTraOneShotGen";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Instrument, Vst3SubCategory::Tools];
}

nice_export_clap!(SinTra);
nice_export_vst3!(SinTra);
