//! Figures that compare generated clips with the reference clip: similarity (pitch-group
//! overlap, KL, Jensen-Shannon), copying (verbatim bars, longest copied run, near and shifted
//! copies), harmony (chord fit, chord vocabulary), note lengths, re-strikes, velocities and the
//! usual piano-roll statistics, how the lines move and where phrases end (`lines`); and the
//! per-track bar shuffle that serves as a noise floor. Each is defined in docs/metrics.md.

mod lines;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use crate::clip::{Clip, Meta, Note, Track, TICKS_PER_QUARTER};
use crate::grid::ON_GRID_TICKS;
use crate::pitch_group::{encode, Group};

/// A generated bar is a near copy when at least this share of its cells equals a reference
/// bar (or a bar-long window of the reference, for shifted copies).
pub const NEAR_COPY: f64 = 0.75;

/// Statistics of one clip on its own.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClipStats {
    /// Entropy (bits) of the pitch-class histogram of note onsets.
    pub pitch_class_entropy: f64,
    /// Largest share of notes inside one major or minor scale.
    pub scale_consistency: f64,
    /// 1 - mean normalised Hamming distance between onset patterns of consecutive bars.
    pub groove_consistency: f64,
    /// Share of beats in which no note sounds.
    pub empty_beat_rate: f64,
    /// Mean number of pitches sounding at steps where any sounds.
    pub polyphony: f64,
    /// Note onsets per bar.
    pub onsets_per_bar: f64,
    /// Share of notes that sound for exactly one step (a note runs from its onset until it
    /// ends or its pitch is struck again in its track).
    pub short_notes: f64,
    /// Mean sounding steps per note (same note lengths).
    pub note_length: f64,
    /// Share of steps with at least two sounding pitch classes (drum tracks left out) whose
    /// set fits one triad or seventh chord.
    pub harmonic_fit: f64,
    /// Share of onsets whose pitch sounded in the same track at the step before.
    pub restrikes: f64,
    /// Mean over tracks with notes of the standard deviation of their note-on velocities.
    pub velocity_spread: f64,
    /// The standard deviation of note-on velocities per track (0 for a track without notes).
    pub velocity_spread_tracks: Vec<f64>,
    /// Share of onsets (nudges included) more than a 48th of a beat (10 ticks at 480) from a
    /// straight 16th: swing, triplets and human timing.
    pub off_grid: f64,
    /// Share of the pitched tracks' top-note moves within 2 semitones (`lines::Lines`).
    pub step_share: f64,
    /// Share of those moves of more than 4 semitones.
    pub leap_share: f64,
    /// Parallel fifths and octaves per move where two pitched tracks' top notes both move.
    pub parallels: f64,
    /// Share of bars whose second half strikes nothing (pitched tracks) while something sounds.
    pub phrase_ends: f64,
}

/// A generated clip against the reference.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Comparison {
    /// Paper eq. 3: |types(gen) & types(ref)| / |types(gen) | types(ref)|.
    pub overlap: f64,
    /// Paper eq. 2: KL(gen || ref) in bits, both add-one smoothed over the union of types.
    pub kl: f64,
    /// Jensen-Shannon divergence of the pitch-group frequencies, in bits (0..1).
    pub js: f64,
    /// Share of generated bars equal (all tracks, every step) to some reference bar.
    pub copied_bars: f64,
    /// Longest run of consecutive generated bars equal to consecutive reference bars.
    pub longest_copy: usize,
    /// Generated onsets per bar over the reference's.
    pub onset_density_ratio: f64,
    /// Share of sounding steps whose pitch-class set (drum tracks left out) is a subset of one
    /// the reference sounds.
    pub chord_fit: f64,
    /// Mean over generated bars of the best share of (track, step) cells equal to a reference bar.
    pub bar_match: f64,
    /// Share of generated bars whose `bar_match` is at least [`NEAR_COPY`].
    pub near_copies: f64,
    /// As `bar_match`, against every bar-long window of the reference that starts on a beat.
    pub shifted_match: f64,
    /// Share of generated bars whose `shifted_match` is at least [`NEAR_COPY`].
    pub shifted_copies: f64,
    /// Jensen-Shannon divergence (bits, 0..1) between where onsets fall inside the quarter
    /// note, generated against reference, in 48 bins a quarter (`beat_histogram`): the feel.
    pub beat_js: f64,
    /// The generated clip's own statistics.
    pub stats: ClipStats,
}

/// Per step and track, the sounding group; bars of all tracks as rows of groups.
struct Grid {
    /// `[track][step]` sounding groups.
    groups: Vec<Vec<Group>>,
    /// Per track: a drum track (MIDI channel 10), whose keys are not pitches.
    drums: Vec<bool>,
    /// Steps per bar.
    spb: usize,
    /// Whole bars.
    bars: usize,
}

impl Grid {
    fn new(clip: &Clip) -> Self {
        let enc = encode(clip);
        let groups =
            enc.rolls.iter().map(|r| r.tokens.iter().map(|&t| enc.dict.group(t)).collect()).collect();
        let spb = clip.meta.steps_per_bar() as usize;
        let drums = clip.drum_tracks();
        Self { groups, drums, spb, bars: enc.steps / spb }
    }

    /// Frequency of each group over all tracks and steps.
    fn histogram(&self) -> BTreeMap<Group, f64> {
        let mut h = BTreeMap::new();
        for g in self.groups.iter().flatten() {
            *h.entry(*g).or_insert(0.0) += 1.0;
        }
        h
    }

    /// Bar `b` of every track, as one comparable row.
    fn bar(&self, b: usize) -> Vec<Group> {
        self.groups.iter().flat_map(|t| t[b * self.spb..(b + 1) * self.spb].iter().copied()).collect()
    }

    /// Bar `b` as `[track][step]` slices.
    fn bar_cells(&self, b: usize) -> Vec<&[Group]> {
        self.groups.iter().map(|t| &t[b * self.spb..(b + 1) * self.spb]).collect()
    }

    /// Per step, the pitch classes sounding in the pitched (not drum) tracks together.
    fn pitch_classes(&self) -> Vec<u16> {
        let mut pcs = vec![0u16; self.bars * self.spb];
        for (track, _) in self.groups.iter().zip(&self.drums).filter(|(_, &d)| !d) {
            for (pc, &g) in pcs.iter_mut().zip(track) {
                *pc |= pitch_class_set(g);
            }
        }
        pcs
    }
}

/// Steps in one beat of the meter's beat unit (a quarter in 4/4, an eighth in 6/8).
fn beat_steps(meta: &Meta) -> usize {
    (meta.grid.steps_per_quarter() as usize * 4 / meta.time_sig.den.max(1) as usize).max(1)
}

/// Bins a quarter note of [`beat_histogram`]: 10 ticks at 480, each centred on its 48th.
const BEAT_BINS: u64 = 48;

/// Where the onsets (nudges included) fall inside the quarter note, as shares of
/// [`BEAT_BINS`] bins centred on the 48ths (a note a few ticks early counts at its 48th).
pub fn beat_histogram(clip: &Clip) -> Vec<f64> {
    let bin = TICKS_PER_QUARTER as u64 / BEAT_BINS;
    let mut h = vec![0.0; BEAT_BINS as usize];
    for t in clip.onset_ticks() {
        h[((t + bin / 2) / bin % BEAT_BINS) as usize] += 1.0;
    }
    let total: f64 = h.iter().sum();
    h.iter_mut().for_each(|x| *x /= total.max(1.0));
    h
}

/// Share of onsets more than a 48th of a beat from a straight 16th.
fn off_straight_grid(clip: &Clip) -> f64 {
    let sixteenth = TICKS_PER_QUARTER as u64 / 4;
    let off = |t: u64| (t % sixteenth).min(sixteenth - t % sixteenth) > ON_GRID_TICKS as u64;
    let (mut n, mut count) = (0, 0);
    for t in clip.onset_ticks() {
        n += 1;
        count += usize::from(off(t));
    }
    share(count, n)
}

/// Jensen-Shannon divergence in bits of two aligned probability vectors.
fn js_bits(p: &[f64], q: &[f64]) -> f64 {
    let m: Vec<f64> = p.iter().zip(q).map(|(a, b)| (a + b) / 2.0).collect();
    0.5 * kl_bits(p, &m) + 0.5 * kl_bits(q, &m)
}

/// The pitch classes of a group as a 12-bit mask (bit 0 = C).
pub fn pitch_class_set(group: Group) -> u16 {
    (0..11).fold(0u16, |m, octave| m | ((group >> (12 * octave)) & 0xfff) as u16)
}

/// Marks every subset of `set` in `table`.
pub fn mark_subsets(table: &mut [bool], set: u16) {
    let mut sub = set;
    loop {
        table[sub as usize] = true;
        if sub == 0 {
            break;
        }
        sub = (sub - 1) & set;
    }
}

/// Chords of the harmonic fit, as intervals above the root: major, minor, diminished and
/// augmented triads; dominant, major, minor, half-diminished and diminished sevenths.
pub const CHORDS: [&[u16]; 9] = [
    &[0, 4, 7],
    &[0, 3, 7],
    &[0, 3, 6],
    &[0, 4, 8],
    &[0, 4, 7, 10],
    &[0, 4, 7, 11],
    &[0, 3, 7, 10],
    &[0, 3, 6, 10],
    &[0, 3, 6, 9],
];

/// Whether a pitch-class set (12-bit mask) is a subset of one of [`CHORDS`] on any root.
pub fn fits_a_chord(set: u16) -> bool {
    static TABLE: OnceLock<Vec<bool>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = vec![false; 1 << 12];
        for chord in CHORDS {
            for root in 0..12 {
                mark_subsets(&mut t, chord.iter().fold(0, |m, &i| m | 1 << ((root + i) % 12)));
            }
        }
        t
    });
    table[(set & 0xfff) as usize]
}

/// Per track and note (in the track's order), the steps it sounds: from its onset until it ends
/// or a later note of its pitch starts in its track, whichever comes first.
fn sounding_lengths(track: &Track) -> Vec<u32> {
    let mut order: Vec<usize> = (0..track.notes.len()).collect();
    order.sort_by_key(|&i| (track.notes[i].pitch, track.notes[i].start));
    let mut lengths = vec![0; track.notes.len()];
    for (k, &i) in order.iter().enumerate() {
        let n = track.notes[i];
        let next = order[k + 1..]
            .iter()
            .map(|&j| track.notes[j])
            .take_while(|m| m.pitch == n.pitch)
            .find(|m| m.start > n.start)
            .map_or(n.end, |m| m.start);
        lengths[i] = n.end.min(next).saturating_sub(n.start);
    }
    lengths
}

/// Population standard deviation (0 for no values).
fn std_dev(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

/// `part / whole`, 0 when `whole` is 0.
fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The reference prepared for near-copy matching: its bars and every bar-long window that
/// starts on a beat. Build it once, then match as many generated bars as needed
/// ([`bar_match`]); one match costs (windows x tracks x steps per bar) comparisons, about 3,000
/// for 12 bars of 4-track 4/4.
#[derive(Clone, Debug)]
pub struct ReferenceBars {
    /// `[track][step]` sounding groups over the reference's whole bars.
    groups: Vec<Vec<Group>>,
    /// Steps per bar.
    spb: usize,
    /// First steps of the windows: every beat from which a whole bar fits.
    starts: Vec<usize>,
}

impl ReferenceBars {
    /// Prepares `reference` (all its whole bars).
    pub fn new(reference: &Clip) -> Self {
        Self::from_grid(&Grid::new(reference), beat_steps(&reference.meta))
    }

    fn from_grid(grid: &Grid, beat: usize) -> Self {
        let steps = grid.bars * grid.spb;
        let starts =
            if steps < grid.spb { Vec::new() } else { (0..=steps - grid.spb).step_by(beat).collect() };
        Self { groups: grid.groups.clone(), spb: grid.spb, starts }
    }

    /// Steps per bar of the reference.
    pub fn steps_per_bar(&self) -> usize {
        self.spb
    }

    /// Number of tracks of the reference.
    pub fn tracks(&self) -> usize {
        self.groups.len()
    }

    /// Share of the (track, step) cells of `bar` (`[track][step]` sounding groups) equal to
    /// the reference's window from `start`; 0 when `bar` has another shape.
    fn window_match<B: AsRef<[Group]>>(&self, bar: &[B], start: usize) -> f64 {
        if bar.is_empty()
            || bar.len() != self.groups.len()
            || bar.iter().any(|t| t.as_ref().len() != self.spb)
        {
            return 0.0;
        }
        let equal: usize = bar
            .iter()
            .zip(&self.groups)
            .map(|(g, r)| g.as_ref().iter().zip(&r[start..start + self.spb]).filter(|(a, b)| a == b).count())
            .sum();
        equal as f64 / (bar.len() * self.spb) as f64
    }

    /// The best share of equal cells of `bar` against the reference's bars (bar lines only).
    pub fn aligned_match<B: AsRef<[Group]>>(&self, bar: &[B]) -> f64 {
        let starts = self.starts.iter().filter(|&&s| s % self.spb == 0);
        starts.map(|&s| self.window_match(bar, s)).fold(0.0, f64::max)
    }

    /// The best share of equal cells of `bar` against every bar-long window of the reference
    /// that starts on a beat (its bars included).
    pub fn shifted_match<B: AsRef<[Group]>>(&self, bar: &[B]) -> f64 {
        self.starts.iter().map(|&s| self.window_match(bar, s)).fold(0.0, f64::max)
    }

    /// `shifted_match` and the first step of the window that gives it (the earliest of
    /// equals; 0 when there is none).
    pub fn nearest_window<B: AsRef<[Group]>>(&self, bar: &[B]) -> (f64, usize) {
        let best = |a: (f64, usize), b: (f64, usize)| if b.0 > a.0 { b } else { a };
        self.starts.iter().map(|&s| (self.window_match(bar, s), s)).fold((0.0, 0), best)
    }
}

/// The best share of (track, step) cells of one generated bar (`[track][step]` sounding
/// groups, the reference's tracks and steps per bar) equal to a reference bar or a bar-long
/// window of the reference starting on a beat: 1 for a copy, shifted or not. 0 when the bar's
/// shape differs from the reference's.
pub fn bar_match<B: AsRef<[Group]>>(gen_bar: &[B], reference: &ReferenceBars) -> f64 {
    reference.shifted_match(gen_bar)
}

/// How close each bar of `generated` is to `reference` (the measure behind the similarity
/// setting, [`bar_match`]): per bar, the best share of equal (track, step) cells against a
/// reference bar or a bar-long window of it from a beat, and that window's first step.
pub fn bar_closeness(reference: &Clip, generated: &Clip) -> Vec<(f64, usize)> {
    let (r, g) = (Grid::new(reference), Grid::new(generated));
    let windows = ReferenceBars::from_grid(&r, beat_steps(&reference.meta));
    (0..g.bars).map(|b| windows.nearest_window(&g.bar_cells(b))).collect()
}

/// Each track's bars permuted independently (a ChaCha8 generator seeded with `seed`, one
/// permutation per track in track order): the clip's own material without its coordination,
/// a noise floor for the figures. Notes that cross a bar line are cut there, as
/// [`Clip::select_bars`] cuts them.
pub fn shuffle_bars(clip: &Clip, seed: u64) -> Clip {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let spb = clip.meta.steps_per_bar();
    let bars = clip.bars();
    let tracks = clip
        .tracks
        .iter()
        .map(|t| {
            let mut order: Vec<u32> = (0..bars).collect();
            order.shuffle(&mut rng);
            let mut notes: Vec<Note> = order
                .iter()
                .enumerate()
                .flat_map(|(to, &from)| {
                    let (a, b) = (from * spb, from * spb + spb);
                    let shift = to as i64 - from as i64;
                    t.notes.iter().filter(move |n| n.end > a && n.start < b).map(move |n| {
                        let moved = |x: u32| (x as i64 + shift * spb as i64) as u32;
                        Note { start: moved(n.start.max(a)), end: moved(n.end.min(b)), ..*n }
                    })
                })
                .collect();
            notes.sort_by_key(|n| (n.start, n.pitch, n.end));
            Track { notes, ..t.clone() }
        })
        .collect();
    Clip { meta: clip.meta.clone(), tracks }
}

fn entropy_bits(counts: &[f64]) -> f64 {
    let total: f64 = counts.iter().sum();
    if total == 0.0 {
        return 0.0;
    }
    counts.iter().filter(|&&c| c > 0.0).map(|&c| -(c / total) * (c / total).log2()).sum()
}

/// KL(p || q) in bits over aligned probability vectors (q > 0 wherever p > 0).
fn kl_bits(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).filter(|(&a, _)| a > 0.0).map(|(&a, &b)| a * (a / b).log2()).sum()
}

/// The statistics of one clip.
pub fn clip_stats(clip: &Clip) -> ClipStats {
    let notes: Vec<_> = clip.tracks.iter().flat_map(|t| &t.notes).collect();
    let grid = Grid::new(clip);
    let spb = grid.spb;
    let bars = grid.bars.max(1);

    let mut pc = [0f64; 12];
    for n in &notes {
        pc[(n.pitch % 12) as usize] += 1.0;
    }
    let scale_consistency = (0..12)
        .flat_map(|root| [[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]].map(|s| s.map(|i| (root + i) % 12)))
        .map(|scale| scale.iter().map(|&c| pc[c]).sum::<f64>())
        .fold(0.0, f64::max)
        / (notes.len().max(1) as f64);

    // Onset patterns per bar, all tracks pooled.
    let mut onsets = vec![vec![false; spb]; bars];
    for n in &notes {
        let s = n.start as usize;
        if s / spb < bars {
            onsets[s / spb][s % spb] = true;
        }
    }
    let groove_consistency = if bars < 2 {
        1.0
    } else {
        let d: f64 = onsets
            .windows(2)
            .map(|w| w[0].iter().zip(&w[1]).filter(|(a, b)| a != b).count() as f64 / spb as f64)
            .sum();
        1.0 - d / (bars - 1) as f64
    };

    // Sounding pitches per step, all tracks pooled.
    let steps = bars * spb;
    let mut sounding = vec![0 as Group; steps];
    for track in &grid.groups {
        for (s, g) in track.iter().enumerate().take(steps) {
            sounding[s] |= g;
        }
    }
    let beat = beat_steps(&clip.meta);
    let beats = steps / beat;
    let empty = (0..beats).filter(|b| sounding[b * beat..(b + 1) * beat].iter().all(|&g| g == 0)).count();
    let busy: Vec<u32> = sounding.iter().map(|g| g.count_ones()).filter(|&c| c > 0).collect();

    // Note lengths, re-strikes and velocities, track by track.
    let mut lengths = Vec::new();
    let mut restruck = 0;
    let mut velocity_spread_tracks = Vec::new();
    for (track, sounding) in clip.tracks.iter().zip(&grid.groups) {
        lengths.extend(sounding_lengths(track));
        let before = |n: &Note| n.start.checked_sub(1).and_then(|s| sounding.get(s as usize)).copied();
        restruck += track.notes.iter().filter(|n| before(n).is_some_and(|g| (g >> n.pitch) & 1 == 1)).count();
        let velocities: Vec<f64> = track.notes.iter().map(|n| n.velocity as f64).collect();
        velocity_spread_tracks.push(std_dev(&velocities));
    }
    let with_notes: Vec<f64> = clip
        .tracks
        .iter()
        .zip(&velocity_spread_tracks)
        .filter(|(t, _)| !t.notes.is_empty())
        .map(|(_, &sd)| sd)
        .collect();

    // Harmony: steps where the pitched tracks sound at least two pitch classes.
    let chords: Vec<u16> = grid.pitch_classes().into_iter().filter(|p| p.count_ones() >= 2).collect();
    let lines = lines::lines(clip);

    ClipStats {
        pitch_class_entropy: entropy_bits(&pc),
        scale_consistency,
        groove_consistency,
        empty_beat_rate: if beats == 0 { 0.0 } else { empty as f64 / beats as f64 },
        polyphony: if busy.is_empty() { 0.0 } else { busy.iter().sum::<u32>() as f64 / busy.len() as f64 },
        onsets_per_bar: notes.len() as f64 / bars as f64,
        short_notes: share(lengths.iter().filter(|&&l| l == 1).count(), lengths.len()),
        note_length: if lengths.is_empty() {
            0.0
        } else {
            lengths.iter().map(|&l| l as f64).sum::<f64>() / lengths.len() as f64
        },
        harmonic_fit: share(chords.iter().filter(|&&p| fits_a_chord(p)).count(), chords.len()),
        restrikes: share(restruck, notes.len()),
        velocity_spread: if with_notes.is_empty() {
            0.0
        } else {
            with_notes.iter().sum::<f64>() / with_notes.len() as f64
        },
        velocity_spread_tracks,
        off_grid: off_straight_grid(clip),
        step_share: lines.step_share,
        leap_share: lines.leap_share,
        parallels: lines.parallels,
        phrase_ends: lines.phrase_ends,
    }
}

/// Compares a generated clip with the reference.
pub fn compare(reference: &Clip, generated: &Clip) -> Comparison {
    let (r, g) = (Grid::new(reference), Grid::new(generated));
    let (hr, hg) = (r.histogram(), g.histogram());
    let types: BTreeSet<Group> = hr.keys().chain(hg.keys()).copied().collect();
    let shared = hr.keys().filter(|k| hg.contains_key(k)).count();
    let overlap = shared as f64 / types.len().max(1) as f64;

    let probs = |h: &BTreeMap<Group, f64>, alpha: f64| {
        let total: f64 = h.values().sum::<f64>() + alpha * types.len() as f64;
        types.iter().map(|t| (h.get(t).copied().unwrap_or(0.0) + alpha) / total).collect::<Vec<f64>>()
    };
    let kl = kl_bits(&probs(&hg, 1.0), &probs(&hr, 1.0));
    let js = js_bits(&probs(&hg, 0.0), &probs(&hr, 0.0));

    // Copies: a generated bar equal to a reference bar (same meter and tracks needed).
    let comparable = r.spb == g.spb && r.groups.len() == g.groups.len();
    let ref_bars: Vec<Vec<Group>> = (0..r.bars).map(|b| r.bar(b)).collect();
    let gen_bars: Vec<Vec<Group>> = (0..g.bars).map(|b| g.bar(b)).collect();
    let mut copied = 0;
    let mut longest = 0;
    let mut run = vec![0usize; ref_bars.len() + 1];
    for gb in &gen_bars {
        let mut next = vec![0usize; ref_bars.len() + 1];
        let mut any = false;
        for (j, rb) in ref_bars.iter().enumerate() {
            if comparable && gb == rb {
                any = true;
                next[j + 1] = run[j] + 1;
                longest = longest.max(next[j + 1]);
            }
        }
        copied += usize::from(any);
        run = next;
    }

    // Chord vocabulary: every subset of a pitch-class set the reference sounds.
    let mut known = vec![false; 1 << 12];
    for set in r.pitch_classes().into_iter().filter(|&p| p != 0).collect::<BTreeSet<u16>>() {
        mark_subsets(&mut known, set);
    }
    let sounding: Vec<u16> = g.pitch_classes().into_iter().filter(|&p| p != 0).collect();
    let chord_fit = share(sounding.iter().filter(|&&p| known[p as usize]).count(), sounding.len());

    // Near copies, at bar lines and shifted by beats.
    let windows = ReferenceBars::from_grid(&r, beat_steps(&reference.meta));
    let (aligned, shifted): (Vec<f64>, Vec<f64>) = (0..g.bars)
        .map(|b| {
            let cells = g.bar_cells(b);
            (windows.aligned_match(&cells), windows.shifted_match(&cells))
        })
        .unzip();
    let mean_of = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let near = |v: &[f64]| share(v.iter().filter(|&&m| m >= NEAR_COPY).count(), v.len());

    let stats = clip_stats(generated);
    let ref_density = clip_stats(reference).onsets_per_bar;
    Comparison {
        chord_fit,
        bar_match: mean_of(&aligned),
        near_copies: near(&aligned),
        shifted_match: mean_of(&shifted),
        shifted_copies: near(&shifted),
        beat_js: js_bits(&beat_histogram(generated), &beat_histogram(reference)),
        overlap,
        kl,
        js,
        copied_bars: copied as f64 / gen_bars.len().max(1) as f64,
        longest_copy: longest,
        onset_density_ratio: if ref_density > 0.0 { stats.onsets_per_bar / ref_density } else { 0.0 },
        stats,
    }
}

/// Per track, the mean velocity spread over `items`; empty unless all have the same tracks.
fn mean_per_track(items: &[Comparison]) -> Vec<f64> {
    let Some(first) = items.first() else { return Vec::new() };
    let tracks = first.stats.velocity_spread_tracks.len();
    if items.iter().any(|c| c.stats.velocity_spread_tracks.len() != tracks) {
        return Vec::new();
    }
    (0..tracks)
        .map(|k| items.iter().map(|c| c.stats.velocity_spread_tracks[k]).sum::<f64>() / items.len() as f64)
        .collect()
}

/// The mean of several comparisons (the longest copy is averaged too; per-track velocity
/// spreads track by track when all have the same number of tracks, else empty).
pub fn mean(items: &[Comparison]) -> Comparison {
    let n = items.len().max(1) as f64;
    let avg = |f: &dyn Fn(&Comparison) -> f64| items.iter().map(f).sum::<f64>() / n;
    Comparison {
        overlap: avg(&|c| c.overlap),
        kl: avg(&|c| c.kl),
        js: avg(&|c| c.js),
        copied_bars: avg(&|c| c.copied_bars),
        longest_copy: avg(&|c| c.longest_copy as f64).round() as usize,
        onset_density_ratio: avg(&|c| c.onset_density_ratio),
        chord_fit: avg(&|c| c.chord_fit),
        bar_match: avg(&|c| c.bar_match),
        near_copies: avg(&|c| c.near_copies),
        shifted_match: avg(&|c| c.shifted_match),
        shifted_copies: avg(&|c| c.shifted_copies),
        beat_js: avg(&|c| c.beat_js),
        stats: ClipStats {
            pitch_class_entropy: avg(&|c| c.stats.pitch_class_entropy),
            scale_consistency: avg(&|c| c.stats.scale_consistency),
            groove_consistency: avg(&|c| c.stats.groove_consistency),
            empty_beat_rate: avg(&|c| c.stats.empty_beat_rate),
            polyphony: avg(&|c| c.stats.polyphony),
            onsets_per_bar: avg(&|c| c.stats.onsets_per_bar),
            short_notes: avg(&|c| c.stats.short_notes),
            note_length: avg(&|c| c.stats.note_length),
            harmonic_fit: avg(&|c| c.stats.harmonic_fit),
            restrikes: avg(&|c| c.stats.restrikes),
            velocity_spread: avg(&|c| c.stats.velocity_spread),
            velocity_spread_tracks: mean_per_track(items),
            off_grid: avg(&|c| c.stats.off_grid),
            step_share: avg(&|c| c.stats.step_share),
            leap_share: avg(&|c| c.stats.leap_share),
            parallels: avg(&|c| c.stats.parallels),
            phrase_ends: avg(&|c| c.stats.phrase_ends),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Note;

    /// A one-track 4/4 clip from (pitch, start, end) in steps.
    fn clip(notes: &[(u8, u32, u32)]) -> Clip {
        Clip::one_track(notes.iter().map(|&(pitch, start, end)| Note::new(pitch, start, end, 80)).collect())
    }

    /// (pitch, start, end, velocity).
    type N = (u8, u32, u32, u8);

    /// A 4/4 clip from tracks of (channel, notes).
    fn tracks(tracks: &[(u8, &[N])]) -> Clip {
        let mut c = Clip::one_track(Vec::new());
        c.tracks = tracks
            .iter()
            .enumerate()
            .map(|(i, &(channel, notes))| Track {
                name: format!("t{i}"),
                channel,
                program: 0,
                notes: notes
                    .iter()
                    .map(|&(pitch, start, end, velocity)| Note::new(pitch, start, end, velocity))
                    .collect(),
            })
            .collect();
        c
    }

    /// Pitch classes as a 12-bit mask.
    fn pcs(classes: &[u16]) -> u16 {
        classes.iter().fold(0, |m, &c| m | 1 << c)
    }

    #[test]
    fn note_lengths_and_restrikes_by_hand() {
        let c = tracks(&[(
            0,
            &[
                (60, 0, 4, 80),  // struck again at 2: sounds 2 steps
                (60, 2, 6, 80),  // C sounded at 1: a re-strike; 4 steps
                (62, 8, 9, 80),  // 1 step
                (62, 9, 10, 80), // D sounded at 8: a re-strike; 1 step
                (64, 10, 12, 80),
                (64, 12, 13, 80), // E sounded at 11: a re-strike; 1 step
                (64, 14, 15, 80), // E stopped at 13: not a re-strike; 1 step
            ],
        )]);
        let s = clip_stats(&c);
        // Lengths 2, 4, 1, 1, 2, 1, 1.
        assert_eq!(s.short_notes, 4.0 / 7.0);
        assert_eq!(s.note_length, 12.0 / 7.0);
        assert_eq!(s.restrikes, 3.0 / 7.0);
        // Drum keys count too: a hat on consecutive 16ths is struck again while it sounds.
        let hats = tracks(&[(9, &[(42, 0, 1, 80), (42, 1, 2, 80), (42, 3, 4, 80)])]);
        let s = clip_stats(&hats);
        assert_eq!((s.short_notes, s.note_length), (1.0, 1.0));
        assert_eq!(s.restrikes, 1.0 / 3.0);
        // The same pitch in another track is not a re-strike.
        let two = tracks(&[(0, &[(60, 0, 4, 80)]), (1, &[(60, 4, 8, 80)])]);
        assert_eq!(clip_stats(&two).restrikes, 0.0);
    }

    #[test]
    fn velocity_spread_by_hand() {
        let c = tracks(&[
            (0, &[(60, 0, 4, 70), (62, 4, 8, 90)]),
            (1, &[(48, 0, 4, 80), (50, 4, 8, 80), (52, 8, 12, 80)]),
            (2, &[]),
        ]);
        let s = clip_stats(&c);
        assert_eq!(s.velocity_spread_tracks, vec![10.0, 0.0, 0.0]);
        // The mean leaves out the track without notes.
        assert_eq!(s.velocity_spread, 5.0);
        let m = mean(&[
            Comparison { stats: s.clone(), ..Default::default() },
            Comparison {
                stats: ClipStats { velocity_spread_tracks: vec![0.0, 4.0, 0.0], ..s },
                ..Default::default()
            },
        ]);
        assert_eq!(m.stats.velocity_spread_tracks, vec![5.0, 2.0, 0.0]);
    }

    #[test]
    fn chords_that_fit() {
        assert!(fits_a_chord(pcs(&[0, 4, 7]))); // C major
        assert!(fits_a_chord(pcs(&[9, 0, 4]))); // A minor
        assert!(fits_a_chord(pcs(&[11, 2, 5, 8]))); // B diminished seventh
        assert!(fits_a_chord(pcs(&[0, 4, 8]))); // augmented
        assert!(fits_a_chord(pcs(&[0, 4, 7, 9]))); // C6 = A minor seventh
        assert!(fits_a_chord(pcs(&[11, 0]))); // B-C: the major seventh of C
        assert!(fits_a_chord(pcs(&[0, 2]))); // C-D: the seventh of D7
        assert!(!fits_a_chord(pcs(&[0, 5, 7]))); // sus4
        assert!(!fits_a_chord(pcs(&[0, 2, 4]))); // C D E
        assert!(!fits_a_chord(pcs(&[0, 1, 2]))); // a cluster
        assert!(!fits_a_chord(pcs(&[0, 3, 4, 7]))); // major and minor third together
        assert_eq!(pitch_class_set(1 << 60 | 1 << 76 | 1 << 127), pcs(&[0, 4, 7]));
    }

    #[test]
    fn harmonic_fit_by_hand() {
        let c = tracks(&[
            // Upper voices: C E G | C C# D | C E G | C F G, one beat each, then an octave C.
            (0, &[(64, 0, 4, 80), (67, 0, 4, 80), (61, 4, 8, 80), (62, 4, 8, 80)]),
            (0, &[(64, 8, 12, 80), (67, 8, 12, 80), (65, 12, 16, 80), (67, 12, 16, 80)]),
            (1, &[(48, 0, 16, 80), (48, 16, 20, 80), (60, 16, 20, 80)]),
            // A drum key (C#) on beat 3 is not a pitch.
            (9, &[(61, 8, 12, 80)]),
        ]);
        // 16 steps with two or more pitch classes; beats 1 and 3 fit, 2 and 4 do not; the octave
        // (one pitch class) and the rest are not counted.
        assert_eq!(clip_stats(&c).harmonic_fit, 0.5);
        assert_eq!(clip_stats(&clip(&[(60, 0, 4)])).harmonic_fit, 0.0);
    }

    #[test]
    fn chord_vocabulary_by_hand() {
        // The reference sounds C E G, then D F A, one beat each.
        let r = tracks(&[(
            0,
            &[(60, 0, 4, 80), (64, 0, 4, 80), (67, 0, 4, 80), (62, 4, 8, 80), (65, 4, 8, 80), (69, 4, 8, 80)],
        )]);
        let g = tracks(&[
            (
                0,
                &[
                    (60, 0, 4, 80), // C E: in C E G
                    (64, 0, 4, 80),
                    (48, 4, 8, 80), // C G E in other octaves: in C E G
                    (55, 4, 8, 80),
                    (76, 4, 8, 80),
                    (60, 8, 12, 80), // C D: in neither
                    (62, 8, 12, 80),
                    (62, 12, 14, 80), // D A: in D F A
                    (69, 12, 14, 80),
                ],
            ),
            // Drums under the rest at 14..16: not a sounding step.
            (9, &[(36, 14, 16, 80)]),
        ]);
        let c = compare(&r, &g);
        assert_eq!(c.chord_fit, 10.0 / 14.0);
        assert_eq!(compare(&r, &r).chord_fit, 1.0);
    }

    #[test]
    fn near_and_shifted_copies_by_hand() {
        // Reference, two bars: quarters C D E F | G A B C over whole notes C | G.
        let q = |pitches: [u8; 4], bar: u32| {
            pitches
                .into_iter()
                .enumerate()
                .map(move |(i, p)| (p, bar * 16 + i as u32 * 4, bar * 16 + i as u32 * 4 + 4, 80))
        };
        let upper: Vec<_> = q([60, 62, 64, 65], 0).chain(q([67, 69, 71, 72], 1)).collect();
        let r = tracks(&[(0, &upper), (1, &[(48, 0, 16, 80), (55, 16, 32, 80)])]);
        // Generated: the reference shifted by one beat; a silent bar; bar 2 of the reference
        // with its last beat changed.
        let upper: Vec<_> = q([62, 64, 65, 67], 0).chain(q([67, 69, 71, 74], 2)).collect();
        let g = tracks(&[(0, &upper), (1, &[(48, 0, 12, 80), (55, 12, 16, 80), (55, 32, 48, 80)])]);
        let c = compare(&r, &g);
        // Bar lines only: bar 1 best against reference bar 1 (the bass's first 12 steps: 12 of
        // 32), bar 2 nothing, bar 3 against reference bar 2 (12 + 16 of 32).
        assert_eq!(c.bar_match, (12.0 / 32.0 + 0.0 + 28.0 / 32.0) / 3.0);
        assert_eq!(c.near_copies, 1.0 / 3.0);
        // From any beat: bar 1 is the window from beat 2, whole.
        assert_eq!(c.shifted_match, (1.0 + 0.0 + 28.0 / 32.0) / 3.0);
        assert_eq!(c.shifted_copies, 2.0 / 3.0);
        assert_eq!(c.copied_bars, 0.0);

        // The per-bar API: the same figures for one bar at a time.
        let reference = ReferenceBars::new(&r);
        let grid = Grid::new(&g);
        assert_eq!(bar_match(&grid.bar_cells(0), &reference), 1.0);
        assert_eq!(reference.aligned_match(&grid.bar_cells(0)), 12.0 / 32.0);
        assert_eq!(bar_match(&grid.bar_cells(2), &reference), 28.0 / 32.0);
        let own: Vec<Vec<Group>> = Grid::new(&r).bar_cells(1).iter().map(|t| t.to_vec()).collect();
        assert_eq!(bar_match(&own, &reference), 1.0);
        // Another shape (one track, or a 3/4 bar) matches nothing.
        assert_eq!(bar_match(&own[..1], &reference), 0.0);
        assert_eq!(bar_match(&[vec![0; 12], vec![0; 12]], &reference), 0.0);
    }

    #[test]
    fn shuffle_permutes_each_tracks_bars() {
        // Four bars; the upper track's bar b starts with pitch 60 + b, the lower's with 48 + b;
        // the upper track's 63 is tied over the line between bars 3 and 4.
        let upper: Vec<_> = (0..2)
            .map(|b| (60 + b as u8, b * 16, b * 16 + 16, 80))
            .chain([(62, 32, 40, 80), (63, 40, 56, 90)])
            .collect();
        let lower: Vec<_> = (0..4).map(|b| (48 + b as u8, b * 16, b * 16 + 8, 80)).collect();
        let c = tracks(&[(0, &upper), (1, &lower)]);
        let bars_of = |clip: &Clip, t: usize| {
            let mut bars: Vec<Vec<N>> = (0..4)
                .map(|b| {
                    let notes = &clip.select_bars(b + 1, b + 1).unwrap().tracks[t].notes;
                    notes.iter().map(|n| (n.pitch, n.start, n.end, n.velocity)).collect()
                })
                .collect();
            bars.sort();
            bars
        };
        let s = shuffle_bars(&c, 3);
        assert_eq!(s, shuffle_bars(&c, 3), "seeded");
        assert_eq!(s.meta, c.meta);
        let moved = (0..20).map(|seed| shuffle_bars(&c, seed)).filter(|s| s != &c).count();
        assert!(moved >= 18, "{moved}");
        for seed in 0..20 {
            let s = shuffle_bars(&c, seed);
            for t in 0..2 {
                // The same bars, in another order; the tie is cut at the bar line.
                assert_eq!(bars_of(&s, t), bars_of(&c, t), "seed {seed}");
                assert!(s.tracks[t].notes.iter().all(|n| n.start / 16 == (n.end - 1) / 16));
            }
        }
        // The tracks move independently: some seed separates bars that were together.
        let apart = (0..20).any(|seed| {
            let s = shuffle_bars(&c, seed);
            s.tracks[0].notes[0].pitch - 60 != s.tracks[1].notes[0].pitch - 48
        });
        assert!(apart);
    }

    #[test]
    fn overlap_kl_js_by_hand() {
        // Reference: C for 8 steps, E for 8 (one bar). Generated: C for 16 steps.
        let r = clip(&[(60, 0, 8), (64, 8, 16)]);
        let g = clip(&[(60, 0, 16)]);
        let c = compare(&r, &g);
        // Types: {C} and {C},{E}: overlap 1/2.
        assert!((c.overlap - 0.5).abs() < 1e-12);
        // Add-one: P = (17/18, 1/18), Q = (9/18, 9/18) over (C, E).
        let want_kl =
            17.0 / 18.0 * ((17.0 / 18.0) / 0.5f64).log2() + 1.0 / 18.0 * ((1.0 / 18.0) / 0.5f64).log2();
        assert!((c.kl - want_kl).abs() < 1e-12);
        // JS of (1, 0) and (1/2, 1/2): M = (3/4, 1/4); 0.5*log2(4/3) + 0.5*(0.5*log2(2/3) + 0.5*log2(2)).
        let want_js = 0.5 * (4.0f64 / 3.0).log2() + 0.5 * (0.5 * (2.0f64 / 3.0).log2() + 0.5);
        assert!((c.js - want_js).abs() < 1e-12);
        assert_eq!(compare(&r, &r).js, 0.0);
        assert_eq!(compare(&r, &r).overlap, 1.0);
    }

    #[test]
    fn copies_and_runs() {
        // Reference bars: A B C. Generated: B C X A (bars of one whole note each).
        let bar = |p: u8, b: u32| (p, b * 16, b * 16 + 16);
        let r = clip(&[bar(60, 0), bar(62, 1), bar(64, 2)]);
        let g = clip(&[bar(62, 0), bar(64, 1), bar(65, 2), bar(60, 3)]);
        let c = compare(&r, &g);
        assert_eq!(c.copied_bars, 0.75);
        assert_eq!(c.longest_copy, 2);
        assert_eq!(c.onset_density_ratio, 1.0);
    }

    #[test]
    fn clip_statistics_by_hand() {
        // Bar 1: C E G as a chord on beat 1 (4 steps), then silence; bar 2: C on every beat.
        let c = clip(&[
            (60, 0, 4),
            (64, 0, 4),
            (67, 0, 4),
            (60, 16, 17),
            (60, 20, 21),
            (60, 24, 25),
            (60, 28, 29),
        ]);
        let s = clip_stats(&c);
        // Pitch classes: C x5, E, G: entropy of (5, 1, 1)/7.
        let p: [f64; 3] = [5.0 / 7.0, 1.0 / 7.0, 1.0 / 7.0];
        let want: f64 = p.iter().map(|x| -x * x.log2()).sum();
        assert!((s.pitch_class_entropy - want).abs() < 1e-12);
        assert_eq!(s.scale_consistency, 1.0);
        // Onsets: bar 1 at step 0; bar 2 at 0, 4, 8, 12: Hamming 3 of 16.
        assert!((s.groove_consistency - (1.0 - 3.0 / 16.0)).abs() < 1e-12);
        // Beats: bar 1 has beat 1 only (3 empty of 4); bar 2 all four sound.
        assert_eq!(s.empty_beat_rate, 3.0 / 8.0);
        // Polyphony: 4 steps of 3 pitches, 4 steps of 1.
        assert_eq!(s.polyphony, 2.0);
        assert_eq!(s.onsets_per_bar, 3.5);
        // A chromatic cluster is less scale-consistent.
        let cluster = clip(&[(60, 0, 4), (61, 0, 4), (62, 0, 4), (63, 0, 4)]);
        assert_eq!(clip_stats(&cluster).scale_consistency, 0.75);
    }
}
