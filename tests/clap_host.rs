//! The plugin in a real CLAP host (clack-host): play a chorale into it with capture armed, let
//! it train, play the generated bars back and check where the notes land; then stop, save the
//! state and restore it into a fresh instance. The bundle is the debug build with
//! `assert_process_allocs`: an allocation in `process` aborts this test process.

mod common;

use std::ffi::CString;
use std::io::Cursor;
use std::time::{Duration, Instant};

use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{
    NoteOffEvent, NoteOnEvent, ParamValueEvent, TransportEvent, TransportFlags,
};
use clack_host::events::spaces::CoreEventSpace;
use clack_host::events::{EventFlags, EventHeader, Match};
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, ClapId, SecondsTime};

const ID: &str = "audio.sintra.sintra";
const SR: f64 = 48_000.0;
const BLOCK: u32 = 512;
const TEMPO: f64 = 120.0;

struct Host;
struct Shared;
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

fn transport(beat: f64, playing: bool) -> TransportEvent {
    let mut flags =
        TransportFlags::HAS_TEMPO | TransportFlags::HAS_BEATS_TIMELINE | TransportFlags::HAS_TIME_SIGNATURE;
    if playing {
        flags |= TransportFlags::IS_PLAYING;
    }
    let bar = (beat / 4.0).floor();
    TransportEvent {
        header: EventHeader::new_core(0, EventFlags::empty()),
        flags,
        song_pos_beats: BeatTime::from_float(beat),
        song_pos_seconds: SecondsTime::from_float(beat * 60.0 / TEMPO),
        tempo: TEMPO,
        tempo_inc: 0.0,
        loop_start_beats: BeatTime::default(),
        loop_end_beats: BeatTime::default(),
        loop_start_seconds: SecondsTime::default(),
        loop_end_seconds: SecondsTime::default(),
        bar_start: BeatTime::from_float(bar * 4.0),
        bar_number: bar as i32,
        time_signature_numerator: 4,
        time_signature_denominator: 4,
    }
}

/// A note the plugin sent: absolute sample, key, channel, on/off.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Out {
    sample: u64,
    key: i16,
    channel: i16,
    on: bool,
}

/// An instance with a running audio processor and the song position in samples.
struct Session {
    instance: PluginInstance<Host>,
    processor: Option<StartedPluginAudioProcessor<Host>>,
    params: Vec<(String, ClapId)>,
}

impl Session {
    fn new(entry: &PluginEntry) -> Self {
        let info = HostInfo::new("sintra-test", "sintra", "https://example.com", "0.1.0").unwrap();
        let id = CString::new(ID).unwrap();
        let mut instance = PluginInstance::<Host>::new(|_| Shared, |_| (), entry, &id, &info).unwrap();
        let ext = instance.plugin_shared_handle().get_extension::<PluginParams>().expect("params extension");
        let handle = instance.plugin_handle();
        let mut params = Vec::new();
        let mut buf = ParamInfoBuffer::new();
        for i in 0..ext.count(&handle) {
            let p = ext.get_info(&handle, i, &mut buf).unwrap();
            params.push((String::from_utf8_lossy(p.name).into_owned(), p.id));
        }
        let config =
            PluginAudioConfiguration { sample_rate: SR, min_frames_count: 1, max_frames_count: BLOCK };
        let processor = instance.activate(|_, _| (), config).unwrap().start_processing().unwrap();
        Self { instance, processor: Some(processor), params }
    }

    fn param(&self, name: &str) -> ClapId {
        self.params.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no parameter {name}")).1
    }

    /// One block at song position `beat` with `events` in; returns the plugin's notes.
    fn block(&mut self, beat: f64, playing: bool, events: &[&dyn AsRef<UnknownEvent>]) -> Vec<Out> {
        let t = transport(beat, playing);
        let mut input = EventBuffer::with_capacity(64);
        for e in events {
            input.push(*e);
        }
        input.sort();
        let mut output = EventBuffer::with_capacity(1024);
        let mut ins = [vec![0f32; BLOCK as usize], vec![0f32; BLOCK as usize]];
        let mut outs = [vec![0f32; BLOCK as usize], vec![0f32; BLOCK as usize]];
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
        let start = (beat * 60.0 / TEMPO * SR).round() as u64;
        self.processor
            .as_mut()
            .unwrap()
            .process(&ins, &mut outs, &input.as_input(), &mut output.as_output(), Some(start), Some(&t))
            .expect("process");
        output
            .iter()
            .filter_map(|e| match e.as_core_event() {
                Some(CoreEventSpace::NoteOn(n)) => Some(Out {
                    sample: start + n.header().time() as u64,
                    key: n.key().to_raw(),
                    channel: n.channel().to_raw(),
                    on: true,
                }),
                Some(CoreEventSpace::NoteOff(n)) => Some(Out {
                    sample: start + n.header().time() as u64,
                    key: n.key().to_raw(),
                    channel: n.channel().to_raw(),
                    on: false,
                }),
                _ => None,
            })
            .collect()
    }

    fn save(&mut self) -> Vec<u8> {
        let state = self.instance.plugin_shared_handle().get_extension::<PluginState>().unwrap();
        let mut bytes = Vec::new();
        state.save(&self.instance.plugin_handle(), &mut bytes).unwrap();
        bytes
    }

    fn stop(mut self) {
        let p = self.processor.take().unwrap();
        self.instance.deactivate(p.stop_processing());
    }
}

/// Quarter notes per block.
fn block_beats() -> f64 {
    BLOCK as f64 / SR * TEMPO / 60.0
}

/// Plays from `from` to `to` (quarter notes) and collects the plugin's notes.
fn play(s: &mut Session, from: f64, to: f64) -> Vec<Out> {
    let mut out = Vec::new();
    let mut beat = from;
    while beat < to {
        out.extend(s.block(beat, true, &[]));
        beat += block_beats();
    }
    out
}

#[test]
fn captures_trains_and_plays_in_time() {
    let path = common::bundle().join("sintra.clap");
    let entry = unsafe { PluginEntry::load(&path) }.expect("loading sintra.clap");
    let mut s = Session::new(&entry);
    let (arm, thru, caplen, bars) =
        (s.param("Arm capture"), s.param("MIDI thru"), s.param("Capture bars"), s.param("Bars to generate"));

    // The chorale's first four bars (4/4), as the host would play them.
    let clip = sintra_core::read_clip(&common::midi("bwv227-1_4track_ts44.mid")).unwrap();
    let mut notes: Vec<(f64, bool, u8, u8)> = Vec::new();
    for t in &clip.tracks {
        for n in t.notes.iter().filter(|n| n.start < 64) {
            notes.push((n.start as f64 / 4.0, true, t.channel, n.pitch));
            notes.push((n.end.min(64) as f64 / 4.0, false, t.channel, n.pitch));
        }
    }
    notes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

    // Settings and arm, then play bars 1-4 into it (it records 4 bars). nice-plug's CLAP
    // values for stepped parameters count steps from the minimum: capture bars 2..64 -> 4 is 2.
    let p = |id, v| ParamValueEvent::new(0, id, Pckn::match_all(), v);
    let setup = [p(thru, 0.0), p(caplen, 4.0 - 2.0), p(bars, 4.0 - 1.0), p(arm, 1.0)];
    let refs: Vec<&dyn AsRef<UnknownEvent>> = setup.iter().map(|e| e as &dyn AsRef<UnknownEvent>).collect();
    assert!(s.block(0.0, false, &refs).is_empty());
    let mut beat = 0.0;
    let mut i = 0;
    while beat < 16.0 + block_beats() {
        let end = beat + block_beats();
        let mut evs: Vec<Box<dyn AsRef<UnknownEvent>>> = Vec::new();
        while i < notes.len() && notes[i].0 < end {
            let (b, on, ch, key) = notes[i];
            let time =
                (((b - beat) / block_beats()) * BLOCK as f64).round().clamp(0.0, BLOCK as f64 - 1.0) as u32;
            let pckn = Pckn::new(0u16, ch as u16, key as u16, Match::All);
            if on {
                evs.push(Box::new(NoteOnEvent::new(time, pckn, 0.63)));
            } else {
                evs.push(Box::new(NoteOffEvent::new(time, pckn, 0.0)));
            }
            i += 1;
        }
        let refs: Vec<&dyn AsRef<UnknownEvent>> = evs.iter().map(|e| &**e).collect();
        let out = s.block(beat, true, &refs);
        assert!(out.is_empty(), "thru is off and nothing is generated yet: {out:?}");
        beat = end;
    }

    // Stopped while the engine trains and samples; bars arrive one by one, so play bars 5-8
    // until two passes in a row give the same notes (all four bars have arrived).
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut last: Vec<Out> = Vec::new();
    let (out, stop) = loop {
        assert!(Instant::now() < deadline, "the generated bars did not settle within the time limit");
        s.block(16.0, false, &[]);
        let out = play(&mut s, 16.0, 32.0);
        let stop = s.block(32.0, false, &[]);
        if !out.is_empty() && out == last {
            break (out, stop);
        }
        last = out;
        // Longer than sampling a bar takes, even on a busy machine.
        std::thread::sleep(Duration::from_millis(1000));
    };
    let ons: Vec<_> = out.iter().filter(|o| o.on).collect();
    assert!(ons.len() >= 16, "expected a few notes per bar, got {}", ons.len());
    let step = SR * 60.0 / TEMPO / 4.0; // samples per 16th
    let origin = 16.0 * 60.0 / TEMPO * SR;
    for o in &out {
        assert!((0..4).contains(&o.channel), "{o:?}");
        let steps = (o.sample as f64 - origin) / step;
        assert!((steps - steps.round()).abs() < 1e-6, "{o:?} is off the 16th grid ({steps})");
        assert!(o.sample as f64 >= origin && steps <= 64.0, "{o:?}");
    }
    // No hanging notes: every note-on has its note-off by the stop block.
    let mut sounding = std::collections::HashMap::<(i16, i16), i32>::new();
    for o in out.iter().chain(&stop) {
        *sounding.entry((o.channel, o.key)).or_default() += if o.on { 1 } else { -1 };
    }
    assert!(sounding.values().all(|&v| v == 0), "hanging notes: {sounding:?}");

    // Save, then restore into a fresh instance: the same bars play without training.
    let state = s.save();
    s.stop();
    let mut fresh = Session::new(&entry);
    let ext = fresh.instance.plugin_shared_handle().get_extension::<PluginState>().unwrap();
    ext.load(&fresh.instance.plugin_handle(), &mut Cursor::new(&state)).unwrap();
    let p = fresh.processor.take().unwrap();
    fresh.instance.deactivate(p.stop_processing());
    let config = PluginAudioConfiguration { sample_rate: SR, min_frames_count: 1, max_frames_count: BLOCK };
    fresh.processor = Some(fresh.instance.activate(|_, _| (), config).unwrap().start_processing().unwrap());
    let again = play(&mut fresh, 16.0, 32.0);
    assert_eq!(again, out, "restored state plays the same notes");
    fresh.stop();

    // Foreign state is refused without a crash, leaving a clean plugin.
    let mut other = Session::new(&entry);
    let ext = other.instance.plugin_shared_handle().get_extension::<PluginState>().unwrap();
    let _ = ext.load(&other.instance.plugin_handle(), &mut Cursor::new(b"{\"not\": \"sintra\"}".to_vec()));
    assert!(play(&mut other, 16.0, 20.0).is_empty());
    other.stop();
}
