//! Kept tracks: tracks whose new bars are given, the clip's own bars looped or a file's, while
//! the other tracks are drawn to fit them. Every stage takes a kept track's tokens as drawn,
//! before the other tracks of each step (so the voicing fits them to it), and the next bar's
//! input and memory carry them: the model is conditioned on the kept track, it is not drawn and
//! then overwritten.

use crate::clip::{Clip, Note};
use crate::model_file::ModelMeta;
use crate::pitch_group::{encode_rolls, Dictionary, Group};

/// Which tracks are kept and where their bars come from.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept {
    /// Per track of the model, whether it is kept.
    pub tracks: Vec<bool>,
    /// The kept tracks' bars, looped from the first: a clip with the model's tracks, meter and
    /// steps (its other tracks are not read).
    pub source: Clip,
}

impl Kept {
    /// `tracks` of the model keep the clip's own bars, in order, looped.
    pub fn clip_bars(meta: &ModelMeta, tracks: Vec<bool>) -> Self {
        let source = meta.clip.select_bars(1, meta.bars).unwrap_or_else(|_| meta.clip.clone());
        Self { tracks, source }
    }

    /// `tracks` of the model take their bars from `file`, a clip of the same meter: each kept
    /// track from the file's track of the same name or, where none has it and the file has as
    /// many tracks as are kept, from the file's tracks in order.
    pub fn from_file(meta: &ModelMeta, tracks: Vec<bool>, file: &Clip) -> Result<Self, String> {
        let clip = &meta.clip;
        if file.meta.steps_per_bar() != clip.meta.steps_per_bar() {
            return Err(format!(
                "its bars are {} sixteenths long, the model's {}",
                file.meta.steps_per_bar(),
                clip.meta.steps_per_bar()
            ));
        }
        let kept: Vec<usize> = (0..tracks.len()).filter(|&k| tracks[k]).collect();
        let mut source = Clip { meta: file.meta.clone(), tracks: clip.tracks.clone() };
        for (n, &k) in kept.iter().enumerate() {
            let name = &clip.tracks[k].name;
            let from = match file.tracks.iter().find(|t| &t.name == name) {
                Some(t) => t,
                None if file.tracks.len() == kept.len() => &file.tracks[n],
                None => return Err(format!("it has no track named \"{name}\" to keep")),
            };
            source.tracks[k].notes = from.notes.clone();
        }
        for t in (0..tracks.len()).filter(|&k| !tracks[k]) {
            source.tracks[t].notes.clear();
        }
        if source.bars() == 0 {
            return Err("the tracks to keep have no notes".into());
        }
        Ok(Self { tracks, source })
    }

    /// Source bars (at least one).
    pub fn bars(&self) -> u32 {
        self.source.bars().max(1)
    }

    /// Per source bar, per track, the kept track's tokens at the finest resolution in `dict`
    /// (`None` for the others). A group the model never saw takes its nearest known one
    /// (`nearest`): the model is conditioned on that, the notes handed out are the source's.
    pub(super) fn tokens(&self, dict: &Dictionary) -> Vec<Vec<Option<Vec<u32>>>> {
        let bars = bar_tokens(&self.source, self.bars(), dict);
        let keep = |(k, t): (usize, Vec<u32>)| self.tracks.get(k).copied().unwrap_or(false).then_some(t);
        bars.into_iter().map(|bar| bar.into_iter().enumerate().map(keep).collect()).collect()
    }

    /// Kept track `k`'s notes of new bar `bar` (0-based), placed from step `at`.
    pub fn notes(&self, k: usize, bar: usize, at: u32) -> impl Iterator<Item = Note> + '_ {
        let spb = self.source.meta.steps_per_bar();
        let from = (bar as u32 % self.bars()) * spb;
        let track = self.source.tracks.get(k).filter(|_| self.tracks[k]);
        let notes = track.map_or(&[][..], |t| &t.notes[..]);
        notes.iter().filter(move |n| n.start >= from && n.start < from + spb).map(move |n| Note {
            start: n.start - from + at,
            end: n.end - from + at,
            ..*n
        })
    }
}

/// `clip`'s first `bars` bars as tokens of `dict` at the finest resolution, per bar and track;
/// a group `dict` lacks takes its nearest known one.
pub(super) fn bar_tokens(clip: &Clip, bars: u32, dict: &Dictionary) -> Vec<Vec<Vec<u32>>> {
    let spb = clip.meta.steps_per_bar() as usize;
    let (rolls, _) = encode_rolls(clip, bars, &mut |g, again| nearest(dict, g, again));
    (0..bars as usize)
        .map(|b| rolls.iter().map(|r| r.tokens[b * spb..(b + 1) * spb].to_vec()).collect())
        .collect()
}

/// The token of `dict` nearest (group `g`, re-struck pitches `again`): itself, else the group
/// held, else the group sharing the most pitch classes with it, the nearest lowest pitch
/// breaking ties (the rest for the rest).
fn nearest(dict: &Dictionary, g: Group, again: Group) -> u32 {
    if let Some(t) = dict.get(g, again).or_else(|| dict.get(g, 0)) {
        return t;
    }
    let classes = |g: Group| (0..128).filter(|p| g >> p & 1 == 1).fold(0u16, |s, p| s | 1 << (p % 12));
    let lowest = |g: Group| g.trailing_zeros() as i32;
    let (want, low) = (classes(g), lowest(g));
    (0..dict.len() as u32)
        .filter(|&t| dict.restruck(t) == 0 && dict.group(t) != 0)
        .max_by_key(|&t| {
            let h = dict.group(t);
            ((classes(h) & want).count_ones(), -(lowest(h) - low).abs())
        })
        .filter(|_| g != 0)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Clip;
    use crate::pitch_group::encode;

    #[test]
    fn an_unknown_group_takes_the_nearest_known_one() {
        let note = |pitch, start, end| Note::new(pitch, start, end, 80);
        // Known: C4, E4 and G3.
        let enc = encode(&Clip::one_track(vec![note(60, 0, 4), note(64, 4, 8), note(55, 8, 16)]));
        let tok = |p: u8| enc.dict.get(1 << p, 0).unwrap();
        let d = &enc.dict;
        assert_eq!(nearest(d, 1 << 60, 0), tok(60));
        // C5 shares C's pitch class; G4 shares G3's; C#4 shares none: the nearest lowest pitch.
        assert_eq!(nearest(d, 1 << 72, 0), tok(60));
        assert_eq!(nearest(d, 1 << 67, 0), tok(55));
        assert_eq!(nearest(d, 1 << 61, 0), tok(60));
        assert_eq!(nearest(d, 0, 0), 0);
    }
}
