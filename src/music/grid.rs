//! The grid a clip's notes sit on, chosen from where its onsets fall in the beat, and each
//! note's nudge: how far its note-on and note-off sit off their steps (swing, a laid-back
//! snare, human timing). The model learns steps; the nudges keep every note where it was.

use serde::{Deserialize, Serialize};

/// Ticks per quarter note of nudges, written files and the grid's arithmetic: 480 holds 16ths
/// (120), 16th triplets (80) and their common grid (40) exactly.
pub const TICKS_PER_QUARTER: u32 = 480;

/// Steps of a clip's grid, and so what the pyramid's finest stage sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grid {
    /// 4 steps a quarter: straight (or swung) 16ths. Stages: quarter, 8th, 16th.
    #[default]
    Sixteenths,
    /// 6 steps a quarter: triplet 8ths and 16ths (a shuffle). Stages: quarter, 8th triplet,
    /// 16th triplet.
    Triplets,
    /// 12 steps a quarter (48 a 4/4 bar): straight 16ths and triplets together (trap hats
    /// rolling in triplets). Stages: quarter, 16th, 48th of a bar.
    Mixed,
}

impl Grid {
    /// Every grid, coarsest first.
    pub const ALL: [Grid; 3] = [Grid::Sixteenths, Grid::Triplets, Grid::Mixed];

    /// Grid steps per quarter note.
    pub fn steps_per_quarter(self) -> u32 {
        match self {
            Grid::Sixteenths => 4,
            Grid::Triplets => 6,
            Grid::Mixed => 12,
        }
    }

    /// Ticks (at [`TICKS_PER_QUARTER`]) per step.
    pub fn ticks_per_step(self) -> u32 {
        TICKS_PER_QUARTER / self.steps_per_quarter()
    }

    /// Steps per token of the pyramid's three stages, coarse to fine: the coarsest is a
    /// quarter note, the finest one step.
    pub fn strides(self) -> [usize; 3] {
        match self {
            Grid::Sixteenths => [4, 2, 1],
            Grid::Triplets => [6, 2, 1],
            Grid::Mixed => [12, 3, 1],
        }
    }

    /// The name the CLI takes and reports.
    pub fn name(self) -> &'static str {
        match self {
            Grid::Sixteenths => "16ths",
            Grid::Triplets => "triplets",
            Grid::Mixed => "mixed",
        }
    }

    /// The grid named `name` (as [`Grid::name`] gives it).
    pub fn parse(name: &str) -> Result<Grid, String> {
        Grid::ALL
            .into_iter()
            .find(|g| g.name() == name)
            .ok_or_else(|| format!("unknown grid '{name}': give auto, 16ths, triplets or mixed"))
    }

    /// Whether `sixteenths` 16th notes (a bar or a pickup) are a whole number of steps.
    pub fn holds(self, sixteenths: u32) -> bool {
        (sixteenths * self.steps_per_quarter()).is_multiple_of(4)
    }

    /// The step nearest `tick` and the nudge from it to `tick`.
    pub fn place(self, tick: u64) -> (u64, i32) {
        let tps = self.ticks_per_step() as u64;
        let step = (tick + tps / 2) / tps;
        (step, (tick as i64 - (step * tps) as i64) as i32)
    }

    /// One voice's notes (key, note-on tick, note-off tick, velocity; ticks at 480 a quarter)
    /// on the grid: (key, start step, end step, velocity, nudge), steps in u64 (a damaged file
    /// can put a note far away), each note at least a step long. A note whose key already
    /// starts a note at its step moves to the next free step, nudged back to where it was:
    /// two notes of a key in one step would be one, and no note is ever merged or dropped.
    pub fn place_voice(self, notes: &[(u8, u64, u64, u8)]) -> Vec<(u8, u64, u64, u8, Nudge)> {
        let mut order: Vec<usize> = (0..notes.len()).collect();
        order.sort_by_key(|&i| (notes[i].0, notes[i].1));
        let mut last: [Option<u64>; 128] = [None; 128];
        let nudge = |tick: u64, step: u64| {
            let x = tick as i64 - (step * self.ticks_per_step() as u64) as i64;
            x.clamp(i16::MIN as i64, i16::MAX as i64) as i16
        };
        let mut placed = vec![(0, 0, 0, 0, Nudge::NONE); notes.len()];
        for i in order {
            let (key, on, off, velocity) = notes[i];
            let taken = &mut last[(key & 127) as usize];
            let start = self.place(on).0.max(taken.map_or(0, |p| p + 1));
            let end = self.place(off).0.max(start + 1);
            *taken = Some(start);
            placed[i] = (key, start, end, velocity, Nudge { on: nudge(on, start), off: nudge(off, end) });
        }
        placed
    }

    /// Notes of `voices` (each as [`Grid::place_voice`] takes them) that would share a step
    /// with an earlier note of their key and voice on this grid: what a finer grid keeps apart.
    pub fn crowded(self, voices: &[Vec<(u8, u64, u64, u8)>]) -> usize {
        voices
            .iter()
            .map(|notes| {
                let mut steps: Vec<(u8, u64)> = notes.iter().map(|n| (n.0, self.place(n.1).0)).collect();
                steps.sort_unstable();
                steps.windows(2).filter(|w| w[0] == w[1]).count()
            })
            .sum()
    }

    /// Quarter notes from step 0 to `step`.
    pub fn beats(self, step: u32) -> f64 {
        step as f64 / self.steps_per_quarter() as f64
    }

    /// The tick of `step` moved by `nudge` (never before tick 0).
    pub fn tick(self, step: u32, nudge: i16) -> u64 {
        (step as i64 * self.ticks_per_step() as i64 + nudge as i64).max(0) as u64
    }
}

/// How far a note's note-on and note-off sit off its grid steps, in ticks at
/// [`TICKS_PER_QUARTER`] (positive: later).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nudge {
    /// Note-on, from the note's start step.
    pub on: i16,
    /// Note-off, from the note's end step.
    pub off: i16,
}

impl Nudge {
    /// Exactly on the grid.
    pub const NONE: Nudge = Nudge { on: 0, off: 0 };

    /// Whether the note sits exactly on the grid (serde skips such nudges).
    pub fn is_none(&self) -> bool {
        *self == Nudge::NONE
    }

    /// The note-on and note-off nudges in quarter notes.
    pub fn beats(self) -> (f64, f64) {
        let q = TICKS_PER_QUARTER as f64;
        (self.on as f64 / q, self.off as f64 / q)
    }

    /// The nudge times `amount` (rounded): 0 straightens a note, 1 keeps it.
    pub fn scaled(self, amount: f32) -> Nudge {
        let scale = |x: i16| (x as f32 * amount).round() as i16;
        Nudge { on: scale(self.on), off: scale(self.off) }
    }
}

/// Running mean and spread of nudges (ticks at 480 a quarter): the feel template's and
/// `inspect`'s statistic.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spread {
    /// Nudges counted.
    pub n: u32,
    /// Their sum.
    sum: f64,
    /// The sum of their squares.
    squares: f64,
}

impl Spread {
    pub fn add(&mut self, x: i16) {
        self.n += 1;
        self.sum += x as f64;
        self.squares += (x as f64).powi(2);
    }

    /// Mean and standard deviation, if any nudge was counted.
    pub fn get(self) -> Option<(f32, f32)> {
        (self.n > 0).then(|| {
            let mean = self.sum / self.n as f64;
            let var = (self.squares / self.n as f64 - mean * mean).max(0.0);
            (mean as f32, var.sqrt() as f32)
        })
    }
}

/// An onset within this many ticks (a 48th of a beat) of a grid position sits on it; `inspect`
/// counts the notes further off than this.
pub const ON_GRID_TICKS: u32 = 10;

/// The share of onsets that must sit on triplet-only positions (1/6 and 2/3 of a beat, where
/// neither swing nor human timing puts a straight 16th) before the clip is learnt on a triplet
/// grid; the same share on straight 16th positions beside them makes it the mixed grid. One
/// roll or one shuffle fill in a bar of 16ths (the trap beat: 6.8%) is enough; noise is not
/// (the swung neo-soul groove: 0%; every straight piece: 0%; the blues: 41.5%).
const TRIPLET_SHARE: f64 = 0.05;

/// The grid that fits onsets given in ticks (at [`TICKS_PER_QUARTER`], from a beat line) among
/// `allowed` (grids that hold the clip's bars and pickup, in [`Grid::ALL`] order).
///
/// Swing delays the even 16ths towards the triplet's third (62% puts the "e" 11 ticks from it),
/// so only positions swing never reaches count as triplets: 1/6 and 2/3 of a beat.
pub fn choose(onsets: &[u64], allowed: &[Grid]) -> Grid {
    let near = |phase: u64, at: u64| phase.abs_diff(at) <= ON_GRID_TICKS as u64;
    let share = |at: &[u64]| {
        let n = onsets.iter().filter(|&&t| at.iter().any(|&a| near(t % TICKS_PER_QUARTER as u64, a))).count();
        n as f64 / onsets.len().max(1) as f64
    };
    let triplet = share(&[80, 320]) >= TRIPLET_SHARE;
    let straight = share(&[120, 360]) >= TRIPLET_SHARE;
    let wanted = match (triplet, straight) {
        (false, _) => Grid::Sixteenths,
        (true, false) => Grid::Triplets,
        (true, true) => Grid::Mixed,
    };
    // The finest allowed grid that holds what was wanted: mixed holds triplets too.
    let fallback = [wanted, Grid::Mixed, Grid::Triplets, Grid::Sixteenths];
    fallback.into_iter().find(|g| allowed.contains(g)).unwrap_or(Grid::Sixteenths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_and_tick_round_trip() {
        for grid in Grid::ALL {
            for tick in [0u64, 1, 39, 41, 119, 121, 479, 961, 10_007] {
                let (step, nudge) = grid.place(tick);
                assert!(nudge.unsigned_abs() <= grid.ticks_per_step() / 2, "{grid:?} {tick}");
                assert_eq!(grid.tick(step as u32, nudge as i16), tick);
            }
        }
        // Pushed before the clip's start: played at its start.
        assert_eq!(Grid::Sixteenths.tick(0, -30), 0);
    }

    #[test]
    fn choice_from_onsets() {
        let all = Grid::ALL;
        let beats = |phases: &[u64]| -> Vec<u64> {
            (0..16u64).flat_map(|b| phases.iter().map(move |p| b * 480 + p)).collect()
        };
        assert_eq!(choose(&beats(&[0, 120, 240, 360]), &all), Grid::Sixteenths);
        // Swung 16ths at 62% (the "e" and "a" 29 ticks late): still 16ths.
        assert_eq!(choose(&beats(&[0, 149, 240, 389]), &all), Grid::Sixteenths);
        // A shuffle: long-short triplet 8ths.
        assert_eq!(choose(&beats(&[0, 320]), &all), Grid::Triplets);
        // 16ths with a triplet roll: mixed; where mixed does not fit, triplets.
        let mut trap = beats(&[0, 120, 240, 360]);
        trap.extend((20..24).flat_map(|b| [80, 160, 320, 400].map(|p| 480 * b + p)));
        assert_eq!(choose(&trap, &all), Grid::Mixed);
        assert_eq!(choose(&trap, &[Grid::Sixteenths, Grid::Triplets]), Grid::Triplets);
        assert_eq!(choose(&beats(&[0, 320]), &[Grid::Sixteenths]), Grid::Sixteenths);
        assert!(!Grid::Triplets.holds(3) && Grid::Triplets.holds(2) && Grid::Mixed.holds(3));
        assert_eq!(Grid::parse("triplets"), Ok(Grid::Triplets));
        assert!(Grid::parse("swing").unwrap_err().contains("unknown grid 'swing'"));
    }
}
