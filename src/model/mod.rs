//! One stage of the SinTra pyramid: shared token embedding, Track_multi2one, a Transformer-XL
//! encoder with relative positions and a one-bar memory, Track_one2multi, and one linear head
//! per track whose logits are masked to that track's own vocabulary.

pub mod attention;
pub mod inference;
pub mod layers;
pub mod ops;
mod plain;

use candle_core::{DType, Device, Module, Result, Tensor, Var};
use candle_nn::{embedding, Embedding, VarBuilder, VarMap};
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

use attention::{relative_positions, segment_mask, KeyValues, Memory};
use layers::{TrackMix, XlLayer};
use ops::{Dropout, Rng};

/// Channels between the track axis and the single sequence (the paper's 16).
const TRACK_HIDDEN: usize = 16;
/// Logit added to tokens outside a track's vocabulary.
const MASKED: f32 = -1e9;

/// Sizes and training rate of one stage.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Transformer-XL layers.
    pub n_layer: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Size of one head.
    pub d_head: usize,
    /// Embedding and hidden size.
    pub d_model: usize,
    /// Feed-forward inner size.
    pub d_inner: usize,
    /// Dropout probability.
    pub dropout: f32,
    /// Peak learning rate of the cosine schedule.
    pub lr: f64,
}

/// Named model sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The paper's sizes: 6 layers, 8 heads of 32, d_model 256, d_inner 1024, dropout 0.09.
    Paper,
    /// Smaller and faster, reaches the same loss on our clips (see docs/performance.md).
    Default,
    /// A toy model for tests.
    Tiny,
}

impl Preset {
    pub fn config(self) -> Config {
        match self {
            Preset::Paper => Config {
                n_layer: 6,
                n_head: 8,
                d_head: 32,
                d_model: 256,
                d_inner: 1024,
                dropout: 0.09,
                lr: 5e-3,
            },
            Preset::Default => Config {
                n_layer: 2,
                n_head: 4,
                d_head: 32,
                d_model: 128,
                d_inner: 256,
                dropout: 0.0,
                lr: 3e-2,
            },
            Preset::Tiny => {
                Config { n_layer: 1, n_head: 2, d_head: 16, d_model: 32, d_inner: 64, dropout: 0.0, lr: 1e-2 }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Default => "default",
            Preset::Tiny => "tiny",
        }
    }
}

/// One stage's network.
pub struct StageModel {
    /// Token embedding shared by all tracks, `[vocab, d_model]`.
    embedding: Embedding,
    /// Track_multi2one: tracks -> 16 -> 1.
    multi2one: TrackMix,
    /// Learned embedding of the position inside the bar, `[tokens per bar, d_model]` (not in
    /// the paper: relative attention alone cannot tell which beat it predicts; see docs/model.md).
    bar_position: Tensor,
    /// The Transformer-XL encoder.
    layers: Vec<XlLayer>,
    /// Content bias u ("r_w_bias"), `[heads, d_head]`, shared by all layers.
    u: Tensor,
    /// Position bias v ("r_r_bias"), `[heads, d_head]`.
    v: Tensor,
    /// Track_one2multi: 1 -> 16 -> tracks.
    one2multi: TrackMix,
    /// One linear output head per track, kept as one `[tracks, vocab, d_model]` weight so all
    /// heads run as one batched product.
    head_weight: Tensor,
    /// The heads' biases, `[tracks, 1, vocab]`.
    head_bias: Tensor,
    /// Additive logit mask `[1, tracks, 1, vocab]`: 0 inside each track's vocabulary.
    vocab_mask: Tensor,
    /// Sinusoidal embeddings of the distances in [memory, bar], `[2 * per_bar, d_model]`.
    positions: Tensor,
    /// Attention mask of a bar with its memory, `[1, 1, per_bar, 2 * per_bar]`.
    with_memory: Tensor,
    /// Attention mask of a bar without memory (the first).
    without_memory: Tensor,
    /// Dropout on embeddings, positions and the encoder output.
    dropout: Dropout,
    /// Sizes.
    cfg: Config,
}

impl StageModel {
    /// Builds the network for bars of `per_bar` tokens; `allowed[k]` lists the tokens track
    /// `k` may produce at this stage.
    pub fn new(
        cfg: Config,
        vocab: usize,
        per_bar: usize,
        allowed: &[Vec<u32>],
        vb: VarBuilder,
    ) -> Result<Self> {
        let tracks = allowed.len();
        let mut mask = vec![MASKED; tracks * vocab];
        for (k, toks) in allowed.iter().enumerate() {
            for &t in toks {
                mask[k * vocab + t as usize] = 0.0;
            }
        }
        let layers = (0..cfg.n_layer)
            .map(|i| XlLayer::new(&cfg, vb.pp(format!("layer{i}"))))
            .collect::<Result<_>>()?;
        Ok(Self {
            embedding: embedding(vocab, cfg.d_model, vb.pp("embedding"))?,
            multi2one: TrackMix::new(tracks, TRACK_HIDDEN, 1, vb.pp("multi2one"))?,
            bar_position: vb.get((per_bar, cfg.d_model), "bar_position")?,
            layers,
            u: vb.get((cfg.n_head, cfg.d_head), "r_w_bias")?,
            v: vb.get((cfg.n_head, cfg.d_head), "r_r_bias")?,
            one2multi: TrackMix::new(1, TRACK_HIDDEN, tracks, vb.pp("one2multi"))?,
            head_weight: vb.get((tracks, vocab, cfg.d_model), "head.weight")?,
            head_bias: vb.get((tracks, 1, vocab), "head.bias")?,
            vocab_mask: Tensor::from_vec(mask, (1, tracks, 1, vocab), vb.device())?,
            positions: relative_positions(2 * per_bar, cfg.d_model, vb.device())?,
            with_memory: segment_mask(per_bar, true, vb.device())?,
            without_memory: segment_mask(per_bar, false, vb.device())?,
            dropout: Dropout::new(cfg.dropout),
            cfg,
        })
    }

    /// Its sizes.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Logits `[B, tracks, T, vocab]` for token bars `[B, tracks, T]`, and each layer's keys
    /// and values of every bar, `[B, heads, T, d_head]` (the memory for the bar that follows).
    ///
    /// Without `mems`, the `B` bars are consecutive and each bar's memory is the bar before it
    /// in the batch (bar 0 has none): the whole clip in one step, with exactly the attention a
    /// bar-by-bar Transformer-XL would have. With `mems` (one bar's keys and values per layer,
    /// as `KeyValues::bar` takes them), every bar of the batch attends to that one bar.
    /// `rng` turns dropout on (training); without it no gradient is kept (inference).
    pub fn forward(
        &self,
        tokens: &Tensor,
        mems: Option<&[KeyValues]>,
        mut rng: Option<&mut Rng>,
    ) -> Result<(Tensor, Vec<KeyValues>)> {
        let (b, tracks, t) = tokens.dims3()?;
        let d = self.cfg.d_model;
        if 2 * t != self.positions.dim(0)? {
            candle_core::bail!("bars of {t} tokens given to a stage of {}", self.positions.dim(0)? / 2);
        }
        let scale = (d as f64).sqrt();
        let emb = (self.embedding.forward(tokens)? * scale)?;
        let inference = rng.is_none();
        let x = self.multi2one.forward(&emb, inference)?.squeeze(1)?;
        let x = x.broadcast_add(&self.bar_position.narrow(0, 0, t)?.unsqueeze(0)?)?;
        let mut x = self.dropout.forward(&x, rng.as_deref_mut())?;
        let pos = self.dropout.forward(&self.positions, rng.as_deref_mut())?;
        let mask = match (mems, b) {
            (Some(_), _) => self.with_memory.clone(),
            (None, 1) => self.without_memory.clone(),
            (None, _) => {
                let rest = self.with_memory.broadcast_as((b - 1, 1, t, 2 * t))?;
                Tensor::cat(&[&self.without_memory, &rest], 0)?
            }
        };
        let mut kvs = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let previous;
            let mem = match mems {
                Some(m) => Memory::Keys(&m[l]),
                None => {
                    previous = previous_bars(&x)?;
                    Memory::Inputs(&previous)
                }
            };
            let (y, kv) = layer.forward(&x, mem, &pos, &self.u, &self.v, &mask, rng.as_deref_mut())?;
            kvs.push(kv);
            x = y;
        }
        let x = self.dropout.forward(&x, rng)?;
        let y = self.one2multi.forward(&x.unsqueeze(1)?, inference)?; // [B, tracks, T, d]
                                                                      // Track k's rows through head k: [tracks, B*T, d] x [tracks, d, vocab].
        let y = y.transpose(0, 1)?.contiguous()?.reshape((tracks, b * t, d))?;
        let logits = y.matmul(&self.head_weight.transpose(1, 2)?)?.broadcast_add(&self.head_bias)?;
        let logits = logits.reshape((tracks, b, t, ()))?.transpose(0, 1)?;
        Ok((logits.broadcast_add(&self.vocab_mask)?, kvs))
    }
}

/// Each bar's memory in a batch of consecutive bars: the bar before it, zeros for bar 0;
/// detached, as the Transformer-XL stops gradients at its memory.
fn previous_bars(x: &Tensor) -> Result<Tensor> {
    let (b, t, d) = x.dims3()?;
    let zeros = Tensor::zeros((1, t, d), x.dtype(), x.device())?;
    let mem = if b == 1 { zeros } else { Tensor::cat(&[&zeros, &x.narrow(0, 0, b - 1)?], 0)? };
    Ok(mem.detach())
}

/// Seeded initialisation of every variable, in name order.
///
/// Transformer weights and biases u/v: normal(0, 0.02) as in Transformer-XL; layer norms:
/// weight 1, bias 0; the small track convolutions and heads: uniform(+-1/sqrt(fan_in)) as
/// PyTorch's default, so the track mixing does not start out near zero.
pub fn init_weights(varmap: &VarMap, rng: &mut Rng) -> Result<()> {
    let data = varmap.data().lock().expect("var map lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let normal = Normal::new(0f32, 0.02).expect("valid normal");
    for name in names {
        let var: &Var = &data[name];
        let dims = var.dims().to_vec();
        let n = var.elem_count();
        let values: Vec<f32> = if name.contains("norm.") {
            vec![if name.ends_with("weight") { 1.0 } else { 0.0 }; n]
        } else if name.contains("conv") || name.starts_with("head") {
            // Fan-in: the last axis of a weight; a head's bias shares its weight's.
            let fan_in = match name.as_str() {
                "head.bias" => data["head.weight"].dim(2)?,
                _ if name.ends_with("weight") => dims[dims.len() - 1],
                _ => 1,
            };
            let bound = 1.0 / (fan_in as f32).sqrt();
            let uniform = Uniform::new_inclusive(-bound, bound).expect("valid bound");
            (0..n).map(|_| uniform.sample(rng)).collect()
        } else if name.ends_with(".bias") {
            vec![0.0; n]
        } else {
            (0..n).map(|_| normal.sample(rng)).collect()
        };
        var.set(&Tensor::from_vec(values, dims, var.device())?.to_dtype(DType::F32)?)?;
    }
    Ok(())
}

/// Number of scalar parameters in a var map.
pub fn parameter_count(varmap: &VarMap) -> usize {
    varmap.all_vars().iter().map(|v| v.elem_count()).sum()
}

/// A stage's network with its variables, built on `device`.
pub fn build_stage(
    cfg: Config,
    vocab: usize,
    per_bar: usize,
    allowed: &[Vec<u32>],
    device: &Device,
) -> Result<(VarMap, StageModel)> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let model = StageModel::new(cfg, vocab, per_bar, allowed, vb)?;
    Ok((varmap, model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tiny(tracks: usize, vocab: usize, per_bar: usize) -> (VarMap, StageModel) {
        let allowed: Vec<Vec<u32>> = (0..tracks)
            .map(|k| (0..vocab as u32).filter(|t| t % 2 == k as u32 % 2 || *t == 0).collect())
            .collect();
        let (vm, m) = build_stage(Preset::Tiny.config(), vocab, per_bar, &allowed, &Device::Cpu).unwrap();
        init_weights(&vm, &mut Rng::seed_from_u64(1)).unwrap();
        (vm, m)
    }

    fn tokens(b: usize, k: usize, t: usize, seed: u32) -> Tensor {
        let data: Vec<u32> = (0..b * k * t).map(|i| ((i as u32 * 7 + seed) % 5) * 2 % 6).collect();
        Tensor::from_vec(data, (b, k, t), &Device::Cpu).unwrap()
    }

    #[test]
    fn output_shapes_and_vocab_mask() {
        let (_, m) = tiny(3, 6, 4);
        let (logits, kvs) = m.forward(&tokens(5, 3, 4, 0), None, None).unwrap();
        assert_eq!(logits.dims(), &[5, 3, 4, 6]);
        assert_eq!(kvs.len(), 1);
        assert_eq!(kvs[0].k.dims(), &[5, 2, 4, 16]);
        // Track 1 may only produce tokens 0, 1, 3, 5: the others are masked.
        let l = logits.get(0).unwrap().get(1).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap();
        assert!(l[2] < -1e8 && l[4] < -1e8 && l[1] > -1e8, "{l:?}");
    }

    #[test]
    fn causal_within_bar_and_across_bars() {
        let (_, m) = tiny(2, 6, 8);
        let x = tokens(3, 2, 8, 0);
        let (base, _) = m.forward(&x, None, None).unwrap();
        // Change bar 1, step 5 of track 0.
        let mut data = x.flatten_all().unwrap().to_vec1::<u32>().unwrap();
        let at = 8 * 2 + 5;
        data[at] = (data[at] + 2) % 6;
        let (changed, _) =
            m.forward(&Tensor::from_vec(data, (3, 2, 8), &Device::Cpu).unwrap(), None, None).unwrap();
        let diff = (base - changed).unwrap().abs().unwrap();
        let per_pos = diff.max(3).unwrap().max(1).unwrap().to_vec2::<f32>().unwrap(); // [B, T]
        for (bar, row) in per_pos.iter().enumerate() {
            for (step, &d) in row.iter().enumerate() {
                if (bar, step) < (1, 5) {
                    assert_eq!(d, 0.0, "bar {bar} step {step} saw a later input");
                }
            }
        }
        assert!(per_pos[1][5] > 0.0 && per_pos[2].iter().any(|&d| d > 0.0));
    }

    #[test]
    fn explicit_memory_matches_batched_bars() {
        // Bar 1 of a batch equals bar 1 run with bar 0's keys and values as memory, alone or
        // as every bar of a batch (the candidates of generation).
        let (_, m) = tiny(2, 6, 4);
        let x = tokens(2, 2, 4, 3);
        let (batched, kvs) = m.forward(&x, None, None).unwrap();
        let mems: Vec<KeyValues> = kvs.iter().map(|kv| kv.bar(0).unwrap()).collect();
        let want = batched.narrow(0, 1, 1).unwrap();
        for copies in [1, 3] {
            let bar = x.narrow(0, 1, 1).unwrap().repeat((copies, 1, 1)).unwrap();
            let (alone, _) = m.forward(&bar, Some(&mems), None).unwrap();
            for c in 0..copies {
                let d = (&want - alone.narrow(0, c, 1).unwrap()).unwrap().abs().unwrap();
                assert!(d.max_all().unwrap().to_scalar::<f32>().unwrap() < 1e-4, "{copies} copies");
            }
        }
    }
}
