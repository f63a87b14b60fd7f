//! Nucleus (top-p) sampling done right: sort the probabilities, keep the smallest prefix whose
//! mass reaches p, renormalise, sample. p = 0 means argmax.

use rand::Rng as _;

use crate::model::ops::Rng;

/// Probabilities from logits at `temperature` (> 0); masked logits get probability 0.
pub fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let mut p = vec![0f32; logits.len()];
    softmax_into(logits, temperature, &mut p);
    p
}

/// [`softmax`] into `p` (a buffer the caller keeps: a bar draws thousands).
pub fn softmax_into(logits: &[f32], temperature: f32, p: &mut [f32]) {
    let t = temperature.max(1e-6);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    p.iter_mut().zip(logits).for_each(|(p, &l)| *p = exp((l - max) / t));
    let sum: f32 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= sum);
}

/// Scales `probs` to sum to 1; leaves them where none has mass.
pub fn renormalise(probs: &mut [f32]) {
    let sum: f32 = probs.iter().sum();
    if sum > 0.0 {
        probs.iter_mut().for_each(|q| *q /= sum);
    }
}

/// The log-probability of `logit` under the softmax of `logits` (temperature 1), without
/// building the distribution; `logits` may leave out masked ones (probability 0).
pub fn log_probability(logit: f32, logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&l| exp(l - max)).sum();
    logit - max - sum.ln()
}

/// `x.exp()`, skipping the call where the result is 0 in f32 anyway (below about -103.97):
/// a track's masked tokens, most of the vocabulary.
fn exp(x: f32) -> f32 {
    if x < -104.0 {
        0.0
    } else {
        x.exp()
    }
}

/// The nucleus of `probs` for `p`: (index, renormalised probability), most likely first.
pub fn nucleus(probs: &[f32], p: f32) -> Vec<(usize, f32)> {
    // Most draws at the finer stages (p 0.3) are of one token that holds p alone: no sort.
    match top(probs) {
        None => return vec![(0, 1.0)],
        Some(t) if p <= 0.0 || probs[t] >= p => return vec![(t, 1.0)],
        _ => {}
    }
    let mut order: Vec<usize> = (0..probs.len()).filter(|&i| probs[i] > 0.0).collect();
    // Ties go to the lower index, so the nucleus (and argmax) is deterministic.
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    if order.is_empty() {
        return vec![(0, 1.0)];
    }
    let mut kept = Vec::new();
    let mut mass = 0.0;
    for &i in &order {
        kept.push(i);
        mass += probs[i];
        if p <= 0.0 || mass >= p {
            break;
        }
    }
    kept.into_iter().map(|i| (i, probs[i] / mass)).collect()
}

/// The most likely index (the lowest of ties), if any has mass.
fn top(probs: &[f32]) -> Option<usize> {
    (0..probs.len()).fold(None, |best: Option<usize>, i| match best {
        Some(b) if probs[b] >= probs[i] => Some(b),
        _ if probs[i] > 0.0 => Some(i),
        _ => best,
    })
}

/// Draws one index from the nucleus of `probs` for `p`.
pub fn sample_top_p(probs: &[f32], p: f32, rng: &mut Rng) -> usize {
    match top(probs) {
        None => return 0,
        Some(t) if p <= 0.0 || probs[t] >= p => return t,
        _ => {}
    }
    let kept = nucleus(probs, p);
    if kept.len() == 1 {
        return kept[0].0;
    }
    let mut u: f32 = rng.random();
    for &(i, q) in &kept {
        if u < q {
            return i;
        }
        u -= q;
    }
    kept[kept.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const PROBS: [f32; 5] = [0.1, 0.5, 0.05, 0.3, 0.05];

    #[test]
    fn keeps_the_smallest_prefix_reaching_p() {
        let idx = |p| nucleus(&PROBS, p).iter().map(|&(i, _)| i).collect::<Vec<_>>();
        assert_eq!(idx(0.5), vec![1]);
        assert_eq!(idx(0.51), vec![1, 3]);
        assert_eq!(idx(0.8), vec![1, 3]);
        assert_eq!(idx(0.85), vec![1, 3, 0]);
        assert_eq!(idx(1.0).len(), 5);
    }

    #[test]
    fn renormalises() {
        let kept = nucleus(&PROBS, 0.8);
        assert!((kept[0].1 - 0.625).abs() < 1e-6 && (kept[1].1 - 0.375).abs() < 1e-6);
        let total: f32 = nucleus(&PROBS, 0.9).iter().map(|&(_, q)| q).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }

    #[test]
    fn p_zero_is_argmax() {
        let mut rng = Rng::seed_from_u64(0);
        for _ in 0..20 {
            assert_eq!(sample_top_p(&PROBS, 0.0, &mut rng), 1);
        }
        // Masked tokens never come out, however flat the rest.
        let probs = softmax(&[-1e9, 0.0, 0.0, -1e9], 1.0);
        assert_eq!(probs[0], 0.0);
        for _ in 0..50 {
            let i = sample_top_p(&probs, 1.0, &mut rng);
            assert!(i == 1 || i == 2);
        }
    }

    #[test]
    fn fixed_seed_fixed_draws_and_frequencies_follow_the_nucleus() {
        let draw = |seed| {
            let mut rng = Rng::seed_from_u64(seed);
            (0..2000).map(|_| sample_top_p(&PROBS, 0.8, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
        let d = draw(5);
        let ones = d.iter().filter(|&&i| i == 1).count() as f32 / d.len() as f32;
        assert!(d.iter().all(|&i| i == 1 || i == 3));
        assert!((ones - 0.625).abs() < 0.04, "{ones}");
    }

    #[test]
    fn log_probability_matches_the_softmax() {
        let l = [2.0, 1.0, -1e9, 0.5];
        for i in [0, 1, 3] {
            assert!((log_probability(l[i], &l) - softmax(&l, 1.0)[i].ln()).abs() < 1e-5);
            // The masked logit left out: the same.
            let own = [l[0], l[1], l[3]];
            assert_eq!(log_probability(l[i], &own), log_probability(l[i], &l));
        }
    }

    #[test]
    fn temperature_flattens() {
        let cold = softmax(&[2.0, 1.0, 0.0], 0.5);
        let hot = softmax(&[2.0, 1.0, 0.0], 2.0);
        assert!(cold[0] > hot[0] && cold[2] < hot[2]);
    }
}
