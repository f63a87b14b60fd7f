//! The clip's feel for generated notes: what the grid cannot hold (swing, a laid-back backbeat,
//! human spread) learnt as a groove template, like a DAW's groove pool: per track and position
//! in the bar, the mean and spread of the clip's nudges (note-on by where notes start, note-off
//! by where they end). A generated hat on the "e" of 2 is as late as the clip's were, give or
//! take their spread; a straight clip has no nudges, so its generated notes get none.

use std::ops::Range;

use crate::clip::{Clip, Note, Nudge};
use crate::grid::Spread;

/// Nudges of the clip's notes, per track.
#[derive(Clone, Debug)]
pub struct Feel {
    /// Steps per bar of the clip (positions repeat every bar).
    steps_per_bar: usize,
    /// Steps per quarter note: where a position without notes borrows its feel from.
    steps_per_quarter: usize,
    /// The largest nudge a step holds (half a step): generated nudges stay within it.
    half_step: f32,
    /// One template per clip track.
    tracks: Vec<TrackFeel>,
}

/// One track's template.
#[derive(Clone, Debug, Default)]
struct TrackFeel {
    /// Note-on nudges per position in the bar where notes start.
    on: Vec<Spread>,
    /// Note-off nudges per position in the bar where notes end.
    off: Vec<Spread>,
    /// Note-on nudges per position in the quarter: for positions the clip never struck.
    on_beat: Vec<Spread>,
    /// Note-off nudges per position in the quarter.
    off_beat: Vec<Spread>,
}

impl Feel {
    pub fn new(clip: &Clip) -> Self {
        let spb = clip.meta.steps_per_bar().max(1) as usize;
        let spq = clip.meta.grid.steps_per_quarter() as usize;
        let tracks = clip
            .tracks
            .iter()
            .map(|t| {
                let mut f = TrackFeel {
                    on: vec![Spread::default(); spb],
                    off: vec![Spread::default(); spb],
                    on_beat: vec![Spread::default(); spq],
                    off_beat: vec![Spread::default(); spq],
                };
                for n in &t.notes {
                    let (s, e) = (n.start as usize, n.end as usize);
                    f.on[s % spb].add(n.nudge.on);
                    f.on_beat[s % spq].add(n.nudge.on);
                    f.off[e % spb].add(n.nudge.off);
                    f.off_beat[e % spq].add(n.nudge.off);
                }
                f
            })
            .collect();
        let half_step = clip.meta.grid.ticks_per_step() as f32 / 2.0;
        Self { steps_per_bar: spb, steps_per_quarter: spq, half_step, tracks }
    }

    /// The nudge of a generated note of track `track` (steps from a bar line): the clip's mean
    /// at its positions plus a draw from their spread, the same for the same note every time.
    pub fn nudge(&self, track: usize, note: &Note) -> Nudge {
        let Some(t) = self.tracks.get(track) else { return Nudge::NONE };
        let at = |bar: &[Spread], beat: &[Spread], step: u32| {
            let step = step as usize;
            bar[step % self.steps_per_bar].get().or(beat[step % self.steps_per_quarter].get())
        };
        let key = (track as u64) << 40 | (note.start as u64) << 8 | note.pitch as u64;
        let draw = |spread: Option<(f32, f32)>, salt: u64| {
            let (mean, sd) = spread.unwrap_or((0.0, 0.0));
            let x = mean + sd * normal(key ^ salt);
            x.clamp(-self.half_step, self.half_step).round() as i16
        };
        Nudge {
            on: draw(at(&t.on, &t.on_beat, note.start), 0),
            off: draw(at(&t.off, &t.off_beat, note.end), 0x5eed),
        }
    }
}

/// Scales the nudges of `clip`'s notes that start within `steps` by `amount` (the Feel
/// control: 0 is straight, 1 the clip's feel).
pub fn scale(clip: &mut Clip, amount: f32, steps: Range<u32>) {
    let amount = amount.clamp(0.0, 1.0);
    let notes = clip.tracks.iter_mut().flat_map(|t| t.notes.iter_mut());
    for n in notes.filter(|n| steps.contains(&n.start)) {
        n.nudge = n.nudge.scaled(amount);
    }
}

/// A standard normal draw (clamped to 2.5) from a key, by Box-Muller on two hashed uniforms.
fn normal(key: u64) -> f32 {
    let u1 = ((splitmix(key) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = ((splitmix(key ^ 0x9e37_79b9) >> 11) as f64) / (1u64 << 53) as f64;
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    z.clamp(-2.5, 2.5) as f32
}

/// SplitMix64's finaliser: a well-spread hash of a key.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two bars of 16th hats (42), the odd 16ths `late` ticks late, `human` more in the first
    /// bar and less in the second, and a straight kick (36) on the beats.
    fn groove(late: i16, human: i16) -> Clip {
        let mut notes = Vec::new();
        for s in 0..32u32 {
            let mut hat = Note::new(42, s, s + 1, 70);
            if s % 2 == 1 {
                let h = if s < 16 { human } else { -human };
                hat.nudge = Nudge { on: late + h, off: 0 };
            }
            notes.push(hat);
            if s % 4 == 0 {
                notes.push(Note::new(36, s, s + 1, 100));
            }
        }
        Clip::one_track(notes)
    }

    #[test]
    fn swung_hats_come_back_swung() {
        let feel = Feel::new(&groove(29, 0));
        for s in 64..96u32 {
            let got = feel.nudge(0, &Note::new(42, s, s + 1, 70));
            assert_eq!(got.on, if s % 2 == 1 { 29 } else { 0 }, "step {s}");
            assert_eq!(got.off, 0);
        }
    }

    #[test]
    fn human_spread_is_kept_and_repeatable() {
        let feel = Feel::new(&groove(29, 8));
        let ons: Vec<f32> = (0..400u32)
            .map(|b| feel.nudge(0, &Note::new(42, b * 16 + 5, b * 16 + 6, 70)).on as f32)
            .collect();
        let mean = ons.iter().sum::<f32>() / ons.len() as f32;
        let sd = (ons.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / ons.len() as f32).sqrt();
        assert!((mean - 29.0).abs() < 1.5, "mean {mean}");
        assert!((sd - 8.0).abs() < 1.5, "spread {sd}");
        let note = Note::new(42, 21, 22, 70);
        assert_eq!(feel.nudge(0, &note), feel.nudge(0, &note), "the same note, the same nudge");
    }

    #[test]
    fn a_straight_clip_gets_no_offsets() {
        let feel = Feel::new(&groove(0, 0));
        assert!((0..64u32).all(|s| feel.nudge(0, &Note::new(42, s, s + 2, 70)).is_none()));
        assert!(feel.nudge(3, &Note::new(42, 1, 2, 70)).is_none(), "no such track");
    }

    #[test]
    fn feel_scales_to_straight() {
        let mut clip = groove(29, 0);
        scale(&mut clip, 0.5, 16..u32::MAX);
        let on =
            |s: u32| clip.tracks[0].notes.iter().find(|n| n.pitch == 42 && n.start == s).unwrap().nudge.on;
        assert_eq!((on(1), on(17)), (29, 15), "only from step 16 on, halved (rounded)");
        scale(&mut clip, 0.0, 0..u32::MAX);
        assert!(clip.tracks[0].notes.iter().all(|n| n.nudge.is_none()));
    }
}
