//! A clip's timing in words, as `sintra inspect` reports it: the grid it is learnt on, its swing,
//! each track's push or lay-back and the human spread around them, and how many notes sit off
//! the grid (kept as nudges).

use std::collections::HashMap;

use serde::Serialize;

use crate::clip::{Clip, Grid, TICKS_PER_QUARTER};
use crate::grid::{Spread, ON_GRID_TICKS};

/// A mean delay of the swung notes below this (ticks at 480, 52.5%) is not called swing.
const SWING_TICKS: f64 = 6.0;
/// A track's mean offset below this many milliseconds is not called pushed or laid back, and
/// a spread below it not human timing.
const FEEL_MS: f64 = 3.0;

/// The clip's timing.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// The grid's name (`16ths`, `triplets`, `mixed`).
    pub grid: &'static str,
    /// Swing of the clip's offbeats in percent (50: straight; 62: an MPC's 62%), and of
    /// which notes (`16ths` or `8ths`); none on triplet grids, which hold their shuffle.
    pub swing: Option<(f64, &'static str)>,
    /// Standard deviation of the note-ons around their track's mean at their position in the
    /// bar, in milliseconds: human timing.
    pub human_ms: f64,
    /// Notes whose note-on is more than a 48th of a beat off the grid.
    pub off_grid: usize,
    /// All notes.
    pub notes: usize,
    /// Per track: the mean note-on offset of its notes on the beat (of all its notes if none
    /// is), in milliseconds (positive: laid back). Swing moves offbeats only, so it is apart.
    pub track_offsets_ms: Vec<f64>,
    /// All of it in words, e.g. "swung 16ths, 62%; human timing ±9 ms".
    pub words: String,
}

impl Timing {
    pub fn of(clip: &Clip) -> Timing {
        let grid = clip.meta.grid;
        let ms_per_tick = 60_000.0 / (clip.meta.tempo_bpm() * TICKS_PER_QUARTER as f64);
        let notes: Vec<_> =
            clip.tracks.iter().enumerate().flat_map(|(k, t)| t.notes.iter().map(move |n| (k, n))).collect();
        let spq = grid.steps_per_quarter();
        let spb = clip.meta.steps_per_bar();
        // Swing: the offbeat 16ths (or, without them, 8ths) of a straight grid, late on average.
        let mean_at = |keep: &dyn Fn(u32) -> bool| {
            let ons: Vec<f64> =
                notes.iter().filter(|(_, n)| keep(n.start % spq)).map(|(_, n)| n.nudge.on as f64).collect();
            (ons.len() * 10 >= notes.len()).then(|| ons.iter().sum::<f64>() / ons.len() as f64)
        };
        let swing = match grid {
            Grid::Sixteenths => match mean_at(&|p| p % 2 == 1) {
                Some(d) => Some((d, 120.0, "16ths")),
                None => mean_at(&|p| p == 2).map(|d| (d, 240.0, "8ths")),
            },
            _ => None,
        }
        .filter(|(d, _, _)| *d >= SWING_TICKS)
        .map(|(d, unit, what)| (((unit + d) / (2.0 * unit) * 100.0).round(), what));
        // Human timing: the spread around each track's mean at each position in the bar.
        let mut by_position: HashMap<(usize, u32), Spread> = HashMap::new();
        for (k, n) in &notes {
            by_position.entry((*k, n.start % spb)).or_default().add(n.nudge.on);
        }
        let squares: f64 = by_position
            .values()
            .filter_map(|s| s.get().map(|(_, sd)| s.n as f64 * (sd as f64).powi(2)))
            .sum();
        let human_ms = (squares / notes.len().max(1) as f64).max(0.0).sqrt() * ms_per_tick;
        let track_offsets_ms = clip
            .tracks
            .iter()
            .map(|t| {
                let on_beat: Vec<f64> =
                    t.notes.iter().filter(|n| n.start % spq == 0).map(|n| n.nudge.on as f64).collect();
                let ons = if on_beat.is_empty() {
                    t.notes.iter().map(|n| n.nudge.on as f64).collect()
                } else {
                    on_beat
                };
                ons.iter().sum::<f64>() / ons.len().max(1) as f64 * ms_per_tick
            })
            .collect();
        let off_grid = notes.iter().filter(|(_, n)| n.nudge.on.unsigned_abs() as u32 > ON_GRID_TICKS).count();
        let mut t = Timing {
            grid: grid.name(),
            swing,
            human_ms,
            off_grid,
            notes: notes.len(),
            track_offsets_ms,
            words: String::new(),
        };
        t.words = t.describe(clip);
        t
    }

    fn describe(&self, clip: &Clip) -> String {
        let grid = clip.meta.grid;
        let spq = grid.steps_per_quarter();
        let all = || clip.tracks.iter().flat_map(|t| &t.notes);
        let mut parts = vec![match (grid, self.swing) {
            (Grid::Sixteenths, Some((pct, what))) => format!("swung {what}, {pct:.0}%"),
            (Grid::Sixteenths, None) => "straight 16ths".to_string(),
            // Triplet 8ths fall on every second step of the triplet grid.
            (Grid::Triplets, _) if all().all(|n| n.start % 2 == 0) => "triplet 8ths".to_string(),
            (Grid::Triplets, _) if all().any(|n| (n.start % spq) % 2 == 1) => "16th triplets".to_string(),
            (Grid::Triplets, _) => "triplets".to_string(),
            (Grid::Mixed, _) => "16ths and triplets".to_string(),
        }];
        if self.human_ms >= FEEL_MS {
            parts.push(format!("human timing ±{:.0} ms", self.human_ms));
        }
        for (t, ms) in clip.tracks.iter().zip(&self.track_offsets_ms) {
            if ms.abs() >= FEEL_MS {
                let how = if *ms > 0.0 { "laid back" } else { "pushed" };
                parts.push(format!("{} {how} {:.0} ms", t.name, ms.abs()));
            }
        }
        parts.push(format!(
            "{} of {} notes more than 1/48 beat off the {} grid (kept as offsets)",
            self.off_grid,
            self.notes,
            grid.name()
        ));
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::{Note, Nudge};

    fn hats(on: &dyn Fn(u32) -> i16) -> Clip {
        let notes = (0..32u32)
            .map(|s| {
                let mut n = Note::new(42, s, s + 1, 70);
                n.nudge = Nudge { on: on(s), off: 0 };
                n
            })
            .collect();
        Clip::one_track(notes)
    }

    #[test]
    fn swing_and_human_timing_in_words() {
        // 62%: the second 16th of each pair 0.62 * 240 = 149 ticks after the first, 29 late.
        let t = Timing::of(&hats(&|s| if s % 2 == 1 { 29 } else { 0 }));
        assert_eq!(t.swing, Some((62.0, "16ths")));
        assert!(t.words.starts_with("swung 16ths, 62%"), "{}", t.words);
        assert_eq!(t.off_grid, 16);
        assert!(t.human_ms < 0.1);
        // Alternately 8 ticks early and late at each position: ±8 ticks, 8.3 ms at 120 BPM.
        let t = Timing::of(&hats(&|s| if s / 16 == 0 { 8 } else { -8 }));
        assert!((t.human_ms - 8.33).abs() < 0.1, "{}", t.human_ms);
        assert_eq!(t.swing, None);
        assert!(t.words.contains("human timing ±8 ms"), "{}", t.words);
    }

    #[test]
    fn a_straight_clip_is_straight() {
        let t = Timing::of(&hats(&|_| 0));
        assert_eq!(
            t.words,
            "straight 16ths; 0 of 32 notes more than 1/48 beat off the 16ths grid (kept as offsets)"
        );
    }
}
