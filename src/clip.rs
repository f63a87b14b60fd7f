//! A multi-track clip on the 16th-note grid: the notes and everything a producer would miss if
//! it were lost (tempo, meter, key, track names, channels, programs, velocities).

use serde::{Deserialize, Serialize};

/// Grid steps per quarter note (16th notes).
pub const STEPS_PER_QUARTER: u32 = 4;

/// A time signature as MIDI writes it: numerator and denominator (a power of two).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSig {
    /// Beats per bar.
    pub num: u8,
    /// Beat unit (4 = quarter, 8 = eighth).
    pub den: u8,
}

impl TimeSig {
    /// Steps (16th notes) in one bar, or `None` if the bar is not a whole number of steps.
    pub fn steps_per_bar(self) -> Option<u32> {
        let sixteenths = 16 * self.num as u32;
        (self.den > 0 && sixteenths.is_multiple_of(self.den as u32)).then(|| sixteenths / self.den as u32)
    }
}

impl std::fmt::Display for TimeSig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// A key signature as MIDI writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySig {
    /// Sharps (positive) or flats (negative).
    pub sharps: i8,
    /// Minor mode.
    pub minor: bool,
}

/// A pickup that the source file wrote as a short first bar in its own meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pickup {
    /// The short bar's time signature (e.g. 1/4).
    pub time_sig: TimeSig,
    /// Its length in steps; the clip pads `steps_per_bar - steps` silent steps in front of it.
    pub steps: u32,
}

/// What a clip carries besides its notes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Title for the conductor track (the source's file stem).
    pub title: String,
    /// Time division of the source file (the grid is 4 steps per quarter whatever it is).
    pub ticks_per_quarter: u16,
    /// Tempo in microseconds per quarter note, as MIDI stores it (kept exact for round trips).
    pub us_per_quarter: u32,
    /// The clip's meter.
    pub time_sig: TimeSig,
    /// The key signature, if the source declared one.
    pub key_sig: Option<KeySig>,
    /// A pickup written as a short first bar, if the source had one.
    pub pickup: Option<Pickup>,
}

impl Meta {
    /// Tempo in beats (quarter notes) per minute.
    pub fn tempo_bpm(&self) -> f64 {
        60_000_000.0 / self.us_per_quarter as f64
    }

    /// Steps per bar of the clip's meter (checked when the clip was read).
    pub fn steps_per_bar(&self) -> u32 {
        self.time_sig.steps_per_bar().unwrap_or(16)
    }

    /// Silent steps padded in front of a pickup written as a short first bar.
    pub fn pickup_pad(&self) -> u32 {
        self.pickup.map_or(0, |p| self.steps_per_bar() - p.steps)
    }
}

/// One note on the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// MIDI key number.
    pub pitch: u8,
    /// First step (inclusive).
    pub start: u32,
    /// Last step (exclusive); always greater than `start`.
    pub end: u32,
    /// Note-on velocity (1..=127).
    pub velocity: u8,
}

/// One clip track: the notes of one (MIDI track, channel) pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Track name from the file (or made up from its position).
    pub name: String,
    /// MIDI channel, 0-based.
    pub channel: u8,
    /// General MIDI program, 0-based.
    pub program: u8,
    /// Notes sorted by start, then pitch.
    pub notes: Vec<Note>,
}

impl Track {
    /// Mean note-on velocity, rounded (80 for a track without notes).
    pub fn mean_velocity(&self) -> u8 {
        if self.notes.is_empty() {
            return 80;
        }
        let sum: u32 = self.notes.iter().map(|n| n.velocity as u32).sum();
        ((sum + self.notes.len() as u32 / 2) / self.notes.len() as u32).clamp(1, 127) as u8
    }
}

/// A multi-track clip whose bar lines fall every `meta.steps_per_bar()` steps from step 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    /// Tempo, meter, key and pickup.
    pub meta: Meta,
    /// The tracks that have notes, in file order.
    pub tracks: Vec<Track>,
}

impl Clip {
    /// Step just after the last note ends.
    pub fn end_step(&self) -> u32 {
        let notes = self.tracks.iter().flat_map(|t| &t.notes);
        notes.map(|n| n.end).max().unwrap_or(0)
    }

    /// Bars from step 0 to the end of the last note.
    pub fn bars(&self) -> u32 {
        self.end_step().div_ceil(self.meta.steps_per_bar())
    }

    /// Number of notes over all tracks.
    pub fn note_count(&self) -> usize {
        self.tracks.iter().map(|t| t.notes.len()).sum()
    }

    /// Bars `first..=last` (1-based) as a clip of their own: notes are cut at the edges and
    /// moved to start at step 0; the pickup stays only when bar 1 is kept.
    pub fn select_bars(&self, first: u32, last: u32) -> Result<Clip, String> {
        let bars = self.bars();
        if first == 0 || first > last || last > bars {
            return Err(format!("bars {first}:{last} are outside the clip's 1:{bars}"));
        }
        let spb = self.meta.steps_per_bar();
        let (from, to) = ((first - 1) * spb, last * spb);
        let tracks = self
            .tracks
            .iter()
            .map(|t| Track {
                notes: t
                    .notes
                    .iter()
                    .filter(|n| n.end > from && n.start < to)
                    .map(|n| Note { start: n.start.max(from) - from, end: n.end.min(to) - from, ..*n })
                    .collect(),
                ..t.clone()
            })
            .collect();
        let meta = Meta { pickup: self.meta.pickup.filter(|_| first == 1), ..self.meta.clone() };
        Ok(Clip { meta, tracks })
    }
}

#[cfg(test)]
impl Clip {
    /// A one-track 4/4 clip at 120 BPM, for tests.
    pub fn one_track(notes: Vec<Note>) -> Clip {
        let meta = Meta {
            title: "t".into(),
            ticks_per_quarter: 480,
            us_per_quarter: 500_000,
            time_sig: TimeSig { num: 4, den: 4 },
            key_sig: None,
            pickup: None,
        };
        Clip { meta, tracks: vec![Track { name: "a".into(), channel: 0, program: 0, notes }] }
    }
}
