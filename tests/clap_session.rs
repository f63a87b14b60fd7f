//! A producer's session in a real CLAP host (clack-host), step by step: reopening a project with
//! its switches saved on (and their values sent again by the host), loading a state while
//! playing and while training, moving the start bar or the play mode under sounding notes, a
//! host reset, a tempo ramp, a host without song position, endless play for thousands of bars, offline against real-time rendering, and MIDI
//! thru. After every step each note-on has its note-off. The bundle is the debug build with
//! `assert_process_allocs`: an allocation in `process` aborts this test process.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use clack_host::prelude::PluginEntry;
use common::clap::{assert_closed, notes, project, state_bytes, state_json, In, Out, Session, Tx, What, SR};
use serde_json::{json, Value};
use sintra_core::model::Preset;
use sintra_core::train::{train, TrainOptions};

/// Samples per quarter note at 120 BPM.
const BEAT: f64 = SR / 2.0;
/// Real-time blocks: 480 samples, a 50th of a quarter note, so bar lines fall on block starts.
const FRAMES: u32 = 480;
/// One block's length in quarter notes.
const STEP: f64 = FRAMES as f64 / BEAT;

fn entry() -> PluginEntry {
    let path = common::bundle().join("sintra.clap");
    unsafe { PluginEntry::load(&path) }.expect("loading sintra.clap")
}

/// The chorale whose first four bars the projects below were "captured" from.
fn clip() -> sintra_core::clip::Clip {
    sintra_core::read_clip(&common::midi("bwv227-1_4track_ts44.mid")).unwrap().select_bars(1, 4).unwrap()
}

/// A small model trained on that clip (the plugin restores it; endless play samples from it).
fn model() -> &'static str {
    static MODEL: OnceLock<String> = OnceLock::new();
    MODEL.get_or_init(|| {
        let opts = TrainOptions {
            preset: Preset::Tiny,
            config: Preset::Tiny.config(),
            max_epochs: 60,
            threads: 1,
            ..Default::default()
        };
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let (model, _) =
            train(&clip(), 4, &opts, &candle_core::Device::Cpu, &cancel, &mut |_| {}).expect("training");
        base64::engine::general_purpose::STANDARD.encode(model.to_bytes().unwrap())
    })
}

/// A generated variation as the plugin saves it: four 4/4 bars, a three-note chord struck on
/// every beat (channels 0-2) over a note held for each whole bar (channel 3); `shift` moves
/// every key, so two projects play different notes.
fn variation(shift: u8) -> Vec<(f64, f64, u8, u8)> {
    let mut notes = Vec::new();
    for bar in 0..4 {
        let b = bar as f64 * 4.0;
        notes.push((b, b + 4.0, 3, 40 + shift + bar as u8));
        for beat in 0..4 {
            for (ch, key) in [(0u8, 72u8), (1, 67), (2, 60)] {
                let s = b + beat as f64;
                notes.push((s, s + 0.5, ch, key + shift + beat as u8));
            }
        }
    }
    notes.sort_by(|a, b| a.0.total_cmp(&b.0));
    notes
}

/// A saved state holding a project whose variation starts at bar 5 (beat 16), built from a
/// fresh instance's own state; `switches`: Arm capture and Generate saved as on.
fn state(base: &Value, shift: u8, mode: &str, switches: bool) -> Vec<u8> {
    let notes: Vec<Value> = variation(shift)
        .iter()
        .map(|&(start, end, channel, key)| json!({"start": start, "end": end, "channel": channel, "key": key, "velocity": 90}))
        .collect();
    let project = json!({
        "clip": serde_json::to_value(clip()).unwrap(),
        "model": model(),
        "variations": [{"notes": notes, "length": 16.0}],
        "picked": 0,
        "origin": 16.0,
    });
    let mut state = base.clone();
    state["fields"]["project"] = Value::String(project.to_string());
    state["params"]["arm"] = json!({"bool": switches});
    state["params"]["gen"] = json!({"bool": switches});
    state["params"]["thru"] = json!({"bool": false});
    state["params"]["mode"] = json!({"string": mode});
    state_bytes(&state)
}

/// A fresh instance's state, to build project states from.
fn base(entry: &PluginEntry) -> Value {
    state_json(&Session::new(entry).save())
}

/// What the variation of `shift` plays from beat `origin`, as (sample from the start of play
/// at `from`, channel, key, on), sorted as the plugin sends them.
fn expected(shift: u8, origin: f64, from: f64, to: f64) -> Vec<(u64, i16, i16, bool)> {
    let mut out = Vec::new();
    for (start, end, ch, key) in variation(shift) {
        let (s, e) = (origin + start, origin + end);
        if s >= from && s < to {
            out.push((((s - from) * BEAT) as u64, ch as i16, key as i16, true));
            out.push((((e.min(to) - from) * BEAT) as u64, ch as i16, key as i16, false));
        }
    }
    out.sort_by_key(|&(t, ch, key, on)| (t, on, ch, key));
    out
}

/// `outs` as (sample from `start`, channel, key, on), sorted like `expected`.
fn timed(outs: &[Out], start: u64) -> Vec<(u64, i16, i16, bool)> {
    let mut v: Vec<_> =
        outs.iter().filter_map(|o| o.note().map(|(ch, key, on)| (o.sample() - start, ch, key, on))).collect();
    v.sort_by_key(|&(t, ch, key, on)| (t, on, ch, key));
    v
}

/// The chorale's first four bars as input events, per block of `FRAMES` from beat 0.
fn chorale_input() -> Vec<Vec<In>> {
    let (frames, block) = (FRAMES, STEP);
    let mut blocks = vec![Vec::new(); (16.0 / block).round() as usize];
    for t in &clip().tracks {
        for n in &t.notes {
            for (beat, on) in [(n.start as f64 / 4.0, true), (n.end as f64 / 4.0, false)] {
                let i = ((beat / block).floor() as usize).min(blocks.len() - 1);
                let time = ((beat - i as f64 * block) * BEAT).round().min(frames as f64 - 1.0) as u32;
                let (channel, key) = (t.channel, n.pitch);
                blocks[i].push(if on {
                    In::On { time, channel, key, velocity: 80 }
                } else {
                    In::Off { time, channel, key }
                });
            }
        }
    }
    blocks
}

fn stop(s: &mut Session, beat: f64) -> Vec<Out> {
    s.block(&Tx::at(beat, false), 512, &[])
}

#[test]
fn a_project_reopens_exactly_as_saved_with_its_switches_on() {
    let entry = entry();
    let bytes = state(&base(&entry), 0, "once", true);
    let saved = project(&state_json(&bytes));
    // The host opens the project: state first, then activation.
    let mut s = Session::inactive(&entry);
    assert!(s.load(&bytes));
    s.activate();
    // Bars 5-8 play the saved notes at once, while the chorale comes in (armed, it would be
    // recorded; generate on, the variations would be replaced). The host, which keeps its own
    // copy of the parameters, sends the switches' stored values again in the first block.
    let mut input = chorale_input();
    let resent = [("Arm capture", 1.0), ("Generate", 1.0)];
    input[0].extend(resent.map(|(name, value)| In::Param { id: s.param(name), value }));
    let start = s.steady;
    let mut out = Vec::new();
    let mut beat = 16.0;
    for events in &input {
        out.extend(s.block(&Tx::at(beat, true), FRAMES, events));
        beat += STEP;
    }
    out.extend(stop(&mut s, 32.0));
    assert_closed(&out);
    assert_eq!(timed(&out, start), expected(0, 16.0, 16.0, 32.0));
    std::thread::sleep(Duration::from_millis(500));
    let now = project(&state_json(&s.save()));
    for key in ["clip", "model", "variations", "picked", "origin"] {
        assert_eq!(now[key], saved[key], "{key} changed");
    }
    // The switches keep the values the host stored, so its copy and the plugin's agree.
    let params = &state_json(&s.save())["params"];
    assert_eq!((params["arm"]["bool"].as_bool(), params["gen"]["bool"].as_bool()), (Some(true), Some(true)));
    // A press made after the project is open still arms: the chorale is recorded over the clip.
    s.set(&[("Capture bars", 2.0), ("Arm capture", 0.0)]);
    s.set(&[("Arm capture", 1.0)]);
    let mut beat = 0.0;
    for events in chorale_input() {
        s.block(&Tx::at(beat, true), FRAMES, &events);
        beat += STEP;
    }
    assert_closed(&stop(&mut s, beat));
    let recorded = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        project(&state_json(&s.save()))["clip"] != saved["clip"]
    });
    assert!(recorded, "a press after opening records a new clip");
}

#[test]
fn a_state_loaded_while_playing_replaces_every_note_at_once() {
    let entry = entry();
    let base = base(&entry);
    let mut s = Session::inactive(&entry);
    assert!(s.load(&state(&base, 0, "once", false)));
    s.activate();
    let mut out = s.play(16.0, 18.5, FRAMES);
    assert!(notes(&out).iter().any(|n| n.2), "the first project plays");
    // The host loads another project (an undo, a preset) while the transport runs.
    assert!(s.load(&state(&base, 5, "once", false)));
    let next = s.block(&Tx::at(18.5, true), FRAMES, &[]);
    assert!(next.iter().all(|o| matches!(o.what, What::Note { on: false, .. }) && o.time == 0), "{next:?}");
    out.extend(next);
    assert_closed(&out);
    // Only the new project's notes from here on, exactly where they belong.
    std::thread::sleep(Duration::from_millis(1000));
    let start = s.steady;
    let mut later = s.play(20.0, 32.0, FRAMES);
    later.extend(stop(&mut s, 32.0));
    assert_closed(&later);
    assert_eq!(timed(&later, start), expected(5, 16.0, 20.0, 32.0));
}

#[test]
fn a_state_loaded_during_training_wins_at_once() {
    let entry = entry();
    let base = base(&entry);
    let mut s = Session::new(&entry);
    s.set(&[("MIDI thru", 0.0), ("Capture bars", 2.0), ("Arm capture", 1.0)]);
    // Play the chorale in: four bars are recorded, and training starts when they end.
    let mut beat = 0.0;
    for events in chorale_input() {
        assert!(s.block(&Tx::at(beat, true), FRAMES, &events).is_empty());
        beat += STEP;
    }
    stop(&mut s, beat);
    std::thread::sleep(Duration::from_millis(100));
    let bytes = state(&base, 5, "once", false);
    assert!(s.load(&bytes));
    std::thread::sleep(Duration::from_millis(1000));
    for pass in 0..2 {
        let start = s.steady;
        let mut out = s.play(16.0, 32.0, FRAMES);
        out.extend(stop(&mut s, 32.0));
        assert_eq!(timed(&out, start), expected(5, 16.0, 16.0, 32.0), "pass {pass}");
        // Long enough for the cancelled training to have finished, had it gone on.
        std::thread::sleep(Duration::from_secs(3));
    }
    let now = project(&state_json(&s.save()));
    let loaded = project(&state_json(&bytes));
    assert_eq!((&now["clip"], &now["model"]), (&loaded["clip"], &loaded["model"]));
}

#[test]
fn moving_the_start_bar_or_mode_and_a_reset_end_sounding_notes() {
    let entry = entry();
    let bytes = state(&base(&entry), 0, "once", false);
    let s0 = Session::new(&entry);
    let (start_bar, mode) = (s0.param("Start bar"), s0.param("Play mode"));
    drop(s0);
    let cases: [(&str, Option<In>); 3] = [
        ("start bar", Some(In::Param { id: start_bar, value: 9.0 })),
        ("play mode", Some(In::Param { id: mode, value: 2.0 })),
        ("reset", None),
    ];
    for (what, change) in cases {
        let mut s = Session::inactive(&entry);
        assert!(s.load(&bytes));
        s.activate();
        let mut out = s.play(16.0, 17.2, FRAMES);
        let ons = notes(&out).iter().filter(|n| n.2).count();
        let sounding = ons - (notes(&out).len() - ons);
        assert_eq!(sounding, 4, "{what}: the bass note and a chord sound");
        let next = match change {
            Some(e) => s.block(&Tx::at(17.2, true), FRAMES, &[e]),
            None => {
                s.reset();
                s.block(&Tx::at(17.2, true), FRAMES, &[])
            }
        };
        let offs = next.iter().filter(|o| o.note().is_some_and(|n| !n.2) && o.time == 0).count();
        assert_eq!(offs, sounding, "{what}: ended in the next block: {next:?}");
        out.extend(next);
        out.extend(s.play(17.2 + STEP, 24.0, FRAMES));
        out.extend(stop(&mut s, 24.0));
        assert_closed(&out);
    }
}

#[test]
fn a_tempo_ramp_plays_the_same_notes_as_a_steady_tempo() {
    let entry = entry();
    let bytes = state(&base(&entry), 0, "once", false);
    let run = |ramp: f64| {
        let mut s = Session::inactive(&entry);
        assert!(s.load(&bytes));
        s.activate();
        let (mut beat, mut tempo, mut out) = (16.0, 120.0, Vec::new());
        while beat < 32.0 {
            let tx = Tx { tempo, ..Tx::at(beat, true) };
            out.extend(s.block(&tx, FRAMES, &[]));
            // The host integrates the ramp over the block.
            beat += FRAMES as f64 * (tempo + ramp / 2.0) / 60.0 / SR;
            tempo += ramp;
        }
        out.extend(stop(&mut s, beat));
        out
    };
    let (steady, ramped) = (run(0.0), run(0.45));
    assert_closed(&ramped);
    assert_eq!(notes(&ramped), notes(&steady), "a ramp is not a seek: nothing cut or restarted");
}

#[test]
fn without_a_song_position_nothing_is_recorded_or_played() {
    let entry = entry();
    let mut s = Session::inactive(&entry);
    assert!(s.load(&state(&base(&entry), 0, "once", false)));
    s.activate();
    s.set(&[("Arm capture", 1.0)]);
    let mut beat = 0.0;
    for events in chorale_input().iter().chain(std::iter::repeat_n(&Vec::new(), 2000)) {
        let tx = Tx { position: false, ..Tx::at(beat, true) };
        assert!(s.block(&tx, FRAMES, events).is_empty(), "nothing placed without a position");
        beat += STEP;
    }
    std::thread::sleep(Duration::from_millis(300));
    let now = project(&state_json(&s.save()));
    assert_eq!(now["clip"], serde_json::to_value(clip()).unwrap(), "nothing recorded over the clip");
}

#[test]
fn endless_play_runs_thousands_of_bars_in_bounded_memory() {
    let entry = entry();
    let mut s = Session::inactive(&entry);
    assert!(s.load(&state(&base(&entry), 0, "endless", false)));
    s.activate();
    let rss = || {
        std::fs::read_to_string("/proc/self/statm")
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 4096
    };
    let bars = 2000usize;
    let mut per_bar = vec![0usize; bars];
    let mut at_300 = 0;
    let mut beat = 16.0;
    let mut all = Vec::new();
    for (bar, notes_on) in per_bar.iter_mut().enumerate() {
        // Give the engine a moment per bar: real time gives it 2 s; this test runs about a
        // hundred times faster, which is still more than the engine's turn of 10 ms.
        std::thread::sleep(Duration::from_millis(12));
        // 6000-sample blocks: a sixteenth of a bar each.
        let out = s.play(beat, beat + 4.0, 6000);
        *notes_on = out.iter().filter(|o| o.note().is_some_and(|n| n.2)).count();
        all.extend(out.into_iter().filter(|o| o.note().is_some()));
        beat += 4.0;
        if bar == 300 {
            at_300 = rss();
        }
    }
    all.extend(stop(&mut s, beat));
    assert_closed(&all);
    let silent = per_bar[bars - 500..].iter().filter(|&&n| n == 0).count();
    let early = per_bar[..500].iter().filter(|&&n| n == 0).count();
    assert!(silent < 50, "{silent} of the last 500 bars were silent ({early} of the first 500)");
    let grown = rss().saturating_sub(at_300);
    assert!(grown < 32 << 20, "memory grew by {} MiB from bar 300 to {bars}", grown >> 20);
    let saved = project(&state_json(&s.save()));
    assert_eq!(saved["variations"][0]["length"].as_f64(), Some(256.0 * 4.0), "the project keeps 256 bars");
}

#[test]
fn an_offline_render_plays_what_real_time_plays() {
    let entry = entry();
    let bytes = state(&base(&entry), 0, "loop", false);
    let render = |frames: u32, wait: bool| {
        let mut s = Session::inactive(&entry);
        assert!(s.load(&bytes));
        s.activate();
        if wait {
            std::thread::sleep(Duration::from_millis(1000));
        }
        let start = s.steady;
        let mut out = s.play(16.0, 48.0, frames);
        out.extend(stop(&mut s, 48.0));
        assert_closed(&out);
        timed(&out, start)
    };
    // Offline: large blocks, at once after the project opens; real time: small blocks.
    let offline = render(6000, false);
    assert_eq!(offline, render(FRAMES, true));
    let mut twice = expected(0, 16.0, 16.0, 32.0);
    twice.extend(
        expected(0, 32.0, 32.0, 48.0).iter().map(|&(t, c, k, on)| (t + (16.0 * BEAT) as u64, c, k, on)),
    );
    twice.sort_by_key(|&(t, ch, key, on)| (t, on, ch, key));
    assert_eq!(offline, twice, "the loop plays twice");
}

#[test]
fn thru_passes_every_midi_event_and_never_swallows_a_note_off() {
    let entry = entry();
    let mut s = Session::new(&entry);
    let thru = s.param("MIDI thru");
    let input = [
        In::On { time: 0, channel: 2, key: 60, velocity: 80 },
        In::Midi { time: 10, data: [0xB2, 64, 127] }, // sustain pedal
        In::Midi { time: 20, data: [0xB2, 1, 77] },   // mod wheel
        In::Midi { time: 30, data: [0xE2, 0x11, 0x50] }, // pitch bend
        In::Midi { time: 40, data: [0xD2, 99, 0] },   // channel pressure
        In::Midi { time: 50, data: [0xA2, 60, 55] },  // poly aftertouch
        In::Off { time: 60, channel: 2, key: 60 },
    ];
    let out = s.block(&Tx::at(0.0, true), 512, &input);
    // Poly pressure comes back as a note expression of the same value (in 128ths).
    let what: Vec<(u32, What)> = out
        .iter()
        .map(|o| match o.what {
            What::Expression { channel, key, value } => {
                (o.time, What::Expression { channel, key, value: (value * 127.0).round() })
            }
            w => (o.time, w),
        })
        .collect();
    assert_eq!(
        what,
        vec![
            (0, What::Note { channel: 2, key: 60, on: true }),
            (10, What::Midi([0xB2, 64, 127])),
            (20, What::Midi([0xB2, 1, 77])),
            (30, What::Midi([0xE2, 0x11, 0x50])),
            (40, What::Midi([0xD2, 99, 0])),
            (50, What::Expression { channel: 2, key: 60, value: 55.0 }),
            (60, What::Note { channel: 2, key: 60, on: false }),
        ]
    );
    // A key held while thru goes off: its note-off still comes out, nothing else does.
    s.block(&Tx::at(0.1, true), 512, &[In::On { time: 0, channel: 0, key: 64, velocity: 80 }]);
    let out = s.block(
        &Tx::at(0.2, true),
        512,
        &[
            In::Param { id: thru, value: 0.0 },
            In::On { time: 5, channel: 0, key: 65, velocity: 80 },
            In::Off { time: 9, channel: 0, key: 64 },
        ],
    );
    assert_eq!(notes(&out), vec![(0, 64, false)]);
}
