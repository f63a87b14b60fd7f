//! Keeping one of the candidate bars drawn for each bar: the one nearest the similarity
//! setting in its match with the clip's bars, with bonuses for harmony and likelihood.

use crate::eval::{bar_match, fits_a_chord, pitch_class_set, ReferenceBars};
use crate::model_file::ModelMeta;
use crate::pitch_group::Group;

/// What the choice needs from the model's clip.
pub struct Chooser {
    /// The setting, 0..1: how close to the clip the kept bars are.
    similarity: f64,
    /// The clip's bars, to measure how close a candidate is.
    reference: ReferenceBars,
    /// Pitches of each token.
    groups: Vec<Group>,
    /// Per track: whether it holds drum keys (MIDI channel 10), not pitches.
    drums: Vec<bool>,
}

impl Chooser {
    pub fn new(meta: &ModelMeta, similarity: f32) -> Self {
        Self {
            similarity: similarity.clamp(0.0, 1.0) as f64,
            reference: ReferenceBars::new(&meta.clip),
            groups: meta.dictionary().groups.clone(),
            drums: meta.clip.tracks.iter().map(|t| t.channel == 9).collect(),
        }
    }

    /// The candidate to keep: the one whose match with the clip's bars is nearest the
    /// similarity setting, less a bonus for harmony (the share of its steps whose pitch
    /// classes fit one chord) and for the model's likelihood of it. A verbatim copy of a clip
    /// bar (or a bar-long window of it) only when similarity is 1.
    pub fn pick(&self, bars: &[Vec<Vec<u32>>], likelihood: &[f32]) -> usize {
        if bars.len() == 1 {
            return 0;
        }
        let target = self.similarity;
        let cost = |(bar, &ll): (&Vec<Vec<u32>>, &f32)| {
            let groups: Vec<Vec<Group>> = bar
                .iter()
                .map(|t| t.iter().map(|&tok| self.groups.get(tok as usize).copied().unwrap_or(0)).collect())
                .collect();
            let matched = bar_match(&groups, &self.reference);
            let copy = if matched >= 1.0 && target < 1.0 { 1.0 } else { 0.0 };
            let tokens = bar.iter().map(Vec::len).sum::<usize>().max(1) as f64;
            (matched - target).abs() + copy - 0.5 * self.harmony(&groups) - 0.05 * (ll as f64 / tokens)
        };
        let costs: Vec<f64> = bars.iter().zip(likelihood).map(cost).collect();
        (0..costs.len()).min_by(|&a, &b| costs[a].total_cmp(&costs[b])).unwrap_or(0)
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
