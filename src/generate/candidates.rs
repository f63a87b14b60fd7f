//! Keeping one of the candidate bars drawn for each bar: the one nearest the similarity
//! setting in its match with the clip's bars, with bonuses for harmony, for the clip's own
//! density of note onsets (a bar broken into blips is not its rhythm), of re-strikes (a stab
//! struck again is not a held chord) and of new pitches (a voice that moves where the clip's
//! repeats is not its tune) and of note length (rests filled are not its articulation), and
//! for likelihood.

use super::moves::strength;
use super::weights::{CHANGES, HARMONY, LEAD_COST, LENGTH, LIKELIHOOD, NEAR_COST, RESTRIKES, RHYTHM};
use crate::eval::{bar_match, fits_a_chord, pitch_class_set, ReferenceBars, NEAR_COPY};
use crate::model_file::ModelMeta;
use crate::pitch_group::{Dictionary, Encoded, Group};

/// One candidate's cost in the choice (`Chooser::pick` keeps the lowest), term by term as
/// weighed (`weights`); bonuses are negative.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cost {
    /// Its match with the clip's bars (`eval::bar_match`), unweighed.
    pub matched: f64,
    /// The match's distance from the similarity setting.
    pub distance: f64,
    /// A verbatim copy (below similarity 1) or a near copy (below 0.75).
    pub copy: f64,
    /// The share of its steps that fit one chord (a bonus).
    pub harmony: f64,
    /// Its onsets' distance from the clip's per bar.
    pub onsets: f64,
    /// Its re-strikes' distance from the clip's.
    pub restrikes: f64,
    /// Its new pitches' distance from the clip's.
    pub changes: f64,
    /// Its note length's distance from the clip's.
    pub length: f64,
    /// How unlikely the model finds it: minus its log-likelihood per token, weighed.
    pub likelihood: f64,
    /// How unlikely the bar that must follow it is (redrawn bars only).
    pub lead: f64,
    /// The whole cost.
    pub total: f64,
}

/// What the choice needs from the model's clip.
pub struct Chooser {
    /// The setting, 0..1: how close to the clip the kept bars are.
    similarity: f64,
    /// Weight of a candidate's distance from the setting: 1 from 0.5 up, 2 at 0, so that the
    /// other terms do not outweigh it at the far settings (docs/model.md, "Why each rule").
    distance: f64,
    /// The clip's bars, to measure how close a candidate is.
    reference: ReferenceBars,
    /// The dictionary of the bars handed out (`ModelMeta::output_dictionary`): pitches and
    /// re-strikes of each token.
    dict: Dictionary,
    /// The clip's mean note onsets per bar (all tracks).
    onsets_per_bar: f64,
    /// The clip's mean re-strikes per bar (all tracks).
    restrikes_per_bar: f64,
    /// The clip's mean onsets per bar that are not re-strikes (all tracks): new pitches.
    changes_per_bar: f64,
    /// How much of their weight the new pitches and the note length keep: all up to similarity
    /// 0.5, fading to nothing at 1, as the clip's moves do (`moves`): they correct what hot
    /// draws do, and at 1 the draws are not hot.
    fade: f64,
    /// Per track: whether it holds drum keys (MIDI channel 10), not pitches.
    drums: Vec<bool>,
    /// The clip's note length: its sounding steps (each pitch of each track) per onset.
    note_length: f64,
}

impl Chooser {
    /// The choice for the model of `meta`, whose clip is `enc` (tokenised with its dictionary),
    /// among bars of `out` tokens (`ModelMeta::output_dictionary`, built once by the caller).
    pub fn new(meta: &ModelMeta, enc: &Encoded, out: &Dictionary, similarity: f32) -> Self {
        let (onsets_per_bar, restrikes_per_bar, note_length) =
            clip_per_bar(enc, meta.clip.meta.steps_per_bar() as usize);
        Self {
            similarity: similarity.clamp(0.0, 1.0) as f64,
            distance: 1.0 + 2.0 * (0.5 - similarity.clamp(0.0, 1.0) as f64).max(0.0),
            reference: ReferenceBars::new(&meta.clip),
            dict: out.clone(),
            onsets_per_bar,
            restrikes_per_bar,
            changes_per_bar: onsets_per_bar - restrikes_per_bar,
            note_length,
            fade: strength(similarity) as f64,
            drums: meta.clip.drum_tracks(),
        }
    }

    /// The candidate to keep: the one whose match with the clip's bars is nearest the
    /// similarity setting, less bonuses for harmony (the share of its steps whose pitch
    /// classes fit one chord), for onset, re-strike and new-pitch counts and a note length
    /// near the clip's (counted from `before`, per track the group sounding at the step
    /// before the bar) and for the model's likelihood of it; where `lead` is given (per
    /// candidate, how unlikely the bar that must follow it is: `Generator::lead_into`), plus
    /// that. A verbatim copy of a clip bar (or a bar-long window of it) only when similarity
    /// is 1.
    pub fn pick(&self, bars: &[Vec<Vec<u32>>], likelihood: &[f32], before: &[Group], lead: &[f64]) -> usize {
        if bars.len() == 1 {
            return 0;
        }
        cheapest(&self.costs(bars, likelihood, before, lead))
    }

    /// Every candidate's cost in `pick`, term by term.
    pub fn costs(
        &self,
        bars: &[Vec<Vec<u32>>],
        likelihood: &[f32],
        before: &[Group],
        lead: &[f64],
    ) -> Vec<Cost> {
        let target = self.similarity;
        let cost = |(c, (bar, &ll)): (usize, (&Vec<Vec<u32>>, &f32))| {
            let groups = self.groups(bar);
            let matched = bar_match(&groups, &self.reference);
            let copy = if matched >= 1.0 && target < 1.0 { 1.0 } else { 0.0 };
            let near = if matched >= NEAR_COPY && target < NEAR_COPY { NEAR_COST } else { 0.0 };
            let tokens = bar.iter().map(Vec::len).sum::<usize>().max(1) as f64;
            let (struck, again, sounding) = counts(&self.dict, bar, before);
            // The distance of a count from the clip's mean, relative to it (none where it is 0).
            let off =
                |n: usize, mean: f64| if mean > 0.0 { (n as f64 / mean - 1.0).abs().min(1.0) } else { 0.0 };
            let rhythm = off(struck, self.onsets_per_bar);
            let changes = off(struck - again, self.changes_per_bar);
            let again = off(again, self.restrikes_per_bar);
            let length = off(sounding, self.note_length * struck.max(1) as f64);
            let harmony = self.harmony(&groups);
            let lead = lead.get(c).copied().unwrap_or(0.0);
            let total = self.distance * (matched - target).abs() + copy + near - HARMONY * harmony
                + RHYTHM * rhythm
                + RESTRIKES * again
                + self.fade * (CHANGES * changes + LENGTH * length)
                - LIKELIHOOD * (ll as f64 / tokens)
                + LEAD_COST * lead;
            Cost {
                matched,
                distance: self.distance * (matched - target).abs(),
                copy: copy + near,
                harmony: -HARMONY * harmony,
                onsets: RHYTHM * rhythm,
                restrikes: RESTRIKES * again,
                changes: self.fade * CHANGES * changes,
                length: self.fade * LENGTH * length,
                likelihood: -LIKELIHOOD * (ll as f64 / tokens),
                lead: LEAD_COST * lead,
                total,
            }
        };
        bars.iter().zip(likelihood).enumerate().map(cost).collect()
    }

    /// A bar's match with the clip's bars (`eval::bar_match`).
    pub fn closeness(&self, bar: &[Vec<u32>]) -> f64 {
        bar_match(&self.groups(bar), &self.reference)
    }

    /// Whether to draw the candidates `bars` again: every one is a near copy of a clip bar
    /// where the setting asks for none (below `NEAR_COPY`). A single candidate is kept as
    /// drawn, as `pick` keeps it (`--candidates 1`: no choice).
    pub fn wants_redraw(&self, bars: &[Vec<Vec<u32>>]) -> bool {
        bars.len() > 1
            && self.similarity < NEAR_COPY
            && bars.iter().all(|bar| bar_match(&self.groups(bar), &self.reference) >= NEAR_COPY)
    }

    /// A bar's tokens as pitch groups.
    fn groups(&self, bar: &[Vec<u32>]) -> Vec<Vec<Group>> {
        bar.iter()
            .map(|t| t.iter().map(|&tok| self.dict.groups.get(tok as usize).copied().unwrap_or(0)).collect())
            .collect()
    }

    /// Share of a bar's steps sounding two or more pitch classes (drums aside) whose set fits
    /// one chord; 1 where no step does.
    fn harmony(&self, groups: &[Vec<Group>]) -> f64 {
        let steps = groups.first().map_or(0, Vec::len);
        let (mut fit, mut counted) = (0usize, 0usize);
        for i in 0..steps {
            let pcs = groups
                .iter()
                .zip(&self.drums)
                .filter(|(_, &drum)| !drum)
                .fold(0u16, |m, (t, _)| m | pitch_class_set(t[i]));
            if pcs.count_ones() >= 2 {
                counted += 1;
                fit += fits_a_chord(pcs) as usize;
            }
        }
        if counted == 0 {
            1.0
        } else {
            fit as f64 / counted as f64
        }
    }
}

/// The candidate of least cost among `costs` (the first of equals; 0 where there is none).
pub fn cheapest(costs: &[Cost]) -> usize {
    (0..costs.len()).min_by(|&a, &b| costs[a].total.total_cmp(&costs[b].total)).unwrap_or(0)
}

/// Note onsets, re-strikes and sounding steps in one bar of per-track tokens after the groups
/// `before` sounding at the step before it: pitches that start sounding or are struck again,
/// of those the ones struck again while they sound (across the bar line too: Handel's right
/// hand strikes its last pitch again on half of its downbeats), and each pitch's steps.
fn counts(dict: &Dictionary, bar: &[Vec<u32>], before: &[Group]) -> (usize, usize, usize) {
    let (mut onsets, mut restrikes, mut sounding) = (0, 0, 0);
    for (k, track) in bar.iter().enumerate() {
        let mut prev = before.get(k).copied().unwrap_or(0);
        for &tok in track {
            let starts = dict.starts(prev, tok);
            onsets += starts.count_ones() as usize;
            restrikes += (starts & prev).count_ones() as usize;
            prev = dict.group(tok);
            sounding += prev.count_ones() as usize;
        }
    }
    (onsets, restrikes, sounding)
}

/// The clip `enc`'s (`spb` steps a bar) mean note onsets and re-strikes per bar, each bar
/// counted after the clip's step before it (a rest before the first), as a candidate's are,
/// and its note length (sounding steps per onset).
fn clip_per_bar(enc: &Encoded, spb: usize) -> (f64, f64, f64) {
    let bars = enc.steps / spb.max(1);
    if bars == 0 {
        return (0.0, 0.0, 0.0);
    }
    let (onsets, restrikes, sounding) = (0..bars)
        .map(|b| {
            let bar: Vec<Vec<u32>> =
                enc.rolls.iter().map(|r| r.tokens[b * spb..(b + 1) * spb].to_vec()).collect();
            let before: Vec<Group> = enc
                .rolls
                .iter()
                .map(|r| if b > 0 { enc.dict.group(r.tokens[b * spb - 1]) } else { 0 })
                .collect();
            counts(&enc.dict, &bar, &before)
        })
        .fold((0, 0, 0), |(o, r, l), (a, b, c)| (o + a, r + b, l + c));
    (onsets as f64 / bars as f64, restrikes as f64 / bars as f64, sounding as f64 / onsets.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::{Clip, Note};
    use crate::model::Preset;
    use crate::pitch_group::encode;

    #[test]
    fn re_strikes_like_the_clips_are_preferred() {
        // The clip's bars: a half note struck again for a beat, then the next bar's pitch (E,
        // F, G, A): three onsets, a re-strike or two, a bar. A: C half, D, E (no re-strike);
        // B: C half, C struck again, D (one). Both match none of the clip's cells and strike
        // three notes; only the re-strikes tell them apart.
        let pitches = [64, 65, 67, 69];
        let notes = (0..3).flat_map(|b: usize| {
            let (p, next, at) = (pitches[b], pitches[b + 1], b as u32 * 16);
            [(p, at, at + 8), (p, at + 8, at + 12), (next, at + 12, at + 16)]
        });
        let notes = notes.map(|(pitch, start, end)| Note::new(pitch, start, end, 80));
        let clip = Clip::one_track(notes.collect());
        let enc = encode(&clip);
        let mut dict = enc.dict.clone();
        let (c, c_again, d, e) = (
            dict.token(1 << 60, 0),
            dict.token(1 << 60, 1 << 60),
            dict.token(1 << 62, 0),
            dict.token(1 << 64, 0),
        );
        let preset = Preset::Tiny;
        let meta = ModelMeta::new(preset, preset.config(), clip, 3, &dict, &[], 0);
        let a: Vec<u32> = [vec![c; 8], vec![d; 4], vec![e; 4]].concat();
        let b: Vec<u32> = [vec![c; 8], vec![c_again], vec![c; 3], vec![d; 4]].concat();
        let chooser = Chooser::new(&meta, &enc, &meta.output_dictionary(), 0.5);
        assert_eq!(chooser.pick(&[vec![a.clone()], vec![b.clone()]], &[0.0, 0.0], &[0], &[]), 1);
        assert_eq!(chooser.pick(&[vec![b], vec![a]], &[0.0, 0.0], &[0], &[]), 0);
    }

    #[test]
    fn note_lengths_like_the_clips_are_preferred() {
        // The clip: four notes a bar, each three 16ths long with a 16th's rest. A: four notes
        // of a beat (no rest); B: four of three 16ths, the rest before each. Neither matches a
        // cell of the clip's, both strike four new pitches; only their length tells them apart.
        let notes = (0..3u32).flat_map(|b| (0..4u32).map(move |i| (60 + i as u8, b * 16 + i * 4)));
        let notes = notes.map(|(pitch, start)| Note::new(pitch, start, start + 3, 80));
        let clip = Clip::one_track(notes.collect());
        let enc = encode(&clip);
        let mut dict = enc.dict.clone();
        let tok: Vec<u32> = (70..74).map(|p| dict.token(1 << p, 0)).collect();
        let rest = dict.token(0, 0);
        let preset = Preset::Tiny;
        let meta = ModelMeta::new(preset, preset.config(), clip, 3, &dict, &[], 0);
        let a: Vec<u32> = tok.iter().flat_map(|&t| [t; 4]).collect();
        let b: Vec<u32> = tok.iter().flat_map(|&t| [rest, t, t, t]).collect();
        let chooser = Chooser::new(&meta, &enc, &meta.output_dictionary(), 0.5);
        assert_eq!(chooser.pick(&[vec![a.clone()], vec![b.clone()]], &[0.0, 0.0], &[0], &[]), 1);
        // At similarity 1 it does not count (a tie: the first is kept).
        let chooser = Chooser::new(&meta, &enc, &meta.output_dictionary(), 1.0);
        assert_eq!(chooser.pick(&[vec![a], vec![b]], &[0.0, 0.0], &[0], &[]), 0);
    }

    #[test]
    fn new_pitches_like_the_clips_are_preferred() {
        // The clip's bars: a quarter, struck again, then a half note of another pitch (E E F,
        // G G A, B B C): three onsets a bar, one re-strike, two new pitches. A: C D C D; B: C,
        // C struck again twice, D. Both strike four notes, one re-strike from the clip's
        // count (none, two) and match none of its cells: only the new pitches tell them apart.
        let bars = [(64, 65), (67, 69), (71, 72)];
        let notes = bars.iter().enumerate().flat_map(|(b, &(p, next))| {
            let at = b as u32 * 16;
            [(p, at, at + 4), (p, at + 4, at + 8), (next, at + 8, at + 16)]
        });
        let notes = notes.map(|(pitch, start, end)| Note::new(pitch, start, end, 80));
        let clip = Clip::one_track(notes.collect());
        let enc = encode(&clip);
        let mut dict = enc.dict.clone();
        let (c, c_again, d) = (dict.token(1 << 60, 0), dict.token(1 << 60, 1 << 60), dict.token(1 << 62, 0));
        let preset = Preset::Tiny;
        let meta = ModelMeta::new(preset, preset.config(), clip, 3, &dict, &[], 0);
        let chooser = Chooser::new(&meta, &enc, &meta.output_dictionary(), 0.5);
        assert_eq!(
            (chooser.onsets_per_bar, chooser.restrikes_per_bar, chooser.changes_per_bar),
            (3.0, 1.0, 2.0)
        );
        let a: Vec<u32> = [[c; 4], [d; 4], [c; 4], [d; 4]].concat();
        let b: Vec<u32> =
            [vec![c; 4], vec![c_again], vec![c; 3], vec![c_again], vec![c; 3], vec![d; 4]].concat();
        assert_eq!(chooser.pick(&[vec![a.clone()], vec![b.clone()]], &[0.0, 0.0], &[0], &[]), 1);
        assert_eq!(chooser.pick(&[vec![b.clone()], vec![a.clone()]], &[0.0, 0.0], &[0], &[]), 0);
        // At similarity 1 they do not count: a tie, the first is kept.
        let chooser = Chooser::new(&meta, &enc, &meta.output_dictionary(), 1.0);
        assert_eq!(chooser.pick(&[vec![a.clone()], vec![b.clone()]], &[0.0, 0.0], &[0], &[]), 0);
        assert_eq!(chooser.pick(&[vec![b], vec![a]], &[0.0, 0.0], &[0], &[]), 0);
    }

    #[test]
    fn onsets_and_re_strikes_count_across_the_bar_line() {
        // C for a half bar, struck again, then D; the next bar strikes D again on its downbeat.
        let note = |pitch, start, end| Note::new(pitch, start, end, 80);
        let clip = Clip::one_track(vec![note(60, 0, 8), note(60, 8, 12), note(62, 12, 16), note(62, 16, 32)]);
        let enc = encode(&clip);
        let (d, c) = (1 << 62, 1 << 60);
        let second = [enc.rolls[0].tokens[16..32].to_vec()];
        // After D the downbeat's D is struck again; after C it is a new pitch, after a rest too.
        assert_eq!(counts(&enc.dict, &second, &[d]), (1, 1, 16));
        assert_eq!(counts(&enc.dict, &second, &[c]), (1, 0, 16));
        assert_eq!(counts(&enc.dict, &second, &[0]), (1, 0, 16));
        // The clip's means count it too: C, C again, D in bar 1; D again in bar 2; 32 steps
        // sounding, 8 per onset.
        assert_eq!(clip_per_bar(&enc, 16), (2.0, 1.0, 8.0));
    }

    #[test]
    fn a_near_copy_is_kept_only_from_similarity_0_75() {
        // Bars of repeated quarter notes: C, D, E. A: C C C E, three beats of bar 1 (match
        // 0.75, a near copy); B: E C E C (0.5). Same onsets, one track (no harmony to weigh).
        let notes = (0..12).map(|b| Note::new([60, 62, 64][b / 4], b as u32 * 4, b as u32 * 4 + 4, 80));
        let clip = Clip::one_track(notes.collect());
        let enc = encode(&clip);
        let preset = Preset::Tiny;
        let meta = ModelMeta::new(preset, preset.config(), clip, 3, &enc.dict, &[], 0);
        let beat =
            |bar: usize, b: usize| enc.rolls[0].tokens[bar * 16 + b * 4..bar * 16 + b * 4 + 4].to_vec();
        let a: Vec<u32> = [beat(0, 0), beat(0, 1), beat(0, 2), beat(2, 3)].concat();
        let b: Vec<u32> = [beat(2, 0), beat(0, 1), beat(2, 2), beat(0, 3)].concat();
        let bars = vec![vec![a], vec![b]];
        let out = meta.output_dictionary();
        let pick =
            |similarity| Chooser::new(&meta, &enc, &out, similarity).pick(&bars, &[0.0, 0.0], &[0], &[]);
        // At 0.7 A is nearer the setting, but a near copy: B. From 0.75 A may be kept.
        assert_eq!(pick(0.7), 1);
        assert_eq!(pick(0.8), 0);
        assert_eq!(pick(0.4), 1);
        // A twice: every candidate a near copy, where the setting asks for none (a redraw);
        // not with B among them, nor from 0.75, nor for a single candidate (no choice).
        let chooser = |similarity| Chooser::new(&meta, &enc, &out, similarity);
        let near = vec![bars[0].clone(), bars[0].clone()];
        assert!(chooser(0.5).wants_redraw(&near));
        assert!(!chooser(0.5).wants_redraw(&bars));
        assert!(!chooser(0.8).wants_redraw(&near));
        assert!(!chooser(0.5).wants_redraw(&near[..1]));
    }
}
