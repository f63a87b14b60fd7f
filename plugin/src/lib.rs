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
pub mod roll;
pub mod scheduler;
pub mod startup;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;
use nice_plug_egui::{EguiEditor, EguiEditorState};
use sintra_core::generate::{GenerateOptions, Primer};

use capture::{Capture, State};
use engine::{Command, Engine, PlayMsg, Settings, Shared};
use params::{PlayMode, SintraParams};
use scheduler::{Block, Event, Mode, PlayNote, Scheduler};

/// Notes the audio thread's timeline can hold (allocated once).
const TIMELINE_CAPACITY: usize = 1 << 16;
/// Capture queue size, in note events.
const CAPTURE_QUEUE: usize = 1 << 14;
/// Events one block can send (thru and generated).
const OUT_CAPACITY: usize = 2048;

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
    /// This block's outgoing events; capacity reserved in `default`.
    out: Vec<NoteEvent<()>>,
    /// Host sample rate, from `activate`.
    sample_rate: f32,
    /// Last seen value of the arm parameter (for its rising edge).
    arm_was: bool,
    /// Last seen value of the generate parameter.
    generate_was: bool,
    /// Raised by the audio thread, read by the engine: sample new bars.
    generate_request: Arc<AtomicBool>,
    /// Raised by the editor, taken here: arm, disarm or end the capture.
    capture_toggle: Arc<AtomicBool>,
    /// State loads already applied to the timeline (see `SintraParams::loads`).
    applied_loads: u64,
    /// The editor window's size, kept while the plugin lives.
    editor_state: Arc<EguiEditorState>,
}

impl Default for SinTra {
    fn default() -> Self {
        let params = Arc::new(SintraParams::default());
        let (capture_tx, capture_rx) = rtrb::RingBuffer::new(CAPTURE_QUEUE);
        let capture = Capture::new(capture_tx);
        let (play_tx, play_rx) = rtrb::RingBuffer::new(TIMELINE_CAPACITY);
        let shared = Shared {
            clip: params.clip.clone(),
            model: params.model.clone(),
            generated: params.generated.clone(),
            variations: params.variation_set.clone(),
            picked: params.picked.clone(),
            capture_overflow: capture.overflow.clone(),
            loads: params.loads.0.clone(),
            ..Shared::default()
        };
        let generate_request = Arc::new(AtomicBool::new(false));
        let settings = {
            let params = params.clone();
            Arc::new(move || settings(&params)) as Arc<dyn Fn() -> Settings + Send + Sync>
        };
        let engine = Engine::start(shared, capture_rx, play_tx, settings, generate_request.clone());
        if let Some(s) = startup::take() {
            params.place_after(&s.clip);
            engine.send(Command::LoadClip { clip: s.clip, train: false });
            if s.train {
                engine.send(Command::Train { generate: s.generate });
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
            out: Vec::with_capacity(OUT_CAPACITY),
            sample_rate: 48_000.0,
            arm_was: false,
            generate_was: false,
            generate_request,
            capture_toggle: Arc::default(),
            applied_loads: 0,
            editor_state: editor::default_state(),
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
        },
        endless: p.mode.value() == PlayMode::Endless,
        auto_train: p.auto_train.value(),
    }
}

impl SinTra {
    /// Takes the engine's messages into the timeline: no allocation (capacity is reserved).
    fn drain_play_queue(&mut self) {
        while let Ok(msg) = self.play.pop() {
            match msg {
                PlayMsg::Clear => {
                    self.timeline.clear();
                    self.length = 0.0;
                }
                PlayMsg::Note(n) if self.timeline.len() < self.timeline.capacity() => {
                    let at = self.timeline.partition_point(|m| m.start <= n.start);
                    self.timeline.insert(at, n);
                }
                PlayMsg::Note(_) => {}
                PlayMsg::Length(l) => self.length = l,
            }
        }
    }

    fn origin(&self) -> f64 {
        f64::from_bits(self.params.origin.load(Ordering::Relaxed))
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
    const MIDI_INPUT: MidiConfig = MidiConfig::Basic;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::Basic;
    const SAMPLE_ACCURATE_AUTOMATION: bool = false;

    type Editor = EguiEditor<editor::App>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        let link = editor::Link {
            commands: self.engine.commands(),
            shared: self.engine.shared.clone(),
            capture_toggle: self.capture_toggle.clone(),
            capture_phase: self.capture.phase.clone(),
            capture_notes: self.capture.notes.clone(),
            capture_bars: self.capture.bars.clone(),
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
        // A saved state was loaded (a project opened): play its notes and hand the model to the
        // engine, without retraining. Only then: a plain re-activation keeps what is there, a
        // model trained meanwhile included. Off the audio thread, so locks are fine here.
        let loads = self.params.loads.0.load(Ordering::SeqCst);
        if loads != self.applied_loads {
            self.applied_loads = loads;
            self.timeline.clear();
            let generated = self.params.generated.lock();
            self.timeline.extend(generated.iter().take(TIMELINE_CAPACITY).copied());
            self.timeline.sort_by(|a, b| a.start.total_cmp(&b.start));
            let picked = self.params.picked.load(Ordering::Relaxed) as usize;
            let length = self.params.variation_set.lock().get(picked).map(|v| v.length);
            self.length = length.unwrap_or_else(|| self.timeline.iter().map(|n| n.end).fold(0.0, f64::max));
            drop(generated);
            self.engine.send(Command::Restore { stream: false });
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
        // State loaded while running (no re-activation): the engine restores and streams it.
        let loads = self.params.loads.0.load(Ordering::Relaxed);
        if loads != self.applied_loads {
            self.applied_loads = loads;
            self.engine.shared.restore_request.store(true, Ordering::Relaxed);
        }
        self.drain_play_queue();
        let t = context.transport();
        let tempo = t.tempo.unwrap_or(120.0);
        let num = t.time_sig_numerator.unwrap_or(4).clamp(1, 64) as u8;
        let den = t.time_sig_denominator.unwrap_or(4).clamp(1, 64) as u8;
        let beats_per_bar = num as f64 * 4.0 / den as f64;
        let beat = t.pos_beats().unwrap_or(0.0);
        let bar_start = t.bar_start_pos_beats().unwrap_or((beat / beats_per_bar).floor() * beats_per_bar);
        let playing = t.playing;
        self.engine.shared.playing.store(playing, Ordering::Relaxed);
        let bps = tempo / 60.0 / self.sample_rate as f64;
        let samples = buffer.samples() as u32;

        // Parameter buttons: act on rising edges.
        let arm = self.params.arm.value();
        if arm && !self.arm_was {
            self.capture.arm();
        }
        self.arm_was = arm;
        if self.capture_toggle.swap(false, Ordering::Relaxed) {
            self.capture.toggle();
        }
        let generate = self.params.generate.value();
        if generate && !self.generate_was {
            self.generate_request.store(true, Ordering::Relaxed);
        }
        self.generate_was = generate;

        let was_recording = matches!(self.capture.state, State::Recording { .. });
        let bars = self.params.capture_bars.value().max(1) as u32;
        self.capture.transport(playing, beat, bar_start, beats_per_bar, bars, tempo, num, den);
        if was_recording && self.capture.state == State::Idle {
            // The timeline starts at the bar line after the captured region.
            let end = self.capture.last_end.unwrap_or(beat);
            let origin = (end / beats_per_bar).ceil() * beats_per_bar;
            self.params.origin.store(origin.to_bits(), Ordering::Relaxed);
        }

        // Incoming notes: capture them and (option) pass them through.
        let thru = self.params.thru.value();
        self.out.clear();
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
            if thru && self.out.len() < OUT_CAPACITY {
                self.out.push(event);
            }
        }

        // Generated notes for this block.
        let start_bar = self.params.start_bar.value();
        let origin = if start_bar > 0 { (start_bar - 1) as f64 * beats_per_bar } else { self.origin() };
        let mode = match self.params.mode.value() {
            PlayMode::Off => Mode::Off,
            PlayMode::Once => Mode::Once,
            PlayMode::Loop => Mode::Loop,
            PlayMode::Endless => Mode::Endless,
        };
        let mode = if origin.is_nan() { Mode::Off } else { mode };
        let block = Block { playing, beat, beats_per_sample: bps, samples };
        let out = &mut self.out;
        self.scheduler.process(&self.timeline, origin, self.length, mode, &block, &mut |e| {
            if out.len() < OUT_CAPACITY {
                out.push(match e {
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
            }
        });
        if !origin.is_nan() {
            self.engine.shared.playhead.store((beat - origin).to_bits(), Ordering::Relaxed);
        }

        // Thru and generated events merged in time order (offs first at equal times).
        self.out.sort_unstable_by_key(|e| (e.timing(), matches!(e, NoteEvent::NoteOn { .. })));
        for e in self.out.drain(..) {
            let _ = context.try_send_event(e);
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
