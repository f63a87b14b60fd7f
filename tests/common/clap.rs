//! A small CLAP host for the plugin tests (clack-host): instances with a running processor, a
//! transport the test controls block by block, events in and out, state save and load.

use std::ffi::CString;
use std::io::Cursor;

use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{
    MidiEvent, NoteOffEvent, NoteOnEvent, ParamValueEvent, TransportEvent, TransportFlags,
};
use clack_host::events::spaces::CoreEventSpace;
use clack_host::events::{EventFlags, EventHeader, Match};
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, ClapId, SecondsTime};

pub const ID: &str = "audio.sintra.sintra";
pub const SR: f64 = 48_000.0;
/// The largest block the tests use (offline renders).
pub const MAX_BLOCK: u32 = 8192;

pub struct Host;
pub struct Shared;
impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}
impl HostHandlers for Host {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

/// The host's transport for one block.
#[derive(Clone, Copy, Debug)]
pub struct Tx {
    /// Song position at the block's start, in quarter notes.
    pub beat: f64,
    pub playing: bool,
    pub tempo: f64,
    /// Quarter notes per bar (4/4: 4).
    pub bar: f64,
    /// Whether the host reports a song position at all.
    pub position: bool,
    /// Where the bar lines are counted from (an earlier meter change or pickup moves them).
    pub bars_from: f64,
}

impl Tx {
    pub fn at(beat: f64, playing: bool) -> Self {
        Self { beat, playing, tempo: 120.0, bar: 4.0, position: true, bars_from: 0.0 }
    }

    fn event(&self) -> TransportEvent {
        let mut flags = TransportFlags::HAS_TEMPO | TransportFlags::HAS_TIME_SIGNATURE;
        if self.position {
            flags |= TransportFlags::HAS_BEATS_TIMELINE | TransportFlags::HAS_SECONDS_TIMELINE;
        }
        if self.playing {
            flags |= TransportFlags::IS_PLAYING;
        }
        let bar = ((self.beat - self.bars_from) / self.bar).floor();
        TransportEvent {
            header: EventHeader::new_core(0, EventFlags::empty()),
            flags,
            song_pos_beats: BeatTime::from_float(self.beat),
            song_pos_seconds: SecondsTime::from_float(self.beat * 60.0 / self.tempo),
            tempo: self.tempo,
            tempo_inc: 0.0,
            loop_start_beats: BeatTime::default(),
            loop_end_beats: BeatTime::default(),
            loop_start_seconds: SecondsTime::default(),
            loop_end_seconds: SecondsTime::default(),
            bar_start: BeatTime::from_float(self.bars_from + bar * self.bar),
            bar_number: bar as i32,
            time_signature_numerator: self.bar as u16,
            time_signature_denominator: 4,
        }
    }
}

/// An event into the plugin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum In {
    On {
        time: u32,
        channel: u8,
        key: u8,
        velocity: u8,
    },
    Off {
        time: u32,
        channel: u8,
        key: u8,
    },
    /// Raw MIDI bytes (CCs, pitch bend, pressure...).
    Midi {
        time: u32,
        data: [u8; 3],
    },
    /// A parameter's plain value (steps from the minimum for stepped parameters).
    Param {
        id: ClapId,
        value: f64,
    },
}

/// An event out of the plugin, with the block's first sample (`at`) and its offset in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Out {
    pub at: u64,
    pub time: u32,
    pub what: What,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum What {
    Note {
        channel: i16,
        key: i16,
        on: bool,
    },
    Midi([u8; 3]),
    /// A note expression (poly pressure is sent as one).
    Expression {
        channel: i16,
        key: i16,
        value: f64,
    },
}

impl Out {
    pub fn sample(&self) -> u64 {
        self.at + self.time as u64
    }

    /// (channel, key, on) for a note.
    pub fn note(&self) -> Option<(i16, i16, bool)> {
        match self.what {
            What::Note { channel, key, on } => Some((channel, key, on)),
            What::Midi(_) | What::Expression { .. } => None,
        }
    }
}

/// An instance with a running audio processor.
pub struct Session {
    pub instance: PluginInstance<Host>,
    processor: Option<StartedPluginAudioProcessor<Host>>,
    params: Vec<(String, ClapId)>,
    /// Samples processed so far (the host's steady time).
    pub steady: u64,
}

impl Session {
    /// A new instance, activated and processing.
    pub fn new(entry: &PluginEntry) -> Self {
        let mut s = Self::inactive(entry);
        s.activate();
        s
    }

    /// A new instance not yet activated (a host opening a project loads state first).
    pub fn inactive(entry: &PluginEntry) -> Self {
        let info = HostInfo::new("sintra-test", "sintra", "https://example.com", "0.1.0").unwrap();
        let id = CString::new(ID).unwrap();
        let instance = PluginInstance::<Host>::new(|_| Shared, |_| (), entry, &id, &info).unwrap();
        let ext = instance.plugin_shared_handle().get_extension::<PluginParams>().expect("params extension");
        let mut instance = instance;
        let handle = instance.plugin_handle();
        let mut params = Vec::new();
        let mut buf = ParamInfoBuffer::new();
        for i in 0..ext.count(&handle) {
            let p = ext.get_info(&handle, i, &mut buf).unwrap();
            params.push((String::from_utf8_lossy(p.name).into_owned(), p.id));
        }
        Self { instance, processor: None, params, steady: 0 }
    }

    pub fn activate(&mut self) {
        let config =
            PluginAudioConfiguration { sample_rate: SR, min_frames_count: 1, max_frames_count: MAX_BLOCK };
        self.processor = Some(self.instance.activate(|_, _| (), config).unwrap().start_processing().unwrap());
    }

    pub fn deactivate(&mut self) {
        if let Some(p) = self.processor.take() {
            self.instance.deactivate(p.stop_processing());
        }
    }

    pub fn param(&self, name: &str) -> ClapId {
        self.params.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no parameter {name}")).1
    }

    /// Sets parameters in a stopped block at song position 0.
    pub fn set(&mut self, values: &[(&str, f64)]) {
        let events: Vec<In> =
            values.iter().map(|&(n, value)| In::Param { id: self.param(n), value }).collect();
        self.block(&Tx::at(0.0, false), 512, &events);
    }

    /// The host resets the plugin (`clap_plugin.reset`).
    pub fn reset(&mut self) {
        self.processor.as_mut().unwrap().reset();
    }

    /// One block of `frames` samples with `events` in; returns what came out.
    pub fn block(&mut self, tx: &Tx, frames: u32, events: &[In]) -> Vec<Out> {
        let mut input = EventBuffer::with_capacity(events.len());
        for e in events {
            match *e {
                In::On { time, channel, key, velocity } => input.push(&NoteOnEvent::new(
                    time,
                    Pckn::new(0u16, channel as u16, key as u16, Match::All),
                    velocity as f64 / 127.0,
                )),
                In::Off { time, channel, key } => input.push(&NoteOffEvent::new(
                    time,
                    Pckn::new(0u16, channel as u16, key as u16, Match::All),
                    0.0,
                )),
                In::Midi { time, data } => input.push(&MidiEvent::new(time, 0, data)),
                In::Param { id, value } => input.push(&ParamValueEvent::new(0, id, Pckn::match_all(), value)),
            }
        }
        input.sort();
        let mut output = EventBuffer::with_capacity(4096);
        let n = frames as usize;
        let mut ins = [vec![0f32; n], vec![0f32; n]];
        let mut outs = [vec![0f32; n], vec![0f32; n]];
        let mut in_ports = AudioPorts::with_capacity(2, 1);
        let mut out_ports = AudioPorts::with_capacity(2, 1);
        let ins = in_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                ins.iter_mut().map(|b| InputChannel::constant(b.as_mut_slice())),
            ),
        }]);
        let mut outs = out_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(outs.iter_mut().map(|b| b.as_mut_slice())),
        }]);
        let at = self.steady;
        let t = tx.event();
        self.processor
            .as_mut()
            .expect("processing")
            .process(&ins, &mut outs, &input.as_input(), &mut output.as_output(), Some(at), Some(&t))
            .expect("process");
        self.steady += frames as u64;
        output
            .iter()
            .filter_map(|e| {
                let what = match e.as_core_event()? {
                    CoreEventSpace::NoteOn(n) => {
                        What::Note { channel: n.channel().to_raw(), key: n.key().to_raw(), on: true }
                    }
                    CoreEventSpace::NoteOff(n) => {
                        What::Note { channel: n.channel().to_raw(), key: n.key().to_raw(), on: false }
                    }
                    CoreEventSpace::Midi(m) => What::Midi(m.data()),
                    CoreEventSpace::NoteExpression(x) => What::Expression {
                        channel: x.channel().to_raw(),
                        key: x.key().to_raw(),
                        value: x.value(),
                    },
                    _ => return None,
                };
                Some(Out { at, time: e.header().time(), what })
            })
            .collect()
    }

    /// Plays from `from` to `to` quarter notes in blocks of `frames` at 120 BPM; the notes out.
    pub fn play(&mut self, from: f64, to: f64, frames: u32) -> Vec<Out> {
        let step = frames as f64 / SR * 2.0;
        let mut out = Vec::new();
        let mut beat = from;
        while beat < to - 1e-9 {
            out.extend(self.block(&Tx::at(beat, true), frames, &[]));
            beat += step;
        }
        out
    }

    /// The saved state (CLAP stream: length, then nice-plug's zstd-compressed JSON).
    pub fn save(&mut self) -> Vec<u8> {
        let state = self.instance.plugin_shared_handle().get_extension::<PluginState>().unwrap();
        let mut bytes = Vec::new();
        state.save(&self.instance.plugin_handle(), &mut bytes).unwrap();
        bytes
    }

    /// Loads a state (as the host does on opening a project or undoing).
    pub fn load(&mut self, bytes: &[u8]) -> bool {
        let ext = self.instance.plugin_shared_handle().get_extension::<PluginState>().unwrap();
        ext.load(&self.instance.plugin_handle(), &mut Cursor::new(bytes)).is_ok()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.deactivate();
    }
}

/// The JSON inside a saved state.
pub fn state_json(bytes: &[u8]) -> serde_json::Value {
    let data = &bytes[8..];
    let json = zstd::decode_all(data).unwrap_or_else(|_| data.to_vec());
    serde_json::from_slice(&json).expect("state JSON")
}

/// A state from its JSON (uncompressed, which nice-plug also reads).
pub fn state_bytes(json: &serde_json::Value) -> Vec<u8> {
    let data = serde_json::to_vec(json).unwrap();
    let mut bytes = (data.len() as u64).to_le_bytes().to_vec();
    bytes.extend(data);
    bytes
}

/// The saved project (the plugin's one persisted field) of a state's JSON.
pub fn project(state: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(state["fields"]["project"].as_str().expect("a project field")).unwrap()
}

/// Every note-on has its note-off, per channel and key, in order; none is ended twice.
pub fn assert_closed(outs: &[Out]) {
    let mut sounding = std::collections::HashMap::<(i16, i16), i32>::new();
    for o in outs {
        if let Some((ch, key, on)) = o.note() {
            let n = sounding.entry((ch, key)).or_default();
            *n += if on { 1 } else { -1 };
            assert!((0..=1).contains(n), "{o:?} leaves {n} notes on {ch}/{key}");
        }
    }
    let hanging: Vec<_> = sounding.iter().filter(|(_, &n)| n != 0).collect();
    assert!(hanging.is_empty(), "hanging notes: {hanging:?}");
}

/// The note events (channel, key, on) of `outs`, in order.
pub fn notes(outs: &[Out]) -> Vec<(i16, i16, bool)> {
    outs.iter().filter_map(Out::note).collect()
}

/// The notes of `clip`'s first `beats` quarter notes as input events, per block of `frames` at
/// 120 BPM from beat 0, at their velocities; notes still held at `beats` end on its last sample.
pub fn input_blocks(clip: &sintra_core::Clip, beats: f64, frames: u32) -> Vec<Vec<In>> {
    let step = frames as f64 / SR * 2.0;
    let mut blocks = vec![Vec::new(); (beats / step).round() as usize];
    // Where each note was played: its step, nudged (ticks at 480 a quarter).
    let at = |step: u32, nudge: i16| clip.meta.grid.tick(step, nudge) as f64 / 480.0;
    for t in &clip.tracks {
        for n in t.notes.iter().filter(|n| at(n.start, n.nudge.on) < beats) {
            let end = at(n.end, n.nudge.off).min(beats);
            for (beat, on) in [(at(n.start, n.nudge.on), true), (end, false)] {
                let i = ((beat / step).floor() as usize).min(blocks.len() - 1);
                let time =
                    ((beat - i as f64 * step) / step * frames as f64).round().min(frames as f64 - 1.0) as u32;
                let (channel, key, velocity) = (t.channel, n.pitch, n.velocity);
                blocks[i].push(if on {
                    In::On { time, channel, key, velocity }
                } else {
                    In::Off { time, channel, key }
                });
            }
        }
    }
    blocks
}
