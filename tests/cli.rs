//! The `sintra` command line as a user runs it.

mod common;
mod damage;

use std::path::Path;
use std::process::{Command, Output};

use common::{midi, raw_notes};
use damage::with_huge_delta;

fn sintra(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sintra")).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Bad input: exit status 2 and exactly one line `sintra: <file>: <reason>`.
fn assert_refused(file: &Path, reason: &str) {
    let f = file.to_str().unwrap();
    let out = sintra(&["inspect", f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{f}: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("sintra: {f}: ")) && err.contains(reason), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_lists_subcommands() {
    let out = sintra(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["inspect", "convert"] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[test]
fn inspect_tells_the_grid_and_the_feel() {
    let json = |file: &str, grid: &str| {
        let f = midi(file);
        let out = sintra(&["inspect", f.to_str().unwrap(), "--json", "--grid", grid]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["timing"].clone()
    };
    let swung = json("feel_neosoul_swing16_drums_bass_keys_3track_ts44.mid", "auto");
    assert_eq!((&swung["grid"], &swung["swing"]), (&"16ths".into(), &serde_json::json!([62.0, "16ths"])));
    let words = swung["words"].as_str().unwrap();
    assert!(words.starts_with("swung 16ths, 62%; human timing ±"), "{words}");
    assert!(swung["off_grid"].as_u64().unwrap() > 300, "{swung}");
    let blues = json("feel_shuffle_blues_piano_2track_ts44.mid", "auto");
    assert!(blues["words"].as_str().unwrap().starts_with("triplet 8ths; human timing ±"), "{blues}");
    // Forced onto straight 16ths, the shuffle's triplets sit off the grid.
    let forced = json("feel_shuffle_blues_piano_2track_ts44.mid", "16ths");
    assert!(forced["off_grid"].as_u64() > blues["off_grid"].as_u64(), "{forced} {blues}");
    let f = midi("bwv349_4track_ts34.mid");
    let out = sintra(&["inspect", f.to_str().unwrap(), "--grid", "swing"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown grid 'swing'"), "{}", stderr(&out));
}

#[test]
fn inspect_json_has_the_documented_shape() {
    let f = midi("bwv349_4track_ts34.mid");
    let out = sintra(&["inspect", f.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    let mut want = vec![
        "file",
        "ticks_per_quarter",
        "tempo_bpm",
        "time_signature",
        "steps_per_bar",
        "bars",
        "timing",
        "tracks",
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(v["ticks_per_quarter"], 480);
    assert_eq!(v["tempo_bpm"], 90.0);
    assert_eq!(v["time_signature"], serde_json::json!([3, 4]));
    assert_eq!(v["steps_per_bar"], 12);
    assert_eq!(v["bars"], 16);
    assert_eq!(v["timing"]["grid"], "16ths");
    assert_eq!(v["timing"]["off_grid"], 0);
    let t = &v["tracks"][3];
    assert_eq!(t["name"], "Bass");
    assert_eq!(
        (t["channel"].as_u64(), t["program"].as_u64(), t["notes"].as_u64()),
        (Some(3), Some(52), Some(44))
    );
    let vocab = t["vocab"].as_object().unwrap();
    assert_eq!(vocab.keys().collect::<Vec<_>>(), vec!["16th", "4th", "8th"]);
    assert!(vocab["4th"].as_u64() <= vocab["16th"].as_u64());
}

#[test]
fn inspect_table_names_tracks() {
    let f = midi("bwv846_prelude_piano_2track_ts44.mid");
    let out = sintra(&["inspect", f.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Piano RH") && text.contains("Piano LH") && text.contains("72 BPM"), "{text}");
}

#[test]
fn malformed_files_are_refused() {
    assert_refused(&midi("malformed_not_midi_abc_text.mid"), "not a valid MIDI file");
    assert_refused(&midi("malformed_truncated_half.mid"), "not a valid MIDI file");
    assert_refused(&midi("no_such_file.mid"), "cannot read");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mid");
    std::fs::write(&empty, b"").unwrap();
    assert_refused(&empty, "empty");
    // A valid file whose only track is the conductor.
    let conductor_only = dir.path().join("silent.mid");
    let original = std::fs::read(midi("bwv349_4track_ts34.mid")).unwrap();
    let mut smf = midly::Smf::parse(&original).unwrap();
    smf.tracks.truncate(1);
    smf.save(&conductor_only).unwrap();
    assert_refused(&conductor_only, "no notes");
}

#[test]
fn a_huge_delta_time_is_refused_before_any_work() {
    // A chorale whose one damaged delta time puts a note 17,000 bars away: `continue` used to
    // train on it as one 17,000-bar clip; it must stop at once, like any bad input.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("damaged.mid");
    std::fs::write(&file, with_huge_delta("bwv227-1_4track_ts44.mid")).unwrap();
    assert_refused(&file, "SinTra takes clips of at most 256 bars");
    let f = file.to_str().unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_sintra"))
        .args(["continue", f, "--preset", "tiny", "--max-epochs", "2", "--generate", "2", "--threads", "1"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("sintra: {f}: a note at bar ")), "{err}");
    assert!(err.contains("a damaged delta time?"), "{err}");
    assert!(started.elapsed().as_secs() < 10, "took {:?}", started.elapsed());
    assert!(!dir.path().join("damaged-continued.mid").exists());
}

#[test]
fn convert_round_trips_a_chorale() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["bwv282_4track_ts34_pickup.mid", "bwv158-4_4track_ts44_pickup_tschange.mid"] {
        let out_path = dir.path().join(name);
        let out = sintra(&["convert", midi(name).to_str().unwrap(), out_path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let written = std::fs::read(&out_path).unwrap();
        assert_eq!(raw_notes(&written), raw_notes(&std::fs::read(midi(name)).unwrap()));
        let (a, b) =
            (sintra_core::read_clip(&midi(name)).unwrap(), sintra_core::read_clip(&out_path).unwrap());
        assert_eq!(b.meta.time_sig, a.meta.time_sig);
        assert_eq!(b.meta.us_per_quarter, a.meta.us_per_quarter);
        assert_eq!(b.meta.key_sig, a.meta.key_sig);
        assert_eq!(b.meta.pickup, a.meta.pickup);
        assert_eq!(b.tracks, a.tracks);
    }
    // A bad input leaves no output behind.
    let out_path = dir.path().join("bad.mid");
    let out = sintra(&[
        "convert",
        midi("malformed_truncated_half.mid").to_str().unwrap(),
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_path.exists());
}

#[test]
fn train_writes_a_model_and_reports_json() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("m.sintra");
    let f = midi("bwv282_4track_ts34_pickup.mid");
    let args = ["train", f.to_str().unwrap(), "--bars", "1:4", "--preset", "tiny", "--max-epochs", "3"];
    let out = sintra(
        &[&args[..], &["--threads", "1", "--json", "--device", "auto", "--out", out_path.to_str().unwrap()]]
            .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("training on cpu"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, vec!["device", "parameters", "preset", "seconds", "stages"]);
    assert_eq!((v["device"].as_str(), v["preset"].as_str()), (Some("cpu"), Some("tiny")));
    assert!(v["parameters"].as_u64().unwrap() > 1000);
    let stages = v["stages"].as_array().unwrap();
    let res: Vec<_> = stages.iter().map(|s| s["resolution"].as_str().unwrap()).collect();
    assert_eq!(res, vec!["4th", "8th", "16th"]);
    for s in stages {
        assert_eq!(s["epochs"], 3);
        assert!(s["final_loss"].as_f64().unwrap() > 0.0 && s["seconds"].as_f64().is_some());
    }
    let model = sintra_core::model_file::SintraModel::load(&out_path, &candle_core::Device::Cpu).unwrap();
    assert_eq!(model.meta.bars, 4);
    assert_eq!(model.meta.clip.meta.time_sig.num, 3);
}

#[test]
fn train_refuses_bad_options_and_input() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("m.sintra");
    let o = out_path.to_str().unwrap();
    let f = midi("bwv349_4track_ts34.mid");
    let f = f.to_str().unwrap();
    let out = sintra(&["train", f, "--bars", "5:99", "--out", o]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(&format!("sintra: {f}: bars 5:99 are outside the clip's 1:16")),
        "{}",
        stderr(&out)
    );
    let out = sintra(&["train", f, "--device", "cuda", "--out", o]);
    assert_eq!(out.status.code(), Some(2));
    if !cfg!(feature = "cuda") {
        assert!(stderr(&out).contains("no CUDA support"), "{}", stderr(&out));
    }
    let bad = midi("malformed_truncated_half.mid");
    let out = sintra(&["train", bad.to_str().unwrap(), "--out", o]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out_path.exists());
}

#[test]
fn continue_and_eval_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("cont.mid");
    let f = midi("bwv227-1_4track_ts44.mid");
    let args = ["continue", f.to_str().unwrap(), "--bars", "1:8", "--generate", "6", "--preset", "tiny"];
    let out = sintra(
        &[&args[..], &["--max-epochs", "20", "--threads", "1", "--out", out_path.to_str().unwrap()]].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let clip = sintra_core::read_clip(&out_path).unwrap();
    let source = sintra_core::read_clip(&f).unwrap();
    assert_eq!(clip.meta.us_per_quarter, source.meta.us_per_quarter);
    assert_eq!(clip.tracks.len(), 4);
    assert!(clip.bars() > 8 && clip.bars() <= 14, "{}", clip.bars());

    // Two variations, then eval of both against bars 1:8.
    let model_path = dir.path().join("m.sintra");
    let out = sintra(
        &[
            &args[..],
            &[
                "--max-epochs",
                "5",
                "--threads",
                "1",
                "--model-out",
                model_path.to_str().unwrap(),
                "--out",
                out_path.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let gen = dir.path().join("g.mid");
    let out = sintra(&[
        "generate",
        model_path.to_str().unwrap(),
        "--bars",
        "4",
        "--variations",
        "2",
        "--out",
        gen.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (g1, g2) = (dir.path().join("g-1.mid"), dir.path().join("g-2.mid"));
    assert!(g1.exists() && g2.exists());
    let out = sintra(&[
        "eval",
        f.to_str().unwrap(),
        g1.to_str().unwrap(),
        g2.to_str().unwrap(),
        "--ref-bars",
        "1:8",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    for key in [
        "overlap",
        "kl",
        "js",
        "copied_bars",
        "longest_copy",
        "onset_density_ratio",
        "chord_fit",
        "bar_match",
        "near_copies",
        "shifted_match",
        "shifted_copies",
        "stats",
    ] {
        assert!(!v["mean"][key].is_null(), "{key}");
    }
    for key in ["short_notes", "note_length", "harmonic_fit", "restrikes", "velocity_spread"] {
        assert!(!v["mean"]["stats"][key].is_null(), "{key}");
    }
    let overlap = v["mean"]["overlap"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&overlap));
    assert_eq!(v["reference"]["bars"], 8);
}

#[test]
fn eval_shuffles_the_reference_as_a_noise_floor() {
    let f = midi("bwv227-1_4track_ts44.mid");
    let out = sintra(&["eval", f.to_str().unwrap(), "--ref-bars", "1:12", "--shuffle", "3", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v["files"].as_array().unwrap();
    let names: Vec<_> = files.iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(names, ["shuffle seed 0", "shuffle seed 1", "shuffle seed 2"]);
    // The reference's own material: every pitch group is the reference's.
    assert_eq!(v["mean"]["overlap"], 1.0);
    let text = sintra(&["eval", f.to_str().unwrap(), "--ref-bars", "1:12", "--shuffle", "1"]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("harm") && text.contains("shuffle seed 0"), "{text}");
    // Files or shuffles, not both.
    let out = sintra(&["eval", f.to_str().unwrap(), f.to_str().unwrap(), "--shuffle", "2"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn continue_without_a_file_uses_the_bundled_clip() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sintra"))
        .args(["continue", "--preset", "tiny", "--max-epochs", "2", "--generate", "2", "--threads", "1"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let written = dir.path().join("bwv227-1_4track_ts44-continued.mid");
    let clip = sintra_core::read_clip(&written).unwrap();
    assert_eq!(clip.tracks[0].name, "Soprano");
    assert_eq!(clip.bars(), 21);
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    // `sintra inspect FILE | head -3`: the reader has gone before the table is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_sintra"))
        .args(["inspect", midi("bwv227-1_4track_ts44.mid").to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "no panic");
}

#[test]
fn generate_keeps_tracks_explains_and_redraws_bars() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let f = midi("bwv349_4track_ts34.mid");
    let train = ["train", f.to_str().unwrap(), "--bars", "1:4", "--preset", "tiny", "--max-epochs", "20"];
    assert!(sintra(&[&train[..], &["--threads", "1", "--out", &p("m.sintra")]].concat()).status.success());
    // The bass kept by name, the alto by number; --explain prints a closeness per new bar,
    // then each bar's choice among its 8 candidates (16 where all 8 were near copies and the
    // bar was drawn once more), term by term.
    let gen = ["generate", &p("m.sintra"), "--bars", "6", "--keep-tracks", "Bass,2", "--explain"];
    let out = sintra(&[&gen[..], &["--out", &p("kept.mid")]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let (closeness, choice) = text.split_once("the choice").expect("a choice table");
    let rows: Vec<&str> = closeness.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(rows.len(), 6, "{text}");
    for row in &rows {
        let m: f64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&m) && row.contains("bar "), "{row}");
    }
    let rows: Vec<Vec<&str>> = choice.lines().skip(3).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 6, "{text}");
    for row in &rows {
        assert!(row.len() == 14 && (row[1] == "8" || row[1] == "16"), "{row:?}");
        let (total, next): (f64, f64) = (row[12].parse().unwrap(), row[13].parse().unwrap());
        assert!(total <= next, "{row:?}");
    }
    let clip = sintra_core::read_clip(&f).unwrap();
    let kept = sintra_core::read_clip(Path::new(&p("kept.mid"))).unwrap();
    let bar = |c: &sintra_core::Clip, k: usize, b: u32| -> Vec<(u8, u32, u32)> {
        let notes = c.tracks[k].notes.iter().filter(|n| n.start / 12 == b);
        notes.map(|n| (n.pitch, n.start - b * 12, n.end - b * 12)).collect()
    };
    for b in 0..6 {
        for k in [1, 3] {
            assert_eq!(bar(&kept, k, b), bar(&clip, k, b % 4), "track {k}, bar {b}");
        }
    }
    // Bars 3-4 drawn again; the others kept note for note.
    let redraw = ["generate", &p("m.sintra"), "--from", &p("kept.mid"), "--regenerate-bars", "3:4"];
    let out = sintra(&[&redraw[..], &["--seed", "9", "--out", &p("again.mid")]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let again = sintra_core::read_clip(Path::new(&p("again.mid"))).unwrap();
    for b in [0, 1, 4, 5] {
        for k in 0..4 {
            let end = |v: Vec<(u8, u32, u32)>| -> Vec<(u8, u32)> {
                v.into_iter().map(|(p, s, _)| (p, s)).collect()
            };
            assert_eq!(end(bar(&again, k, b)), end(bar(&kept, k, b)), "track {k}, bar {b}");
        }
    }
    assert!((2..4).any(|b| (0..4).any(|k| bar(&again, k, b) != bar(&kept, k, b))));
    // Unknown tracks and bars outside the file are refused in one line.
    for (args, reason) in [
        (vec!["--keep-tracks", "Tuba"], "no track \"Tuba\""),
        (vec!["--keep-tracks", "1,2,3,4"], "keeps every track"),
        (vec!["--from", &p("kept.mid"), "--regenerate-bars", "5:9"], "not among its generated bars 1:6"),
    ] {
        let out = sintra(&[&["generate", &p("m.sintra"), "--out", &p("x.mid")][..], &args[..]].concat());
        let err = stderr(&out);
        assert_eq!((out.status.code(), err.lines().count()), (Some(2), 1), "{err}");
        assert!(err.contains(reason), "{err}");
    }
}
