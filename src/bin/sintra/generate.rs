//! `sintra generate` and `sintra continue`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sintra_core::device::{self, DeviceChoice};
use sintra_core::eval::bar_closeness;
use sintra_core::generate::{
    feel, generate_explained, redraw, starts_with_clip, to_clip, Choice, GenerateOptions, Kept, Primer,
};
use sintra_core::midi_in::read_clip_on;
use sintra_core::model_file::SintraModel;
use sintra_core::{write_clip, Clip, FileError};

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
    /// Tracks to keep (names as `inspect` prints them, or 1-based numbers): their new bars are
    /// the clip's own bars again, looped, and the other tracks are drawn to fit them.
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub keep_tracks: Vec<String>,
    /// The kept tracks' new bars come from this file instead (its track of the same name, or
    /// its tracks in order), looped.
    #[arg(long = "with", value_name = "FILE.mid", requires = "keep_tracks")]
    pub with_file: Option<PathBuf>,
    /// How much of the clip's feel (swing, a laid-back backbeat, human timing) the new notes
    /// take: 0 puts them on the grid, 1 (the default) times them as the clip's were.
    #[arg(long, default_value_t = 1.0)]
    pub feel: f32,
    /// Print, for every new bar, how close it is to the clip (the measure behind
    /// `--similarity`) and the clip's bar or window it is nearest.
    #[arg(long)]
    pub explain: bool,
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
        if !(0.0..=1.0).contains(&self.feel) {
            return Err("--feel must be between 0 and 1".into());
        }
        if self.keep_tracks.iter().any(|t| t.trim().is_empty()) {
            return Err("--keep-tracks names an empty track".into());
        }
        let primer = if self.random_primer { Primer::RandomBar } else { Primer::LastBar };
        Ok(GenerateOptions {
            seed,
            top_p: self.top_p.clone(),
            temperature: self.temperature,
            primer,
            candidates: self.candidates,
            similarity: self.similarity,
            keep: None,
        })
    }

    /// The kept tracks for `model` (loaded from `source`), if any.
    fn kept(&self, model: &SintraModel, source: &Path) -> Result<Option<Kept>, FileError> {
        if self.keep_tracks.is_empty() {
            return Ok(None);
        }
        let tracks = &model.meta.clip.tracks;
        let mut keep = vec![false; tracks.len()];
        for name in &self.keep_tracks {
            let name = name.trim();
            let k = match name.parse::<usize>() {
                Ok(n) if (1..=tracks.len()).contains(&n) => n - 1,
                _ => tracks.iter().position(|t| t.name == name).ok_or_else(|| {
                    let names: Vec<String> =
                        tracks.iter().enumerate().map(|(k, t)| format!("{} \"{}\"", k + 1, t.name)).collect();
                    FileError::new(
                        source,
                        format!("--keep-tracks: no track {name:?}; it has {}", names.join(", ")),
                    )
                })?,
            };
            keep[k] = true;
        }
        if keep.iter().all(|&k| k) {
            return Err(FileError::new(source, "--keep-tracks keeps every track: nothing would be drawn"));
        }
        match &self.with_file {
            None => Ok(Some(Kept::clip_bars(&model.meta, keep))),
            Some(path) => {
                let clip = read_clip_on(path, Some(model.meta.clip.meta.grid))?;
                Kept::from_file(&model.meta, keep, &clip).map(Some).map_err(|e| FileError::new(path, e))
            }
        }
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
    let keep = gen.kept(model, source)?;
    for v in 0..variations.max(1) {
        let mut opts = gen.options(seed + v as u64).map_err(|e| FileError::new(source, e))?;
        opts.keep.clone_from(&keep);
        let cancel = AtomicBool::new(false);
        let progress = ProgressBar::new(bars as u64);
        progress.set_style(
            ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} bars {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        progress.set_prefix(format!("variation {}/{}", v + 1, variations.max(1)));
        let sampled = with_one_maths_thread(|| {
            let on_bar = &mut |i: usize, _: &[Vec<u32>]| progress.set_position(i as u64 + 1);
            generate_explained(model, &opts, bars, &cancel, gen.explain, on_bar)
        })
        .map_err(|e| FileError::new(source, e.to_string()));
        progress.finish_and_clear();
        let (sampled, choices) = sampled?;
        let path = if variations > 1 { numbered(out, v + 1) } else { out.to_path_buf() };
        let mut clip = to_clip(model, &sampled, include_clip, opts.keep.as_ref());
        let from = if include_clip { model.meta.bars * model.meta.clip.meta.steps_per_bar() } else { 0 };
        feel::scale(&mut clip, gen.feel, from..u32::MAX);
        write_clip(&clip, &path)?;
        eprintln!("wrote {} ({bars} bars, {} notes)", path.display(), clip.note_count());
        if gen.explain {
            let new = to_clip(model, &sampled, false, opts.keep.as_ref());
            print!("{}", explain(&model.meta.clip, &new, &path, 1));
            print!("{}", explain_choices(&choices, 1));
        }
        written.push(path);
    }
    Ok(written)
}

/// Per new bar of `new` (numbered from `first`), its closeness to `clip`
/// (`eval::bar_closeness`) and where in the clip it is nearest, as a table for `--explain`.
pub fn explain(clip: &Clip, new: &Clip, path: &Path, first: usize) -> String {
    let spb = clip.meta.steps_per_bar() as usize;
    let beat =
        (clip.meta.grid.steps_per_quarter() as usize * 4 / clip.meta.time_sig.den.max(1) as usize).max(1);
    let mut out = format!(
        "{}: each new bar's match with the clip (share of equal track-steps; 1 = a copy)\n  bar  match  nearest in the clip\n",
        path.display()
    );
    for (b, (matched, start)) in bar_closeness(clip, new).into_iter().enumerate() {
        let (bar, at) = (start / spb + 1, start % spb);
        let window =
            if at == 0 { format!("bar {bar}") } else { format!("bar {bar}, beat {}", at / beat + 1) };
        out += &format!("{:>5}  {matched:>5.2}  {window}\n", b + first);
    }
    out
}

/// Per new bar (numbered from `first`), the choice among its candidates term by term: the
/// kept one's cost terms (`generate::Cost`), its total and the next best total, for
/// `--explain`.
pub fn explain_choices(choices: &[Choice], first: usize) -> String {
    let mut out = String::from(
        "  the choice among each bar's candidates: the kept one's cost, term by term (lower is better,\n  bonuses negative; docs/model.md#candidates-and-the-similarity-choice)\n  bar  cands  match  dist   copy   harm  onsets restrk changes length  model   lead  total   next\n",
    );
    for (b, choice) in choices.iter().enumerate() {
        let Some(c) = choice.costs.get(choice.kept) else { continue };
        let next = (choice.costs.iter().enumerate())
            .filter(|&(i, _)| i != choice.kept)
            .map(|(_, c)| c.total)
            .min_by(f64::total_cmp)
            .map_or_else(|| "-".to_string(), |t| format!("{t:.3}"));
        let terms = [
            c.distance,
            c.copy,
            c.harmony,
            c.onsets,
            c.restrikes,
            c.changes,
            c.length,
            c.likelihood,
            c.lead,
            c.total,
        ];
        let terms: String = terms.iter().map(|t| format!(" {t:>6.3}")).collect();
        out +=
            &format!("{:>5}  {:>5}  {:>5.2}{terms}  {next:>5}\n", b + first, choice.costs.len(), c.matched);
    }
    out
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

/// `sintra generate MODEL --from PREV.mid --regenerate-bars A:B`: bars A-B of PREV.mid drawn
/// again, every other bar kept note for note.
pub fn redraw_file(
    model_path: &Path,
    gen: &GenArgs,
    seed: u64,
    prev_path: &Path,
    bars: (u32, u32),
    out: Option<PathBuf>,
    device: DeviceChoice,
) -> Result<(), FileError> {
    let (dev, _) = device::select(device).map_err(|e| FileError::new(model_path, e))?;
    let model = SintraModel::load(model_path, &dev)?;
    let prev = read_clip_on(prev_path, Some(model.meta.clip.meta.grid))?;
    let mut opts = gen.options(seed).map_err(|e| FileError::new(model_path, e))?;
    opts.keep = gen.kept(&model, model_path)?;
    let cancel = AtomicBool::new(false);
    let clip_first = starts_with_clip(&model, &prev);
    let mut clip =
        with_one_maths_thread(|| redraw(&model, &opts, &prev, bars, clip_first, &cancel, &mut |_| {}))
            .map_err(|e| FileError::new(prev_path, e.to_string()))?;
    let spb = clip.meta.steps_per_bar();
    feel::scale(&mut clip, gen.feel, (bars.0 - 1) * spb..bars.1 * spb);
    let out = out.unwrap_or_else(|| {
        let stem =
            prev_path.file_stem().map_or_else(|| "generated".into(), |s| s.to_string_lossy().into_owned());
        prev_path.with_file_name(format!("{stem}-redrawn.mid"))
    });
    write_clip(&clip, &out)?;
    eprintln!(
        "wrote {} (bars {}:{} drawn again, {} notes)",
        out.display(),
        bars.0,
        bars.1,
        clip.note_count()
    );
    if gen.explain {
        let spb = clip.meta.steps_per_bar();
        let (first, last) = (bars.0 - 1, bars.1);
        let mut drawn = clip.clone();
        for t in &mut drawn.tracks {
            t.notes.retain(|n| n.start >= first * spb && n.start < last * spb);
            t.notes.iter_mut().for_each(|n| (n.start, n.end) = (n.start - first * spb, n.end - first * spb));
        }
        print!("{}", explain(&model.meta.clip, &drawn, &out, bars.0 as usize));
    }
    Ok(())
}
