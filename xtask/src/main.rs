//! `cargo xtask bundle sintra --release`: builds the plugin and writes
//! `target/bundled/sintra.clap` and `target/bundled/sintra.vst3`.

fn main() -> nice_plug_xtask::Result<()> {
    nice_plug_xtask::main()
}
