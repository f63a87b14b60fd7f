//! A stage's draws: per candidate, track and step, the model's probabilities for the track's
//! tokens, shaped by the constraints of a draw and sampled from their nucleus.
//!
//! The constraints are the sampler's rules besides the model: the clip's moves, its rhythm
//! grid, the coarser bar's held notes, its sonorities, the copy guard. Each reweights the
//! probabilities (none renormalises: one renormalisation follows them all) and leaves them as
//! they are where it would leave nothing. Their weights are in `weights`.

use candle_core::Result;

use super::guard::{CopyGuard, Copying};
use super::moves::Moves;
use super::rhythm::Rhythm;
use super::sampling::{log_probability, renormalise, sample_top_p, softmax_into};
use super::voicing::Voicing;
use super::Bar;
use crate::model::ops::Rng;
use crate::pitch_group::Dictionary;

/// Where a draw stands: what a constraint looks at.
pub struct At<'a> {
    /// The candidate, among those drawn together.
    pub c: usize,
    /// The track.
    pub track: usize,
    /// The step of the stage's bar.
    pub step: usize,
    /// The track's token before (at step 0, the bar before's last at the stage's resolution).
    pub prev: u32,
    /// The pitch classes the tracks drawn before at this step sound.
    pub sounding: u16,
    /// Whether a track that holds chords is among them and sounds (`Voicing::chords`).
    pub under_chords: bool,
    /// At the first stage, how far the candidate has copied each clip bar so far.
    pub copying: Option<&'a Copying>,
}

/// One constraint of a draw.
pub trait Constraint {
    /// Reweights the probabilities of track `at.track`'s tokens (not renormalised).
    fn reweight(&self, at: &At, probs: &mut [f32]);
}

/// The clip's moves at a stage (`Moves::reweight`).
pub struct ClipMoves<'a> {
    /// The clip's moves.
    pub moves: &'a Moves,
    /// The stage.
    pub stage: usize,
    /// The index among all of a bar's candidates of the first one drawn together.
    pub first: usize,
}

impl Constraint for ClipMoves<'_> {
    fn reweight(&self, at: &At, probs: &mut [f32]) {
        self.moves.reweight(self.stage, self.first + at.c, at.track, at.step, at.prev, probs);
    }
}

/// The clip's rhythm grid, from the bar's second step (its first follows the bar before).
impl Constraint for Rhythm {
    fn reweight(&self, at: &At, probs: &mut [f32]) {
        if at.step > 0 {
            self.restrict(at.track, at.step, at.prev, probs);
        }
    }
}

/// The clip's sonorities with the tracks drawn before at the step.
impl Constraint for Voicing {
    fn reweight(&self, at: &At, probs: &mut [f32]) {
        Voicing::reweight(self, at.track, at.sounding, at.under_chords, probs);
    }
}

/// At the first stage, away from going on copying a clip bar.
impl Constraint for CopyGuard {
    fn reweight(&self, at: &At, probs: &mut [f32]) {
        if let Some(copying) = at.copying {
            CopyGuard::reweight(self, copying, at.track, at.step, probs);
        }
    }
}

/// At a finer stage, the notes the coarser bar holds: a finer stage refines a held note, it
/// does not break it (docs/model.md, "Why each rule"). Not on a drum track: a drum hit does
/// not hold, and a drum the coarser bar sounds at two steps is two hits or a roll, which a
/// finer stage held on would strike again where the clip strikes afresh.
pub struct HeldNotes<'a> {
    /// The coarser stage's candidate bars.
    pub coarse: &'a [Bar],
    /// How many of this stage's steps each of their tokens spans.
    pub factor: usize,
    /// Per track, the token before the bar at the coarser stage's resolution.
    pub before: Vec<u32>,
    /// The model's dictionary.
    pub dict: &'a Dictionary,
    /// Per track, whether it holds drum keys (left alone).
    pub drums: &'a [bool],
}

impl Constraint for HeldNotes<'_> {
    /// Where the coarser bar of candidate `c` holds (or re-strikes) the track's group from its
    /// step before (at step 0, the bar before's last) to this one, and this stage still sounds
    /// that group after `prev`: only tokens of that group may follow, struck again as the
    /// coarser bar strikes it again or holds it (either, where the model has no such token).
    fn reweight(&self, at: &At, probs: &mut [f32]) {
        let (k, i, d) = (at.track, at.step, self.dict);
        if !i.is_multiple_of(self.factor) || self.drums.get(k).copied().unwrap_or(false) {
            return;
        }
        let bar = &self.coarse[at.c][k];
        let token = bar[i / self.factor];
        let g = d.group(token);
        let step_before = if i == 0 { self.before[k] } else { bar[i / self.factor - 1] };
        if g == 0 || g != d.group(step_before) || g != d.group(at.prev) {
            return;
        }
        let again = d.restruck(token);
        let exact = |t: usize| d.group(t as u32) == g && d.restruck(t as u32) == again;
        let same = |t: usize| d.group(t as u32) == g;
        for keep in [&exact as &dyn Fn(usize) -> bool, &same] {
            if probs.iter().enumerate().any(|(t, &q)| q > 0.0 && keep(t)) {
                for (t, q) in probs.iter_mut().enumerate() {
                    if !keep(t) {
                        *q = 0.0;
                    }
                }
                return;
            }
        }
    }
}

/// What shapes a stage's draws besides the model.
pub struct Shape<'a> {
    /// The constraints of every draw, in the order they apply (`constraints`).
    pub constraints: Vec<&'a dyn Constraint>,
    /// Per track, the token before the bar at the stage's resolution.
    pub before: Vec<u32>,
    /// The model's dictionary.
    pub dict: &'a Dictionary,
    /// Per track, the tokens the stage may give it, in order (the others are masked).
    pub allowed: &'a [Vec<u32>],
    /// The clip's vertical sonorities: the order of the draws and what each sounds.
    pub voicing: &'a Voicing,
    /// At the first stage, the guard against going on copying a clip bar (it counts the draws).
    pub guard: Option<&'a CopyGuard>,
    /// Per track, a kept track's tokens at the stage's resolution, taken as drawn (empty, or
    /// `None` for a drawn track).
    pub kept: Vec<Option<Vec<u32>>>,
}

/// A stage's constraints in the order they apply: the clip's moves shape what the model
/// finds likely, the rhythm grid (at the finest stage) and the coarser bar's held notes (at
/// the finer stages) take out what may not come, the sonorities and (at the first stage) the
/// copy guard weigh down what fits badly.
pub fn constraints<'a>(
    moves: &'a ClipMoves<'a>,
    rhythm: Option<&'a Rhythm>,
    held: Option<&'a HeldNotes<'a>>,
    voicing: &'a Voicing,
    guard: Option<&'a CopyGuard>,
) -> Vec<&'a dyn Constraint> {
    let mut all: Vec<&dyn Constraint> = vec![moves];
    all.extend(rhythm.map(|r| r as &dyn Constraint));
    all.extend(held.map(|h| h as &dyn Constraint));
    all.push(voicing);
    all.extend(guard.map(|g| g as &dyn Constraint));
    all
}

impl Shape<'_> {
    /// The order the tracks of a step are drawn in: kept tracks first, so the voicing fits the
    /// others to them, then the tracks that hold chords, then the lines (`Voicing::chords`).
    fn order(&self, tracks: usize) -> Vec<usize> {
        let kept = |k: &usize| self.kept.get(*k).is_some_and(Option::is_some);
        let (mut first, rest): (Vec<usize>, Vec<usize>) = (0..tracks).partition(kept);
        let (chords, lines): (Vec<usize>, Vec<usize>) =
            rest.into_iter().partition(|&k| self.voicing.chords(k));
        first.extend(chords);
        first.extend(lines);
        first
    }
}

/// Samples every (candidate, track, position) of logits `[candidates, tracks, T, vocab]` (flat),
/// candidate `c` at temperature `temperatures[c]`, under `shape`'s constraints, adding each
/// sampled token's log-probability under the model (temperature 1) to its candidate's
/// `likelihood`.
pub fn sample(
    logits: &[f32],
    p: f32,
    temperatures: &[f32],
    shape: &Shape,
    rng: &mut Rng,
    likelihood: &mut [f32],
) -> Result<Vec<Bar>> {
    let (candidates, tracks, vocab) = (temperatures.len(), shape.before.len(), shape.dict.len());
    let steps = logits.len() / (candidates * tracks * vocab);
    let mut bars = Vec::with_capacity(candidates);
    // Per draw, the logits and probabilities of the track's own tokens, then all of them.
    let (mut own, mut own_probs, mut probs) = (Vec::new(), Vec::new(), vec![0f32; vocab]);
    let order = shape.order(tracks.min(shape.allowed.len()));
    for (c, (ll, &temperature)) in likelihood.iter_mut().zip(temperatures).take(candidates).enumerate() {
        let mut bar: Bar = vec![Vec::with_capacity(steps); tracks];
        let mut copying = shape.guard.map(CopyGuard::start);
        // Step by step, each track after the ones before it, so that they agree (`voicing`).
        for i in 0..steps {
            let (mut sounding, mut under_chords) = (0u16, false);
            for &k in &order {
                if let Some(Some(kept)) = shape.kept.get(k) {
                    let tok = kept[i];
                    if let (Some(g), Some(copying)) = (shape.guard, &mut copying) {
                        g.record(copying, k, i, tok);
                    }
                    bar[k].push(tok);
                    shape.voicing.add(k, tok, &mut sounding, &mut under_chords);
                    continue;
                }
                let tokens = &shape.allowed[k];
                let at = ((c * tracks + k) * steps + i) * vocab;
                let l = &logits[at..at + vocab];
                // The softmax over the track's own tokens: the masked ones would add 0.
                own.clear();
                own.extend(tokens.iter().map(|&t| l[t as usize]));
                own_probs.resize(own.len(), 0.0);
                softmax_into(&own, temperature, &mut own_probs);
                probs.fill(0.0);
                tokens.iter().zip(&own_probs).for_each(|(&t, &q)| probs[t as usize] = q);
                let prev = bar[k].last().copied().unwrap_or(shape.before[k]);
                let at = At { c, track: k, step: i, prev, sounding, under_chords, copying: copying.as_ref() };
                for constraint in &shape.constraints {
                    constraint.reweight(&at, &mut probs);
                }
                renormalise(&mut probs);
                let tok = sample_top_p(&probs, p, rng);
                if let (Some(g), Some(copying)) = (shape.guard, &mut copying) {
                    g.record(copying, k, i, tok as u32);
                }
                *ll += log_probability(l[tok], &own);
                bar[k].push(tok as u32);
                shape.voicing.add(k, tok as u32, &mut sounding, &mut under_chords);
            }
        }
        bars.push(bar);
    }
    Ok(bars)
}

#[cfg(test)]
mod tests {
    use super::super::voicing;
    use super::*;
    use crate::clip::{Clip, Note};
    use crate::pitch_group::{encode, Encoded};
    use rand::SeedableRng;

    #[test]
    fn a_finer_stage_keeps_a_note_the_coarser_bar_holds() {
        // C, C struck again, D: tokens for C, C again, D and the rest.
        let note = |pitch, start, end| Note::new(pitch, start, end, 80);
        let enc = encode(&Clip::one_track(vec![note(60, 0, 4), note(60, 4, 8), note(62, 8, 16)]));
        let tok = |p: u8, again: bool| enc.dict.get(1 << p, if again { 1 << p } else { 0 }).unwrap();
        let (c, c_again, d) = (tok(60, false), tok(60, true), tok(62, false));
        let uniform = vec![0.25f32; 4];
        // At step `i` after `prev`, the coarser bar's tokens `coarse` after `coarse_before`.
        let held_at = |drums: &[bool], i: usize, coarse: Vec<u32>, coarse_before: u32, prev: u32| {
            let bars = vec![vec![coarse]];
            let before = vec![coarse_before];
            let held = HeldNotes { coarse: &bars, factor: 2, before, dict: &enc.dict, drums };
            let mut p = uniform.clone();
            held.reweight(
                &At { c: 0, track: 0, step: i, prev, sounding: 0, under_chords: false, copying: None },
                &mut p,
            );
            renormalise(&mut p);
            p
        };
        let draw_at = |i, coarse, coarse_before, prev| held_at(&[false], i, coarse, coarse_before, prev);
        let draw = |coarse: Vec<u32>, prev: u32| draw_at(2, coarse, 0, prev);
        // The coarser bar holds C into its second step, as this stage does: C goes on; where
        // the coarser bar strikes C again, so does this stage.
        let only = |t: u32| (0..4).map(|i| if i == t { 1.0 } else { 0.0 }).collect::<Vec<f32>>();
        assert_eq!(draw(vec![c, c], c), only(c));
        assert_eq!(draw(vec![c, c_again], c), only(c_again));
        // It changes there, or this stage has left C already: free.
        assert_eq!(draw(vec![c, d], c), uniform);
        assert_eq!(draw(vec![c, c], d), uniform);
        // Across the bar line: the coarser bar goes on with the C the bar before ended on, as
        // this stage's did: C goes on. After D, or where this stage ended elsewhere: free.
        assert_eq!(draw_at(0, vec![c, d], c, c), only(c));
        assert_eq!(draw_at(0, vec![c_again, d], c, c), only(c_again));
        assert_eq!(draw_at(0, vec![c, d], d, c), uniform);
        assert_eq!(draw_at(0, vec![c, d], c, d), uniform);
        // On a drum track a hit does not hold: what the coarser bar sounds at two steps is two
        // hits or a roll, and this stage draws freely (the trap beat's re-strikes, docs/log.md).
        assert_eq!(held_at(&[true], 2, vec![c, c], 0, c), uniform);
        assert_eq!(held_at(&[true], 0, vec![c, d], c, c), uniform);
    }

    /// 50 candidates of a 16-step bar of the two tracks of `enc`'s clip, drawn among `allowed`
    /// after `before` at similarity 1 (the clip's moves leave the draws alone); the model finds
    /// every token as likely but the second track's `sure` (logit 5). Also the draw's order.
    fn draw_two(
        enc: &Encoded,
        allowed: &[Vec<u32>],
        before: Vec<u32>,
        sure: Option<u32>,
    ) -> (Vec<usize>, Vec<Vec<Vec<u32>>>) {
        draw_two_with(enc, allowed, before, sure, None)
    }

    /// [`draw_two`] with a further constraint after the others.
    fn draw_two_with(
        enc: &Encoded,
        allowed: &[Vec<u32>],
        before: Vec<u32>,
        sure: Option<u32>,
        extra: Option<&dyn Constraint>,
    ) -> (Vec<usize>, Vec<Vec<Vec<u32>>>) {
        let moves = Moves::new(enc, 16, &[1], 1.0);
        let voicing = Voicing::new(enc, vec![false, false]);
        let moves = ClipMoves { moves: &moves, stage: 0, first: 0 };
        let mut all = constraints(&moves, None, None, &voicing, None);
        all.extend(extra);
        let shape = Shape {
            constraints: all,
            before,
            dict: &enc.dict,
            allowed,
            voicing: &voicing,
            guard: None,
            kept: Vec::new(),
        };
        let (candidates, steps, vocab) = (50, 16, enc.dict.len());
        let mut logits = vec![0f32; candidates * 2 * steps * vocab];
        for (c, i) in (0..candidates).flat_map(|c| (0..steps).map(move |i| (c, i))) {
            if let Some(t) = sure {
                logits[((c * 2 + 1) * steps + i) * vocab + t as usize] = 5.0;
            }
        }
        let mut ll = vec![0f32; candidates];
        let bars = sample(&logits, 0.9, &vec![1.0; candidates], &shape, &mut Rng::seed_from_u64(1), &mut ll);
        (shape.order(2), bars.unwrap())
    }

    /// The share of the steps of `bars` where the two tracks sound one of `pairs`.
    fn share_of(bars: &[Vec<Vec<u32>>], pairs: &[(u32, u32)]) -> f64 {
        let steps = bars.iter().flat_map(|b| b[0].iter().zip(&b[1]));
        let fit = steps.clone().filter(|&(&a, &b)| pairs.contains(&(a, b))).count();
        fit as f64 / steps.count() as f64
    }

    #[test]
    fn the_tracks_of_a_step_are_drawn_to_agree() {
        // C over E, then D over F. Where the model finds every pitch of each track as likely,
        // drawn each on its own they would clash (C with F, D with E) at half of the steps.
        let enc = encode(&voicing::two_voices());
        let tok = |p: u8| enc.dict.get(1 << p, 0).unwrap();
        let allowed = vec![vec![tok(60), tok(62)], vec![tok(64), tok(65)]];
        let (order, bars) = draw_two(&enc, &allowed, vec![tok(62), tok(65)], None);
        assert_eq!(order, vec![0, 1]);
        // 1 in 1.1 with `weights::OFF_SONORITY` at 0.1.
        let share = share_of(&bars, &[(tok(60), tok(64)), (tok(62), tok(65))]);
        assert!(share > 0.8, "{share}");
    }

    /// Scales every probability of a draw by a factor.
    struct Scale(f32);

    impl Constraint for Scale {
        fn reweight(&self, _: &At, probs: &mut [f32]) {
            probs.iter_mut().for_each(|q| *q *= self.0);
        }
    }

    #[test]
    fn the_constraints_share_one_renormalisation() {
        // A constraint need not renormalise: one that scales the whole draw changes no token.
        let enc = encode(&voicing::two_voices());
        let tok = |p: u8| enc.dict.get(1 << p, 0).unwrap();
        let allowed = vec![vec![tok(60), tok(62)], vec![tok(64), tok(65)]];
        let draw = |extra: Option<&dyn Constraint>| {
            draw_two_with(&enc, &allowed, vec![tok(62), tok(65)], Some(tok(64)), extra).1
        };
        let plain = draw(None);
        assert_eq!(draw(Some(&Scale(0.001))), plain);
        assert_eq!(draw(Some(&Scale(1000.0))), plain);
        // One that takes a token out does change them.
        assert_ne!(draw(Some(&Only(tok(60)))), plain);
    }

    /// Keeps only the draws of one token (where a track has it).
    struct Only(u32);

    impl Constraint for Only {
        fn reweight(&self, _: &At, probs: &mut [f32]) {
            if probs.get(self.0 as usize).is_some_and(|&q| q > 0.0) {
                probs
                    .iter_mut()
                    .enumerate()
                    .filter(|&(t, _)| t != self.0 as usize)
                    .for_each(|(_, q)| *q = 0.0);
            }
        }
    }

    /// A line (E, then F) over a chord track (C major, then D minor): the clip, its tokens
    /// E, F, C major and D minor, and what each track may take.
    fn line_over_chords() -> (Encoded, [u32; 4], Vec<Vec<u32>>) {
        let line = [(64, 0, 8), (65, 8, 16)];
        let chords = [(60, 0, 8), (64, 0, 8), (67, 0, 8), (62, 8, 16), (65, 8, 16), (69, 8, 16)];
        let enc = encode(&voicing::voices(&[&line, &chords]));
        let (e, f) = (enc.dict.get(1 << 64, 0).unwrap(), enc.dict.get(1 << 65, 0).unwrap());
        let major = enc.dict.get(1 << 60 | 1 << 64 | 1 << 67, 0).unwrap();
        let minor = enc.dict.get(1 << 62 | 1 << 65 | 1 << 69, 0).unwrap();
        (enc, [e, f, major, minor], vec![vec![e, f], vec![major, minor]])
    }

    #[test]
    fn a_line_fits_the_chord_drawn_before_it() {
        // The model is sure of D minor at every step and finds E and F as likely: drawn first,
        // the line would take E half the time and the chord clash with it; the chords are
        // drawn first, and the line takes F.
        let (enc, [_, f, _, minor], allowed) = line_over_chords();
        let (order, bars) = draw_two(&enc, &allowed, vec![f, minor], Some(minor));
        assert_eq!(order, vec![1, 0]);
        // D minor nearly always (e^5 against 1), and F under it.
        let share = share_of(&bars, &[(f, minor)]);
        assert!(share > 0.8, "{share}");
    }

    /// Multiplies one token's probability by a factor.
    struct Favour(u32, f32);

    impl Constraint for Favour {
        fn reweight(&self, _: &At, probs: &mut [f32]) {
            probs[self.0 as usize] *= self.1;
        }
    }

    #[test]
    fn a_line_under_a_chord_track_sounds_no_other_chord() {
        // As above, but the model finds the line's E ten times as likely as F over D minor
        // (another bar's note, as a bass drawn on its own finds it): with `OFF_SONORITY`'s
        // 0.1, as between lines, E would come as often as F (0.495 of the steps F); E over D
        // minor is no chord, and under a chord track keeps `weights::UNDER_CHORDS`.
        let (enc, [e, f, _, minor], allowed) = line_over_chords();
        let favour = Favour(e, 10.0);
        let (_, bars) = draw_two_with(&enc, &allowed, vec![f, minor], Some(minor), Some(&favour));
        let share = share_of(&bars, &[(f, minor)]);
        assert!(share > 0.95, "{share}");
    }
}
