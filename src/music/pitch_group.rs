//! The pitch-group representation: per track and step, the set of sounding pitches (a chord,
//! an interval, a single note or the empty set for a rest), indexed through a dictionary of the
//! clip's distinct groups.
//!
//! Sounding sets alone cannot tell a held note from a repeated one (a hi-hat's sixteenths, a
//! bass's repeated eighths), so a token also marks the pitches of its group struck again while
//! already sounding: the model learns re-strikes and the decoder plays them. Each roll keeps
//! every struck note's velocity besides.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::clip::{Clip, Note, Nudge, Track};

/// A set of MIDI pitches as a bit mask (bit `p` = pitch `p`).
pub type Group = u128;

/// Pitches of a group, lowest first.
pub fn pitches(group: Group) -> impl Iterator<Item = u8> {
    (0..128u8).filter(move |&p| group & (1 << p) != 0)
}

/// The clip's distinct (pitch group, re-struck pitches) pairs; token `i` stands for
/// `groups[i]` sounding with `restruck[i]` struck again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dictionary {
    /// Sounding groups in order of first appearance (the rest is token 0).
    pub groups: Vec<Group>,
    /// Per token, the pitches of its group struck again at its step although they sounded at
    /// the step before (a subset of the group; 0 for most tokens).
    pub restruck: Vec<Group>,
    /// Reverse index.
    #[serde(skip)]
    index: HashMap<(Group, Group), u32>,
}

impl Dictionary {
    /// Builds a dictionary from its groups and re-struck pitches (as stored in a model file;
    /// missing re-strikes, as in files written before they existed, are none).
    pub fn from_groups(groups: Vec<Group>, mut restruck: Vec<Group>) -> Self {
        restruck.resize(groups.len(), 0);
        let index =
            groups.iter().zip(&restruck).enumerate().map(|(i, (&g, &r))| ((g, r), i as u32)).collect();
        Self { groups, restruck, index }
    }

    /// The token of `group` sounding with `restruck` struck again, adding it if new.
    pub fn token(&mut self, group: Group, restruck: Group) -> u32 {
        let next = self.groups.len() as u32;
        let token = *self.index.entry((group, restruck)).or_insert(next);
        if token == next {
            self.groups.push(group);
            self.restruck.push(restruck);
        }
        token
    }

    /// The token of `group` with `restruck` if the dictionary has it.
    pub fn get(&self, group: Group, restruck: Group) -> Option<u32> {
        self.index.get(&(group, restruck)).copied()
    }

    /// This dictionary, then every sounding group held and with the pitches it shares with
    /// any group (itself too) struck again, where it lacks them: the articulation's choices
    /// (new tokens after its own, so its tokens keep their meaning).
    pub fn with_restrikes(&self) -> Self {
        let mut dict = self.clone();
        for &g in self.groups.iter().filter(|&&g| g != 0) {
            dict.token(g, 0);
            for &h in &self.groups {
                if g & h != 0 {
                    dict.token(g, g & h);
                }
            }
        }
        dict
    }

    /// The sounding group of a token.
    pub fn group(&self, token: u32) -> Group {
        self.groups[token as usize]
    }

    /// The pitches a token strikes again while they sound.
    pub fn restruck(&self, token: u32) -> Group {
        self.restruck[token as usize]
    }

    /// The pitches `token` starts after a step sounding `before`: those new to it and those
    /// struck again.
    pub fn starts(&self, before: Group, token: u32) -> Group {
        let now = self.group(token);
        now & !before | now & self.restruck(token)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when no group has been added.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// One track at 16th resolution: the token per step and what a round trip needs besides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Roll {
    /// Token per step: the sounding group and its re-struck pitches.
    pub tokens: Vec<u32>,
    /// The (pitch, velocity) of each note struck at each step: a kick and a hat struck
    /// together keep their own velocities.
    pub velocities: Vec<Vec<(u8, u8)>>,
}

/// A clip in the pitch-group representation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Encoded {
    /// Groups of all tracks.
    pub dict: Dictionary,
    /// One roll per clip track, all `steps` long.
    pub rolls: Vec<Roll>,
    /// Length in steps: a whole number of bars.
    pub steps: usize,
}

/// Encodes every track of `clip` over its whole bars from step 0.
pub fn encode(clip: &Clip) -> Encoded {
    encode_bars(clip, clip.bars())
}

/// Encodes every track of `clip` over `bars` bars from step 0 (notes beyond are cut).
pub fn encode_bars(clip: &Clip, bars: u32) -> Encoded {
    let mut dict = Dictionary::default();
    dict.token(0, 0); // The rest is token 0.
    let (rolls, steps) = encode_rolls(clip, bars, &mut |group, restruck| dict.token(group, restruck));
    Encoded { dict, rolls, steps }
}

/// Encodes `clip` over `bars` bars with `dict`, adding the groups it lacks after its own (so
/// its tokens keep their meaning: a model trained on part of the clip goes on from there).
pub fn encode_extending(clip: &Clip, bars: u32, mut dict: Dictionary) -> Encoded {
    dict.token(0, 0);
    let (rolls, steps) = encode_rolls(clip, bars, &mut |group, restruck| dict.token(group, restruck));
    Encoded { dict, rolls, steps }
}

/// Encodes `clip` (a model's own) over `bars` bars with the model's dictionary `dict`: a
/// dictionary stored before re-strikes existed has none, and its tokens stand for the
/// sounding groups alone.
pub fn encode_with(clip: &Clip, bars: u32, dict: &Dictionary) -> Encoded {
    let (rolls, steps) = encode_rolls(clip, bars, &mut |group, restruck| {
        dict.get(group, restruck).or_else(|| dict.get(group, 0)).unwrap_or(0)
    });
    Encoded { dict: dict.clone(), rolls, steps }
}

/// The rolls of every track over `bars` bars, each (group, re-struck pitches) made a token by
/// `token`; and their length in steps.
pub(crate) fn encode_rolls(
    clip: &Clip,
    bars: u32,
    token: &mut dyn FnMut(Group, Group) -> u32,
) -> (Vec<Roll>, usize) {
    let steps = (bars * clip.meta.steps_per_bar()) as usize;
    (clip.tracks.iter().map(|t| encode_track(t, steps, token)).collect(), steps)
}

fn encode_track(track: &Track, steps: usize, token: &mut dyn FnMut(Group, Group) -> u32) -> Roll {
    let mut sounding = vec![0 as Group; steps];
    let mut onsets = vec![0 as Group; steps];
    let mut velocities = vec![Vec::new(); steps];
    for n in &track.notes {
        let bit = 1 << n.pitch;
        let at = n.start as usize;
        if at >= steps {
            continue;
        }
        for s in &mut sounding[at..(n.end as usize).min(steps)] {
            *s |= bit;
        }
        onsets[at] |= bit;
        velocities[at].push((n.pitch, n.velocity));
    }
    // A pitch struck while it sounded at the step before is a re-strike (at step 0 nothing did).
    let tokens = (0..steps)
        .map(|s| {
            let before = if s == 0 { 0 } else { sounding[s - 1] };
            token(sounding[s], onsets[s] & before & sounding[s])
        })
        .collect();
    Roll { tokens, velocities }
}

/// Turns a token sequence back into notes.
///
/// A note starts where its pitch starts sounding or is struck again (the token's re-strikes),
/// and lasts while the pitch sounds; `velocity(step, pitch)` gives its velocity.
pub fn decode(dict: &Dictionary, tokens: &[u32], velocity: &dyn Fn(usize, u8) -> u8) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut open: [Option<usize>; 128] = [None; 128];
    let mut prev: Group = 0;
    for step in 0..=tokens.len() {
        let now = tokens.get(step).map_or(0, |&t| dict.group(t));
        let starting = tokens.get(step).map_or(0, |&t| dict.starts(prev, t));
        let ending = prev & !now | prev & starting;
        for p in pitches(ending) {
            if let Some(i) = open[p as usize].take() {
                notes[i] = Note { end: step as u32, ..notes[i] };
            }
        }
        for p in pitches(starting) {
            let velocity = velocity(step, p);
            open[p as usize] = Some(notes.len());
            notes.push(Note::new(p, step as u32, step as u32 + 1, velocity));
        }
        prev = now;
    }
    notes.sort_by_key(|n| (n.start, n.pitch, n.end));
    notes
}

/// Decodes every roll of `enc` into the tracks of a clip shaped like `template`, its notes
/// nudged as the template's of the same key and step.
pub fn decode_clip(enc: &Encoded, template: &Clip) -> Clip {
    let tracks = template
        .tracks
        .iter()
        .zip(&enc.rolls)
        .map(|(t, roll)| {
            let mut notes = decode(&enc.dict, &roll.tokens, &|step, pitch| {
                let struck = roll.velocities.get(step).and_then(|v| v.iter().find(|&&(p, _)| p == pitch));
                struck.map_or_else(|| t.mean_velocity(), |&(_, v)| v)
            });
            // The tokens hold steps; each note's nudge off them comes from the template.
            let nudges: HashMap<(u32, u8), Nudge> =
                t.notes.iter().map(|n| ((n.start, n.pitch), n.nudge)).collect();
            notes
                .iter_mut()
                .for_each(|n| n.nudge = nudges.get(&(n.start, n.pitch)).copied().unwrap_or_default());
            Track { notes, ..t.clone() }
        })
        .collect();
    Clip { meta: template.meta.clone(), tracks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(notes: Vec<Note>) -> Clip {
        Clip::one_track(notes)
    }
    fn n(pitch: u8, start: u32, end: u32) -> Note {
        Note::new(pitch, start, end, 80)
    }

    #[test]
    fn chord_and_rest_tokens() {
        let c = clip(vec![n(60, 0, 2), n(64, 0, 2), n(67, 3, 4)]);
        let enc = encode(&c);
        assert_eq!(enc.steps, 16);
        assert_eq!(enc.dict.groups, vec![0, (1 << 60) | (1 << 64), 1 << 67]);
        assert_eq!(&enc.rolls[0].tokens[..5], &[1, 1, 0, 2, 0]);
    }

    #[test]
    fn repeated_note_survives_round_trip() {
        let notes = vec![n(60, 0, 4), n(60, 4, 8), n(60, 8, 9)];
        let c = clip(notes.clone());
        let enc = encode(&c);
        assert_eq!(decode_clip(&enc, &c).tracks[0].notes, notes);
        // The re-strikes are in the tokens themselves: a held note and a repeated one differ.
        let t = &enc.rolls[0].tokens;
        assert_eq!((enc.dict.group(t[3]), enc.dict.group(t[4])), (1 << 60, 1 << 60));
        assert_ne!(t[3], t[4]);
        assert_eq!((enc.dict.restruck(t[3]), enc.dict.restruck(t[4])), (0, 1 << 60));
        assert_eq!(t[4], t[8]);
        assert_eq!(decode(&enc.dict, t, &|_, _| 80), notes);
    }

    #[test]
    fn chord_with_one_voice_restruck() {
        // A held C under an E struck on every 8th: only E is re-struck; the first strike of a
        // pitch (after a rest) is no re-strike.
        let notes = vec![n(60, 0, 8), n(64, 0, 2), n(64, 2, 4), n(64, 4, 6), n(64, 6, 8), n(64, 9, 10)];
        let c = clip(notes.clone());
        let enc = encode(&c);
        let t = &enc.rolls[0].tokens;
        let restruck: Vec<Group> = t[..10].iter().map(|&x| enc.dict.restruck(x)).collect();
        let e = 1 << 64;
        assert_eq!(restruck, vec![0, 0, e, 0, e, 0, e, 0, 0, 0]);
        assert_eq!(enc.dict.len(), 4); // rest, C+E, C+E with E again, E
        assert_eq!(decode(&enc.dict, t, &|_, _| 80), notes);
    }

    #[test]
    fn dictionary_from_stored_groups() {
        // Model files from before re-strikes store no re-strikes: every token has none.
        let d = Dictionary::from_groups(vec![0, 1 << 60], Vec::new());
        assert_eq!((d.restruck(1), d.get(1 << 60, 0)), (0, Some(1)));
        let d = Dictionary::from_groups(vec![0, 1 << 60, 1 << 60], vec![0, 0, 1 << 60]);
        assert_eq!(d.get(1 << 60, 1 << 60), Some(2));
    }

    #[test]
    fn velocities_kept_per_strike() {
        // Each note its own velocity, also when struck together (a kick and a hat).
        let notes = vec![
            Note { velocity: 30, ..n(60, 0, 2) },
            Note { velocity: 110, ..n(36, 2, 3) },
            Note { velocity: 70, ..n(42, 2, 3) },
        ];
        let c = clip(notes.clone());
        assert_eq!(decode_clip(&encode(&c), &c).tracks[0].notes, notes);
    }
}
