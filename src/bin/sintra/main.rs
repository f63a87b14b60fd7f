//! `sintra`: the headless command line (inspect, convert, train, generate, evaluate).

mod bench;
mod inspect;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    },
    /// Print training figures for the presets on a 12-bar chorale (seconds per step, epochs
    /// and seconds to reach loss 0.01, peak memory).
    Bench {
        /// The clip (default: the bundled chorale).
        #[arg(default_value = "assets/bwv227-1_4track_ts44.mid")]
        file: PathBuf,
        /// CPU threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Most steps per stage.
        #[arg(long, default_value_t = 400)]
        max_epochs: usize,
        /// Presets to measure.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "default,paper")]
        presets: Vec<sintra::model::Preset>,
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { file, json } => inspect::run(&file, json),
        Command::Convert { input, output } => inspect::convert(&input, &output),
        Command::Bench { file, threads, max_epochs, presets } => {
            bench::run(&file, (1, 12), &presets, threads, max_epochs)
        }
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
