//! `sintra`: the headless command line (inspect, convert, train, generate, evaluate).

mod inspect;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { file, json } => inspect::run(&file, json),
        Command::Convert { input, output } => inspect::convert(&input, &output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sintra: {e}");
            ExitCode::from(2)
        }
    }
}
