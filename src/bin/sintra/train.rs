//! `sintra train`: learn a clip and save the model.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sintra_core::device::{self, DeviceChoice};
use sintra_core::grid::Grid;
use sintra_core::midi_in::read_clip_on;
use sintra_core::model::Preset;
use sintra_core::model_file::SintraModel;
use sintra_core::pyramid::Resolution;
use sintra_core::train::{default_threads, total_parameters, train, StageReport, TrainOptions};
use sintra_core::{Clip, FileError};

/// Options shared by `train` and `continue`.
#[derive(Args, Clone)]
pub struct TrainArgs {
    /// Bars to learn, 1-based and inclusive (e.g. 1:12); default: the whole clip.
    #[arg(long, value_parser = parse_bars)]
    pub bars: Option<(u32, u32)>,
    /// Model size.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
    /// Where to train: cpu, cuda, or auto (CUDA when built in and a GPU answers).
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceChoice,
    /// CPU threads (default: all cores but one).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed for initialisation and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Most training steps per stage.
    #[arg(long, default_value_t = 400)]
    pub max_epochs: usize,
    /// A stage stops at this training loss.
    #[arg(long, default_value_t = 0.01)]
    pub target_loss: f32,
    /// A stage also stops after this many epochs without a 10% better loss (0: never).
    #[arg(long, default_value_t = 50)]
    pub patience: usize,
    /// Train one stage at 16th notes (the paper's ablation) instead of the pyramid.
    #[arg(long)]
    pub single_stage: bool,
    #[command(flatten)]
    pub grid: GridArg,
}

/// The `--grid` option of the commands that read a clip.
#[derive(Args, Clone)]
pub struct GridArg {
    /// The grid the clip is learnt on: auto (chosen from where its onsets fall), 16ths,
    /// triplets (a shuffle: triplet 8ths and 16ths) or mixed (16ths and triplets, 48 steps a
    /// 4/4 bar). What the grid cannot hold is kept as each note's offset from it.
    #[arg(long, value_name = "GRID", value_parser = parse_grid, default_value = "auto")]
    grid: GridName,
}

/// A grid's name, or `auto` (`None`).
#[derive(Clone)]
struct GridName(Option<Grid>);

impl GridArg {
    /// The grid asked for; `None`: chosen from the clip.
    pub fn get(&self) -> Option<Grid> {
        self.grid.0
    }
}

/// `auto` or a grid's name.
fn parse_grid(s: &str) -> Result<GridName, String> {
    if s == "auto" {
        return Ok(GridName(None));
    }
    Grid::parse(s).map(|g| GridName(Some(g)))
}

pub fn parse_bars(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s.split_once(':').ok_or("expected FIRST:LAST, e.g. 1:12")?;
    let a: u32 = a.trim().parse().map_err(|_| format!("bad first bar '{a}'"))?;
    let b: u32 = b.trim().parse().map_err(|_| format!("bad last bar '{b}'"))?;
    if a == 0 || b < a {
        return Err("bars are 1-based and FIRST <= LAST".into());
    }
    Ok((a, b))
}

/// What `train --json` prints.
#[derive(Serialize)]
struct TrainReport {
    device: &'static str,
    preset: &'static str,
    parameters: usize,
    seconds: f64,
    stages: Vec<StageReport>,
}

/// Trains on `clip` (read from `file`) and returns the model and its report, showing
/// progress on stderr.
pub fn learn(
    file: &Path,
    clip: Clip,
    args: &TrainArgs,
) -> Result<(SintraModel, Vec<StageReport>, f64), FileError> {
    let (clip, bars) = match args.bars {
        Some((a, b)) => (clip.select_bars(a, b).map_err(|e| FileError::new(file, e))?, b - a + 1),
        None => {
            let bars = clip.bars();
            (clip, bars)
        }
    };
    let (dev, dev_name) = device::select(args.device).map_err(|e| FileError::new(file, e))?;
    if args.device == DeviceChoice::Auto {
        eprintln!("training on {dev_name}");
    }
    let opts = TrainOptions {
        preset: args.preset,
        config: args.preset.config(),
        resolutions: if args.single_stage { vec![Resolution::Sixteenth] } else { Resolution::ALL.to_vec() },
        max_epochs: args.max_epochs.max(1),
        target_loss: args.target_loss,
        patience: args.patience,
        seed: args.seed,
        threads: args.threads.unwrap_or_else(default_threads),
    };
    let bar = ProgressBar::new(opts.max_epochs as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // Shown (and redrawn) from the start, so a slow first step never looks like a hang.
    bar.set_prefix("preparing");
    bar.enable_steady_tick(Duration::from_millis(250));
    let mut current = usize::MAX;
    let start = Instant::now();
    let cancel = AtomicBool::new(false);
    let result = train(&clip, bars, &opts, &dev, &cancel, &mut |p| {
        if p.stage != current {
            if current != usize::MAX {
                bar.println(format!("stage {}/{} done", current + 1, p.stages));
            }
            current = p.stage;
            bar.set_prefix(format!("stage {}/{} {}", p.stage + 1, p.stages, p.resolution.label()));
            bar.reset();
        }
        bar.set_position(p.epoch as u64);
        bar.set_message(format!("loss {:.4}  {:.1}s", p.loss, p.elapsed.as_secs_f64()));
    });
    bar.finish_and_clear();
    let (model, reports) = result.map_err(|e| FileError::new(file, e.to_string()))?;
    Ok((model, reports, start.elapsed().as_secs_f64()))
}

pub fn run(file: &Path, args: &TrainArgs, out: Option<PathBuf>, json: bool) -> Result<(), FileError> {
    let (model, reports, seconds) = learn(file, read_clip_on(file, args.grid.get())?, args)?;
    let out = out.unwrap_or_else(|| default_model_path(file));
    model.save(&out)?;
    let report = TrainReport {
        device: device::name(&model.device),
        preset: args.preset.name(),
        parameters: total_parameters(&model.stages),
        seconds,
        stages: reports,
    };
    if json {
        println!("{}", serde_json::to_string(&report).expect("plain data serialises"));
    } else {
        for s in &report.stages {
            eprintln!(
                "{:>5}: {} epochs, loss {:.4}, {:.1} s",
                s.resolution, s.epochs, s.final_loss, s.seconds
            );
        }
        eprintln!(
            "wrote {} ({} parameters, {} on {}, {:.1} s)",
            out.display(),
            report.parameters,
            report.preset,
            report.device,
            seconds
        );
    }
    Ok(())
}

/// `<stem>.sintra` in the current directory.
pub fn default_model_path(file: &Path) -> PathBuf {
    let stem = file.file_stem().map_or_else(|| "clip".into(), |s| s.to_string_lossy().into_owned());
    PathBuf::from(format!("{stem}.sintra"))
}
