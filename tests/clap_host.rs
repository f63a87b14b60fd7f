//! The plugin in a real CLAP host (clack-host): play a chorale into it with capture armed inside
//! a host loop, let it train, play the generated bars back and check where the notes land; then
//! stop, save the state and restore it into a fresh instance. And a capture ended by a stop
//! that returns to the start. The bundle is the debug build with `assert_process_allocs`: an
//! allocation in `process` aborts this test process.

mod common;

use std::time::{Duration, Instant};

use clack_host::prelude::PluginEntry;
use common::clap::{assert_closed, input_blocks, project, state_json, In, Out, Session, Tx, SR};
use sintra_core::clip::{Clip, Grid};

const FRAMES: u32 = 480;
/// Quarter notes per block at 120 BPM.
const STEP: f64 = FRAMES as f64 / SR * 2.0;

fn entry() -> PluginEntry {
    let path = common::bundle().join("sintra.clap");
    unsafe { PluginEntry::load(&path) }.expect("loading sintra.clap")
}

/// The chorale's first `beats` quarter notes as input, per block from beat 0.
fn chorale(beats: f64) -> Vec<Vec<In>> {
    let clip = sintra_core::read_clip(&common::midi("bwv227-1_4track_ts44.mid")).unwrap();
    input_blocks(&clip, beats, FRAMES)
}

/// The clip a state saved.
fn saved_clip(state: &[u8]) -> Clip {
    serde_json::from_value(project(&state_json(state))["clip"].clone()).expect("a saved clip")
}

#[test]
fn captures_inside_a_host_loop_trains_and_plays_in_time() {
    let entry = entry();
    let mut s = Session::new(&entry);
    // Thru off, capture at most 8 bars, 4 bars to generate, armed. nice-plug's CLAP values for
    // stepped parameters count steps from the minimum: capture bars 2..64 -> 8 is 6.
    s.set(&[("MIDI thru", 0.0), ("Capture bars", 6.0), ("Bars to generate", 3.0), ("Arm capture", 1.0)]);

    // The host loops bars 1-4 while the chorale plays in: the capture ends at the loop's end
    // and the second pass is not recorded over the first.
    let input = chorale(16.0);
    for pass in 0..2 {
        let mut beat = 0.0;
        for events in &input {
            let out = s.block(&Tx::at(beat, true), FRAMES, events);
            assert!(out.is_empty(), "pass {pass}: thru is off and nothing is generated yet: {out:?}");
            beat += STEP;
        }
    }
    s.block(&Tx::at(16.0, false), FRAMES, &[]);
    std::thread::sleep(Duration::from_millis(1000));
    let clip = saved_clip(&s.save());
    let played: usize = input.iter().flatten().filter(|e| matches!(e, In::On { .. })).count();
    assert_eq!((clip.bars(), clip.note_count()), (4, played), "one pass of four bars");

    // Stopped while the engine trains and samples; bars arrive one by one, so play bars 5-8
    // until two passes in a row give the same notes (all four bars have arrived).
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut last: Vec<Out> = Vec::new();
    let (out, stop, start) = loop {
        assert!(Instant::now() < deadline, "the generated bars did not settle within the time limit");
        s.block(&Tx::at(16.0, false), FRAMES, &[]);
        let start = s.steady;
        let out = s.play(16.0, 32.0, FRAMES);
        let stop = s.block(&Tx::at(32.0, false), FRAMES, &[]);
        let same = out.len() == last.len()
            && out.iter().zip(&last).all(|(a, b)| a.what == b.what && a.time == b.time);
        if !out.is_empty() && same {
            break (out, stop, start);
        }
        last = out;
        // Longer than sampling a bar takes, even on a busy machine.
        std::thread::sleep(Duration::from_millis(1000));
    };
    let ons: Vec<_> = out.iter().filter(|o| o.note().is_some_and(|n| n.2)).collect();
    assert!(ons.len() >= 16, "expected a few notes per bar, got {}", ons.len());
    let step = SR * 60.0 / 120.0 / 4.0; // samples per 16th
    for o in &out {
        let (channel, _, _) = o.note().expect("notes only");
        assert!((0..4).contains(&channel), "{o:?}");
        let steps = (o.sample() - start) as f64 / step;
        assert!((steps - steps.round()).abs() < 1e-6, "{o:?} is off the 16th grid ({steps})");
        assert!(steps <= 64.0, "{o:?}");
    }
    // No hanging notes: every note-on has its note-off by the stop block.
    let mut all = out.clone();
    all.extend(stop);
    assert_closed(&all);
    let times = |v: &[Out]| v.iter().map(|o| (o.sample() - v[0].at, o.what)).collect::<Vec<_>>();

    // Save, then restore into a fresh instance: the same bars play without training. The state
    // holds the model (3.8 MB of weights) losslessly compressed: about 1.2 MB in all.
    let state = s.save();
    eprintln!("saved state: {} bytes", state.len());
    assert!(state.len() < 1_600_000, "saved state: {} bytes", state.len());
    drop(s);
    let mut fresh = Session::new(&entry);
    assert!(fresh.load(&state));
    fresh.deactivate();
    fresh.activate();
    let again = fresh.play(16.0, 32.0, FRAMES);
    assert_eq!(times(&again), times(&out), "restored state plays the same notes");
    drop(fresh);

    // Foreign state is refused without a crash, leaving a clean plugin.
    let mut other = Session::new(&entry);
    let _ = other.load(&[b"\x11\x00\x00\x00\x00\x00\x00\x00".as_slice(), b"{\"not\": \"sintra\"}"].concat());
    assert!(other.play(16.0, 20.0, FRAMES).is_empty());
}

#[test]
fn a_stop_that_returns_to_the_start_keeps_what_was_played() {
    let entry = entry();
    let mut s = Session::new(&entry);
    s.set(&[("MIDI thru", 0.0), ("Train after capture", 0.0), ("Capture bars", 6.0), ("Arm capture", 1.0)]);
    // A 3/4 bar opens the song, so the 4/4 bar lines fall on beats 3, 7, 11, 15...: play two
    // bars from beat 7, then stop; the host returns to the start in the stopping block.
    let mut beat = 7.0;
    for events in chorale(8.0) {
        let tx = Tx { bars_from: 3.0, ..Tx::at(beat, true) };
        assert!(s.block(&tx, FRAMES, &events).is_empty());
        beat += STEP;
    }
    s.block(&Tx { bars_from: 3.0, ..Tx::at(0.0, false) }, FRAMES, &[]);
    std::thread::sleep(Duration::from_millis(1000));
    let state = s.save();
    assert_eq!(saved_clip(&state).bars(), 2, "the two bars played");
    // The new bars follow the captured ones on the host's own bar lines: beat 15, bar 5.
    assert_eq!(project(&state_json(&state))["origin"].as_f64(), Some(15.0));
}

#[test]
fn a_swung_groove_and_a_shuffle_are_captured_note_for_note() {
    // Four bars of each played in from the host, sample-accurate: the capture keeps every note
    // where it was played (within 2 ticks at 480 a quarter), on the grid its onsets ask for,
    // and writes it back so.
    let entry = entry();
    for (file, grid) in [
        ("feel_neosoul_swing16_drums_bass_keys_3track_ts44.mid", Grid::Sixteenths),
        ("feel_shuffle_blues_piano_2track_ts44.mid", Grid::Triplets),
    ] {
        let clip = sintra_core::read_clip(&common::midi(file)).unwrap();
        let mut s = Session::new(&entry);
        s.set(&[
            ("MIDI thru", 0.0),
            ("Train after capture", 0.0),
            ("Capture bars", 2.0),
            ("Arm capture", 1.0),
        ]);
        let mut beat = 0.0;
        for events in input_blocks(&clip, 16.0, FRAMES) {
            s.block(&Tx::at(beat, true), FRAMES, &events);
            beat += STEP;
        }
        s.block(&Tx::at(16.0, false), FRAMES, &[]);
        std::thread::sleep(Duration::from_millis(500));
        let captured = saved_clip(&s.save());
        assert_eq!(captured.meta.grid, grid, "{file}");
        // (channel, key, on, off, velocity), in ticks at 480, from a written file.
        let ticks = |c: &Clip| {
            let (tpq, notes) = common::file_notes(&sintra_core::midi_out::clip_to_bytes(c));
            let t = |x: u64| x as f64 * 480.0 / tpq as f64;
            notes.into_iter().map(|n| (n.0, n.1, t(n.2), t(n.3), n.4)).collect::<Vec<_>>()
        };
        let played: Vec<_> = ticks(&clip).into_iter().filter(|n| n.2 < 16.0 * 480.0).collect();
        let got = ticks(&captured);
        assert_eq!(got.len(), played.len(), "{file}: every note captured");
        for (p, g) in played.iter().zip(&got) {
            // Notes held past the capture's end end with it.
            let end_ok = p.3 > 15.5 * 480.0 || (p.3 - g.3).abs() <= 2.0;
            assert!(
                (p.0, p.1, p.4) == (g.0, g.1, g.4) && (p.2 - g.2).abs() <= 2.0 && end_ok,
                "{file}: {p:?} came back as {g:?}"
            );
        }
    }
}
