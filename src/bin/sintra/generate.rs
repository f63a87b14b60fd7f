//! `sintra generate` and `sintra continue`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sintra_core::device::{self, DeviceChoice};
use sintra_core::generate::{generate, to_clip, GenerateOptions, Primer};
use sintra_core::model_file::SintraModel;
use sintra_core::{write_clip, FileError};

/// Sampling options shared by `generate` and `continue`.
#[derive(Args, Clone)]
pub struct GenArgs {
    /// Nucleus mass per stage, coarse to fine (0 = argmax).
    #[arg(long, value_delimiter = ',', default_value = "0.9,0.3,0.3")]
    pub top_p: Vec<f32>,
    /// Softmax temperature (higher: more variety, further from the clip; 1 replays the clip).
    #[arg(long, default_value_t = 3.0)]
    pub temperature: f32,
    /// Start from a random real bar (as the paper did) instead of continuing the last bar.
    #[arg(long)]
    pub random_primer: bool,
    /// How close to the clip the new bars stay, 0 (far) to 1 (copies allowed): of the
    /// candidates drawn for each bar, the one whose match with the clip's bars is nearest wins.
    #[arg(long, default_value_t = 0.5)]
    pub similarity: f32,
    /// Candidate bars drawn for each bar (1: keep the first, as without candidates); below
    /// similarity 0.5 up to three times as many, to find bars further from the clip.
    #[arg(long, default_value_t = 8)]
    pub candidates: usize,
}

impl GenArgs {
    fn options(&self, seed: u64) -> Result<GenerateOptions, String> {
        if self.top_p.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return Err("--top-p values must be between 0 and 1".into());
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err("--temperature must be above 0".into());
        }
        if !(0.0..=1.0).contains(&self.similarity) {
            return Err("--similarity must be between 0 and 1".into());
        }
        if !(1..=64).contains(&self.candidates) {
            return Err("--candidates must be between 1 and 64".into());
        }
        let primer = if self.random_primer { Primer::RandomBar } else { Primer::LastBar };
        Ok(GenerateOptions {
            seed,
            top_p: self.top_p.clone(),
            temperature: self.temperature,
            primer,
            candidates: self.candidates,
            similarity: self.similarity,
        })
    }
}

/// Runs `f` with candle's matrix products on one thread. Sampling multiplies small matrices,
/// where splitting each product costs more than it saves (32 bars: 69 ms against 162 ms on
/// two cores). candle reads its thread count from `RAYON_NUM_THREADS` at every product and has
/// no other switch, so the CLI sets it while only this thread is working.
pub fn with_one_maths_thread<T>(f: impl FnOnce() -> T) -> T {
    let before = std::env::var_os("RAYON_NUM_THREADS");
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let out = f();
    match before {
        Some(v) => std::env::set_var("RAYON_NUM_THREADS", v),
        None => std::env::remove_var("RAYON_NUM_THREADS"),
    }
    out
}

/// Samples `bars` bars per variation and writes each file; returns the paths.
#[allow(clippy::too_many_arguments)]
pub fn write_variations(
    model: &SintraModel,
    source: &Path,
    gen: &GenArgs,
    seed: u64,
    bars: usize,
    variations: usize,
    out: &Path,
    include_clip: bool,
) -> Result<Vec<PathBuf>, FileError> {
    let mut written = Vec::new();
    for v in 0..variations.max(1) {
        let opts = gen.options(seed + v as u64).map_err(|e| FileError::new(source, e))?;
        let cancel = AtomicBool::new(false);
        let progress = ProgressBar::new(bars as u64);
        progress.set_style(
            ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} bars {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        progress.set_prefix(format!("variation {}/{}", v + 1, variations.max(1)));
        let sampled = with_one_maths_thread(|| {
            generate(model, &opts, bars, &cancel, &mut |i, _| progress.set_position(i as u64 + 1))
        })
        .map_err(|e| FileError::new(source, e.to_string()));
        progress.finish_and_clear();
        let sampled = sampled?;
        let path = if variations > 1 { numbered(out, v + 1) } else { out.to_path_buf() };
        let clip = to_clip(model, &sampled, include_clip);
        write_clip(&clip, &path)?;
        eprintln!("wrote {} ({bars} bars, {} notes)", path.display(), clip.note_count());
        written.push(path);
    }
    Ok(written)
}

/// `FILE.mid` -> `FILE-n.mid`.
fn numbered(out: &Path, n: usize) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "generated".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}-{n}.mid"))
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    model_path: &Path,
    gen: &GenArgs,
    seed: u64,
    bars: usize,
    variations: usize,
    out: Option<PathBuf>,
    include_clip: bool,
    device: DeviceChoice,
) -> Result<(), FileError> {
    let (dev, _) = device::select(device).map_err(|e| FileError::new(model_path, e))?;
    let model = SintraModel::load(model_path, &dev)?;
    let out = out.unwrap_or_else(|| {
        let stem =
            model_path.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}.mid"))
    });
    write_variations(&model, model_path, gen, seed, bars, variations, &out, include_clip)?;
    Ok(())
}
