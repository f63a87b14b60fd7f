//! How the lines move and where phrases end: the horizontal figures (issue 26). The vertical
//! ones (harmony, chord vocabulary) cannot tell a line that steps from one that jumps about in
//! the right pitch classes; these can.

use crate::clip::{Clip, Note};

/// A move within this many semitones is a step.
const STEP: u8 = 2;
/// A move of more than this many semitones is a leap.
const LEAP: u8 = 4;

/// The horizontal figures of one clip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lines {
    /// Share of the moves of the tracks' top notes (pitched tracks, consecutive onsets that
    /// change pitch) within `STEP` semitones.
    pub step_share: f64,
    /// Share of those moves of more than `LEAP` semitones.
    pub leap_share: f64,
    /// Per pair of pitched tracks, the share of the moves where both top notes move that go
    /// the same way from a perfect fifth or octave (mod 12) to the same interval again.
    pub parallels: f64,
    /// Share of bars whose second half has no onset in any pitched track while something
    /// sounds in it: a held chord, a cadence.
    pub phrase_ends: f64,
}

/// The horizontal figures of `clip`.
pub fn lines(clip: &Clip) -> Lines {
    let drums = clip.drum_tracks();
    let pitched: Vec<&[Note]> =
        clip.tracks.iter().zip(&drums).filter(|(_, &d)| !d).map(|(t, _)| t.notes.as_slice()).collect();
    let (mut steps, mut leaps, mut moves) = (0, 0, 0);
    for notes in &pitched {
        for w in top_onsets(notes).windows(2) {
            let d = w[0].1.abs_diff(w[1].1);
            if d > 0 {
                moves += 1;
                steps += (d <= STEP) as usize;
                leaps += (d > LEAP) as usize;
            }
        }
    }
    let (mut parallel, mut both) = (0, 0);
    for (i, a) in pitched.iter().enumerate() {
        for b in &pitched[i + 1..] {
            let (p, n) = parallels(a, b);
            (parallel, both) = (parallel + p, both + n);
        }
    }
    Lines {
        step_share: share(steps, moves),
        leap_share: share(leaps, moves),
        parallels: share(parallel, both),
        phrase_ends: phrase_ends(clip, &pitched),
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Per onset step of a track, the highest pitch struck there, in time order.
fn top_onsets(notes: &[Note]) -> Vec<(u32, u8)> {
    let mut top: Vec<(u32, u8)> = Vec::new();
    let mut sorted: Vec<&Note> = notes.iter().collect();
    sorted.sort_by_key(|n| (n.start, n.pitch));
    for n in sorted {
        match top.last_mut() {
            Some(last) if last.0 == n.start => last.1 = last.1.max(n.pitch),
            _ => top.push((n.start, n.pitch)),
        }
    }
    top
}

/// The highest pitch of `notes` sounding at `step`.
fn top_at(notes: &[Note], step: u32) -> Option<u8> {
    notes.iter().filter(|n| n.start <= step && step < n.end).map(|n| n.pitch).max()
}

/// Two tracks' parallel fifths and octaves, and their moves where both top notes move: at the
/// steps where either strikes, consecutive pairs.
fn parallels(a: &[Note], b: &[Note]) -> (usize, usize) {
    let mut onsets: Vec<u32> = a.iter().chain(b).map(|n| n.start).collect();
    onsets.sort_unstable();
    onsets.dedup();
    let tops: Vec<Option<(u8, u8)>> = onsets.iter().map(|&s| Some((top_at(a, s)?, top_at(b, s)?))).collect();
    let (mut parallel, mut both) = (0, 0);
    for w in tops.windows(2) {
        let (Some((a0, b0)), Some((a1, b1))) = (w[0], w[1]) else { continue };
        if a0 == a1 || b0 == b1 {
            continue;
        }
        both += 1;
        let perfect = |x: u8, y: u8| matches!(x.abs_diff(y) % 12, 0 | 7);
        let same_way = (a1 > a0) == (b1 > b0);
        let same_interval = a0.abs_diff(b0) % 12 == a1.abs_diff(b1) % 12;
        parallel += (same_way && same_interval && perfect(a0, b0)) as usize;
    }
    (parallel, both)
}

/// Share of the clip's bars whose second half has no onset in a pitched track while one of
/// them sounds there.
fn phrase_ends(clip: &Clip, pitched: &[&[Note]]) -> f64 {
    let spb = clip.meta.steps_per_bar();
    let bars = clip.bars();
    let ends = (0..bars)
        .filter(|&bar| {
            let (half, end) = (bar * spb + spb / 2, (bar + 1) * spb);
            let notes = || pitched.iter().flat_map(|t| t.iter());
            let struck = notes().any(|n| n.start >= half && n.start < end);
            let sounds = notes().any(|n| n.start < end && n.end > half);
            !struck && sounds
        })
        .count();
    share(ends, bars as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Track;

    /// (pitch, start, end) in steps.
    type N = (u8, u32, u32);

    /// A 4/4 clip (16 steps a bar) of tracks of (channel, notes).
    fn clip(tracks: &[(u8, &[N])]) -> Clip {
        let mut c = Clip::one_track(Vec::new());
        let base = c.tracks[0].clone();
        c.tracks = tracks
            .iter()
            .map(|&(channel, notes)| Track {
                channel,
                notes: notes.iter().map(|&(p, s, e)| Note::new(p, s, e, 80)).collect(),
                ..base.clone()
            })
            .collect();
        c
    }

    #[test]
    fn steps_and_leaps_of_the_top_note() {
        // C D E (steps), E again (no move), G (3: neither), C' (5: a leap); the lower note of
        // the dyad at step 4 does not count, nor does a drum track's leaps.
        let melody = [(60, 0, 2), (62, 2, 4), (64, 4, 6), (55, 4, 6), (64, 6, 8), (67, 8, 10), (72, 10, 12)];
        let drums = [(36, 0, 1), (49, 4, 5)];
        let l = lines(&clip(&[(0, &melody), (9, &drums)]));
        assert_eq!((l.step_share, l.leap_share), (2.0 / 4.0, 1.0 / 4.0));
    }

    #[test]
    fn parallel_fifths_and_octaves_between_two_tracks() {
        // Upper C D E F, lower F G A A: fifths C/F -> D/G (parallel), D/G -> E/A (parallel),
        // E/A -> F/A (the lower holds: not a move of both).
        let upper = [(72, 0, 4), (74, 4, 8), (76, 8, 12), (77, 12, 16)];
        let lower = [(65, 0, 4), (67, 4, 8), (69, 8, 12), (69, 12, 16)];
        assert_eq!(lines(&clip(&[(0, &upper), (1, &lower)])).parallels, 1.0);
        // Contrary motion between octaves, then similar motion from an octave to a third: none.
        let upper = [(72, 0, 4), (74, 4, 8), (76, 8, 12)];
        let lower = [(60, 0, 4), (50, 4, 8), (72, 8, 12)];
        assert_eq!(lines(&clip(&[(0, &upper), (1, &lower)])).parallels, 0.0);
    }

    #[test]
    fn a_bar_that_holds_its_second_half_ends_a_phrase() {
        // Bar 1 strikes on every beat; bar 2 holds a chord from beat 2 (a cadence); bar 3 is
        // silent in its second half (a rest, not a phrase end); drums striking there do not
        // count.
        let voice =
            [(60, 0, 4), (62, 4, 8), (64, 8, 12), (65, 12, 16), (64, 16, 20), (67, 20, 32), (60, 32, 40)];
        let drums = [(42, 24, 25), (42, 40, 41), (42, 44, 45)];
        let l = lines(&clip(&[(0, &voice), (9, &drums)]));
        assert_eq!(l.phrase_ends, 1.0 / 3.0);
    }
}
