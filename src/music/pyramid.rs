//! The three resolutions of the SinTra pyramid: the grid's token sequence decimated to the
//! coarser stages (keep the first step of each 2 or 4 on 16ths; see [`Grid::strides`] for the
//! others), and upsampling by repetition; a clip's bars at a stage's resolution as the
//! tensors training and generation's priming feed the stages.

use std::collections::BTreeSet;

use candle_core::{Device, Result, Tensor};
use serde::{Deserialize, Serialize};

use crate::grid::Grid;
use crate::pitch_group::Encoded;

/// One level of the pyramid, coarse to fine (named for the 16th grid; on a triplet grid the
/// middle and finest stages are triplets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resolution {
    /// Quarter notes (stage 1).
    Quarter,
    /// Eighth notes (stage 2).
    Eighth,
    /// Sixteenth notes (stage 3, the grid).
    Sixteenth,
}

impl Resolution {
    /// All levels in training order.
    pub const ALL: [Resolution; 3] = [Resolution::Quarter, Resolution::Eighth, Resolution::Sixteenth];

    /// Grid steps per token at this level on `grid`.
    pub fn stride(self, grid: Grid) -> usize {
        let level = match self {
            Resolution::Quarter => 0,
            Resolution::Eighth => 1,
            Resolution::Sixteenth => 2,
        };
        grid.strides()[level]
    }

    /// Short label used in JSON and tables.
    pub fn label(self) -> &'static str {
        match self {
            Resolution::Quarter => "4th",
            Resolution::Eighth => "8th",
            Resolution::Sixteenth => "16th",
        }
    }
}

/// Keeps the first token of every `stride` tokens.
pub fn decimate(tokens: &[u32], stride: usize) -> Vec<u32> {
    tokens.iter().step_by(stride).copied().collect()
}

/// Repeats every token `factor` times.
pub fn upsample(tokens: &[u32], factor: usize) -> Vec<u32> {
    tokens.iter().flat_map(|&t| std::iter::repeat_n(t, factor)).collect()
}

/// Distinct tokens of a sequence on `grid` seen at `res`, sorted: the track's vocabulary there.
pub fn vocabulary(tokens: &[u32], res: Resolution, grid: Grid) -> BTreeSet<u32> {
    tokens.iter().step_by(res.stride(grid)).copied().collect()
}

/// The real tokens of every bar, one every `stride` steps: `[bars, tracks, tokens per bar]`.
pub fn bars_at(enc: &Encoded, bars: usize, stride: usize, device: &Device) -> Result<Tensor> {
    let tracks = enc.rolls.len();
    let per_bar = enc.steps / bars / stride;
    let data: Vec<u32> = enc.rolls.iter().flat_map(|r| r.tokens.iter().step_by(stride).copied()).collect();
    Tensor::from_vec(data, (tracks, bars, per_bar), device)?.transpose(0, 1)?.contiguous()
}

/// Repeats every token along the last axis `factor` times.
pub fn upsample_bars(x: &Tensor, factor: usize) -> Result<Tensor> {
    let (b, k, t) = x.dims3()?;
    x.unsqueeze(3)?.broadcast_as((b, k, t, factor))?.contiguous()?.reshape((b, k, t * factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimate_keeps_first_of_each() {
        let t = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(decimate(&t, 2), vec![1, 3, 5, 7]);
        assert_eq!(decimate(&t, 4), vec![1, 5]);
        assert_eq!(upsample(&[1, 5], 2), vec![1, 1, 5, 5]);
        assert_eq!(upsample(&decimate(&t, 4), 4).len(), t.len());
    }

    #[test]
    fn vocab_shrinks_with_resolution() {
        let t = [0, 1, 2, 1, 0, 0, 3, 3];
        let g = Grid::Sixteenths;
        assert_eq!(vocabulary(&t, Resolution::Sixteenth, g).len(), 4);
        assert_eq!(vocabulary(&t, Resolution::Eighth, g).into_iter().collect::<Vec<_>>(), vec![0, 2, 3]);
        assert_eq!(vocabulary(&t, Resolution::Quarter, g).into_iter().collect::<Vec<_>>(), vec![0]);
        // On triplets a quarter is 6 steps.
        assert_eq!(Resolution::Quarter.stride(Grid::Triplets), 6);
    }
}
