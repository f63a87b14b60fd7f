//! `sintra`: the headless command line (inspect, convert, train, generate, evaluate).

mod bench;
mod eval;
mod generate;
mod inspect;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sintra_core::device::DeviceChoice;
use sintra_core::grid::Grid;
use sintra_core::midi_in::{parse_clip_on, read_clip_on};
use sintra_core::FileError;

/// The bundled clip, used by `continue` without a file.
const BUNDLED: &[u8] = include_bytes!("../../../assets/bwv227-1_4track_ts44.mid");
const BUNDLED_PATH: &str = "assets/bwv227-1_4track_ts44.mid";

/// Learn one multi-track MIDI clip with the SinTra pyramid and generate new bars.
#[derive(Parser)]
#[command(name = "sintra", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a clip as SinTra reads it: tempo, meter, bars, tracks and their vocabularies.
    Inspect {
        /// The MIDI file.
        file: PathBuf,
        #[command(flatten)]
        grid: train::GridArg,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Read a clip, take it through the pitch-group representation and back, and write it.
    Convert {
        /// The MIDI file to read.
        input: PathBuf,
        /// The MIDI file to write.
        output: PathBuf,
        #[command(flatten)]
        grid: train::GridArg,
    },
    /// Sample new bars from a trained model and write them as MIDI.
    Generate {
        /// The model file (from `sintra train`).
        model: PathBuf,
        /// Bars to generate.
        #[arg(long, default_value_t = 32)]
        bars: usize,
        /// Seed of the sampling (variation k uses seed + k - 1).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        gen: generate::GenArgs,
        /// Number of variations, written as FILE-1.mid ... FILE-K.mid.
        #[arg(long, default_value_t = 1)]
        variations: usize,
        /// Output MIDI file (default: <model name>.mid here).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the clip followed by the new bars.
        #[arg(long)]
        include_clip: bool,
        /// Where to sample: cpu, cuda or auto.
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceChoice,
        /// An earlier output of this model (as `generate` wrote it) whose bars
        /// `--regenerate-bars` draws again, keeping every other bar note for note.
        #[arg(long, value_name = "PREV.mid", requires = "regenerate_bars")]
        from: Option<PathBuf>,
        /// Bars of PREV.mid to draw again (1-based, inclusive, e.g. 5:8); written to --out
        /// (default PREV-redrawn.mid).
        #[arg(long, value_name = "A:B", value_parser = train::parse_bars, requires = "from")]
        regenerate_bars: Option<(u32, u32)>,
    },
    /// Learn a clip and continue it in one go (without FILE: the bundled chorale). Writes the
    /// clip followed by the new bars.
    Continue {
        /// The MIDI file to continue.
        file: Option<PathBuf>,
        /// Bars to generate.
        #[arg(long, default_value_t = 32)]
        generate: usize,
        #[command(flatten)]
        opts: train::TrainArgs,
        #[command(flatten)]
        gen: generate::GenArgs,
        /// Output MIDI file (default: <clip name>-continued.mid here).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write only the new bars, without the clip.
        #[arg(long)]
        without_clip: bool,
        /// Also save the trained model here.
        #[arg(long)]
        model_out: Option<PathBuf>,
    },
    /// Compare generated MIDI files with the reference clip.
    Eval {
        /// The reference clip.
        reference: PathBuf,
        /// Generated files.
        #[arg(required_unless_present = "shuffle")]
        generated: Vec<PathBuf>,
        /// Bars of the reference to compare with (1-based, inclusive).
        #[arg(long, value_parser = train::parse_bars)]
        ref_bars: Option<(u32, u32)>,
        /// Bars of each generated file to compare (e.g. a clip's own later bars as a yardstick).
        #[arg(long, value_parser = train::parse_bars)]
        gen_bars: Option<(u32, u32)>,
        /// Instead of files, evaluate N per-track shuffles of the reference's bars (seeds 0 to
        /// N-1): the noise floor.
        #[arg(long, value_name = "N", conflicts_with_all = ["generated", "gen_bars"],
              value_parser = clap::value_parser!(u64).range(1..))]
        shuffle: Option<u64>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print training figures for the presets on a 12-bar chorale (seconds per step, epochs
    /// and seconds to reach loss 0.01, peak memory).
    Bench {
        /// The clip (default: the bundled chorale).
        file: Option<PathBuf>,
        /// CPU threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Most steps per stage.
        #[arg(long, default_value_t = 400)]
        max_epochs: usize,
        /// Presets to measure.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "default,paper")]
        presets: Vec<sintra_core::model::Preset>,
        /// Bars of the clip (1-based, inclusive).
        #[arg(long, value_parser = train::parse_bars, default_value = "1:12")]
        bars: (u32, u32),
    },
    /// Learn a clip with the three-stage pyramid and save the model.
    Train {
        /// The MIDI file to learn.
        file: PathBuf,
        #[command(flatten)]
        opts: train::TrainArgs,
        /// Model file to write (default: <clip name>.sintra here).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print one JSON object with the figures on stdout.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    quiet_when_the_reader_goes_away();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { file, grid, json } => inspect::run(&file, grid.get(), json),
        Command::Convert { input, output, grid } => inspect::convert(&input, &output, grid.get()),
        Command::Generate {
            model,
            bars,
            seed,
            gen,
            variations,
            out,
            include_clip,
            device,
            from,
            regenerate_bars,
        } => match (from, regenerate_bars) {
            (Some(prev), Some(range)) => generate::redraw_file(&model, &gen, seed, &prev, range, out, device),
            _ => generate::run(&model, &gen, seed, bars, variations, out, include_clip, device),
        },
        Command::Continue { file, generate: bars, opts, gen, out, without_clip, model_out } => {
            continue_clip(file, bars, &opts, &gen, out, without_clip, model_out)
        }
        Command::Eval { reference, generated, ref_bars, gen_bars, shuffle, json } => {
            let candidates = match shuffle {
                Some(n) => eval::Candidates::Shuffles(n),
                None => eval::Candidates::Files(&generated, gen_bars),
            };
            eval::run(&reference, candidates, ref_bars, json)
        }
        Command::Bench { file, threads, max_epochs, presets, bars } => match clip_or_bundled(file, None) {
            Ok((path, clip)) => bench::run(&path, clip, bars, &presets, threads, max_epochs),
            Err(e) => Err(e),
        },
        Command::Train { file, opts, out, json } => train::run(&file, &opts, out, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sintra: {e}");
            ExitCode::from(2)
        }
    }
}

/// `sintra continue`: train on the clip, then write it followed by new bars.
fn continue_clip(
    file: Option<PathBuf>,
    bars: usize,
    opts: &train::TrainArgs,
    gen: &generate::GenArgs,
    out: Option<PathBuf>,
    without_clip: bool,
    model_out: Option<PathBuf>,
) -> Result<(), FileError> {
    let (path, clip) = clip_or_bundled(file, opts.grid.get())?;
    let (model, reports, seconds) = train::learn(&path, clip, opts)?;
    let losses: Vec<String> =
        reports.iter().map(|r| format!("{} {:.4}", r.resolution, r.final_loss)).collect();
    eprintln!("trained in {seconds:.1} s (loss {})", losses.join(", "));
    if let Some(m) = model_out {
        model.save(&m)?;
    }
    let out = out.unwrap_or_else(|| {
        let stem = path.file_stem().map_or_else(|| "clip".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}-continued.mid"))
    });
    generate::write_variations(&model, &path, gen, opts.seed, bars, 1, &out, !without_clip)?;
    Ok(())
}

/// The clip in `file`, or the bundled chorale (built into the binary, so any directory works),
/// on `grid` (`None`: the grid that fits it).
fn clip_or_bundled(
    file: Option<PathBuf>,
    grid: Option<Grid>,
) -> Result<(PathBuf, sintra_core::Clip), FileError> {
    match file {
        Some(f) => {
            let clip = read_clip_on(&f, grid)?;
            Ok((f, clip))
        }
        None => {
            let path = PathBuf::from(BUNDLED_PATH);
            let clip =
                parse_clip_on(BUNDLED, "bwv227-1_4track_ts44", grid).map_err(|e| FileError::new(&path, e))?;
            Ok((path, clip))
        }
    }
}

/// `sintra inspect FILE | head -3`: when the reader of stdout goes away, end quietly as a
/// command-line tool does (Rust ignores SIGPIPE, so a write would fail and `println!` panic).
fn quiet_when_the_reader_goes_away() {
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
