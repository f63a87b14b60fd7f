//! Keeps a first-stage draw from going on copying a clip bar: once the steps drawn so far
//! match one of the clip's bars in most cells, the tokens that would go on matching it lose
//! weight. A clip whose bars hold one chord (the quartet's accompaniment) otherwise gives
//! near copies at any temperature: every hot candidate holds some clip bar's chord.

use super::moves::strength;
use super::weights::GUARD_KEEP;
use crate::eval::NEAR_COPY;
use crate::pitch_group::Encoded;

/// The clip's bars at the first stage's resolution.
pub struct CopyGuard {
    /// Per clip bar, per track, its tokens at the first stage's resolution.
    bars: Vec<Vec<Vec<u32>>>,
    /// Tracks: a candidate is judged after as many cells as there are tracks.
    tracks: usize,
    /// What a token that would go on copying keeps (1 at and above similarity 1).
    keep: f32,
}

/// How far one candidate has copied each clip bar.
pub struct Copying {
    /// Per clip bar, the cells (track, step) drawn so far equal to it.
    matches: Vec<usize>,
    /// The cells drawn so far.
    cells: usize,
}

impl CopyGuard {
    /// The guard for clip `enc` (`spb` steps a bar) at a stage of `stride` steps a token; it
    /// fades with the similarity setting as the clip's moves do.
    pub fn new(enc: &Encoded, spb: usize, stride: usize, similarity: f32) -> Self {
        let n = enc.steps / spb.max(1);
        let bars = (0..n)
            .map(|b| {
                enc.rolls
                    .iter()
                    .map(|r| r.tokens[b * spb..(b + 1) * spb].iter().step_by(stride).copied().collect())
                    .collect()
            })
            .collect();
        let keep = 1.0 - (1.0 - GUARD_KEEP) * strength(similarity);
        Self { bars, tracks: enc.rolls.len(), keep }
    }

    /// A candidate's start: nothing drawn.
    pub fn start(&self) -> Copying {
        Copying { matches: vec![0; self.bars.len()], cells: 0 }
    }

    /// Weighs down, for track `k` at step `i`, the token of every clip bar the candidate has
    /// copied in most cells so far (a near copy's share, after a cell a track).
    pub fn reweight(&self, copying: &Copying, k: usize, i: usize, probs: &mut [f32]) {
        if self.keep >= 1.0 || copying.cells < self.tracks {
            return;
        }
        for (bar, &m) in self.bars.iter().zip(&copying.matches) {
            if m as f64 >= NEAR_COPY * copying.cells as f64 {
                if let Some(q) = bar.get(k).and_then(|t| t.get(i)).and_then(|&t| probs.get_mut(t as usize)) {
                    *q *= self.keep;
                }
            }
        }
    }

    /// Counts token `t` drawn for track `k` at step `i`.
    pub fn record(&self, copying: &mut Copying, k: usize, i: usize, t: u32) {
        for (bar, m) in self.bars.iter().zip(&mut copying.matches) {
            *m += usize::from(bar.get(k).and_then(|r| r.get(i)) == Some(&t));
        }
        copying.cells += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::{Clip, Note};
    use crate::generate::sampling::renormalise;
    use crate::pitch_group::encode;

    #[test]
    fn a_token_that_goes_on_copying_a_clip_bar_loses_weight() {
        // Two bars of quarters: C D E F, then G A B C.
        let pitches = [60, 62, 64, 65, 67, 69, 71, 72];
        let notes = pitches
            .iter()
            .enumerate()
            .map(|(i, &pitch)| Note::new(pitch, i as u32 * 4, i as u32 * 4 + 4, 80));
        let enc = encode(&Clip::one_track(notes.collect()));
        let tok = |p: u8| enc.dict.get(1 << p, 0).unwrap() as usize;
        let guard = CopyGuard::new(&enc, 16, 4, 0.5);
        let even = |probs: &mut Vec<f32>| {
            probs.fill(0.0);
            [62, 69, 71].iter().for_each(|&p| probs[tok(p)] = 1.0 / 3.0);
        };
        let mut probs = vec![0f32; enc.dict.len()];
        // After C, the first bar's D loses weight; the second bar's A does not.
        let mut copying = guard.start();
        guard.record(&mut copying, 0, 0, tok(60) as u32);
        even(&mut probs);
        guard.reweight(&copying, 0, 1, &mut probs);
        renormalise(&mut probs);
        let sum = 2.0 + GUARD_KEEP;
        assert!((probs[tok(62)] - GUARD_KEEP / sum).abs() < 1e-6);
        assert!((probs[tok(69)] - 1.0 / sum).abs() < 1e-6);
        // After C and A, each bar matches one cell of two: nothing changes.
        guard.record(&mut copying, 0, 1, tok(69) as u32);
        even(&mut probs);
        guard.reweight(&copying, 0, 2, &mut probs);
        assert_eq!(probs[tok(62)], 1.0 / 3.0);
        // At similarity 1, copies are asked for.
        let guard = CopyGuard::new(&enc, 16, 4, 1.0);
        let mut copying = guard.start();
        guard.record(&mut copying, 0, 0, tok(60) as u32);
        even(&mut probs);
        guard.reweight(&copying, 0, 1, &mut probs);
        assert_eq!(probs[tok(62)], 1.0 / 3.0);
    }
}
