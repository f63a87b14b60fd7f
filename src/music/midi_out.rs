//! Writing a [`Clip`] as a type-1 Standard MIDI File: a conductor track (title, tempo, meter,
//! key), then one track per clip track with its name, channel, program and velocities; each
//! note where its nudge puts it.

use std::path::Path;

use midly::num::u4;
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use crate::clip::{Clip, Grid, Note, TimeSig};
use crate::error::FileError;

/// Ticks per quarter note of written files.
pub use crate::grid::TICKS_PER_QUARTER;

/// Writes `clip` to `path` through a temporary file, so a failure never leaves half a file.
pub fn write_clip(clip: &Clip, path: &Path) -> Result<(), FileError> {
    let err = |e: std::io::Error| FileError::new(path, format!("cannot write: {e}"));
    let tmp = path.with_extension("mid.part");
    std::fs::write(&tmp, clip_to_bytes(clip)).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// The clip as SMF bytes.
pub fn clip_to_bytes(clip: &Clip) -> Vec<u8> {
    let meta = &clip.meta;
    // A pickup read as a short first bar is written back the same way, without the padding.
    let pad = meta.pickup_pad();
    let pickup = meta.pickup.filter(|_| clip.tracks.iter().flat_map(|t| &t.notes).all(|n| n.start >= pad));
    let shift = if pickup.is_some() { pad } else { 0 };
    let grid = meta.grid;

    let mut conductor = vec![(0, TrackEventKind::Meta(MetaMessage::TrackName(meta.title.as_bytes())))];
    conductor.push((0, TrackEventKind::Meta(MetaMessage::Tempo(meta.us_per_quarter.min(0xFF_FFFF).into()))));
    match pickup {
        Some(p) => {
            conductor.push((0, time_signature(p.time_sig)));
            conductor.push((p.steps * grid.ticks_per_step(), time_signature(meta.time_sig)));
        }
        None => conductor.push((0, time_signature(meta.time_sig))),
    }
    if let Some(k) = meta.key_sig {
        conductor.push((0, TrackEventKind::Meta(MetaMessage::KeySignature(k.sharps, k.minor))));
    }

    let mut tracks = vec![delta_encode(conductor)];
    for track in &clip.tracks {
        let ch = u4::new(track.channel & 0x0F);
        let midi = |message| TrackEventKind::Midi { channel: ch, message };
        let mut notes = Vec::with_capacity(track.notes.len() * 2);
        for (n, (start, end)) in track.notes.iter().zip(note_ticks(&track.notes, grid, shift)) {
            let key = n.pitch.min(127).into();
            // Sort key: note-offs before note-ons at equal ticks.
            notes.push((start, 1, midi(MidiMessage::NoteOn { key, vel: n.velocity.clamp(1, 127).into() })));
            notes.push((end, 0, midi(MidiMessage::NoteOff { key, vel: 0.into() })));
        }
        notes.sort_by_key(|&(tick, order, _)| (tick, order));
        let mut events = vec![
            (0, TrackEventKind::Meta(MetaMessage::TrackName(track.name.as_bytes()))),
            (0, midi(MidiMessage::ProgramChange { program: (track.program & 0x7F).into() })),
        ];
        events.extend(notes.into_iter().map(|(tick, _, kind)| (tick, kind)));
        tracks.push(delta_encode(events));
    }

    let mut smf =
        Smf::new(Header::new(Format::Parallel, Timing::Metrical((TICKS_PER_QUARTER as u16).into())));
    smf.tracks = tracks;
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).expect("writing to a Vec cannot fail");
    bytes
}

/// The (note-on, note-off) ticks of `notes`, `shift` steps earlier: nudged, at least a tick
/// long, and each ended by the next of its key at the latest (a note nudged early must not
/// start inside the one before it, or a reader would end the wrong one).
fn note_ticks(notes: &[Note], grid: Grid, shift: u32) -> Vec<(u32, u32)> {
    let tick =
        |step: u32, nudge: i16| grid.tick(step.saturating_sub(shift), nudge).min(u32::MAX as u64 / 2) as u32;
    let mut ticks: Vec<(u32, u32)> = notes
        .iter()
        .map(|n| {
            let start = tick(n.start, n.nudge.on);
            (start, tick(n.end, n.nudge.off).max(start + 1))
        })
        .collect();
    let mut by_key: Vec<usize> = (0..notes.len()).collect();
    by_key.sort_by_key(|&i| (notes[i].pitch, ticks[i].0));
    for w in by_key.windows(2) {
        let (a, b) = (w[0], w[1]);
        if notes[a].pitch == notes[b].pitch && ticks[a].1 > ticks[b].0 {
            ticks[a].1 = ticks[b].0.max(ticks[a].0 + 1);
        }
    }
    ticks
}

fn time_signature(ts: TimeSig) -> TrackEventKind<'static> {
    TrackEventKind::Meta(MetaMessage::TimeSignature(ts.num, ts.den.trailing_zeros() as u8, 24, 8))
}

/// Turns (absolute tick, event) pairs into delta-timed events with an end (stable by tick).
fn delta_encode(mut events: Vec<(u32, TrackEventKind<'_>)>) -> Vec<TrackEvent<'_>> {
    events.sort_by_key(|&(tick, _)| tick);
    let mut last = 0;
    let mut out: Vec<TrackEvent> = events
        .into_iter()
        .map(|(tick, kind)| {
            let delta = tick - last;
            last = tick;
            TrackEvent { delta: delta.into(), kind }
        })
        .collect();
    out.push(TrackEvent { delta: 0.into(), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    out
}
