//! How the clip's tracks move from one step to the next, at each position of the bar and each
//! stage's resolution: hold what sounds, re-strike it, move to a group that keeps one of its
//! pitches, or change it. Bold candidates (drawn hot for variety) change their pitch group at
//! nearly every step, so their notes came out short and hardly ever repeated (docs/model.md,
//! "Why each rule"). Sampling keeps the model's choice within each kind of move and shares the kinds between
//! the model's odds and the clip's. (A stage draws all of a bar's positions from one pass, so
//! the model does not see the pitch just drawn: it stays only where its guess for the next
//! step happens to be that pitch. Its odds of staying are low off its clip: docs/log.md)
//!
//! A re-strike is a token of its own, (group, pitches struck again), and the model has one
//! only for what the clip re-strikes: a chorale voice repeats some of its pitches, never the
//! others; a piano's chords change over a held common tone or strike it again. And drawn hot,
//! the model holds where its clip strikes again. So `articulate` decides, at each 16th where the kept bar sounds on pitches
//! of the step before, whether they are struck again, with the clip's track's share there.

use rand::Rng as _;

use super::weights::{CLIP_WEIGHT, FIRM_WEIGHT, MOVE_PRIOR};
use crate::model::ops::Rng;
use crate::pitch_group::{Dictionary, Encoded};

/// The kinds of move, in the order of the rates. A move keeps a pitch of the group before in
/// a new group (the prelude's left hand, C+E back to C): counted with the changes, the clip's
/// rate of going on from its bass was lost. A track of single pitches never moves.
const HOLD: usize = 0;
const RESTRIKE: usize = 1;
const MOVE: usize = 2;
const CHANGE: usize = 3;
/// How many kinds.
const KINDS: usize = 4;

/// Per stage, track and position in the bar, how often the clip holds, re-strikes, moves or
/// changes.
pub struct Moves {
    /// `[stage][track][position]`: the clip's share of hold, re-strike, move and change.
    rates: Vec<Vec<Vec<[f32; KINDS]>>>,
    /// `[track][16th of the bar]`: of the clip's steps there sounding on pitches of the step
    /// before, the share striking them again.
    restrikes: Vec<Vec<f32>>,
    /// The model's dictionary.
    dict: Dictionary,
    /// How much of the clip's moves to apply, 0..1: all of them up to similarity 0.5, none at
    /// 1, where the model replays its clip as it learned it.
    strength: f32,
}

impl Moves {
    /// The moves of the encoded clip (`spb` 16ths a bar) at each stage's `strides`, applied
    /// as the `similarity` setting asks.
    pub fn new(enc: &Encoded, spb: usize, strides: &[usize], similarity: f32) -> Self {
        let dict = enc.dict.clone();
        let rates = strides
            .iter()
            .map(|&stride| {
                let n = (spb / stride).max(1);
                enc.rolls
                    .iter()
                    .map(|roll| {
                        let mut counts = vec![[MOVE_PRIOR; KINDS]; n];
                        let steps: Vec<u32> = roll.tokens.iter().step_by(stride).copied().collect();
                        for (s, pair) in steps.windows(2).enumerate() {
                            counts[(s + 1) % n][kind(&dict, pair[0], pair[1])] += 1.0;
                        }
                        counts
                            .into_iter()
                            .map(|c| {
                                let sum: f32 = c.iter().sum();
                                c.map(|x| x / sum)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let restrikes = enc
            .rolls
            .iter()
            .map(|roll| {
                let n = spb.max(1);
                let (mut struck, mut held) = (vec![0f32; n], vec![0f32; n]);
                for (s, pair) in roll.tokens.windows(2).enumerate() {
                    let common = dict.group(pair[0]) & dict.group(pair[1]);
                    if common != 0 {
                        let to = if dict.restruck(pair[1]) & common != 0 { &mut struck } else { &mut held };
                        to[(s + 1) % n] += 1.0;
                    }
                }
                struck.iter().zip(&held).map(|(&s, &h)| if s > 0.0 { s / (s + h) } else { 0.0 }).collect()
            })
            .collect();
        Self { rates, restrikes, dict, strength: strength(similarity) }
    }

    /// The kept `bar` (model tokens, per track at 16ths, after the bar `before`) articulated
    /// as the clip's track is at each 16th: where pitches sound on from the step before,
    /// they are struck again with the clip's share there, else held (at `strength`; the
    /// model's own choice otherwise). Tokens of `out` (`ModelMeta::output_dictionary`).
    pub fn articulate(
        &self,
        bar: &[Vec<u32>],
        before: &[Vec<u32>],
        out: &Dictionary,
        rng: &mut Rng,
    ) -> Vec<Vec<u32>> {
        bar.iter()
            .zip(before)
            .zip(&self.restrikes)
            .map(|((track, before), shares)| {
                let mut prev = before.last().copied().unwrap_or(0);
                track
                    .iter()
                    .zip(shares)
                    .map(|(&tok, &share)| {
                        let (g, again) = (self.dict.group(tok), self.dict.restruck(tok));
                        let common = g & self.dict.group(prev);
                        prev = tok;
                        if common == 0 || rng.random::<f32>() >= self.strength {
                            return tok;
                        }
                        let again =
                            if rng.random::<f32>() < share { again | common } else { again & !common };
                        out.get(g, again).unwrap_or(tok)
                    })
                    .collect()
            })
            .collect()
    }

    /// Reweights `probs` of candidate `c`'s track `k` at `position` of a stage's bar after
    /// token `prev`: each kind of move gets the weighted geometric mean of its mass under
    /// `probs` and the clip's rate there (its share of the kinds `probs` allows; a re-strike
    /// the model has no token for counts as a hold), tokens within a kind keep their
    /// proportions. The kinds' shares sum to 1, whatever scale `probs` came in.
    pub fn reweight(&self, stage: usize, c: usize, k: usize, position: usize, prev: u32, probs: &mut [f32]) {
        // Every other candidate of the first stage leans harder on the clip's moves: the
        // choice keeps them where they stay clear of near copies.
        let weight =
            if stage == 0 && c.is_multiple_of(2) { FIRM_WEIGHT } else { CLIP_WEIGHT } * self.strength;
        if weight <= 0.0 {
            return;
        }
        let Some(rate) = self.rates.get(stage).and_then(|t| t.get(k)).and_then(|p| p.get(position)) else {
            return;
        };
        // Most tokens are outside the track's vocabulary (probability 0): skipped.
        let mut mass = [0f32; KINDS];
        for (t, &q) in probs.iter().enumerate().filter(|&(_, &q)| q > 0.0) {
            mass[kind(&self.dict, prev, t as u32)] += q;
        }
        // Where the model cannot strike again what sounds (or a rest), the clip's re-strikes
        // count as keeping the group (`articulate` strikes it again): shared over hold and
        // change alone, the clip's voices moved more than they do.
        let rate = if mass[RESTRIKE] <= 0.0 {
            [rate[HOLD] + rate[RESTRIKE], 0.0, rate[MOVE], rate[CHANGE]]
        } else {
            *rate
        };
        let mut target = [0f32; KINDS];
        for c in 0..KINDS {
            if mass[c] > 0.0 {
                target[c] = mass[c].powf(1.0 - weight) * rate[c].powf(weight);
            }
        }
        let sum: f32 = target.iter().sum();
        if sum <= 0.0 {
            return;
        }
        for (t, q) in probs.iter_mut().enumerate().filter(|(_, q)| **q > 0.0) {
            let c = kind(&self.dict, prev, t as u32);
            *q *= target[c] / sum / mass[c];
        }
    }
}

/// How much of the clip's moves a `similarity` setting applies, 0..1: all of them up to 0.5,
/// fading to none at 1, where the model replays its clip as it learned it.
pub fn strength(similarity: f32) -> f32 {
    (2.0 * (1.0 - similarity.clamp(0.0, 1.0))).min(1.0)
}

/// The kind of move from token `prev` to `token`.
fn kind(dict: &Dictionary, prev: u32, token: u32) -> usize {
    if dict.group(token) != dict.group(prev) {
        if dict.group(token) & dict.group(prev) != 0 {
            MOVE
        } else {
            CHANGE
        }
    } else if dict.restruck(token) != 0 {
        RESTRIKE
    } else {
        HOLD
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::{Clip, Note};
    use crate::pitch_group::{decode, encode, Group};
    use rand::SeedableRng;

    fn note(pitch: u8, start: u32, end: u32) -> Note {
        Note::new(pitch, start, end, 80)
    }

    const C: Group = 1 << 60;
    const D: Group = 1 << 62;
    const E: Group = 1 << 64;
    const G: Group = 1 << 67;

    #[test]
    fn the_clips_moves_at_a_position_shape_the_draw() {
        // Four Cs struck on every beat, two bars: at the second beat the clip always re-strikes.
        let notes = (0..8).map(|b| note(60, b * 4, b * 4 + 4)).collect();
        let enc = encode(&Clip::one_track(notes));
        let (c, again) = (enc.dict.get(C, 0).unwrap() as usize, enc.dict.get(C, C).unwrap() as usize);
        let uniform = vec![1.0 / enc.dict.len() as f32; enc.dict.len()];
        let moves = Moves::new(&enc, 16, &[4, 2, 1], 0.5);
        let mut p = uniform.clone();
        moves.reweight(0, 1, 0, 1, c as u32, &mut p);
        assert!(p[again] > p[c] && p[again] > uniform[again], "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // Every other first-stage candidate leans harder on the clip; the finer stages' do not.
        let mut firm = uniform.clone();
        moves.reweight(0, 0, 0, 1, c as u32, &mut firm);
        assert!(firm[again] > p[again], "{firm:?} {p:?}");
        let mut fine = uniform.clone();
        moves.reweight(1, 0, 0, 2, c as u32, &mut fine);
        let mut fine_odd = uniform.clone();
        moves.reweight(1, 1, 0, 2, c as u32, &mut fine_odd);
        assert_eq!(fine, fine_odd);
        // At similarity 1 the model's draw is left alone.
        let mut p = uniform.clone();
        Moves::new(&enc, 16, &[4, 2, 1], 1.0).reweight(0, 1, 0, 1, c as u32, &mut p);
        assert_eq!(p, uniform);
    }

    #[test]
    fn a_group_that_keeps_a_pitch_is_drawn_where_the_clip_keeps_one() {
        // C+E, then C+G at the second beat (C going on), then D: twice. At the second beat
        // the clip always moves from C+E keeping its C; from a uniform draw, C+G gains on D.
        let bar = |at: u32| {
            [note(60, at, at + 8), note(64, at, at + 4), note(67, at + 4, at + 8), note(62, at + 8, at + 16)]
        };
        let enc = encode(&Clip::one_track([bar(0), bar(16)].concat()));
        let (ce, cg, d) = (
            enc.dict.get(C | E, 0).unwrap(),
            enc.dict.get(C | G, 0).unwrap() as usize,
            enc.dict.get(D, 0).unwrap() as usize,
        );
        let uniform = vec![1.0 / enc.dict.len() as f32; enc.dict.len()];
        let mut p = uniform.clone();
        Moves::new(&enc, 16, &[4, 2, 1], 0.5).reweight(0, 1, 0, 1, ce, &mut p);
        assert!(p[cg] > uniform[cg] && p[cg] > 2.0 * p[d], "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn common_tones_are_struck_again_or_held_as_the_clip_does() {
        // A chord track: C+E, then C+G with C struck again at the second beat; at the third
        // beat C+E again, C held. The clip strikes its common tone again at the second beat,
        // holds it at the third.
        let notes = vec![note(60, 0, 4), note(64, 0, 4), note(60, 4, 16), note(67, 4, 8), note(64, 8, 16)];
        let enc = encode(&Clip::one_track(notes));
        let out = enc.dict.with_restrikes();
        let (ce, cg, cg_held) = (
            enc.dict.get(C | E, 0).unwrap(),
            enc.dict.get(C | G, C).unwrap(),
            enc.dict.get(C | G, 0).unwrap(),
        );
        // The model's bar: C+E, C+G with C held at the second beat, C+E, C+G with C struck
        // again at the fourth beat, where the clip holds: the articulation turns both round.
        let mut tokens = vec![ce; 16];
        tokens[4..8].fill(cg_held);
        tokens[12..].fill(cg_held);
        tokens[12] = cg;
        let moves = Moves::new(&enc, 16, &[4, 2, 1], 0.5);
        let mut rng = Rng::seed_from_u64(0);
        let got = moves.articulate(&[tokens.clone()], &[vec![0; 16]], &out, &mut rng);
        let mut want = tokens.clone();
        (want[4], want[12]) = (cg, cg_held);
        assert_eq!(got[0], want);
        let starts: Vec<(u8, u32)> =
            decode(&out, &got[0], &|_, _| 80).iter().map(|n| (n.pitch, n.start)).collect();
        assert_eq!(starts, vec![(60, 0), (64, 0), (60, 4), (67, 4), (64, 8), (67, 12)]);
    }

    #[test]
    fn a_re_strike_the_model_has_no_token_for_counts_as_a_hold() {
        // Bar 1: C struck on every beat; bar 2: D held. At the second beat the clip re-strikes
        // or holds, never changes; the model has no token for D struck again, so after D the
        // clip's re-strikes go to holding D (the articulation strikes it again).
        let notes = vec![note(60, 0, 4), note(60, 4, 8), note(60, 8, 12), note(60, 12, 16), note(62, 16, 32)];
        let enc = encode(&Clip::one_track(notes));
        assert!(enc.dict.get(D, D).is_none());
        let d = enc.dict.get(D, 0).unwrap() as usize;
        let mut p = vec![1.0 / enc.dict.len() as f32; enc.dict.len()];
        Moves::new(&enc, 16, &[4, 2, 1], 0.5).reweight(0, 1, 0, 1, d as u32, &mut p);
        // Rates at the second beat (with the prior): hold 1.5, re-strike 1.5, move 0.5, change
        // 0.5 of 4; D's hold gets hold and re-strike: sqrt(1/4 * 3/4) against sqrt(3/4 * 0.5/4)
        // (no token moves from D).
        let (hold, change) = ((0.25f32 * 3.0 / 4.0).sqrt(), (0.75f32 * 0.5 / 4.0).sqrt());
        assert!((p[d] - hold / (hold + change)).abs() < 1e-5, "{p:?}");
    }

    #[test]
    fn a_held_group_is_struck_again_where_the_clip_strikes_again() {
        // Bar 1: C, C struck again at the second beat; bar 2: E, E again, then D held. The
        // clip strikes again at the second beat whatever it holds; D has no token for it.
        let notes =
            vec![note(60, 0, 4), note(60, 4, 16), note(64, 16, 20), note(64, 20, 24), note(62, 24, 32)];
        let enc = encode(&Clip::one_track(notes));
        assert!(enc.dict.get(D, D).is_none());
        let out = enc.dict.with_restrikes();
        let d = enc.dict.get(D, 0).unwrap();
        let bar = vec![vec![d; 16]];
        let mut rng = Rng::seed_from_u64(0);
        let moves = Moves::new(&enc, 16, &[4, 2, 1], 0.5);
        let got = moves.articulate(&bar, &bar, &out, &mut rng);
        let again = out.get(D, D).unwrap();
        let want: Vec<u32> = (0..16).map(|i| if i == 4 { again } else { d }).collect();
        assert_eq!(got[0], want);
        let notes = decode(&out, &got[0], &|_, _| 80);
        assert_eq!(notes.iter().map(|n| (n.start, n.end)).collect::<Vec<_>>(), vec![(0, 4), (4, 16)]);
        // At similarity 1 the bar is handed out as drawn.
        assert_eq!(Moves::new(&enc, 16, &[4, 2, 1], 1.0).articulate(&bar, &bar, &out, &mut rng), bar);
    }
}
