//! The clip's rhythm grid at the finest stage: where in the bar each track starts notes. A
//! finer stage meeting a sampled coarse bar unlike the clip's tends to break held notes at
//! places the clip never strikes (one-16th blips on odd 16ths in a chorale or a reel); here a
//! track starts or re-strikes notes only at positions of the bar where the clip's track does.

use crate::pitch_group::{Dictionary, Encoded};

/// Per track, the positions in the bar where the clip starts notes, and the dictionary to tell
/// whether a token starts one.
pub struct Rhythm {
    /// `[track][position in bar]`: whether the clip's track starts a note there in some bar.
    onsets: Vec<Vec<bool>>,
    /// The model's dictionary.
    dict: Dictionary,
}

impl Rhythm {
    /// The grid of the encoded clip, `spb` steps a bar.
    pub fn new(enc: &Encoded, spb: usize) -> Self {
        let dict = enc.dict.clone();
        let onsets = enc
            .rolls
            .iter()
            .map(|roll| {
                let n = spb.max(1);
                let mut at = vec![false; n];
                let mut prev = 0;
                for (s, &tok) in roll.tokens.iter().enumerate() {
                    at[s % n] |= dict.starts(prev, tok) != 0;
                    prev = dict.group(tok);
                }
                at
            })
            .collect();
        Self { onsets, dict }
    }

    /// At a position where track `k` of the clip starts no note, takes the probability of
    /// every token that would start one after `prev` (notes may go on or end, not begin);
    /// leaves `probs` as they are where that would leave nothing.
    pub fn restrict(&self, k: usize, position: usize, prev: u32, probs: &mut [f32]) {
        let Some(&false) = self.onsets.get(k).and_then(|t| t.get(position)) else { return };
        let before = self.dict.group(prev);
        let starts = |tok: usize| self.dict.starts(before, tok as u32) != 0;
        // Tokens outside the track's vocabulary (probability 0) are skipped.
        let kept: f32 =
            probs.iter().enumerate().filter(|&(t, &q)| q > 0.0 && !starts(t)).map(|(_, &q)| q).sum();
        if kept <= 0.0 {
            return;
        }
        for (t, q) in probs.iter_mut().enumerate().filter(|(_, q)| **q > 0.0) {
            if starts(t) {
                *q = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::{Clip, Note};
    use crate::pitch_group::{encode, Group};

    #[test]
    fn a_track_starts_notes_only_where_the_clip_does() {
        // Quarter notes on every beat: positions 0, 4, 8, 12 only.
        let notes = (0..4).map(|b| Note::new(60 + b as u8, b * 4, b * 4 + 4, 80)).collect();
        let enc = encode(&Clip::one_track(notes));
        let r = Rhythm::new(&enc, 16);
        let tok = |g: Group| enc.dict.get(g, 0).unwrap();
        let (c, d) = (tok(1 << 60), tok(1 << 61));
        let uniform = || vec![1.0 / enc.dict.len() as f32; enc.dict.len()];
        // Off the beat, after C: only C going on or a rest may follow.
        let mut p = uniform();
        r.restrict(0, 5, c, &mut p);
        assert_eq!(p[d as usize], 0.0);
        assert!(p[c as usize] > 0.0 && p[0] > 0.0);
        assert_eq!(p[c as usize], uniform()[c as usize]);
        // On a beat anything may.
        let mut p = uniform();
        r.restrict(0, 4, c, &mut p);
        assert_eq!(p, uniform());
        // Where only onsets are left, nothing is taken.
        let mut p = vec![0.0; enc.dict.len()];
        p[d as usize] = 1.0;
        r.restrict(0, 5, c, &mut p);
        assert_eq!(p[d as usize], 1.0);
    }
}
