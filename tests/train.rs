//! Training on real clips: convergence, determinism, cancellation, the model file.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use candle_core::Device;
use common::midi;
use sintra_core::model::Preset;
use sintra_core::model_file::SintraModel;
use sintra_core::train::{train, TrainError, TrainOptions};
use sintra_core::Clip;

fn clip(bars: u32) -> Clip {
    sintra_core::read_clip(&midi("bwv349_4track_ts34.mid")).unwrap().select_bars(1, bars).unwrap()
}

fn tiny(max_epochs: usize, seed: u64) -> TrainOptions {
    TrainOptions {
        preset: Preset::Tiny,
        config: Preset::Tiny.config(),
        max_epochs,
        seed,
        threads: 1,
        target_loss: 1e-4,
        patience: 0,
        ..Default::default()
    }
}

fn run(clip: &Clip, bars: u32, opts: &TrainOptions) -> (SintraModel, Vec<Vec<f32>>) {
    let mut losses = vec![Vec::new(); opts.resolutions.len()];
    let (model, reports) =
        train(clip, bars, opts, &Device::Cpu, &AtomicBool::new(false), &mut |p| losses[p.stage].push(p.loss))
            .unwrap();
    assert_eq!(reports.len(), 3);
    for (r, l) in reports.iter().zip(&losses) {
        assert_eq!(r.epochs, l.len());
        assert_eq!(r.final_loss, *l.last().unwrap());
    }
    (model, losses)
}

#[test]
fn loss_falls_well_below_its_start() {
    let c = clip(6);
    let (_, losses) = run(&c, 6, &tiny(150, 0));
    for l in &losses {
        let (first, last) = (l[0], *l.last().unwrap());
        assert!(last < first * 0.25, "{first} -> {last}");
    }
    // The quarter-note stage starts from chance over its vocabulary: ln(7) or so.
    assert!(losses[0][0] > 1.0);
}

#[test]
fn same_seed_same_model_file() {
    let c = clip(4);
    let a = run(&c, 4, &tiny(8, 7)).0.to_bytes().unwrap();
    let b = run(&c, 4, &tiny(8, 7)).0.to_bytes().unwrap();
    let other = run(&c, 4, &tiny(8, 8)).0.to_bytes().unwrap();
    assert!(a == b, "same seed gave different files");
    assert!(a != other, "the seed changed nothing");
}

#[test]
fn cancel_from_another_thread() {
    let c = clip(8);
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = crossbeam_channel::unbounded();
    let flag = cancel.clone();
    let worker = std::thread::spawn(move || {
        let opts = TrainOptions { max_epochs: 100_000, ..tiny(0, 0) };
        train(&c, 8, &opts, &Device::Cpu, &flag, &mut |p| {
            let _ = tx.send(p.epoch);
        })
    });
    rx.recv().unwrap();
    cancel.store(true, Ordering::Relaxed);
    let result = worker.join().unwrap();
    assert!(matches!(result, Err(TrainError::Cancelled)), "{:?}", result.err());
}

#[test]
fn save_and_load_give_identical_logits() {
    let c = clip(4);
    let (model, _) = run(&c, 4, &tiny(10, 3));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sintra");
    model.save(&path).unwrap();
    let loaded = SintraModel::load(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.meta, model.meta);
    let tokens = candle_core::Tensor::from_vec(vec![0u32; 3 * 4 * 12], (3, 4, 12), &Device::Cpu).unwrap();
    for (a, b) in model.stages.iter().zip(&loaded.stages) {
        let n = 12 / a.stride;
        let t = tokens.narrow(2, 0, n).unwrap();
        let (la, _) = a.model.forward(&t, None, None).unwrap();
        let (lb, _) = b.model.forward(&t, None, None).unwrap();
        let diff = (la - lb).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(diff, 0.0);
    }
    assert_eq!(std::fs::read(&path).unwrap(), model.to_bytes().unwrap());
    assert!(!dir.path().join("m.part").exists());
}

#[test]
fn bad_model_files_are_refused() {
    let check = |bytes: &[u8], want: &str| {
        let err = SintraModel::from_bytes(bytes, &Device::Cpu).err().expect("refused");
        assert!(err.contains(want), "{err}");
    };
    check(b"", "not a SinTra model file");
    check(&std::fs::read(midi("bwv349_4track_ts34.mid")).unwrap(), "not a SinTra model file");
    // A safetensors file that is not ours.
    let t = candle_core::Tensor::zeros((2, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
    let foreign = safetensors::serialize([("w", &t)], None).unwrap();
    check(&foreign, "not a SinTra model file");
    // Ours, cut short.
    let c = clip(3);
    let bytes = run(&c, 3, &tiny(2, 0)).0.to_bytes().unwrap();
    check(&bytes[..bytes.len() / 2], "");
    assert!(SintraModel::from_bytes(&bytes[..bytes.len() / 2], &Device::Cpu).is_err());
    // Ours, with a track given no tokens at a stage, or its tokens out of order (the sampler
    // draws among them).
    for allowed in [serde_json::json!([]), serde_json::json!([3, 1])] {
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        let mut meta: serde_json::Value =
            serde_json::from_str(header["__metadata__"]["sintra"].as_str().unwrap()).unwrap();
        meta["allowed"][0][0] = allowed;
        header["__metadata__"]["sintra"] = meta.to_string().into();
        let header = header.to_string().into_bytes();
        let mut edited = (header.len() as u64).to_le_bytes().to_vec();
        edited.extend(header);
        edited.extend(&bytes[8 + len..]);
        check(&edited, "a track's vocabulary is empty or out of order");
    }
    let missing =
        SintraModel::load(std::path::Path::new("/nonexistent/m.sintra"), &Device::Cpu).err().unwrap();
    assert!(missing.to_string().starts_with("/nonexistent/m.sintra: cannot read"), "{missing}");
}

#[test]
fn too_short_a_clip_is_an_error() {
    let c = clip(1);
    let err = train(&c, 1, &tiny(2, 0), &Device::Cpu, &AtomicBool::new(false), &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("at least 2 bars"), "{err}");
}

#[test]
fn an_ambiguous_clip_stops_at_its_plateau() {
    // Bars A B A C A B A C: after A comes B or C, so the loss cannot reach the target; training
    // stops once it stops improving instead of running every epoch.
    let mut clip = clip(2);
    clip.tracks.truncate(1);
    let pitch = [60u8, 64, 60, 67, 60, 64, 60, 67];
    clip.tracks[0].notes = pitch
        .iter()
        .enumerate()
        .map(|(b, &p)| sintra_core::clip::Note::new(p, b as u32 * 12, b as u32 * 12 + 12, 80))
        .collect();
    let opts = TrainOptions { max_epochs: 3000, target_loss: 0.01, ..tiny(0, 0) };
    let opts = TrainOptions { patience: 50, ..opts };
    let (_, reports) = train(&clip, 8, &opts, &Device::Cpu, &AtomicBool::new(false), &mut |_| {}).unwrap();
    let first = &reports[0];
    assert!(first.final_loss > 0.05, "{first:?}");
    assert!(first.epochs < 3000, "{first:?}");
}

#[test]
fn a_clip_past_the_length_limit_is_refused_before_any_work() {
    use sintra_core::clip::{Note, MAX_BARS};
    // A capture built in code, with one note far away: refused at once, not trained for hours.
    let mut long = clip(4);
    long.tracks[0].notes.push(Note::new(60, 100_000 * 12, 100_000 * 12 + 1, 80));
    let started = std::time::Instant::now();
    let refused = |clip: &Clip, bars: u32| {
        let never = &mut |_: &sintra_core::train::Progress| panic!("no step is taken");
        let err = train(clip, bars, &tiny(5, 0), &Device::Cpu, &AtomicBool::new(false), never).err().unwrap();
        assert!(matches!(err, TrainError::Clip(_)), "{err}");
        assert!(err.to_string().contains(&format!("at most {MAX_BARS} bars")), "{err}");
    };
    refused(&long, long.bars());
    refused(&long, 4);
    refused(&clip(4), MAX_BARS + 1);
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}
