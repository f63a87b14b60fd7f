//! `cargo xtask bundle sintra --release`: builds the plugin and writes
//! `target/bundled/sintra.clap` and `target/bundled/sintra.vst3`.
//!
//! `cargo xtask screenshots`: builds the standalone editor, runs it under Xvfb in its main
//! states (empty, training, trained with the bundled clip, generated bars) and saves PNGs of its window
//! into `target/screenshots/`. Needs `Xvfb` (Debian: `xvfb`) and, to build the standalone's
//! ALSA backend, `libasound2-dev`.
//!
//! `cargo xtask drag-and-drop`: the same standalone under Xvfb, with a small X11 client as the
//! other application: files dragged onto the editor (a `.txt` refused, a `.mid` loaded) and the
//! variation dragged out of it onto the client's window.

mod display;
mod drag_and_drop;
mod screenshots;

fn main() -> nice_plug_xtask::Result<()> {
    let task = std::env::args().nth(1);
    let run = match task.as_deref() {
        Some("screenshots") => screenshots::run,
        Some("drag-and-drop") => drag_and_drop::run,
        _ => return nice_plug_xtask::main(),
    };
    if let Err(e) = run() {
        eprintln!("xtask {}: {e}", task.unwrap_or_default());
        std::process::exit(1);
    }
    Ok(())
}
