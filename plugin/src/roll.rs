//! What the editor's piano roll draws, as plain data: note rectangles per track (the clip, then
//! the generated bars after it), bar lines with numbers, and the playhead, for a given view.
//! No GUI types here, so it is tested without a window; the editor only paints the result.

use sintra_core::clip::{Clip, TICKS_PER_QUARTER};

use crate::scheduler::PlayNote;

/// The visible part of the roll and its size on screen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Quarter note at the left edge (0 = the clip's start).
    pub first_beat: f64,
    /// Quarter notes across the width.
    pub beats: f64,
    /// Lowest pitch shown (bottom row).
    pub low: u8,
    /// Highest pitch shown (top row).
    pub high: u8,
    /// Width in points.
    pub width: f32,
    /// Height in points.
    pub height: f32,
}

impl View {
    /// Zooms by `factor` (> 1: closer) keeping the beat under `x` (points) where it is.
    pub fn zoom(&mut self, factor: f64, x: f32) {
        let anchor = self.beat_at(x);
        self.beats = (self.beats / factor.max(1e-3)).clamp(1.0, 4096.0);
        self.first_beat = (anchor - x as f64 / self.width.max(1.0) as f64 * self.beats).max(0.0);
    }

    /// Scrolls by `points` to the right (negative: left), never before the start.
    pub fn scroll(&mut self, points: f32) {
        self.first_beat =
            (self.first_beat + points as f64 / self.width.max(1.0) as f64 * self.beats).max(0.0);
    }

    /// The quarter note under `x` points.
    pub fn beat_at(&self, x: f32) -> f64 {
        self.first_beat + x as f64 / self.width.max(1.0) as f64 * self.beats
    }

    fn x(&self, beat: f64) -> f32 {
        ((beat - self.first_beat) / self.beats * self.width as f64) as f32
    }

    fn row_height(&self) -> f32 {
        self.height / (self.high.saturating_sub(self.low) as f32 + 1.0)
    }
}

/// One note to paint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoteRect {
    /// Left edge, points.
    pub x: f32,
    /// Top edge, points.
    pub y: f32,
    /// Width, points.
    pub w: f32,
    /// Height, points.
    pub h: f32,
    /// Clip track (colour).
    pub track: usize,
    /// Generated (drawn after the clip) rather than captured.
    pub generated: bool,
}

/// A bar line and its number (1-based, counted from the clip's start).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarLine {
    /// Position, points.
    pub x: f32,
    /// Bar number.
    pub number: u32,
}

/// A generated bar on the ruler: where it is, and how close it is to the clip.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarMark {
    /// Left edge, points.
    pub x: f32,
    /// Width, points.
    pub w: f32,
    /// Bar of the variation, 1-based.
    pub bar: u32,
    /// Its match with the clip (1 = a copy), where known.
    pub closeness: Option<f32>,
}

/// Everything the roll paints for one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Roll {
    /// Notes inside the view.
    pub notes: Vec<NoteRect>,
    /// Bar lines inside the view.
    pub bars: Vec<BarLine>,
    /// The generated bars inside the view.
    pub marks: Vec<BarMark>,
    /// Playhead position, when the transport runs and it is in view.
    pub playhead: Option<f32>,
}

/// The generated notes of a variation, its length in quarter notes and each bar's closeness.
#[derive(Clone, Copy, Debug, Default)]
pub struct Generated<'a> {
    /// Notes, from the variation's start.
    pub notes: &'a [PlayNote],
    /// Length in quarter notes.
    pub length: f64,
    /// Per bar, its match with the clip.
    pub closeness: &'a [f32],
}

/// Lays out the clip (from beat 0) and the generated notes (from the clip's end) in `view`.
/// `playhead` is the host position in the same beats, if the transport runs.
pub fn layout(clip: &Clip, gen: Generated, view: &View, playhead: Option<f64>) -> Roll {
    let generated = gen.notes;
    let spb = clip.meta.bar_quarters();
    let clip_len = clip.bars() as f64 * spb;
    let track_of = |channel: u8| clip.tracks.iter().position(|t| t.channel == channel).unwrap_or(0);
    let end = view.first_beat + view.beats;
    let row = view.row_height();
    let mut roll = Roll::default();
    let mut push = |start: f64, stop: f64, pitch: u8, track: usize, generated: bool| {
        if stop <= view.first_beat || start >= end || pitch < view.low || pitch > view.high {
            return;
        }
        let (x0, x1) = (view.x(start.max(view.first_beat)), view.x(stop.min(end)));
        let y = (view.high - pitch) as f32 * row;
        roll.notes.push(NoteRect { x: x0, y, w: (x1 - x0).max(1.0), h: row, track, generated });
    };
    for (k, t) in clip.tracks.iter().enumerate() {
        for n in &t.notes {
            // Where it was played: on its step, nudged.
            let beats = |step, nudge| clip.meta.grid.tick(step, nudge) as f64 / TICKS_PER_QUARTER as f64;
            push(beats(n.start, n.nudge.on), beats(n.end, n.nudge.off), n.pitch, k, false);
        }
    }
    for n in generated {
        push(clip_len + n.start, clip_len + n.end, n.key, track_of(n.channel), true);
    }
    let first_bar = (view.first_beat / spb).ceil() as u32;
    let mut bar = first_bar;
    while (bar as f64) * spb <= end {
        roll.bars.push(BarLine { x: view.x(bar as f64 * spb), number: bar + 1 });
        bar += 1;
    }
    let bars = (gen.length / spb).round() as u32;
    for b in 0..bars {
        let (start, stop) = (clip_len + b as f64 * spb, clip_len + (b + 1) as f64 * spb);
        if stop <= view.first_beat || start >= end {
            continue;
        }
        let (x0, x1) = (view.x(start.max(view.first_beat)), view.x(stop.min(end)));
        let closeness = gen.closeness.get(b as usize).copied();
        roll.marks.push(BarMark { x: x0, w: x1 - x0, bar: b + 1, closeness });
    }
    roll.playhead = playhead.filter(|&b| b >= view.first_beat && b <= end).map(|b| view.x(b));
    roll
}

/// The ruler's selection once the variation that plays is `now` quarter notes long, having been
/// `before`: a new set of variations (or a shorter one picked) forgets it; a variation that
/// grows as it is sampled keeps it, also where it reaches bars not sampled yet.
pub fn selection_after(selection: Option<(u32, u32)>, before: f64, now: f64) -> Option<(u32, u32)> {
    selection.filter(|_| now >= before)
}

/// The generated bar (1-based) under `x` points, if any: the ruler's selection.
pub fn generated_bar_at(clip: &Clip, length: f64, view: &View, x: f32) -> Option<u32> {
    let spb = clip.meta.bar_quarters();
    let t = view.beat_at(x) - clip.bars() as f64 * spb;
    (t >= 0.0 && t < length).then(|| (t / spb).floor() as u32 + 1)
}

/// The host's playhead in roll beats (the clip from 0, the generated bars after it), while the
/// transport plays and the timeline's place in the song is known. `timeline` is the host's
/// position minus the timeline's start (negative over the clip); `looping` wraps it over the
/// generated length, as the loop play mode does.
pub fn playhead(
    playing: bool,
    timeline: Option<f64>,
    clip_len: f64,
    generated_len: f64,
    looping: bool,
) -> Option<f64> {
    let t = timeline.filter(|_| playing)?;
    let t = if looping && t > 0.0 && generated_len > 0.0 { t.rem_euclid(generated_len) } else { t };
    Some(clip_len + t)
}

/// Pitch range that shows every note with a little room, at least two octaves.
pub fn fit_pitches(clip: &Clip, generated: &[PlayNote]) -> (u8, u8) {
    let pitches = clip
        .tracks
        .iter()
        .flat_map(|t| t.notes.iter().map(|n| n.pitch))
        .chain(generated.iter().map(|n| n.key));
    let (lo, hi) = pitches.fold((127u8, 0u8), |(lo, hi), p| (lo.min(p), hi.max(p)));
    if lo > hi {
        return (48, 84);
    }
    let (mut lo, mut hi) = (lo.saturating_sub(2), (hi + 2).min(127));
    while hi - lo < 24 {
        lo = lo.saturating_sub(1);
        hi = (hi + 1).min(127);
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sintra_core::clip::{Meta, Note, TimeSig, Track};

    /// One 4/4 bar: track 0 plays C4 on beat 1, track 1 (channel 5) G3 on beats 3-4.
    fn clip() -> Clip {
        let meta = Meta::made("t", 500_000, TimeSig { num: 4, den: 4 });
        let track = |channel, pitch, start, end| Track {
            name: format!("t{channel}"),
            channel,
            program: 0,
            notes: vec![Note::new(pitch, start, end, 80)],
        };
        Clip { meta, tracks: vec![track(0, 60, 0, 4), track(5, 55, 8, 16)] }
    }

    fn view() -> View {
        View { first_beat: 0.0, beats: 8.0, low: 48, high: 71, width: 800.0, height: 240.0 }
    }

    #[test]
    fn notes_bars_and_playhead() {
        let generated = [PlayNote::new(0.0, 2.0, 5, 67, 80)];
        let gen = Generated { notes: &generated, length: 8.0, closeness: &[0.25] };
        let roll = layout(&clip(), gen, &view(), Some(6.0));
        // 100 points per quarter, 10 points per semitone, pitch 71 on top.
        assert_eq!(
            roll.notes,
            vec![
                NoteRect { x: 0.0, y: 110.0, w: 100.0, h: 10.0, track: 0, generated: false },
                NoteRect { x: 200.0, y: 160.0, w: 200.0, h: 10.0, track: 1, generated: false },
                // Generated bars start after the clip's one bar, in their track's colour.
                NoteRect { x: 400.0, y: 40.0, w: 200.0, h: 10.0, track: 1, generated: true },
            ]
        );
        assert_eq!(
            roll.bars,
            vec![
                BarLine { x: 0.0, number: 1 },
                BarLine { x: 400.0, number: 2 },
                BarLine { x: 800.0, number: 3 }
            ]
        );
        assert_eq!(roll.playhead, Some(600.0));
        // The generated bars on the ruler: the first with its closeness; the second, past the
        // view's edge, not at all.
        assert_eq!(roll.marks, vec![BarMark { x: 400.0, w: 400.0, bar: 1, closeness: Some(0.25) }]);
        let mut wide = view();
        wide.beats = 16.0;
        let marks = layout(&clip(), gen, &wide, None).marks;
        assert_eq!(marks[1], BarMark { x: 400.0, w: 200.0, bar: 2, closeness: None }, "not yet measured");
        // The ruler's bars under the pointer: none over the clip or past the variation.
        let at = |x| generated_bar_at(&clip(), 8.0, &view(), x);
        assert_eq!((at(100.0), at(450.0), at(799.0)), (None, Some(1), Some(1)));
        assert_eq!((at(0.0), generated_bar_at(&clip(), 8.0, &wide, 450.0)), (None, Some(2)));
        assert_eq!(generated_bar_at(&clip(), 8.0, &wide, 790.0), None);
    }

    #[test]
    fn a_selection_lasts_while_its_variation_grows() {
        // Bars 5-8 selected while the first 2 bars are sampled: kept as bars come in (also in
        // the moment between training and the first bar), forgotten by a new set.
        let sel = Some((5, 8));
        assert_eq!(selection_after(sel, 0.0, 0.0), sel);
        assert_eq!(selection_after(sel, 0.0, 8.0), sel);
        assert_eq!(selection_after(sel, 8.0, 64.0), sel);
        assert_eq!(selection_after(sel, 64.0, 4.0), None);
    }

    #[test]
    fn scrolled_view_culls_and_clips() {
        let mut v = view();
        v.scroll(300.0); // 3 quarters right: the first note is gone, the second is cut at the edge
        let roll = layout(&clip(), Generated::default(), &v, Some(1.0));
        assert_eq!(
            roll.notes,
            vec![NoteRect { x: 0.0, y: 160.0, w: 100.0, h: 10.0, track: 1, generated: false }]
        );
        assert_eq!(roll.bars[0], BarLine { x: 100.0, number: 2 });
        assert_eq!(roll.playhead, None);
        v.scroll(-10_000.0);
        assert_eq!(v.first_beat, 0.0);
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let mut v = view();
        let before = v.beat_at(600.0);
        v.zoom(2.0, 600.0);
        assert_eq!(v.beats, 4.0);
        assert!((v.beat_at(600.0) - before).abs() < 1e-9);
        v.zoom(1e-9, 0.0);
        assert_eq!(v.beats, 4000.0);
    }

    #[test]
    fn playhead_follows_the_transport() {
        // Stopped or unplaced: none. Over the clip (before the timeline starts): inside it.
        assert_eq!(playhead(false, Some(1.0), 8.0, 16.0, false), None);
        assert_eq!(playhead(true, None, 8.0, 16.0, false), None);
        assert_eq!(playhead(true, Some(-2.0), 8.0, 16.0, false), Some(6.0));
        // Once: runs on past the end; loop: wraps over the generated bars.
        assert_eq!(playhead(true, Some(20.0), 8.0, 16.0, false), Some(28.0));
        assert_eq!(playhead(true, Some(20.0), 8.0, 16.0, true), Some(12.0));
        // And the layout draws it where the beat is.
        let roll = layout(&clip(), Generated::default(), &view(), playhead(true, Some(-1.0), 4.0, 4.0, true));
        assert_eq!(roll.playhead, Some(300.0));
    }

    #[test]
    fn pitch_range_fits_with_room() {
        assert_eq!(fit_pitches(&clip(), &[]), (45, 70));
        let empty = Clip { tracks: vec![], ..clip() };
        assert_eq!(fit_pitches(&empty, &[]), (48, 84));
    }
}
