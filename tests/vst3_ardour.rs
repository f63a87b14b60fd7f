//! The VST3 in a real DAW: Debian's Ardour 7, headless (`ardour7-lua`, Dummy backend), drives
//! `tests/ardour/vst3_notes.sh`: a MIDI track plays a chorale into SinTra and a counter after it
//! counts the note-ons SinTra sends. `.ci/run` installs Ardour; elsewhere, without it, this test
//! says so and passes only outside CI.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// Runs the script; returns (notes in, notes out).
fn run(params: &str, seconds: &str) -> (u64, u64) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bundle = common::bundle().join("sintra.vst3");
    let midi = common::midi("bwv227-1_4track_ts44.mid");
    let out = Command::new("bash")
        .arg(root.join("tests/ardour/vst3_notes.sh"))
        .args([bundle.as_os_str(), midi.as_os_str(), seconds.as_ref()])
        .env("PLUGIN_PARAMS", params)
        .output()
        .expect("running the Ardour script");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let count = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|n| n.trim().parse::<u64>().ok()))
            .unwrap_or_else(|| panic!("no '{key}' in Ardour's output:\n{text}"))
    };
    assert!(text.contains("plugin_loaded name=SinTra"), "Ardour did not load SinTra:\n{text}");
    (count("notes_in "), count("notes_out "))
}

#[test]
fn ardour_plays_through_and_plays_generated_bars() {
    if Command::new("ardour7-lua").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install ardour (see .ci/run)");
        eprintln!("SKIPPED: Ardour 7 is not installed (apt-get install ardour)");
        return;
    }
    // MIDI thru: every note that goes in comes out.
    let (notes_in, notes_out) = run("MIDI thru=1", "20");
    assert!(notes_in > 50 && notes_out == notes_in, "in {notes_in}, out {notes_out}");

    // Thru off, capture armed: SinTra records four bars, trains while the transport rolls on,
    // and the notes that come out are its own generated bars.
    let (notes_in, notes_out) = run("MIDI thru=0;Arm capture=1;Capture bars=4", "90");
    assert!(notes_in > 200, "in {notes_in}");
    assert!(notes_out > 50, "expected generated notes, got {notes_out}");
}
