//! What the layers share: the seeded random stream, dropout, and a linear layer applied as
//! one 2-d product.

use candle_core::{Module, Result, Tensor};
use candle_nn::Linear;
use rand::Rng as _;

/// The random stream for initialisation and dropout; seeded, so training is repeatable
/// (candle's own CPU generator cannot be seeded).
pub type Rng = rand_chacha::ChaCha8Rng;

/// Applies a linear layer to `[.., in]` as one 2-d matrix product (faster than a batched one).
pub fn linear_2d(layer: &Linear, x: &Tensor) -> Result<Tensor> {
    let dims = x.dims();
    let last = dims[dims.len() - 1];
    let rows = x.elem_count() / last;
    let y = layer.forward(&x.reshape((rows, last))?)?;
    let mut out = dims.to_vec();
    out[dims.len() - 1] = y.dim(1)?;
    y.reshape(out)
}

/// Inverted dropout with masks drawn from the training [`Rng`]; the identity without one.
#[derive(Clone, Copy)]
pub struct Dropout {
    /// Probability of dropping a unit.
    p: f32,
}

impl Dropout {
    pub fn new(p: f32) -> Self {
        Self { p }
    }

    pub fn forward(&self, x: &Tensor, rng: Option<&mut Rng>) -> Result<Tensor> {
        let Some(rng) = rng.filter(|_| self.p > 0.0) else { return Ok(x.clone()) };
        let keep = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> =
            (0..x.elem_count()).map(|_| if rng.random::<f32>() < self.p { 0.0 } else { keep }).collect();
        x * Tensor::from_vec(mask, x.shape(), x.device())?
    }
}
