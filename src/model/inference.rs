//! A stage's forward pass for generation on the CPU, on plain values.
//!
//! The maths of [`StageModel::forward`] with a one-bar memory (the candidates of generation)
//! without tensors: at a bar's sizes candle's ~110 operations a pass (each an allocation, many
//! a strided copy or a hand-off to its threads) cost about as much as the products. Here each
//! weight is one product (`gemm`, the crate candle's own CPU products use), as is attention;
//! what is the same for every pass (the relative position keys) is projected once, what
//! repeats within a batch (a token column) runs once, and each head gives only its track's
//! tokens. `StageModel::forward` stays the reference (the tests hold the two together),
//! training's pass and the GPU's.

use std::collections::HashMap;

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{LayerNorm, Linear};

use super::attention::KeyValues;
use super::layers::{PlainMix, XlLayer};
use super::plain::{add, gemm_into, matmul, recycle, softmax, zeros, View};
use super::{StageModel, MASKED};

/// One stage's weights as plain values, for generation on the CPU.
pub struct CpuStage {
    /// Token embedding times sqrt(d_model), `[vocab, d]`.
    embedding: Vec<f32>,
    /// Track_multi2one.
    multi2one: PlainMix,
    /// Learned position in the bar, `[tokens per bar, d]`.
    bar_position: Vec<f32>,
    /// Its projection by the first layer to queries, keys and values, `[tokens per bar, 3 x
    /// heads x d_head]`.
    first_positions: Vec<f32>,
    /// The Transformer-XL layers.
    layers: Vec<CpuLayer>,
    /// Content bias u, `[heads, d_head]`.
    u: Vec<f32>,
    /// Position bias v, `[heads, d_head]`.
    v: Vec<f32>,
    /// Track_one2multi.
    one2multi: PlainMix,
    /// Per track, its output head over its own vocabulary.
    heads_out: Vec<Head>,
    /// Model width.
    d: usize,
    /// Attention heads.
    heads: usize,
    /// Size of one head.
    d_head: usize,
    /// Tokens a bar.
    per_bar: usize,
}

/// One layer's keys and values, `[B, heads, T, d_head]` each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlainKeys {
    /// Keys.
    pub k: Vec<f32>,
    /// Values.
    pub v: Vec<f32>,
}

impl PlainKeys {
    pub fn new(kv: &KeyValues) -> Result<Self> {
        Ok(Self { k: kv.k.flatten_all()?.to_vec1()?, v: kv.v.flatten_all()?.to_vec1()? })
    }

    /// Bar `i` of `bars`.
    pub fn bar(&self, i: usize, bars: usize) -> Self {
        let n = self.k.len() / bars;
        Self { k: self.k[i * n..(i + 1) * n].to_vec(), v: self.v[i * n..(i + 1) * n].to_vec() }
    }

    /// As tensors of `b` bars of `t` steps on `device`.
    pub fn to_tensors(&self, b: usize, heads: usize, t: usize, device: &Device) -> Result<KeyValues> {
        let shape = (b, heads, t, self.k.len() / (b * heads * t));
        Ok(KeyValues {
            k: Tensor::from_slice(&self.k, shape, device)?,
            v: Tensor::from_slice(&self.v, shape, device)?,
        })
    }
}

impl CpuStage {
    pub fn new(model: &StageModel) -> Result<Self> {
        let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let cfg = model.cfg;
        let scale = (cfg.d_model as f32).sqrt();
        let (tracks, vocab, d) = model.head_weight.dims3()?;
        let weights = model.head_weight.to_vec3::<f32>()?;
        let biases = model.head_bias.reshape((tracks, vocab))?.to_vec2::<f32>()?;
        let masks = model.vocab_mask.reshape((tracks, vocab))?.to_vec2::<f32>()?;
        let heads_out = (weights.iter().zip(&biases).zip(&masks))
            .map(|((w, bias), mask)| {
                let tokens: Vec<u32> = (0..vocab as u32).filter(|&t| mask[t as usize] == 0.0).collect();
                // `[d, tokens]`: column j is token j's row of the weight.
                let w = (0..d).flat_map(|i| tokens.iter().map(move |&t| w[t as usize][i])).collect();
                Head { bias: tokens.iter().map(|&t| bias[t as usize]).collect(), tokens, w }
            })
            .collect();
        let layers: Vec<CpuLayer> =
            model.layers.iter().map(|l| CpuLayer::new(l, &model.positions)).collect::<Result<_>>()?;
        if layers.is_empty() {
            candle_core::bail!("a stage without layers");
        }
        let bar_position = values(&model.bar_position)?;
        let mut first_positions = vec![0f32; bar_position.len() / d * layers[0].qkv.output];
        matmul(&bar_position, &layers[0].qkv.w, &mut first_positions, d, layers[0].qkv.output);
        Ok(Self {
            embedding: values(model.embedding.embeddings())?.iter().map(|e| e * scale).collect(),
            multi2one: PlainMix::new(&model.multi2one)?,
            bar_position,
            first_positions,
            layers,
            u: values(&model.u)?,
            v: values(&model.v)?,
            one2multi: PlainMix::new(&model.one2multi)?,
            heads_out,
            d,
            heads: cfg.n_head,
            d_head: cfg.d_head,
            per_bar: model.bar_position.dim(0)?,
        })
    }

    /// Logits `[B, tracks, T, vocab]` for `b` bars of tokens `[B, tracks, T]`, and each layer's
    /// keys and values of every bar (the memory for the bar after). The bars attend to
    /// `memory` before themselves (one bar's keys and values per layer, the bar before, or
    /// nothing).
    pub fn forward(
        &self,
        tokens: &[u32],
        b: usize,
        memory: Before<&[PlainKeys]>,
    ) -> Result<(Vec<f32>, Vec<PlainKeys>)> {
        let (t, d) = (self.per_bar, self.d);
        let vocab = self.embedding.len() / d;
        let tracks = self.heads_out.len();
        let (columns, which) = distinct_columns(tokens, tracks, t);
        let n = columns.len() / tracks;
        // The distinct columns' embeddings, `[tracks, n, d]`, mixed into `[n, d]`.
        let mut emb = zeros(columns.len() * d);
        for (i, &tok) in columns.iter().enumerate() {
            let Some(e) = self.embedding.get(tok as usize * d..(tok as usize + 1) * d) else {
                candle_core::bail!("token {tok} outside a vocabulary of {vocab}");
            };
            let (column, k) = (i / tracks, i % tracks);
            emb[(k * n + column) * d..][..d].copy_from_slice(e);
        }
        let mixed = self.multi2one.apply(&emb, n * d);
        // Each step's column and position: the input `[B x T, d]` and, as the projection is
        // linear, the first layer's queries, keys and values (its columns' plus its position's).
        let first = &self.layers[0].qkv;
        let mut projected = zeros(n * first.output);
        first.apply(&mixed, &mut projected);
        let (mut x, mut qkv) = (zeros(b * t * d), zeros(b * t * first.output));
        for (row, &c) in which.iter().enumerate() {
            let at = row % t;
            let x = &mut x[row * d..][..d];
            x.copy_from_slice(&mixed[c * d..][..d]);
            add(x, &self.bar_position[at * d..][..d]);
            let q = &mut qkv[row * first.output..][..first.output];
            q.copy_from_slice(&projected[c * first.output..][..first.output]);
            add(q, &self.first_positions[at * first.output..][..first.output]);
        }
        recycle([emb, mixed, projected]);
        let mut keys = Vec::with_capacity(self.layers.len());
        let mut qkv = Some(qkv);
        for (l, layer) in self.layers.iter().enumerate() {
            let memory = match memory {
                Before::Bar(m) => Before::Bar(&m[l]),
                Before::Previous => Before::Previous,
                Before::Nothing => Before::Nothing,
            };
            keys.push(layer.forward(self, &mut x, b, memory, qkv.take()));
        }
        let y = self.one2multi.apply(&x, t * d); // [B, tracks, T, d]
        recycle([x]);
        // Each track's head gives its own tokens' logits; the rest are masked.
        let mut logits = vec![MASKED; b * tracks * t * vocab];
        let mut own = zeros(0);
        for (i, (rows, out)) in y.chunks_exact(t * d).zip(logits.chunks_exact_mut(t * vocab)).enumerate() {
            let head = &self.heads_out[i % tracks];
            let n = head.tokens.len();
            if n == 0 {
                continue;
            }
            own.resize(t * n, 0.0);
            matmul(rows, &head.w, &mut own, d, n);
            for (row, own) in out.chunks_exact_mut(vocab).zip(own.chunks_exact(n)) {
                for ((&tok, &l), &bias) in head.tokens.iter().zip(own).zip(&head.bias) {
                    row[tok as usize] = l + bias;
                }
            }
        }
        recycle([y, own]);
        Ok((logits, keys))
    }
}

/// The distinct token columns (one token per track at a step) of bars `[B, tracks, T]`, as
/// `[columns, tracks]` in order of first appearance, and which one each step `[B x T]` has.
/// Held chords and a coarser stage's upsampled bars repeat columns (about half of a finer
/// stage's), and the track mixing and the first layer's projection are the same wherever a
/// column stands: they run once a column.
fn distinct_columns(tokens: &[u32], tracks: usize, t: usize) -> (Vec<u32>, Vec<usize>) {
    let steps = tokens.len() / tracks;
    let column = |row: usize| (0..tracks).map(move |k| tokens[((row / t) * tracks + k) * t + row % t]);
    let all: Vec<u32> = (0..steps).flat_map(column).collect();
    let mut index: HashMap<&[u32], usize> = HashMap::new();
    let mut columns = Vec::new();
    let which = all
        .chunks_exact(tracks)
        .map(|c| {
            *index.entry(c).or_insert_with(|| {
                columns.extend_from_slice(c);
                columns.len() / tracks - 1
            })
        })
        .collect();
    (columns, which)
}

/// One track's output head, over the tokens it may produce at the stage (computing the
/// others' logits only to mask them was about a twentieth of a pass).
struct Head {
    /// Its tokens, in order.
    tokens: Vec<u32>,
    /// Their rows of the head's weight, transposed: `[d, tokens]`.
    w: Vec<f32>,
    /// Their biases.
    bias: Vec<f32>,
}

/// One Transformer-XL layer's weights.
struct CpuLayer {
    /// Query, key and value projection.
    qkv: Dense,
    /// The relative position keys of distances `2T-1 ... 0`, `[2T, heads x d_head]`: the
    /// same for every pass, so projected once.
    r: Vec<f32>,
    /// Attention output projection.
    out: Dense,
    /// Post-attention layer norm.
    norm1: Norm,
    /// Feed-forward, d_model -> d_inner.
    up: Dense,
    /// Feed-forward, d_inner -> d_model.
    down: Dense,
    /// Post-feed-forward layer norm.
    norm2: Norm,
}

impl CpuLayer {
    fn new(layer: &XlLayer, positions: &Tensor) -> Result<Self> {
        let (attn, ff) = (&layer.attn, &layer.ff);
        Ok(Self {
            qkv: Dense::new(&attn.qkv)?,
            r: attn.r_net.forward(positions)?.flatten_all()?.to_vec1()?,
            out: Dense::new(&attn.out)?,
            norm1: Norm::new(&attn.norm)?,
            up: Dense::new(&ff.up)?,
            down: Dense::new(&ff.down)?,
            norm2: Norm::new(&ff.norm)?,
        })
    }

    /// Runs the layer on `x` `[B x T, d]` in place, its queries, keys and values given or
    /// projected here; returns the bars' keys and values.
    fn forward(
        &self,
        stage: &CpuStage,
        x: &mut [f32],
        b: usize,
        memory: Before<&PlainKeys>,
        qkv: Option<Vec<f32>>,
    ) -> PlainKeys {
        let rows = x.len() / stage.d;
        let qkv = qkv.unwrap_or_else(|| {
            let mut qkv = zeros(rows * self.qkv.output);
            self.qkv.apply(x, &mut qkv);
            qkv
        });
        let (att, keys) = self.attend(stage, &qkv, b, memory);
        let mut h = zeros(rows * stage.d);
        self.out.apply(&att, &mut h);
        add(x, &h);
        self.norm1.apply(x);
        let mut inner = zeros(rows * self.up.output);
        self.up.apply(x, &mut inner);
        inner.iter_mut().for_each(|v| *v = v.max(0.0));
        self.down.apply(&inner, &mut h);
        add(x, &h);
        self.norm2.apply(x);
        recycle([qkv, att, h, inner]);
        keys
    }

    /// Relative attention of every bar over [memory, itself] (causal inside the bar): the heads'
    /// outputs `[B x T, heads x d_head]`, and the bars' own keys and values. Per head, the
    /// product with the position keys takes all bars at once, those with keys one bar each.
    fn attend(
        &self,
        stage: &CpuStage,
        qkv: &[f32],
        b: usize,
        memory: Before<&PlainKeys>,
    ) -> (Vec<f32>, PlainKeys) {
        let (t, heads, dh) = (stage.per_bar, stage.heads, stage.d_head);
        let (inner, rows) = (heads * dh, b * t);
        let width = 3 * inner;
        let mut own = PlainKeys { k: vec![0f32; rows * inner], v: vec![0f32; rows * inner] };
        for (row, chunk) in qkv.chunks_exact(width).enumerate() {
            let (bar, i) = (row / t, row % t);
            for h in 0..heads {
                let at = ((bar * heads + h) * t + i) * dh;
                own.k[at..at + dh].copy_from_slice(&chunk[inner + h * dh..][..dh]);
                own.v[at..at + dh].copy_from_slice(&chunk[2 * inner + h * dh..][..dh]);
            }
        }
        // Each bar's memory and where in it its keys start (at head 0).
        let memory_of = |bar: usize| match memory {
            Before::Bar(m) => Some((m, 0)),
            Before::Previous if bar > 0 => Some((&own, (bar - 1) * heads * t * dh)),
            _ => None,
        };
        let scale = 1.0 / (dh as f32).sqrt();
        let mut att = zeros(rows * inner);
        let (mut qu, mut qv) = (zeros(rows * dh), zeros(rows * dh));
        // Per row: scores by distance (2T), over the memory (T) and over its own bar (T).
        let (mut by_distance, mut remembered, mut seen) =
            (zeros(rows * 2 * t), zeros(rows * t), zeros(rows * t));
        for h in 0..heads {
            let (u, v) = (&stage.u[h * dh..][..dh], &stage.v[h * dh..][..dh]);
            for (chunk, (qu, qv)) in
                qkv.chunks_exact(width).zip(qu.chunks_exact_mut(dh).zip(qv.chunks_exact_mut(dh)))
            {
                let q = &chunk[h * dh..][..dh];
                for d in 0..dh {
                    (qu[d], qv[d]) = (q[d] + u[d], q[d] + v[d]);
                }
            }
            // Where this head's `[T, d_head]` keys or values start in `[.., heads, T, d_head]`,
            // after `at`.
            let head = |at: usize| at + h * t * dh;
            let queries = |q| View::block(q, 0, rows, dh);
            gemm_into(
                &mut by_distance,
                2 * t,
                queries(&qv),
                View::new(&self.r[h * dh..], 2 * t, dh, inner, 1).t(),
                false,
            );
            for bar in 0..b {
                let q = View::block(&qu, bar * t * dh, t, dh);
                if let Some((m, at)) = memory_of(bar) {
                    gemm_into(
                        &mut remembered[bar * t * t..],
                        t,
                        q,
                        View::block(&m.k, head(at), t, dh).t(),
                        false,
                    );
                }
                gemm_into(
                    &mut seen[bar * t * t..],
                    t,
                    q,
                    View::block(&own.k, head(bar * heads * t * dh), t, dh).t(),
                    false,
                );
            }
            for (row, (d, (m, o))) in by_distance
                .chunks_exact(2 * t)
                .zip(remembered.chunks_exact_mut(t).zip(seen.chunks_exact_mut(t)))
                .enumerate()
            {
                // Key j of [memory, bar] sits at distance t + i - j: column t - 1 - i + j.
                let i = row % t;
                let d = &d[t - 1 - i..];
                let m = if memory_of(row / t).is_some() { &mut m[..] } else { &mut [][..] };
                m.iter_mut().zip(d).for_each(|(s, d)| *s = (*s + d) * scale);
                o[..=i].iter_mut().zip(&d[t..]).for_each(|(s, d)| *s = (*s + d) * scale);
                o[i + 1..].fill(f32::NEG_INFINITY);
                softmax(m, o);
            }
            let out = &mut att[h * dh..];
            for bar in 0..b {
                let out = &mut out[bar * t * inner..];
                let mem = memory_of(bar);
                if let Some((m, at)) = mem {
                    gemm_into(
                        out,
                        inner,
                        View::block(&remembered, bar * t * t, t, t),
                        View::block(&m.v, head(at), t, dh),
                        false,
                    );
                }
                let scores = View::block(&seen, bar * t * t, t, t);
                gemm_into(
                    out,
                    inner,
                    scores,
                    View::block(&own.v, head(bar * heads * t * dh), t, dh),
                    mem.is_some(),
                );
            }
        }
        recycle([qu, qv, by_distance, remembered, seen]);
        (att, own)
    }
}

/// What the bars of a pass attend to before themselves.
#[derive(Clone, Copy)]
pub enum Before<T> {
    /// Nothing (the first bar of a clip).
    Nothing,
    /// One bar's keys and values, the same for every bar (the candidates of generation).
    Bar(T),
    /// Each bar the one before it in the pass, the first nothing (a clip's bars in order).
    Previous,
}

/// A linear layer: weight transposed to `[in, out]`, bias.
struct Dense {
    /// `[in, out]`.
    w: Vec<f32>,
    /// `[out]`, zeros where the layer has none.
    bias: Vec<f32>,
    /// Output width.
    output: usize,
}

impl Dense {
    fn new(layer: &Linear) -> Result<Self> {
        let output = layer.weight().dim(0)?;
        let bias = match layer.bias() {
            Some(b) => b.to_vec1()?,
            None => vec![0.0; output],
        };
        Ok(Self { w: layer.weight().t()?.contiguous()?.flatten_all()?.to_vec1()?, bias, output })
    }

    /// `y = x W^T + bias` for every row of `x`.
    fn apply(&self, x: &[f32], y: &mut [f32]) {
        matmul(x, &self.w, y, self.w.len() / self.output, self.output);
        y.chunks_exact_mut(self.output).for_each(|row| add(row, &self.bias));
    }
}

/// A layer norm's weight and bias.
struct Norm {
    /// Scale.
    w: Vec<f32>,
    /// Shift.
    b: Vec<f32>,
}

impl Norm {
    fn new(norm: &LayerNorm) -> Result<Self> {
        let b = match norm.bias() {
            Some(b) => b.to_vec1()?,
            None => vec![0.0; norm.weight().elem_count()],
        };
        Ok(Self { w: norm.weight().to_vec1()?, b })
    }

    /// Normalises every row of `x` in place (epsilon 1e-5, the model's).
    fn apply(&self, x: &mut [f32]) {
        let n = self.w.len();
        for row in x.chunks_exact_mut(n) {
            let mean = row.iter().sum::<f32>() / n as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
            let inv = 1.0 / (var + 1e-5).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.w).zip(&self.b) {
                *v = (*v - mean) * inv * w + b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::Rng;
    use crate::model::{build_stage, init_weights, Config};
    use rand::SeedableRng;

    #[test]
    fn distinct_columns_are_found_across_bars() {
        // Two bars of two tracks and three steps: columns (1,4) (1,4) (2,5) and (2,5) (3,6) (1,4).
        let tokens = [1, 1, 2, 4, 4, 5, 2, 3, 1, 5, 6, 4];
        let (columns, which) = distinct_columns(&tokens, 2, 3);
        assert_eq!(columns, vec![1, 4, 2, 5, 3, 6]);
        assert_eq!(which, vec![0, 0, 1, 1, 2, 0]);
    }

    #[test]
    fn the_cpu_pass_gives_the_stage_models_logits_and_keys() {
        // A layer of 2 and 3 heads, biases on every weight, 3 tracks with masked vocabularies.
        let cfg =
            Config { n_layer: 2, n_head: 3, d_head: 4, d_model: 10, d_inner: 14, dropout: 0.0, lr: 1e-3 };
        let (tracks, vocab, t) = (3, 7, 4);
        let allowed: Vec<Vec<u32>> =
            (0..tracks as u32).map(|k| (0..vocab as u32).filter(|v| v % 3 != k).collect()).collect();
        let (vm, model) = build_stage(cfg, vocab, t, &allowed, &Device::Cpu).unwrap();
        init_weights(&vm, &mut Rng::seed_from_u64(5)).unwrap();
        // Weights start at 0.02 noise and biases at 0: give every term weight.
        for (name, var) in vm.data().lock().unwrap().iter() {
            if !name.contains("norm") {
                var.set(&Tensor::randn(0f32, 0.4, var.shape(), &Device::Cpu).unwrap()).unwrap();
            }
        }
        let cpu = CpuStage::new(&model).unwrap();
        let bars = |b: usize, seed: u32| -> Vec<u32> {
            (0..b * tracks * t).map(|i| (i as u32 * 5 + seed) % vocab as u32).collect()
        };
        let tensor =
            |tokens: &[u32], b| Tensor::from_vec(tokens.to_vec(), (b, tracks, t), &Device::Cpu).unwrap();
        let close = |want: &Tensor, got: &[f32], what: &str| {
            let want = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(want.len(), got.len(), "{what}");
            for (w, g) in want.iter().zip(got) {
                assert!((w - g).abs() < 1e-4 * w.abs().max(1.0), "{what}: {w} vs {g}");
            }
        };
        // The first bar, without memory.
        let first = bars(1, 0);
        let (want, want_kv) = model.forward(&tensor(&first, 1), None, None).unwrap();
        let (got, got_kv) = cpu.forward(&first, 1, Before::Nothing).unwrap();
        close(&want, &got, "first bar");
        for (w, g) in want_kv.iter().zip(&got_kv) {
            close(&w.k, &g.k, "first keys");
            close(&w.v, &g.v, "first values");
        }
        // Five candidates attending to the first bar's keys, each token twice (an upsampled
        // coarser bar: its columns repeat).
        let memory: Vec<PlainKeys> = got_kv;
        let mems: Vec<KeyValues> = want_kv.iter().map(|kv| kv.bar(0).unwrap()).collect();
        let next: Vec<u32> = bars(5, 3).chunks(2).flat_map(|p| [p[0], p[0]]).collect();
        assert!(distinct_columns(&next, tracks, t).0.len() < next.len() / 2 + tracks);
        let (want, want_kv) = model.forward(&tensor(&next, 5), Some(&mems), None).unwrap();
        let (got, got_kv) = cpu.forward(&next, 5, Before::Bar(&memory)).unwrap();
        close(&want, &got, "candidates");
        for (w, g) in want_kv.iter().zip(got_kv) {
            close(&w.k, &g.k, "keys");
            close(&w.v, &g.v, "values");
        }
        // Four bars of a clip in order, each attending to the one before.
        let clip = bars(4, 1);
        let (want, want_kv) = model.forward(&tensor(&clip, 4), None, None).unwrap();
        let (got, got_kv) = cpu.forward(&clip, 4, Before::Previous).unwrap();
        close(&want, &got, "clip");
        for (w, g) in want_kv.iter().zip(got_kv) {
            close(&w.k, &g.k, "clip keys");
            close(&w.v, &g.v, "clip values");
        }
        assert!(cpu.forward(&[vocab as u32; 12], 1, Before::Nothing).is_err());
    }
}
