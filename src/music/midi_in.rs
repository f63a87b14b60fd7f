//! Reading a Standard MIDI File into a [`Clip`] on the grid its onsets ask for.
//!
//! Positions come from the file's ticks per quarter, never from seconds, so they do not drift
//! at any tempo; each note keeps where it sits off the grid (its nudge), so none is moved or
//! merged. A clip track is one (MIDI track, channel) pair that has notes.

use std::collections::BTreeMap;
use std::path::Path;

use midly::{Format, MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};

use crate::clip::{
    too_long, Clip, Grid, KeySig, Meta, Note, Pickup, TimeSig, Track, MAX_BARS, MAX_STEPS_PER_BAR,
    TICKS_PER_QUARTER,
};
use crate::error::FileError;
use crate::grid;

/// Default tempo (120 BPM) when the file has no tempo event.
const DEFAULT_US_PER_QUARTER: u32 = 500_000;

/// Reads `path` into a clip on the grid its onsets ask for; every failure names the file and
/// the problem.
pub fn read_clip(path: &Path) -> Result<Clip, FileError> {
    read_clip_on(path, None)
}

/// Reads `path` into a clip on `grid`, or on the grid its onsets ask for.
pub fn read_clip_on(path: &Path, grid: Option<Grid>) -> Result<Clip, FileError> {
    let bytes = std::fs::read(path).map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
    let title = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    parse_clip_on(&bytes, &title, grid).map_err(|reason| FileError::new(path, reason))
}

/// A note being held: where it started and how hard.
#[derive(Clone, Copy)]
struct Open {
    /// Tick of the note-on.
    start: u64,
    /// Note-on velocity.
    velocity: u8,
}

/// Notes of one (MIDI track, channel) pair while the track is being read.
#[derive(Default)]
struct Voice {
    /// Finished notes in ticks: (pitch, start, end, velocity).
    notes: Vec<(u8, u64, u64, u8)>,
    /// The note held on each key.
    open: BTreeMap<u8, Open>,
    /// Keys re-struck while held, with the tick: a note-off at that same tick belongs to the
    /// note the re-strike ended (files that write note-on before note-off at equal ticks).
    restruck: BTreeMap<u8, u64>,
    /// Program in force when the first note started.
    program: Option<u8>,
}

impl Voice {
    fn note_on(&mut self, key: u8, velocity: u8, tick: u64) {
        if let Some(old) = self.open.insert(key, Open { start: tick, velocity }) {
            // Re-struck while held: the old note ends here.
            self.notes.push((key, old.start, tick, old.velocity));
            self.restruck.insert(key, tick);
        }
    }

    fn note_off(&mut self, key: u8, tick: u64) {
        if self.restruck.remove(&key) == Some(tick) {
            if let Some(open) = self.open.get(&key) {
                if open.start == tick {
                    return;
                }
            }
        }
        if let Some(open) = self.open.remove(&key) {
            self.notes.push((key, open.start, tick, open.velocity));
        }
    }

    /// Closes notes still held when the track ends.
    fn close_all(&mut self, tick: u64) {
        for (key, open) in std::mem::take(&mut self.open) {
            self.notes.push((key, open.start, tick.max(open.start), open.velocity));
        }
    }
}

/// Parses MIDI bytes onto the grid their onsets ask for; the error is a reason without the
/// file name.
pub fn parse_clip(bytes: &[u8], title: &str) -> Result<Clip, String> {
    parse_clip_on(bytes, title, None)
}

/// Parses MIDI bytes onto `grid`, or the grid their onsets ask for.
pub fn parse_clip_on(bytes: &[u8], title: &str, grid: Option<Grid>) -> Result<Clip, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let smf = Smf::parse(bytes).map_err(|e| format!("not a valid MIDI file ({e})"))?;
    let tpq = match smf.header.timing {
        Timing::Metrical(t) if t.as_int() > 0 => t.as_int() as u64,
        Timing::Metrical(_) => return Err("ticks per quarter note is 0".into()),
        Timing::Timecode(..) => {
            return Err(
                "SMPTE time division is not supported; export the clip with ticks per quarter note".into()
            )
        }
    };
    if smf.header.format == Format::Sequential {
        return Err("SMF type 2 (sequential songs) is not supported; export as type 0 or 1".into());
    }

    let mut tempos: Vec<(u64, u32)> = Vec::new();
    let mut meters: Vec<(u64, TimeSig)> = Vec::new();
    let mut keys: Vec<(u64, KeySig)> = Vec::new();
    // Clip tracks keyed by (MIDI track, channel), kept in file order.
    let mut voices: BTreeMap<(usize, u8), Voice> = BTreeMap::new();
    let mut names: Vec<Option<String>> = vec![None; smf.tracks.len()];
    let mut first_programs: BTreeMap<u8, u8> = BTreeMap::new();

    for (ti, events) in smf.tracks.iter().enumerate() {
        let mut tick = 0u64;
        let mut programs: [Option<u8>; 16] = [None; 16];
        for ev in events {
            tick += ev.delta.as_int() as u64;
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::Tempo(t)) => tempos.push((tick, t.as_int())),
                TrackEventKind::Meta(MetaMessage::TimeSignature(num, den_pow, _, _)) => {
                    if den_pow > 7 || num == 0 {
                        return Err(format!("invalid time signature {num}/2^{den_pow}"));
                    }
                    meters.push((tick, TimeSig { num, den: 1 << den_pow }));
                }
                TrackEventKind::Meta(MetaMessage::KeySignature(sharps, minor)) => {
                    keys.push((tick, KeySig { sharps, minor }))
                }
                TrackEventKind::Meta(MetaMessage::TrackName(name)) if names[ti].is_none() => {
                    let name = String::from_utf8_lossy(name).trim().to_string();
                    names[ti] = (!name.is_empty()).then_some(name);
                }
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    match message {
                        MidiMessage::ProgramChange { program } => {
                            programs[ch as usize] = Some(program.as_int());
                            first_programs.entry(ch).or_insert(program.as_int());
                        }
                        MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                            let voice = voices.entry((ti, ch)).or_default();
                            voice.program = voice.program.or(programs[ch as usize]);
                            voice.note_on(key.as_int(), vel.as_int(), tick);
                        }
                        MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                            if let Some(voice) = voices.get_mut(&(ti, ch)) {
                                voice.note_off(key.as_int(), tick);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        for ((vt, _), voice) in voices.iter_mut() {
            if *vt == ti {
                voice.close_all(tick);
            }
        }
    }
    if voices.values().all(|v| v.notes.is_empty()) {
        return Err("the file has no notes".into());
    }

    let (time_sig, pickup) = meter(&mut meters, tpq)?;
    let sixteenths = time_sig.steps_per_bar().unwrap_or(0);
    let pad = pickup.map_or(0, |p| sixteenths - p.steps) as u64;
    // Ticks at 480 a quarter from the padded bar 1.
    let tick = |t: u64| (t * TICKS_PER_QUARTER as u64 + tpq / 2) / tpq + pad * (TICKS_PER_QUARTER as u64 / 4);
    // Each voice's notes in ticks at 480 a quarter from bar 1.
    let in_ticks: Vec<Vec<(u8, u64, u64, u8)>> = voices
        .values()
        .map(|v| v.notes.iter().map(|&(p, s, e, vel)| (p, tick(s), tick(e), vel)).collect())
        .collect();
    let grid = on_grid(grid, &in_ticks, sixteenths, pickup.map(|p| p.steps))?;
    let spq = grid.steps_per_quarter();
    let pickup = pickup.map(|p| Pickup { steps: p.steps * spq / 4, ..p });
    // Notes on the grid, still in u64: a damaged delta time can put one past any u32 step.
    let placed: Vec<_> = in_ticks.iter().map(|notes| grid.place_voice(notes)).collect();
    let steps_per_bar = (sixteenths * spq / 4) as u64;
    refuse_far_notes(placed.iter().flatten().map(|&(p, s, e, v, _)| (p, s, e, v)), steps_per_bar)?;
    tempos.sort_by_key(|&(t, _)| t);
    keys.sort_by_key(|&(t, _)| t);
    let meta = Meta {
        title: title.to_string(),
        ticks_per_quarter: tpq as u16,
        grid,
        us_per_quarter: tempos.first().map_or(DEFAULT_US_PER_QUARTER, |&(_, t)| t.max(1)),
        time_sig,
        key_sig: keys.first().map(|&(_, k)| k),
        pickup,
    };

    let several_channels = |ti: usize| voices.keys().filter(|(t, _)| *t == ti).count() > 1;
    let mut tracks = Vec::new();
    for ((&(ti, ch), voice), placed) in voices.iter().zip(&placed) {
        let mut notes: Vec<Note> = placed
            .iter()
            .map(|&(pitch, start, end, velocity, nudge)| Note {
                pitch,
                start: start as u32,
                end: end as u32,
                velocity,
                nudge,
            })
            .collect();
        notes.sort_by_key(|n| (n.start, n.pitch, n.end));
        let base = names[ti].clone().unwrap_or_else(|| format!("Track {}", tracks.len() + 1));
        let name = if several_channels(ti) { format!("{base} ch{}", ch + 1) } else { base };
        let program = voice.program.or(first_programs.get(&ch).copied()).unwrap_or(0);
        tracks.push(Track { name, channel: ch, program, notes });
    }
    Ok(Clip { meta, tracks })
}

/// The grid the clip is read onto: `forced`, or the one the onsets of its `voices` (each as
/// [`Grid::place_voice`] takes them) ask for, among those that hold its bar of `sixteenths`
/// 16ths (in at most [`MAX_STEPS_PER_BAR`] steps) and its pickup (in 16ths); and where that
/// grid would put two notes of a key in one step, the one that keeps them apart. The plugin's
/// capture asks too.
pub fn on_grid(
    forced: Option<Grid>,
    voices: &[Vec<(u8, u64, u64, u8)>],
    sixteenths: u32,
    pickup: Option<u32>,
) -> Result<Grid, String> {
    let fits = |g: Grid| {
        let steps = sixteenths * g.steps_per_quarter() / 4;
        if steps > MAX_STEPS_PER_BAR {
            Err(format!("its bars would be {steps} steps, at most {MAX_STEPS_PER_BAR}"))
        } else if pickup.is_some_and(|p| !g.holds(p)) {
            Err("it cannot hold the pickup bar".to_string())
        } else {
            Ok(())
        }
    };
    match forced {
        Some(g) => {
            fits(g).map(|_| g).map_err(|why| format!("the {} grid does not fit this clip: {why}", g.name()))
        }
        None => {
            let allowed: Vec<Grid> = Grid::ALL.into_iter().filter(|&g| fits(g).is_ok()).collect();
            let onsets: Vec<u64> = voices.iter().flatten().map(|n| n.1).collect();
            let wanted = grid::choose(&onsets, &allowed);
            // Notes a grid would crowd into one step still come back (`place_voice`), but a
            // step late: the finest grid keeps them where they are.
            let apart = [wanted, Grid::Mixed].into_iter().filter(|g| allowed.contains(g));
            Ok(apart.min_by_key(|g| g.crowded(voices)).unwrap_or(wanted))
        }
    }
}

/// Refuses notes (pitch, start, end, velocity on the grid) that reach past [`MAX_BARS`] bars,
/// naming the bar of the earliest such note; nothing is built per step before this check, so
/// a damaged delta time that puts a note a million bars away costs no more than any other file.
///
/// Only notes count: the end-of-track event and any other event after the last note add no
/// bars, so trailing silence is never learnt.
fn refuse_far_notes(
    notes: impl Iterator<Item = (u8, u64, u64, u8)>,
    steps_per_bar: u64,
) -> Result<(), String> {
    let limit = MAX_BARS as u64 * steps_per_bar;
    let first_bad =
        notes.filter(|&(_, _, end, _)| end > limit).min_by_key(|&(_, start, end, _)| (start, end));
    match first_bad {
        None => Ok(()),
        Some((_, start, _, _)) if start >= limit => {
            Err(too_long(&format!("a note at bar {}", start / steps_per_bar + 1)) + "; a damaged delta time?")
        }
        Some((_, start, end, _)) => Err(too_long(&format!(
            "a note from bar {} lasts to bar {}",
            start / steps_per_bar + 1,
            end.div_ceil(steps_per_bar)
        )) + "; a damaged delta time?"),
    }
}

/// The clip's one meter and its pickup, from the time-signature events (sorted here).
///
/// A short first bar followed by the real meter at its end is a pickup; any other change is
/// refused with the bar it happens in.
fn meter(events: &mut [(u64, TimeSig)], tpq: u64) -> Result<(TimeSig, Option<Pickup>), String> {
    events.sort_by_key(|&(t, _)| t);
    // One meter per tick (the last written wins), and no repeats of the meter in force.
    let mut segs: Vec<(u64, TimeSig)> = Vec::new();
    for &(tick, ts) in events.iter() {
        match segs.last_mut() {
            Some(last) if last.0 == tick => last.1 = ts,
            _ => segs.push((tick, ts)),
        }
    }
    if segs.first().is_none_or(|&(t, _)| t > 0) {
        segs.insert(0, (0, TimeSig { num: 4, den: 4 }));
    }
    segs.dedup_by(|b, a| a.1 == b.1);

    let bar_ticks = |ts: TimeSig| tpq * 4 * ts.num as u64 / ts.den as u64;
    let mut pickup = None;
    let mut first = 0;
    if segs.len() >= 2 && segs[1].0 == bar_ticks(segs[0].1) && bar_ticks(segs[0].1) < bar_ticks(segs[1].1) {
        let ts = segs[0].1;
        let steps = ts
            .steps_per_bar()
            .ok_or_else(|| format!("pickup bar in {ts} is not a whole number of 16th notes"))?;
        pickup = Some(Pickup { time_sig: ts, steps });
        first = 1;
    }
    let time_sig = segs[first].1;
    if let Some(&(tick, to)) = segs.get(first + 1) {
        let mut bar = 1 + u64::from(pickup.is_some());
        // A bar shorter than a tick (1/128 at 1 tick per quarter) counts as one tick.
        bar += (tick - segs[first].0).div_ceil(bar_ticks(time_sig).max(1));
        return Err(format!(
            "the meter changes from {time_sig} to {to} at bar {bar}; a clip must keep one meter (a pickup bar is fine)"
        ));
    }
    match time_sig.steps_per_bar() {
        Some(s) if s > MAX_STEPS_PER_BAR => Err(format!(
            "meter {time_sig} has {s} 16th notes per bar; SinTra takes bars of at most {MAX_STEPS_PER_BAR} (16/4)"
        )),
        Some(s) if s % 4 == 0 => Ok((time_sig, pickup)),
        Some(s) => Err(format!(
            "meter {time_sig} has {s} 16th notes per bar; the pyramid needs a multiple of 4 (quarter-note bars)"
        )),
        None => Err(format!("meter {time_sig} is not a whole number of 16th notes per bar")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Nudge;
    use midly::{Header, TrackEvent};

    fn ev(delta: u32, kind: TrackEventKind<'static>) -> TrackEvent<'static> {
        TrackEvent { delta: delta.into(), kind }
    }
    fn on(delta: u32, key: u8, vel: u8) -> TrackEvent<'static> {
        ev(
            delta,
            TrackEventKind::Midi {
                channel: 0.into(),
                message: MidiMessage::NoteOn { key: key.into(), vel: vel.into() },
            },
        )
    }
    fn off(delta: u32, key: u8) -> TrackEvent<'static> {
        ev(
            delta,
            TrackEventKind::Midi {
                channel: 0.into(),
                message: MidiMessage::NoteOff { key: key.into(), vel: 0.into() },
            },
        )
    }
    fn ts(delta: u32, num: u8, den_pow: u8) -> TrackEvent<'static> {
        ev(delta, TrackEventKind::Meta(MetaMessage::TimeSignature(num, den_pow, 24, 8)))
    }
    fn parse(tpq: u16, tracks: Vec<Vec<TrackEvent<'static>>>) -> Result<Clip, String> {
        let mut smf = Smf::new(Header::new(Format::Parallel, Timing::Metrical(tpq.into())));
        smf.tracks = tracks;
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        parse_clip(&bytes, "t")
    }

    #[test]
    fn grid_comes_from_ticks_per_quarter_and_rounds() {
        // tpq 96: a 16th is 24 ticks. Onset at tick 13 rounds to step 1; a 5-tick note keeps one step.
        let clip = parse(96, vec![vec![on(13, 60, 90), off(5, 60), on(6, 62, 70), off(48, 62)]]).unwrap();
        let notes = &clip.tracks[0].notes;
        // Each keeps where it really was, in ticks at 480: the first 55 early, ending 150
        // before its (one step) end; the second exactly on the grid.
        assert_eq!(notes[0], Note { nudge: Nudge { on: -55, off: -150 }, ..Note::new(60, 1, 2, 90) });
        assert_eq!(notes[1], Note::new(62, 1, 3, 70));
        assert_eq!(clip.meta.us_per_quarter, DEFAULT_US_PER_QUARTER);
        assert_eq!(clip.meta.time_sig, TimeSig { num: 4, den: 4 });
    }

    #[test]
    fn a_flam_and_a_64th_roll_are_never_merged() {
        // Eight bars of straight 16th hats, then a 64th roll (38) and a flam (40, 10 ticks
        // apart): too few to ask for triplets, but straight 16ths would crowd them into shared
        // steps. The grid that crowds fewest is taken, and the rest move a step, nudged back.
        let mut events = Vec::new();
        for i in 0..128 {
            events.extend([on(if i == 0 { 0 } else { 60 }, 42, 70), off(60, 42)]);
        }
        events.extend([on(60, 38, 90), off(20, 38), on(10, 38, 91), off(20, 38), on(10, 38, 92)]);
        events.extend([
            off(20, 38),
            on(10, 38, 93),
            off(20, 38),
            on(10, 40, 94),
            off(5, 40),
            on(5, 40, 95),
            off(20, 40),
        ]);
        let clip = parse(480, vec![events]).unwrap();
        assert_eq!(clip.meta.grid, Grid::Mixed);
        let notes = &clip.tracks[0].notes;
        assert_eq!(notes.len(), 128 + 6, "every note kept");
        let bar9 = 8 * 1920;
        let at = |key: u8| -> Vec<u64> {
            notes
                .iter()
                .filter(|n| n.pitch == key)
                .map(|n| clip.meta.grid.tick(n.start, n.nudge.on))
                .collect()
        };
        assert_eq!(at(38), [bar9, bar9 + 30, bar9 + 60, bar9 + 90], "where they were played");
        assert_eq!(at(40), [bar9 + 120, bar9 + 130]);
        let back = crate::pitch_group::decode_clip(&crate::pitch_group::encode(&clip), &clip);
        assert_eq!(back, clip, "the tokens keep them apart");
    }

    #[test]
    fn velocity_zero_is_note_off_and_overlaps_restrike() {
        // on 60, on 60 again (re-strike while held), off via velocity 0, then a note left open.
        let clip = parse(4, vec![vec![on(0, 60, 80), on(2, 60, 80), on(2, 60, 0), on(0, 64, 80)]]).unwrap();
        let n = &clip.tracks[0].notes;
        assert_eq!(n.len(), 3);
        assert_eq!((n[0].start, n[0].end), (0, 2));
        assert_eq!((n[1].start, n[1].end), (2, 4));
        // Left open at the end of the track: closed there, one step minimum.
        assert_eq!((n[2].pitch, n[2].start, n[2].end), (64, 4, 5));
    }

    #[test]
    fn note_on_before_note_off_at_the_same_tick() {
        // Re-strike written as on-then-off at tick 4: the off ends the old note, not the new one.
        let clip = parse(4, vec![vec![on(0, 60, 80), on(4, 60, 80), off(0, 60), off(4, 60)]]).unwrap();
        let n: Vec<_> = clip.tracks[0].notes.iter().map(|n| (n.start, n.end)).collect();
        assert_eq!(n, vec![(0, 4), (4, 8)]);
    }

    #[test]
    fn meters() {
        let one = |events| parse(4, vec![events]);
        assert_eq!(one(vec![ts(0, 6, 3), on(0, 60, 80), off(4, 60)]).unwrap().meta.steps_per_bar(), 12);
        let e = one(vec![ts(0, 7, 3), on(0, 60, 80), off(4, 60)]).unwrap_err();
        assert!(e.contains("7/8"), "{e}");
        // 4/4, then 3/4 after two bars: refused, naming bar 3.
        let e = one(vec![ts(0, 4, 2), on(0, 60, 80), off(4, 60), ts(28, 3, 2)]).unwrap_err();
        assert!(e.contains("bar 3") && e.contains("4/4") && e.contains("3/4"), "{e}");
        // A repeated identical meter is no change.
        assert!(one(vec![ts(0, 3, 2), on(0, 60, 80), off(4, 60), ts(8, 3, 2)]).is_ok());
    }

    #[test]
    fn pickup_as_short_bar_is_padded() {
        // 1/4 pickup bar then 3/4: the pickup note lands on the last beat of a padded bar 1.
        let clip = parse(
            4,
            vec![vec![ts(0, 1, 2), on(0, 67, 80), off(4, 67), ts(0, 3, 2), on(0, 60, 80), off(12, 60)]],
        )
        .unwrap();
        let pickup = clip.meta.pickup.unwrap();
        assert_eq!((pickup.time_sig, pickup.steps), (TimeSig { num: 1, den: 4 }, 4));
        assert_eq!(clip.meta.pickup_pad(), 8);
        let starts: Vec<_> = clip.tracks[0].notes.iter().map(|n| n.start).collect();
        assert_eq!(starts, vec![8, 12]);
        assert_eq!(clip.bars(), 2);
    }

    #[test]
    fn type0_channels_split_into_tracks() {
        let ch = |c: u8, m| ev(0, TrackEventKind::Midi { channel: c.into(), message: m });
        let track = vec![
            ev(0, TrackEventKind::Meta(MetaMessage::TrackName(b"Keys"))),
            ch(1, MidiMessage::ProgramChange { program: 5.into() }),
            ch(0, MidiMessage::NoteOn { key: 60.into(), vel: 80.into() }),
            ch(1, MidiMessage::NoteOn { key: 40.into(), vel: 80.into() }),
            ev(
                4,
                TrackEventKind::Midi {
                    channel: 0.into(),
                    message: MidiMessage::NoteOff { key: 60.into(), vel: 0.into() },
                },
            ),
            ch(1, MidiMessage::NoteOff { key: 40.into(), vel: 0.into() }),
        ];
        let mut smf = Smf::new(Header::new(Format::SingleTrack, Timing::Metrical(4.into())));
        smf.tracks = vec![track];
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        let clip = parse_clip(&bytes, "t").unwrap();
        let t: Vec<_> = clip.tracks.iter().map(|t| (t.name.as_str(), t.channel, t.program)).collect();
        assert_eq!(t, vec![("Keys ch1", 0, 0), ("Keys ch2", 1, 5)]);
    }

    #[test]
    fn length_limit() {
        // tpq 4: a 4/4 bar is 16 ticks, bar 257 starts at tick 4096.
        let at_limit = parse(4, vec![vec![on(0, 60, 80), off(4, 60), on(4091, 62, 80), off(1, 62)]]).unwrap();
        assert_eq!(at_limit.bars(), MAX_BARS);
        assert!(at_limit.check_length().is_ok());
        let e = parse(4, vec![vec![on(0, 60, 80), off(4, 60), on(4092, 62, 80), off(1, 62)]]).unwrap_err();
        assert!(e.starts_with("a note at bar 257: SinTra takes clips of at most 256 bars"), "{e}");
        assert!(e.ends_with("a damaged delta time?"), "{e}");
        // A note-off far away makes one absurdly long note: refused, naming where it starts.
        let e = parse(4, vec![vec![on(16, 60, 80), off(1 << 27, 60)]]).unwrap_err();
        assert!(e.starts_with("a note from bar 2 lasts to bar 8388609:"), "{e}");
        // A note held when its track ends far away: the same.
        let held = vec![on(16, 60, 80), ev(1 << 27, TrackEventKind::Meta(MetaMessage::EndOfTrack))];
        assert!(parse(4, vec![held]).unwrap_err().starts_with("a note from bar 2 lasts to bar"));
        // The end of a track, or a tempo, far after the last note adds no bars.
        let tempo = ev(1 << 27, TrackEventKind::Meta(MetaMessage::Tempo(400_000.into())));
        let eot = ev(1 << 27, TrackEventKind::Meta(MetaMessage::EndOfTrack));
        let clip = parse(4, vec![vec![tempo], vec![on(0, 60, 80), off(4, 60), eot]]).unwrap();
        assert_eq!(clip.bars(), 1);
        // A note at step 2^32 + 4 (tick 2^30 + 1 at 1 tick per quarter): refused, not wrapped
        // around to step 4.
        let wait = || ev((1 << 28) - 1, TrackEventKind::Meta(MetaMessage::Tempo(400_000.into())));
        let far = vec![wait(), wait(), wait(), wait(), on(5, 60, 80), off(1, 60)];
        let e = parse(1, vec![far]).unwrap_err();
        assert!(e.starts_with("a note at bar 268435457:"), "{e}");
    }

    #[test]
    fn damaged_meters() {
        let one = |tpq, events| parse(tpq, vec![events]);
        // A bar longer than 16 quarter notes is refused.
        let e = one(4, vec![ts(0, 132, 2), on(0, 60, 80), off(4, 60)]).unwrap_err();
        assert!(e.contains("132/4 has 528 16th notes per bar") && e.contains("at most 64"), "{e}");
        assert!(one(4, vec![ts(0, 16, 2), on(0, 60, 80), off(4, 60)]).is_ok());
        // A bar shorter than a tick, then a change: an error, not a division by zero.
        let e = one(1, vec![ts(0, 1, 7), on(0, 60, 80), off(4, 60), ts(3, 4, 2)]).unwrap_err();
        assert!(e.contains("1/128") && e.contains("bar 8"), "{e}");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(parse_clip(&[], "t").unwrap_err(), "the file is empty");
        assert!(parse_clip(b"X:1\nT:tune\n", "t").unwrap_err().contains("not a valid MIDI file"));
        assert_eq!(parse(4, vec![vec![ts(0, 4, 2)]]).unwrap_err(), "the file has no notes");
        let mut smf = Smf::new(Header::new(Format::Parallel, Timing::Timecode(midly::Fps::Fps25, 40)));
        smf.tracks = vec![vec![on(0, 60, 80), off(4, 60)]];
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        assert!(parse_clip(&bytes, "t").unwrap_err().contains("SMPTE"));
    }
}
