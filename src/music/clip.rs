//! A multi-track clip on a grid (see `grid`): the notes and everything a producer would miss if
//! it were lost (tempo, meter, key, track names, channels, programs, velocities, each note's
//! exact timing).

use serde::{Deserialize, Serialize};

pub use crate::grid::{Grid, Nudge, TICKS_PER_QUARTER};

/// The longest clip SinTra reads or learns, in bars.
///
/// Training takes the whole clip as one batch at every step, so a step's time and memory grow
/// with its bars: at 256 bars of 4/4 a default-preset step takes about 0.2 / 0.35 / 0.75 s
/// (4th / 8th / 16th, one core) and 0.7 GB, so a whole job takes minutes; a 17,500-bar clip
/// took 30 s and 5.6 GB for a single quarter-note step. Producers' clips are a few bars to a few
/// dozen and the longest piece in the test set has 34; 256 bars of 4/4 is 8.5 minutes at 120
/// BPM, a whole song. A note beyond it is almost always a damaged delta time (one made a 5 KB
/// file read as 139,827 bars), so such a file is refused, naming the bar, not cut.
pub const MAX_BARS: u32 = 256;

/// The longest bar SinTra reads, in steps: 16 quarter notes (16/4). A bar is one sequence of
/// the Transformer-XL, whose attention grows with the square of its length; real meters stay
/// far below (12/8 is 24 steps), a damaged time signature (132/4) does not.
pub const MAX_STEPS_PER_BAR: u32 = 64;

/// Why a clip of `what` is refused: it says what the limit is and why. Shared by the MIDI
/// reader, [`Clip::check_length`], bar selection and training, so every refusal reads alike.
pub fn too_long(what: &str) -> String {
    format!(
        "{what}: SinTra takes clips of at most {MAX_BARS} bars (training takes the whole clip at every step)"
    )
}

/// `Ok` when a clip of `bars` bars is within [`MAX_BARS`], else the refusal.
pub fn check_bars(bars: u32) -> Result<(), String> {
    if bars > MAX_BARS {
        return Err(too_long(&format!("the clip has {bars} bars")));
    }
    Ok(())
}

/// A time signature as MIDI writes it: numerator and denominator (a power of two).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSig {
    /// Beats per bar.
    pub num: u8,
    /// Beat unit (4 = quarter, 8 = eighth).
    pub den: u8,
}

impl TimeSig {
    /// 16th notes in one bar, or `None` if the bar is not a whole number of them.
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
    /// Its length in grid steps; the clip pads `steps_per_bar - steps` silent steps in front
    /// of it.
    pub steps: u32,
}

/// What a clip carries besides its notes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Title for the conductor track (the source's file stem).
    pub title: String,
    /// Time division of the source file (the grid is the clip's whatever it is).
    pub ticks_per_quarter: u16,
    /// The grid the notes sit on (16ths unless the clip's onsets ask for triplets); files
    /// written before grids existed are on 16ths.
    #[serde(default)]
    pub grid: Grid,
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
    /// The meta of a clip made in code rather than read (a capture, a test): 480 ticks a
    /// quarter, no key signature, no pickup.
    pub fn made(title: &str, us_per_quarter: u32, time_sig: TimeSig) -> Self {
        Self {
            title: title.into(),
            ticks_per_quarter: 480,
            grid: Grid::Sixteenths,
            us_per_quarter,
            time_sig,
            key_sig: None,
            pickup: None,
        }
    }

    /// Tempo in beats (quarter notes) per minute.
    pub fn tempo_bpm(&self) -> f64 {
        60_000_000.0 / self.us_per_quarter as f64
    }

    /// Grid steps per bar of the clip's meter (checked when the clip was read; a 4/4 bar if
    /// it is not a whole, non-zero number of 16ths).
    pub fn steps_per_bar(&self) -> u32 {
        let sixteenths = self.time_sig.steps_per_bar().filter(|&s| s > 0).unwrap_or(16);
        sixteenths * self.grid.steps_per_quarter() / 4
    }

    /// Quarter notes per bar.
    pub fn bar_quarters(&self) -> f64 {
        self.steps_per_bar() as f64 / self.grid.steps_per_quarter() as f64
    }

    /// Silent steps padded in front of a pickup written as a short first bar.
    pub fn pickup_pad(&self) -> u32 {
        self.pickup.map_or(0, |p| self.steps_per_bar().saturating_sub(p.steps))
    }
}

/// One note on the grid, with where it really sits off its steps.
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
    /// How far the note-on and note-off sit off `start` and `end` (swing, human timing).
    #[serde(default, skip_serializing_if = "Nudge::is_none")]
    pub nudge: Nudge,
}

impl Note {
    /// A note exactly on the grid.
    pub fn new(pitch: u8, start: u32, end: u32, velocity: u8) -> Self {
        Self { pitch, start, end, velocity, nudge: Nudge::NONE }
    }
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

/// The MIDI channel (0-based) of General MIDI's drums, channel 10: its notes are drum keys,
/// not pitches.
const DRUM_CHANNEL: u8 = 9;

impl Clip {
    /// Per track, whether it holds drum keys (MIDI channel 10) rather than pitches.
    pub fn drum_tracks(&self) -> Vec<bool> {
        self.tracks.iter().map(|t| t.channel == DRUM_CHANNEL).collect()
    }

    /// Step just after the last note ends.
    pub fn end_step(&self) -> u32 {
        let notes = self.tracks.iter().flat_map(|t| &t.notes);
        notes.map(|n| n.end).max().unwrap_or(0)
    }

    /// Bars from step 0 to the end of the last note.
    pub fn bars(&self) -> u32 {
        self.end_step().div_ceil(self.meta.steps_per_bar())
    }

    /// `Ok` when SinTra can learn the clip whole: at most [`MAX_BARS`] bars of at most
    /// [`MAX_STEPS_PER_BAR`] steps. Clips read from MIDI files always are; a clip built in code
    /// (a capture) should be checked, or cut with [`Clip::select_bars`], before training, which
    /// refuses it too.
    pub fn check_length(&self) -> Result<(), String> {
        let spb = self.meta.steps_per_bar();
        if spb > MAX_STEPS_PER_BAR {
            return Err(format!(
                "meter {} has {spb} 16th notes per bar; SinTra takes bars of at most {MAX_STEPS_PER_BAR} (16/4)",
                self.meta.time_sig
            ));
        }
        check_bars(self.bars())
    }

    /// Where each note of each track starts, in ticks at [`TICKS_PER_QUARTER`] from step 0,
    /// nudge included.
    pub fn onset_ticks(&self) -> impl Iterator<Item = u64> + '_ {
        let grid = self.meta.grid;
        self.tracks.iter().flat_map(move |t| t.notes.iter().map(move |n| grid.tick(n.start, n.nudge.on)))
    }

    /// Number of notes over all tracks.
    pub fn note_count(&self) -> usize {
        self.tracks.iter().map(|t| t.notes.len()).sum()
    }

    /// Bars `first..=last` (1-based) as a clip of their own: notes are cut at the edges and
    /// moved to start at step 0; the pickup stays only when bar 1 is kept. A selection of more
    /// than [`MAX_BARS`] bars is refused (the clip itself may be longer).
    pub fn select_bars(&self, first: u32, last: u32) -> Result<Clip, String> {
        let bars = self.bars();
        if first == 0 || first > last || last > bars {
            return Err(format!("bars {first}:{last} are outside the clip's 1:{bars}"));
        }
        if last - first >= MAX_BARS {
            return Err(too_long(&format!("bars {first}:{last} are {} bars", last - first + 1)));
        }
        let spb = self.meta.steps_per_bar();
        let step = |bar: u32| (bar as u64 * spb as u64).min(u32::MAX as u64) as u32;
        let (from, to) = (step(first - 1), step(last));
        let tracks = self
            .tracks
            .iter()
            .map(|t| Track {
                notes: t
                    .notes
                    .iter()
                    .filter(|n| n.end > from && n.start < to)
                    .map(|n| Note {
                        start: n.start.max(from) - from,
                        end: n.end.min(to) - from,
                        // A note cut at an edge starts or ends on it.
                        nudge: Nudge {
                            on: if n.start < from { 0 } else { n.nudge.on },
                            off: if n.end > to { 0 } else { n.nudge.off },
                        },
                        ..*n
                    })
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
        let meta = Meta::made("t", 500_000, TimeSig { num: 4, den: 4 });
        Clip { meta, tracks: vec![Track { name: "a".into(), channel: 0, program: 0, notes }] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_length_and_select_bars_keep_the_limit() {
        let n = |start: u32| Note::new(60, start, start + 1, 80);
        let clip = Clip::one_track(vec![n(0), n(MAX_BARS * 16 - 1)]);
        assert_eq!(clip.bars(), MAX_BARS);
        assert!(clip.check_length().is_ok());
        // A clip built in code (a long capture) can pass the limit; a selection cannot.
        let long = Clip::one_track(vec![n(0), n(1000 * 16)]);
        assert_eq!(
            long.check_length().unwrap_err(),
            "the clip has 1001 bars: SinTra takes clips of at most 256 bars (training takes the whole clip at every step)"
        );
        let e = long.select_bars(1, 257).unwrap_err();
        assert!(e.starts_with("bars 1:257 are 257 bars: SinTra takes clips of at most 256 bars"), "{e}");
        let tail = long.select_bars(745, 1001).unwrap_err();
        assert!(tail.contains("257 bars"), "{tail}");
        let cut = long.select_bars(1000, 1001).unwrap();
        assert_eq!((cut.bars(), cut.check_length()), (2, Ok(())));
        // A note at the last u32 step does not overflow the selection.
        let edge = Clip::one_track(vec![n(u32::MAX - 1)]);
        assert_eq!(edge.select_bars(edge.bars(), edge.bars()).unwrap().tracks[0].notes.len(), 1);
        // A meter whose bar is too long for the model.
        let mut wide = clip.clone();
        wide.meta.time_sig = TimeSig { num: 32, den: 4 };
        assert!(wide.check_length().unwrap_err().contains("at most 64"));
    }
}
