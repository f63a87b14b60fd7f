//! The smaller layers of a stage: the feed-forward block, one Transformer-XL layer, and the
//! 1x1 convolutions over the track axis (with their fused form on plain values).

use candle_core::{Module, Result, Tensor};
use candle_nn::{layer_norm, linear, LayerNorm, Linear, VarBuilder};

use super::attention::{KeyValues, Memory, RelAttention};
use super::ops::{linear_2d, Dropout, Rng};
use super::plain::{matmul, recycle, zeros};
use super::Config;

/// Position-wise feed-forward block (ReLU) with residual and post-LN.
pub struct FeedForward {
    /// d_model -> d_inner.
    pub(super) up: Linear,
    /// d_inner -> d_model.
    pub(super) down: Linear,
    /// Post-LN.
    pub(super) norm: LayerNorm,
    /// Dropout after the ReLU and after the second projection.
    dropout: Dropout,
}

impl FeedForward {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            up: linear(cfg.d_model, cfg.d_inner, vb.pp("up"))?,
            down: linear(cfg.d_inner, cfg.d_model, vb.pp("down"))?,
            norm: layer_norm(cfg.d_model, 1e-5, vb.pp("norm"))?,
            dropout: Dropout::new(cfg.dropout),
        })
    }

    pub fn forward(&self, x: &Tensor, mut rng: Option<&mut Rng>) -> Result<Tensor> {
        let h = self.dropout.forward(&linear_2d(&self.up, x)?.relu()?, rng.as_deref_mut())?;
        let h = self.dropout.forward(&linear_2d(&self.down, &h)?, rng)?;
        self.norm.forward(&(x + h)?)
    }
}

/// One Transformer-XL layer: relative attention over [memory, segment], then feed-forward.
pub struct XlLayer {
    /// Attention sub-layer.
    pub(super) attn: RelAttention,
    /// Feed-forward sub-layer.
    pub(super) ff: FeedForward,
}

impl XlLayer {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Self { attn: RelAttention::new(cfg, vb.pp("attn"))?, ff: FeedForward::new(cfg, vb.pp("ff"))? })
    }

    /// The layer's output and the segment's keys and values (see `RelAttention::forward`).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        x: &Tensor,
        mem: Memory,
        pos: &Tensor,
        u: &Tensor,
        v: &Tensor,
        mask: &Tensor,
        mut rng: Option<&mut Rng>,
    ) -> Result<(Tensor, KeyValues)> {
        let (h, kv) = self.attn.forward(x, mem, pos, u, v, mask, rng.as_deref_mut())?;
        Ok((self.ff.forward(&h, rng)?, kv))
    }
}

/// 1x1 convolutions over the track axis: `from` channels -> `hidden` -> `to`, ReLU between.
///
/// Track_multi2one is `tracks -> 16 -> 1`, Track_one2multi is `1 -> 16 -> tracks`.
pub struct TrackMix {
    /// First 1x1 convolution.
    pub(super) first: Linear,
    /// Second 1x1 convolution.
    pub(super) second: Linear,
}

impl TrackMix {
    pub fn new(from: usize, hidden: usize, to: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { first: linear(from, hidden, vb.pp("conv1"))?, second: linear(hidden, to, vb.pp("conv2"))? })
    }

    /// `[B, from, T, d]` -> `[B, to, T, d]`. `inference` (no gradient wanted) on the CPU runs
    /// `fused`.
    pub fn forward(&self, x: &Tensor, inference: bool) -> Result<Tensor> {
        let (b, from, t, d) = x.dims4()?;
        if inference && x.device().is_cpu() {
            return self.fused(x);
        }
        let h = channel_mix(&self.first, &x.reshape((b, from, t * d))?)?.relu()?;
        let y = channel_mix(&self.second, &h)?;
        y.reshape((b, (), t, d))
    }

    /// Both convolutions on plain values ([`PlainMix`]). No gradient.
    fn fused(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, t, d) = x.dims4()?;
        let mix = PlainMix::new(self)?;
        let ys = mix.apply(&x.flatten_all()?.to_vec1::<f32>()?, t * d);
        Tensor::from_vec(ys, (b, mix.to(), t, d), x.device())
    }
}

/// A [`TrackMix`]'s weights as plain values.
pub struct PlainMix {
    /// First convolution's weight, `[hidden, from]`.
    w1: Vec<f32>,
    /// Its bias, `[hidden]`.
    b1: Vec<f32>,
    /// Second convolution's weight, `[to, hidden]`.
    w2: Vec<f32>,
    /// Its bias, `[to]`.
    b2: Vec<f32>,
}

impl PlainMix {
    pub fn new(mix: &TrackMix) -> Result<Self> {
        let values = |w: &Tensor| w.flatten_all()?.to_vec1::<f32>();
        let bias = |l: &Linear| match l.bias() {
            Some(b) => values(b),
            None => Ok(vec![0.0; l.weight().dim(0)?]),
        };
        Ok(Self {
            w1: values(mix.first.weight())?,
            b1: bias(&mix.first)?,
            w2: values(mix.second.weight())?,
            b2: bias(&mix.second)?,
        })
    }

    /// Output channels.
    pub fn to(&self) -> usize {
        self.b2.len()
    }

    /// `[B, from, n]` -> `[B, to, n]`: per bar, the weights times its `[from, n]` matrix,
    /// a few wide products (channels last would make thousands of rows of 4 or 16 values).
    pub fn apply(&self, xs: &[f32], n: usize) -> Vec<f32> {
        let (hidden, to) = (self.b1.len(), self.b2.len());
        let from = self.w1.len() / hidden;
        let (mut ys, mut h) = (zeros(xs.len() / from * to), zeros(hidden * n));
        for (x, y) in xs.chunks_exact(from * n).zip(ys.chunks_exact_mut(to * n)) {
            matmul(&self.w1, x, &mut h, from, n);
            for (row, b) in h.chunks_exact_mut(n).zip(&self.b1) {
                row.iter_mut().for_each(|v| *v = (*v + b).max(0.0));
            }
            matmul(&self.w2, &h, y, hidden, n);
            for (row, b) in y.chunks_exact_mut(n).zip(&self.b2) {
                row.iter_mut().for_each(|v| *v += b);
            }
        }
        recycle([h]);
        ys
    }
}

/// A 1x1 convolution of `[B, in, N]` as the weight `[out, in]` times each batch's matrix:
/// a few wide products, where channels last would make thousands of rows of 4 or 16 values
/// and two transposing copies (a third of sampling's time).
fn channel_mix(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let y = layer.weight().broadcast_matmul(x)?;
    match layer.bias() {
        Some(bias) => y.broadcast_add(&bias.reshape((1, (), 1))?),
        None => Ok(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn track_mix_is_a_1x1_convolution_over_tracks() {
        // Against the channels-last form: every (batch, step, feature) mixed over the tracks.
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let mix = TrackMix::new(3, 5, 2, VarBuilder::from_varmap(&vm, DType::F32, &dev)).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 3, 4, 6), &dev).unwrap();
        let last = x.permute((0, 2, 3, 1)).unwrap().contiguous().unwrap();
        let want = linear_2d(&mix.second, &linear_2d(&mix.first, &last).unwrap().relu().unwrap()).unwrap();
        let want = want.permute((0, 3, 1, 2)).unwrap();
        for inference in [false, true] {
            let got = mix.forward(&x, inference).unwrap();
            assert_eq!(got.dims(), &[2, 2, 4, 6]);
            let d = (got - &want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(d < 1e-5, "{d}, inference {inference}");
        }
    }
}
