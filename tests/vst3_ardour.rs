//! The VST3 in a real DAW: Debian's Ardour 7, headless (`ardour7-lua`, Dummy backend), drives
//! `tests/ardour/vst3_notes.sh`: a MIDI track plays a chorale into SinTra and counters before
//! and after it count the note-ons and note-offs and keep the first keys. Every parameter the
//! script sets is read back (one that did not take fails the run). `.ci/run` installs Ardour;
//! elsewhere, without it, this test says so and passes only outside CI.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// What the counters saw on each side of SinTra.
#[derive(Debug)]
struct Counts {
    notes_in: u64,
    notes_out: u64,
    offs_in: u64,
    offs_out: u64,
    keys_in: String,
    keys_out: String,
}

/// Runs the script with `params` set for `seconds` of session time.
fn run(params: &str, seconds: &str) -> Counts {
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
    assert!(text.contains("plugin_loaded name=SinTra"), "Ardour did not load SinTra:\n{text}");
    assert!(!text.contains("PARAM_FAILED"), "a parameter did not take effect:\n{text}");
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no '{key}' in Ardour's output:\n{text}"))
            .trim()
            .to_string()
    };
    let count = |key: &str| value(key).parse::<u64>().unwrap_or_else(|e| panic!("{key}: {e}\n{text}"));
    Counts {
        notes_in: count("notes_in "),
        notes_out: count("notes_out "),
        offs_in: count("noteoffs_in "),
        offs_out: count("noteoffs_out "),
        keys_in: value("keys_in"),
        keys_out: value("keys_out"),
    }
}

#[test]
fn ardour_plays_through_and_plays_generated_bars() {
    if Command::new("ardour7-lua").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install ardour (see .ci/run)");
        eprintln!("SKIPPED: Ardour 7 is not installed (apt-get install ardour)");
        return;
    }
    // MIDI thru: every note that goes in comes out, the same keys in order, and every note-off.
    // (When the transport stops, Ardour ends the notes it sent into the plugin once more, with
    // note-offs of its own that thru passes on too: more offs out than in, never fewer.)
    let c = run("MIDI thru=1", "20");
    assert!(c.notes_in > 50, "{c:?}");
    assert_eq!((c.notes_out, &c.keys_out), (c.notes_in, &c.keys_in), "{c:?}");
    assert!(c.offs_in >= c.notes_in && c.offs_out >= c.offs_in, "{c:?}");

    // Thru off, capture armed: SinTra records four bars, trains while the transport rolls on,
    // and the notes that come out are its own generated bars, each ended.
    let c = run("MIDI thru=0;Arm capture=1;Capture bars=4", "90");
    assert!(c.notes_in > 200, "{c:?}");
    assert!(c.notes_out > 50, "expected generated notes: {c:?}");
    assert!(c.offs_out >= c.notes_out, "every generated note ends: {c:?}");
    assert_ne!(c.keys_out, c.keys_in, "the generated notes are not the input played back: {c:?}");
}
