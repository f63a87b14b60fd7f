//! The tracks of a step drawn to agree: each track's token is drawn after the tracks before it
//! at the same step, and tokens whose pitch classes, with theirs, sound a set the clip never
//! sounds (nor any superset of it) lose weight, and those sounding one of the clip's sets
//! that fits no triad or seventh chord lose some. The model draws every track of a step on
//! its own, so a bold candidate's voices often meet in no chord of the clip's. A track that
//! holds chords (a pad, a keyboard's left hand) is drawn first, so the lines fit its chord, as
//! a producer lays a bass under the pad and not a pad over the bass; a line that would sound
//! no chord at all with it keeps next to nothing.

use super::weights::{NO_CHORD, OFF_SONORITY, UNDER_CHORDS};
use crate::eval::{fits_a_chord, mark_subsets, pitch_class_set};
use crate::pitch_group::Encoded;

/// The clip's vertical sonorities and what each token sounds.
pub struct Voicing {
    /// `[pitch-class set]`: what a token sounding it with the tracks before it keeps: 1 for a
    /// subset of a set some step of the clip sounds that fits a chord, `NO_CHORD` for one
    /// that fits none, `OFF_SONORITY` outside the clip's sets. Built once, read in the draws'
    /// hot loop.
    weights: Vec<f32>,
    /// `[pitch-class set]`: the same where a chord track drawn before sounds at the step, but
    /// `UNDER_CHORDS` for a set outside the clip's that fits no chord. Built with `weights`.
    under_chords: Vec<f32>,
    /// Per token of the model's dictionary, its pitch classes.
    pcs: Vec<u16>,
    /// Per track: whether it holds drum keys (MIDI channel 10), not pitches.
    drums: Vec<bool>,
    /// Per track: whether it holds chords (`holds_chords`), drawn before the lines, so a line
    /// fits the chord rather than the chord holding on against it.
    chords: Vec<bool>,
}

impl Voicing {
    /// The sonorities of the encoded clip `enc`, whose tracks `drums` hold drum keys.
    pub fn new(enc: &Encoded, drums: Vec<bool>) -> Self {
        let mut known = vec![false; 1 << 12];
        for s in 0..enc.steps {
            let set = (enc.rolls.iter().zip(&drums).filter(|(_, &d)| !d))
                .fold(0u16, |m, (r, _)| m | pitch_class_set(enc.dict.group(r.tokens[s])));
            if !known[set as usize] {
                mark_subsets(&mut known, set);
            }
        }
        let weight = |set: usize, off_chord: f32| match (known[set], fits_a_chord(set as u16)) {
            (false, false) => off_chord,
            (false, true) => OFF_SONORITY,
            (true, false) => NO_CHORD,
            (true, true) => 1.0,
        };
        let weights = (0..known.len()).map(|set| weight(set, OFF_SONORITY)).collect();
        let under_chords = (0..known.len()).map(|set| weight(set, UNDER_CHORDS)).collect();
        let pcs = (0..enc.dict.len() as u32).map(|t| pitch_class_set(enc.dict.group(t))).collect();
        let chords = enc.rolls.iter().zip(&drums).map(|(r, &d)| !d && holds_chords(enc, &r.tokens)).collect();
        Self { weights, under_chords, pcs, drums, chords }
    }

    /// Per track, whether it holds drum keys.
    pub fn drum_tracks(&self) -> &[bool] {
        &self.drums
    }

    /// Whether track `k` holds chords: drawn before the lines at each step, so they fit it.
    pub fn chords(&self, k: usize) -> bool {
        self.chords.get(k).copied().unwrap_or(false)
    }

    /// The pitch classes token `t` sounds in track `k` (none in a drum track).
    pub fn sounds(&self, k: usize, t: u32) -> u16 {
        if self.drums.get(k).copied().unwrap_or(false) {
            return 0;
        }
        self.pcs.get(t as usize).copied().unwrap_or(0)
    }

    /// Adds what token `t` of track `k` sounds to `sounding`, and sets `under_chords` where `k`
    /// holds chords and sounds.
    pub fn add(&self, k: usize, t: u32, sounding: &mut u16, under_chords: &mut bool) {
        let pcs = self.sounds(k, t);
        *sounding |= pcs;
        *under_chords |= pcs != 0 && self.chords(k);
    }

    /// Weighs down the tokens of track `k` that, with `sounding` (the pitch classes of the
    /// tracks drawn before at this step), sound a set the clip does not (to `OFF_SONORITY`, or
    /// to `UNDER_CHORDS` where it fits no chord and `under_chords`: a chord track is among
    /// them) or one of its sets that fits no chord (to `NO_CHORD`); leaves `probs` as they are
    /// in a drum track.
    pub fn reweight(&self, k: usize, sounding: u16, under_chords: bool, probs: &mut [f32]) {
        if self.drums.get(k).copied().unwrap_or(false) {
            return;
        }
        let table = if under_chords { &self.under_chords } else { &self.weights };
        let weight = |t: usize| table[(sounding | self.pcs.get(t).copied().unwrap_or(0)) as usize];
        for (t, q) in probs.iter_mut().enumerate().filter(|(_, q)| **q > 0.0) {
            *q *= weight(t);
        }
    }
}

/// Whether a track of `enc` (its `tokens`) sounds three or more pitch classes on at least half
/// the steps it sounds at all: a pad's or a keyboard's chords, not a line.
fn holds_chords(enc: &Encoded, tokens: &[u32]) -> bool {
    let sets = tokens.iter().map(|&t| pitch_class_set(enc.dict.group(t))).filter(|&s| s != 0);
    let (chords, sounding) = sets.fold((0, 0), |(c, n), s| (c + (s.count_ones() >= 3) as usize, n + 1));
    sounding > 0 && 2 * chords >= sounding
}

/// Two voices, C over E then D over F, half a bar each: a clip of two sonorities.
#[cfg(test)]
pub(super) fn two_voices() -> crate::clip::Clip {
    voices(&[&[(60, 0, 8), (62, 8, 16)], &[(64, 0, 8), (65, 8, 16)]])
}

/// A clip of one track per entry of `tracks`, each a list of (pitch, start, end).
#[cfg(test)]
pub(super) fn voices(tracks: &[&[(u8, u32, u32)]]) -> crate::clip::Clip {
    use crate::clip::{Clip, Note};
    let notes = |t: &[(u8, u32, u32)]| {
        t.iter().map(|&(pitch, start, end)| Note::new(pitch, start, end, 80)).collect()
    };
    let mut clip = Clip::one_track(notes(tracks[0]));
    for t in &tracks[1..] {
        let mut track = clip.tracks[0].clone();
        track.notes = notes(t);
        clip.tracks.push(track);
    }
    clip
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Note;
    use crate::generate::sampling::renormalise;
    use crate::pitch_group::encode;

    #[test]
    fn a_token_outside_the_clips_sonorities_loses_weight() {
        // C over E, then D over F; the second track is drums (channel 10): its keys are no
        // pitches, so C with F# (key 42) is not a sonority of the clip.
        let mut clip = two_voices();
        let mut drums = clip.tracks[1].clone();
        (drums.channel, drums.notes) = (9, vec![Note::new(42, 0, 16, 80)]);
        clip.tracks.push(drums);
        let enc = encode(&clip);
        let voicing = Voicing::new(&enc, vec![false, false, true]);
        let tok = |p: u8| enc.dict.get(1 << p, 0).unwrap();
        let (c, e, f, fs) = (tok(60), tok(64), tok(65), tok(42));
        let mut probs = vec![0f32; enc.dict.len()];
        (probs[e as usize], probs[f as usize], probs[fs as usize]) = (0.5, 0.25, 0.25);
        voicing.reweight(1, voicing.sounds(0, c), false, &mut probs);
        renormalise(&mut probs);
        let sum = 0.5 + OFF_SONORITY * 0.5;
        assert!((probs[e as usize] - 0.5 / sum).abs() < 1e-6);
        assert!((probs[f as usize] - 0.25 * OFF_SONORITY / sum).abs() < 1e-6);
        assert!((probs[fs as usize] - 0.25 * OFF_SONORITY / sum).abs() < 1e-6);
        // Nothing sounds yet: every pitch of the clip fits, and all are kept as they are.
        let mut probs = vec![0f32; enc.dict.len()];
        (probs[c as usize], probs[f as usize]) = (0.5, 0.5);
        voicing.reweight(1, 0, false, &mut probs);
        assert_eq!((probs[c as usize], probs[f as usize]), (0.5, 0.5));
    }

    #[test]
    fn a_line_under_a_chord_track_keeps_next_to_nothing_where_it_sounds_no_chord() {
        // C major held by a chord track over a line's C, then the line's F# alone: F# under
        // C major (C E G F#) is no sonority of the clip and no chord; B (C E G B, C major
        // seven) is no sonority of the clip either, but a chord.
        let triad = [(60, 0, 8), (64, 0, 8), (67, 0, 8)];
        let enc = encode(&voices(&[&[(48, 0, 8), (54, 8, 16)], &triad]));
        let voicing = Voicing::new(&enc, vec![false, false]);
        assert!(voicing.chords(1) && !voicing.chords(0));
        let c_major = enc.dict.get(1 << 60 | 1 << 64 | 1 << 67, 0).unwrap();
        let fs = enc.dict.get(1 << 54, 0).unwrap() as usize;
        let (mut sounding, mut under_chords) = (0, false);
        voicing.add(1, c_major, &mut sounding, &mut under_chords);
        assert!(under_chords);
        // B is no token of the clip: test the table for its set directly.
        let b_set = sounding | 1 << 11;
        assert_eq!(voicing.under_chords[b_set as usize], OFF_SONORITY);
        let mut probs = vec![0f32; enc.dict.len()];
        probs[fs] = 1.0;
        voicing.reweight(0, sounding, under_chords, &mut probs);
        assert_eq!(probs[fs], UNDER_CHORDS);
        // Between lines (no chord track sounding) the same set keeps `OFF_SONORITY`.
        probs[fs] = 1.0;
        voicing.reweight(0, sounding, false, &mut probs);
        assert_eq!(probs[fs], OFF_SONORITY);
        // A line sounds no chord track.
        let (mut sounding, mut under_chords) = (0, false);
        voicing.add(0, enc.dict.get(1 << 48, 0).unwrap(), &mut sounding, &mut under_chords);
        assert!(!under_chords && sounding == 1);
    }

    #[test]
    fn a_track_of_chords_is_told_from_a_line() {
        // A line over a triad held a bar, then a dyad for a bar: the triad sounds at half the
        // chord track's steps (a chord track), a line never; a drum track's keys are no chord.
        let triad = [(60, 0, 16), (64, 0, 16), (67, 0, 16), (62, 16, 32), (65, 16, 32)];
        let mut clip = voices(&[&[(72, 0, 8), (74, 8, 32)], &triad]);
        let mut drums = clip.tracks[1].clone();
        drums.channel = 9;
        clip.tracks.push(drums);
        let enc = encode(&clip);
        let voicing = Voicing::new(&enc, vec![false, false, true]);
        assert_eq!((voicing.chords(0), voicing.chords(1), voicing.chords(2)), (false, true, false));
        // Dyads alone are no chords.
        let enc = encode(&voices(&[&[(60, 0, 16), (64, 0, 16)]]));
        assert!(!Voicing::new(&enc, vec![false]).chords(0));
    }

    #[test]
    fn a_sonority_of_the_clip_outside_every_chord_keeps_less_weight() {
        // C and D held under E, then F#: the clip sounds C+D+E (no triad or seventh chord
        // holds it) and C+D+F# (part of D7). Over C and D, E keeps `NO_CHORD` of F#'s weight.
        let enc = encode(&voices(&[&[(60, 0, 16)], &[(62, 0, 16)], &[(64, 0, 8), (66, 8, 16)]]));
        let voicing = Voicing::new(&enc, vec![false; 3]);
        let tok = |p: u8| enc.dict.get(1 << p, 0).unwrap();
        let (e, fs) = (tok(64) as usize, tok(66) as usize);
        let even = || {
            let mut probs = vec![0f32; enc.dict.len()];
            (probs[e], probs[fs]) = (0.5, 0.5);
            probs
        };
        let mut probs = even();
        voicing.reweight(2, voicing.sounds(0, tok(60)) | voicing.sounds(1, tok(62)), false, &mut probs);
        renormalise(&mut probs);
        let sum = 0.5 + NO_CHORD * 0.5;
        assert!((probs[e] - 0.5 * NO_CHORD / sum).abs() < 1e-6, "{}", probs[e]);
        assert!((probs[fs] - 0.5 / sum).abs() < 1e-6);
        // Alone, E fits a chord: both kept as they are.
        let mut probs = even();
        voicing.reweight(2, 0, false, &mut probs);
        assert_eq!((probs[e], probs[fs]), (0.5, 0.5));
    }
}
