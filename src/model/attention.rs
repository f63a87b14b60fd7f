//! Transformer-XL relative positional attention ("RelPartialLearnable"): content and position
//! terms with learnable u/v biases, sinusoidal relative embeddings and the rel-shift.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{layer_norm, linear_no_bias, LayerNorm, Linear, VarBuilder};

use super::ops::{linear_2d, Dropout, Rng};
use super::Config;

/// Sinusoidal embeddings of relative distances `klen-1, ..., 1, 0`: `[klen, d_model]`.
pub fn relative_positions(klen: usize, d_model: usize, device: &Device) -> Result<Tensor> {
    let half = d_model / 2;
    let mut data = vec![0f32; klen * d_model];
    for (row, pos) in (0..klen).rev().enumerate() {
        for i in 0..half {
            let inv_freq = 1.0 / 10000f64.powf(2.0 * i as f64 / d_model as f64);
            let x = pos as f64 * inv_freq;
            data[row * d_model + i] = x.sin() as f32;
            data[row * d_model + half + i] = x.cos() as f32;
        }
    }
    Tensor::from_vec(data, (klen, d_model), device)
}

/// Shifts position scores so that entry (i, j) holds the score of distance `mlen + i - j`.
///
/// `x` is `[.., qlen, klen]` with column `c` scoring distance `klen - 1 - c`; entries with
/// `j > mlen + i` (the future) come out as junk and must be masked.
pub fn rel_shift(x: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let n = dims.len();
    let (qlen, klen) = (dims[n - 2], dims[n - 1]);
    let mut pad_shape = dims.clone();
    pad_shape[n - 1] = 1;
    let padded = Tensor::cat(&[&Tensor::zeros(pad_shape, x.dtype(), x.device())?, x], n - 1)?;
    let mut tall = dims[..n - 2].to_vec();
    tall.extend([klen + 1, qlen]);
    padded.reshape(tall)?.narrow(n - 2, 1, klen)?.contiguous()?.reshape(dims)
}

/// Multi-head attention over `[memory, segment]` with relative positions, then add & post-LN.
pub struct RelAttention {
    /// Query, key and value projections in one matrix.
    pub(super) qkv: Linear,
    /// Projection of the relative position embeddings to keys.
    pub(super) r_net: Linear,
    /// Output projection.
    pub(super) out: Linear,
    /// Post-attention layer norm.
    pub(super) norm: LayerNorm,
    /// Dropout after the output projection.
    dropout: Dropout,
    /// Heads.
    pub(super) n_head: usize,
    /// Size of one head.
    pub(super) d_head: usize,
}

impl RelAttention {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let inner = cfg.n_head * cfg.d_head;
        Ok(Self {
            qkv: linear_no_bias(cfg.d_model, 3 * inner, vb.pp("qkv"))?,
            r_net: linear_no_bias(cfg.d_model, inner, vb.pp("r_net"))?,
            out: linear_no_bias(inner, cfg.d_model, vb.pp("out"))?,
            norm: layer_norm(cfg.d_model, 1e-5, vb.pp("norm"))?,
            dropout: Dropout::new(cfg.dropout),
            n_head: cfg.n_head,
            d_head: cfg.d_head,
        })
    }

    /// Attention scores before masking and softmax `[B, heads, qlen, mlen + qlen]`, the values
    /// `[B, heads, mlen + qlen, d_head]`, and the segment's own keys and values (the memory
    /// of the segment that follows).
    ///
    /// `w`: segment `[B, qlen, d]`; `mem`: what it attends to before itself; `pos`:
    /// `relative_positions(mlen + qlen)`; `u`, `v`: the content and position biases `[heads, d_head]`.
    pub fn scores(
        &self,
        w: &Tensor,
        mem: Memory,
        pos: &Tensor,
        u: &Tensor,
        v: &Tensor,
    ) -> Result<(Tensor, Tensor, KeyValues)> {
        let (b, qlen, _) = w.dims3()?;
        let (h, dh) = (self.n_head, self.d_head);
        // [B, h, len, dh] each
        let project = |x: &Tensor| -> Result<[Tensor; 3]> {
            let len = x.dim(1)?;
            let heads = linear_2d(&self.qkv, x)?.reshape((x.dim(0)?, len, 3, h, dh))?;
            let part = |i| heads.narrow(2, i, 1)?.squeeze(2)?.transpose(1, 2);
            // The queries are only added to (new tensors): no copy of their own.
            Ok([part(0)?, part(1)?.contiguous()?, part(2)?.contiguous()?])
        };
        let [q, k_seg, v_seg] = project(w)?;
        let (k_mem, v_mem) = match mem {
            Memory::Inputs(m) => {
                let [_, k, v] = project(m)?;
                (k, v)
            }
            Memory::Keys(kv) => {
                let shape = (b, h, kv.k.dim(2)?, dh);
                (kv.k.broadcast_as(shape)?, kv.v.broadcast_as(shape)?)
            }
        };
        let k = Tensor::cat(&[&k_mem, &k_seg], 2)?.contiguous()?;
        let val = Tensor::cat(&[&v_mem, &v_seg], 2)?.contiguous()?;
        let klen = k.dim(2)?;
        let r = self.r_net.forward(pos)?.reshape((klen, h, dh))?.transpose(0, 1)?.contiguous()?; // [h, klen, dh]

        let q_u = q.broadcast_add(&u.reshape((1, h, 1, dh))?)?;
        let q_v = q.broadcast_add(&v.reshape((1, h, 1, dh))?)?;
        let ac = q_u.matmul(&k.transpose(2, 3)?)?;
        // Position term for all bars at once: [h, B*qlen, dh] x [h, dh, klen].
        let q_v = q_v.transpose(0, 1)?.contiguous()?.reshape((h, b * qlen, dh))?;
        let bd = q_v.matmul(&r.transpose(1, 2)?)?.reshape((h, b, qlen, klen))?.transpose(0, 1)?;
        let scale = 1.0 / (dh as f64).sqrt();
        Ok((((ac + rel_shift(&bd)?)? * scale)?, val, KeyValues { k: k_seg, v: v_seg }))
    }

    /// Attention and residual, with the segment's keys and values: `mask` is additive,
    /// `[B or 1, 1, qlen, klen]`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        w: &Tensor,
        mem: Memory,
        pos: &Tensor,
        u: &Tensor,
        v: &Tensor,
        mask: &Tensor,
        rng: Option<&mut Rng>,
    ) -> Result<(Tensor, KeyValues)> {
        let (b, qlen, d) = w.dims3()?;
        let (scores, val, kv) = self.scores(w, mem, pos, u, v)?;
        let prob = candle_nn::ops::softmax_last_dim(&scores.broadcast_add(mask)?)?;
        let vec = prob.matmul(&val)?.transpose(1, 2)?.reshape((b, qlen, self.n_head * self.d_head))?;
        let out = self.dropout.forward(&linear_2d(&self.out, &vec)?, rng)?;
        Ok((self.norm.forward(&(w + out)?.reshape((b, qlen, d))?)?, kv))
    }
}

/// What a segment attends to before itself.
#[derive(Clone, Copy)]
pub enum Memory<'a> {
    /// The layer's inputs at the bars before, `[B, mlen, d_model]` (training: each bar's
    /// previous bar in the batch).
    Inputs(&'a Tensor),
    /// Their keys and values, computed when that bar was the segment and shared by the whole
    /// batch (generation: the kept bar's, so candidates do not project it again).
    Keys(&'a KeyValues),
}

/// One layer's keys and values of a segment, `[B, heads, len, d_head]` each.
#[derive(Clone, Debug)]
pub struct KeyValues {
    /// Keys.
    pub k: Tensor,
    /// Values.
    pub v: Tensor,
}

impl KeyValues {
    /// Bar `i` of the batch, `[1, heads, len, d_head]`.
    pub fn bar(&self, i: usize) -> Result<Self> {
        Ok(Self { k: self.k.narrow(0, i, 1)?, v: self.v.narrow(0, i, 1)? })
    }
}

/// Additive attention mask `[1, 1, qlen, 2*qlen]` for a segment whose memory is the previous
/// segment: causal inside the segment; with `memory` false the memory is masked out too.
pub fn segment_mask(qlen: usize, memory: bool, device: &Device) -> Result<Tensor> {
    let klen = 2 * qlen;
    let mut data = vec![0f32; qlen * klen];
    for i in 0..qlen {
        for j in 0..klen {
            if j > qlen + i || (!memory && j < qlen) {
                data[i * klen + j] = f32::NEG_INFINITY;
            }
        }
    }
    Tensor::from_vec(data, (1, 1, qlen, klen), device)?.to_dtype(DType::F32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    #[test]
    fn rel_shift_aligns_distances() {
        // Column c of row i holds distance klen-1-c; after the shift (i, j) holds mlen+i-j.
        let (qlen, klen) = (3, 5);
        let mlen = klen - qlen;
        let data: Vec<f32> = (0..qlen).flat_map(|_| (0..klen).map(|c| (klen - 1 - c) as f32)).collect();
        let x = Tensor::from_vec(data, (1, qlen, klen), &Device::Cpu).unwrap();
        let y = rel_shift(&x).unwrap().squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        for (i, row) in y.iter().enumerate() {
            for (j, &got) in row.iter().enumerate().take(mlen + i + 1) {
                assert_eq!(got, (mlen + i - j) as f32, "({i},{j})");
            }
        }
    }

    #[test]
    fn scores_match_naive_per_pair_computation() {
        let cfg =
            Config { n_layer: 1, n_head: 2, d_head: 3, d_model: 8, d_inner: 16, dropout: 0.0, lr: 1e-3 };
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let attn = RelAttention::new(&cfg, vb).unwrap();
        let (b, qlen, mlen) = (2, 4, 4);
        let w = Tensor::randn(0f32, 1.0, (b, qlen, 8), &dev).unwrap();
        let mem = Tensor::randn(0f32, 1.0, (b, mlen, 8), &dev).unwrap();
        let u = Tensor::randn(0f32, 1.0, (2, 3), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (2, 3), &dev).unwrap();
        let klen = mlen + qlen;
        let pos = relative_positions(klen, 8, &dev).unwrap();
        let (scores, _, _) = attn.scores(&w, Memory::Inputs(&mem), &pos, &u, &v).unwrap();
        assert_eq!(scores.dims(), &[b, 2, qlen, klen]);
        let s: Vec<_> = (0..b).map(|bi| scores.get(bi).unwrap().to_vec3::<f32>().unwrap()).collect();

        // Naive: project every position and every distance separately.
        let cat = Tensor::cat(&[&mem, &w], 1).unwrap();
        let qkv = attn.qkv.forward(&cat).unwrap().to_vec3::<f32>().unwrap(); // [b, klen, 3*h*dh]
        let (uu, vv) = (u.to_vec2::<f32>().unwrap(), v.to_vec2::<f32>().unwrap());
        for bi in 0..b {
            for h in 0..2 {
                for i in 0..qlen {
                    for j in 0..=mlen + i {
                        let dist = (mlen + i - j) as f32;
                        let emb = relative_positions(dist as usize + 1, 8, &dev).unwrap().get(0).unwrap();
                        let r =
                            attn.r_net.forward(&emb.unsqueeze(0).unwrap()).unwrap().to_vec2::<f32>().unwrap();
                        let q = |d: usize| qkv[bi][mlen + i][h * 3 + d];
                        let k = |d: usize| qkv[bi][j][6 + h * 3 + d];
                        let mut want = 0.0;
                        for d in 0..3 {
                            want += (q(d) + uu[h][d]) * k(d) + (q(d) + vv[h][d]) * r[0][h * 3 + d];
                        }
                        want /= 3f32.sqrt();
                        let got = s[bi][h][i][j];
                        assert!((got - want).abs() < 1e-4, "b{bi} h{h} ({i},{j}): {got} vs {want}");
                    }
                }
            }
        }
    }
}
