//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod clap;

use std::path::PathBuf;
use std::process::Command;

/// `../shared/midi`, beside the repository.
pub fn shared_midi() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/midi")
}

/// A file of the shared set.
pub fn midi(name: &str) -> PathBuf {
    shared_midi().join(name)
}

/// Every valid `.mid` in the shared set.
pub fn valid_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(shared_midi())
        .expect("../shared/midi is present")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mid"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with("malformed"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "the shared set has its pieces");
    files
}

/// A track's name and its notes in ticks: (pitch, start, end), sorted.
pub type RawTrack = (String, Vec<(u8, u64, u64)>);

/// A note as a file holds it: (channel, pitch, start tick, end tick, velocity).
pub type FileNote = (u8, u8, u64, u64, u8);

/// Ticks per quarter of a MIDI file and all its notes in its own ticks, sorted; a key struck
/// again while held ends the note before.
pub fn file_notes(bytes: &[u8]) -> (u64, Vec<FileNote>) {
    use midly::{MidiMessage, Smf, Timing, TrackEventKind};
    let smf = Smf::parse(bytes).unwrap();
    let Timing::Metrical(tpq) = smf.header.timing else { panic!("metrical files only") };
    let mut notes = Vec::new();
    for track in &smf.tracks {
        let (mut tick, mut open) = (0u64, std::collections::HashMap::new());
        for ev in track {
            tick += ev.delta.as_int() as u64;
            if let TrackEventKind::Midi { channel, message } = ev.kind {
                let (ch, on) = match message {
                    MidiMessage::NoteOn { key, vel } => {
                        (channel.as_int(), Some((key.as_int(), vel.as_int())))
                    }
                    MidiMessage::NoteOff { key, .. } => (channel.as_int(), Some((key.as_int(), 0))),
                    _ => continue,
                };
                let (key, vel) = on.unwrap();
                if let Some((start, v)) = open.remove(&(ch, key)) {
                    notes.push((ch, key, start, tick, v));
                }
                if vel > 0 {
                    open.insert((ch, key), (tick, vel));
                }
            }
        }
    }
    notes.sort();
    (tpq.as_int() as u64, notes)
}

/// Notes of a MIDI file in its own ticks, per track.
pub fn raw_notes(bytes: &[u8]) -> Vec<RawTrack> {
    use midly::{MetaMessage, MidiMessage, Smf, TrackEventKind};
    let smf = Smf::parse(bytes).unwrap();
    let mut out = Vec::new();
    for track in &smf.tracks {
        let (mut tick, mut name, mut open, mut notes) = (0u64, String::new(), [None; 128], Vec::new());
        for ev in track {
            tick += ev.delta.as_int() as u64;
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::TrackName(n)) => name = String::from_utf8_lossy(n).into(),
                TrackEventKind::Midi { message: MidiMessage::NoteOn { key, vel }, .. } if vel > 0 => {
                    open[key.as_int() as usize] = Some(tick)
                }
                TrackEventKind::Midi {
                    message: MidiMessage::NoteOff { key, .. } | MidiMessage::NoteOn { key, .. },
                    ..
                } => {
                    if let Some(start) = open[key.as_int() as usize].take() {
                        notes.push((key.as_int(), start, tick));
                    }
                }
                _ => {}
            }
        }
        if !notes.is_empty() {
            notes.sort();
            out.push((name, notes));
        }
    }
    out
}

/// Builds the plugin bundles (debug, with nice-plug's `assert_process_allocs`, so an allocation
/// in `process` aborts the host) and returns `target/bundled`.
/// Test processes run side by side: a file lock keeps two from writing the bundles at once.
pub fn bundle() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(root.join("target")).expect("target folder");
    let lock = std::fs::File::create(root.join("target/bundle.lock")).expect("bundle lock file");
    lock.lock().expect("locking the bundle lock file");
    let status = Command::new(env!("CARGO"))
        .args(["xtask", "bundle", "sintra", "--features", "assert_process_allocs"])
        .current_dir(&root)
        .status()
        .expect("running cargo xtask");
    assert!(status.success(), "bundling the plugin failed");
    root.join("target/bundled")
}
