//! From the end of a capture to the first new note, in a real CLAP host (clack-host) that plays
//! in real time at 120 BPM and goes on playing after the capture, as a DAW does: 12 bars of two
//! 4-voice chorales (4/4 and 3/4) are played in, and the time until the first generated note
//! comes out is printed (a figure, not a test of speed: the machine is shared). The test checks
//! that the new bars come, on the 16th grid from the bar after the capture, and that every note
//! ends. The bundle is the debug build with `assert_process_allocs`.

mod common;

use std::time::{Duration, Instant};

use clack_host::prelude::PluginEntry;
use common::clap::{assert_closed, input_blocks, Out, Session, Tx, SR};

/// 10 ms blocks.
const FRAMES: u32 = 480;
/// Quarter notes per block at 120 BPM.
const STEP: f64 = FRAMES as f64 / SR * 2.0;
/// Bars captured.
const BARS: u32 = 12;

fn entry() -> PluginEntry {
    let path = common::bundle().join("sintra.clap");
    unsafe { PluginEntry::load(&path) }.expect("loading sintra.clap")
}

/// Plays the first 12 bars of `file` into a fresh instance in real time and plays on; returns
/// the seconds from the capture's end to the first generated note.
fn first_note_after_capture(entry: &PluginEntry, file: &str) -> f64 {
    let clip = sintra_core::read_clip(&common::midi(file)).unwrap().select_bars(1, BARS).unwrap();
    let bar = clip.meta.steps_per_bar() as f64 / 4.0;
    let end = BARS as f64 * bar;
    let input = input_blocks(&clip, end, FRAMES);
    let mut s = Session::new(entry);
    // Capture bars 2..64 and bars to generate 1..128 count steps from their minimum.
    s.set(&[("MIDI thru", 0.0), ("Capture bars", (BARS - 2) as f64), ("Bars to generate", 7.0)]);
    s.set(&[("Arm capture", 1.0)]);
    let tx = |beat: f64| Tx { bar, ..Tx::at(beat, true) };
    let (start, zero) = (Instant::now(), s.steady);
    let mut out: Vec<Out> = Vec::new();
    let mut ended: Option<Instant> = None;
    let mut first: Option<f64> = None;
    let mut k = 0usize;
    // Real time: block k starts k x 10 ms after the first.
    loop {
        let beat = k as f64 * STEP;
        if let Some(wait) =
            (start + Duration::from_millis(10 * k as u64)).checked_duration_since(Instant::now())
        {
            std::thread::sleep(wait);
        }
        if beat >= end - 1e-9 && ended.is_none() {
            ended = Some(Instant::now());
        }
        let got = s.block(&tx(beat), FRAMES, input.get(k).map_or(&[][..], |v| &v[..]));
        if got.iter().any(|o| o.note().is_some_and(|n| n.2)) && first.is_none() {
            first = Some(ended.expect("nothing plays during the capture").elapsed().as_secs_f64());
        } else if first.is_some() {
            for o in got.iter().filter(|o| o.note().is_some_and(|n| n.2)) {
                // On the 16th grid of the bars after the capture (the first block's notes may
                // be chased: started late where they should already sound).
                let steps = (o.sample() - zero) as f64 / (SR / 8.0) - end * 4.0;
                assert!(steps >= -1e-6 && (steps - steps.round()).abs() < 1e-6, "{o:?}: {steps}");
            }
        }
        out.extend(got);
        k += 1;
        // Two bars more once the first note is there; at most 30 s after the capture.
        let done =
            first.is_some_and(|f| ended.is_some_and(|e| e.elapsed().as_secs_f64() > f + 2.0 * bar / 2.0));
        if done || ended.is_some_and(|e| e.elapsed() > Duration::from_secs(30)) {
            break;
        }
    }
    out.extend(s.block(&Tx { bar, ..Tx::at(k as f64 * STEP, false) }, FRAMES, &[]));
    assert_closed(&out);
    first.unwrap_or_else(|| panic!("{file}: no new note within 30 s of the capture's end"))
}

#[test]
fn the_first_new_note_follows_a_real_time_capture() {
    let entry = entry();
    for file in ["bwv227-1_4track_ts44.mid", "bwv349_4track_ts34.mid"] {
        let seconds = first_note_after_capture(&entry, file);
        eprintln!(
            "{file}: 12 bars x 4 tracks captured at 120 BPM, first new note {seconds:.2} s after the capture"
        );
    }
}
