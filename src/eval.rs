//! Figures that compare generated clips with the reference clip: similarity (pitch-group
//! overlap, KL, Jensen-Shannon), copying (verbatim bars, longest copied run) and the usual
//! piano-roll statistics. Each is defined in the README.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::clip::Clip;
use crate::pitch_group::{encode, Group};

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
    /// The generated clip's own statistics.
    pub stats: ClipStats,
}

/// Per step and track, the sounding group; bars of all tracks as rows of groups.
struct Grid {
    /// `[track][step]` sounding groups.
    groups: Vec<Vec<Group>>,
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
        Self { groups, spb, bars: enc.steps / spb }
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
    let beat = (16 / clip.meta.time_sig.den.max(1) as usize).max(1);
    let beats = steps / beat;
    let empty = (0..beats).filter(|b| sounding[b * beat..(b + 1) * beat].iter().all(|&g| g == 0)).count();
    let busy: Vec<u32> = sounding.iter().map(|g| g.count_ones()).filter(|&c| c > 0).collect();

    ClipStats {
        pitch_class_entropy: entropy_bits(&pc),
        scale_consistency,
        groove_consistency,
        empty_beat_rate: if beats == 0 { 0.0 } else { empty as f64 / beats as f64 },
        polyphony: if busy.is_empty() { 0.0 } else { busy.iter().sum::<u32>() as f64 / busy.len() as f64 },
        onsets_per_bar: notes.len() as f64 / bars as f64,
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
    let (p, q) = (probs(&hg, 0.0), probs(&hr, 0.0));
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
    let js = 0.5 * kl_bits(&p, &m) + 0.5 * kl_bits(&q, &m);

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

    let stats = clip_stats(generated);
    let ref_density = clip_stats(reference).onsets_per_bar;
    Comparison {
        overlap,
        kl,
        js,
        copied_bars: copied as f64 / gen_bars.len().max(1) as f64,
        longest_copy: longest,
        onset_density_ratio: if ref_density > 0.0 { stats.onsets_per_bar / ref_density } else { 0.0 },
        stats,
    }
}

/// The mean of several comparisons (the longest copy is averaged too).
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
        stats: ClipStats {
            pitch_class_entropy: avg(&|c| c.stats.pitch_class_entropy),
            scale_consistency: avg(&|c| c.stats.scale_consistency),
            groove_consistency: avg(&|c| c.stats.groove_consistency),
            empty_beat_rate: avg(&|c| c.stats.empty_beat_rate),
            polyphony: avg(&|c| c.stats.polyphony),
            onsets_per_bar: avg(&|c| c.stats.onsets_per_bar),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::Note;

    /// A one-track 4/4 clip from (pitch, start, end) in steps.
    fn clip(notes: &[(u8, u32, u32)]) -> Clip {
        Clip::one_track(
            notes.iter().map(|&(pitch, start, end)| Note { pitch, start, end, velocity: 80 }).collect(),
        )
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
