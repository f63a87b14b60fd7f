//! `cargo xtask bundle sintra --release`: builds the plugin and writes
//! `target/bundled/sintra.clap` and `target/bundled/sintra.vst3`.
//!
//! `cargo xtask screenshots`: builds the standalone editor, runs it under Xvfb in its main
//! states (empty, training, trained with the bundled clip, generated bars) and saves PNGs of its window
//! into `target/screenshots/`. Needs `Xvfb` (Debian: `xvfb`) and, to build the standalone's
//! ALSA backend, `libasound2-dev`.

mod screenshots;

fn main() -> nice_plug_xtask::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("screenshots") {
        if let Err(e) = screenshots::run() {
            eprintln!("xtask screenshots: {e}");
            std::process::exit(1);
        }
        return Ok(());
    }
    nice_plug_xtask::main()
}
