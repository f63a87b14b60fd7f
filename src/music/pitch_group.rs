//! The pitch-group representation: per track and step, the set of sounding pitches (a chord,
//! an interval, a single note or the empty set for a rest), indexed through a dictionary of the
//! clip's distinct groups.
//!
//! Sounding sets cannot tell a held note from a repeated one, so each roll also keeps, beside
//! the tokens, the pitches struck at each step and their velocity.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::clip::{Clip, Note, Track};

/// A set of MIDI pitches as a bit mask (bit `p` = pitch `p`).
pub type Group = u128;

/// Pitches of a group, lowest first.
pub fn pitches(group: Group) -> impl Iterator<Item = u8> {
    (0..128u8).filter(move |&p| group & (1 << p) != 0)
}

/// The clip's distinct pitch groups; token `i` stands for `groups[i]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dictionary {
    /// Groups in order of first appearance (the rest, if present, is usually token 0).
    pub groups: Vec<Group>,
    /// Reverse index.
    #[serde(skip)]
    index: HashMap<Group, u32>,
}

impl Dictionary {
    /// Builds a dictionary from its groups (as stored in a model file).
    pub fn from_groups(groups: Vec<Group>) -> Self {
        let index = groups.iter().enumerate().map(|(i, &g)| (g, i as u32)).collect();
        Self { groups, index }
    }

    /// The token of `group`, adding it if new.
    pub fn token(&mut self, group: Group) -> u32 {
        let next = self.groups.len() as u32;
        let token = *self.index.entry(group).or_insert(next);
        if token == next {
            self.groups.push(group);
        }
        token
    }

    /// The token of `group` if the dictionary has it.
    pub fn get(&self, group: Group) -> Option<u32> {
        self.index.get(&group).copied()
    }

    /// The group of a token.
    pub fn group(&self, token: u32) -> Group {
        self.groups[token as usize]
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
    /// Pitch-group token per step.
    pub tokens: Vec<u32>,
    /// Pitches struck at each step; marks a re-strike of a pitch that was already sounding.
    pub onsets: Vec<Group>,
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
    let steps = (bars * clip.meta.steps_per_bar()) as usize;
    let mut dict = Dictionary::default();
    dict.token(0); // The rest is token 0.
    let rolls = clip.tracks.iter().map(|t| encode_track(t, steps, &mut dict)).collect();
    Encoded { dict, rolls, steps }
}

fn encode_track(track: &Track, steps: usize, dict: &mut Dictionary) -> Roll {
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
    let tokens = sounding.iter().map(|&g| dict.token(g)).collect();
    Roll { tokens, onsets, velocities }
}

/// Turns a token sequence back into notes.
///
/// A note starts where its pitch starts sounding or is marked as struck in `onsets` (if given),
/// and lasts while the pitch sounds; `velocity(step, pitch)` gives its velocity.
pub fn decode(
    dict: &Dictionary,
    tokens: &[u32],
    onsets: Option<&[Group]>,
    velocity: &dyn Fn(usize, u8) -> u8,
) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut open: [Option<usize>; 128] = [None; 128];
    let mut prev: Group = 0;
    for step in 0..=tokens.len() {
        let now = tokens.get(step).map_or(0, |&t| dict.group(t));
        let struck = onsets.and_then(|o| o.get(step)).copied().unwrap_or(0);
        let ending = prev & !now | prev & now & struck;
        let starting = now & !prev | prev & now & struck;
        for p in pitches(ending) {
            if let Some(i) = open[p as usize].take() {
                notes[i] = Note { end: step as u32, ..notes[i] };
            }
        }
        for p in pitches(starting) {
            let velocity = velocity(step, p);
            open[p as usize] = Some(notes.len());
            notes.push(Note { pitch: p, start: step as u32, end: step as u32 + 1, velocity });
        }
        prev = now;
    }
    notes.sort_by_key(|n| (n.start, n.pitch, n.end));
    notes
}

/// Decodes every roll of `enc` into the tracks of a clip shaped like `template`.
pub fn decode_clip(enc: &Encoded, template: &Clip) -> Clip {
    let tracks = template
        .tracks
        .iter()
        .zip(&enc.rolls)
        .map(|(t, roll)| Track {
            notes: decode(&enc.dict, &roll.tokens, Some(&roll.onsets), &|step, pitch| {
                let struck = roll.velocities.get(step).and_then(|v| v.iter().find(|&&(p, _)| p == pitch));
                struck.map_or_else(|| t.mean_velocity(), |&(_, v)| v)
            }),
            ..t.clone()
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
        Note { pitch, start, end, velocity: 80 }
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
        let back = decode_clip(&encode(&c), &c);
        assert_eq!(back.tracks[0].notes, notes);
        // Without onsets the repeats merge into one held note, as in the paper.
        let enc = encode(&c);
        assert_eq!(
            decode(&enc.dict, &enc.rolls[0].tokens, None, &|_, _| 64),
            vec![Note { velocity: 64, ..n(60, 0, 9) }]
        );
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
