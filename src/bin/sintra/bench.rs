//! `sintra bench`: training figures for both presets on one clip (figures, not a timed test).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use crate::generate::with_one_maths_thread;
use candle_core::Device;
use sintra_core::generate::{generate, GenerateError, GenerateOptions, Generator};
use sintra_core::model::Preset;
use sintra_core::train::{total_parameters, train, train_from, TrainOptions};
use sintra_core::{Clip, FileError};

/// Peak resident memory of this process in MiB (Linux), after resetting it with `reset`.
fn peak_rss_mib(reset: bool) -> Option<f64> {
    if reset {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn run(
    file: &Path,
    clip: Clip,
    bars: (u32, u32),
    presets: &[Preset],
    threads: usize,
    max_epochs: usize,
) -> Result<(), FileError> {
    let clip = clip.select_bars(bars.0, bars.1).map_err(|e| FileError::new(file, e))?;
    let n = bars.1 - bars.0 + 1;
    println!(
        "clip: {} bars {}:{} ({} tracks), target loss 0.01, {} threads, CPU",
        file.display(),
        bars.0,
        bars.1,
        clip.tracks.len(),
        threads
    );
    println!(
        "{:<8} {:>10} {:>6} {:>12} {:>8} {:>10} {:>10}",
        "preset", "params", "stage", "s/step", "epochs", "seconds", "loss"
    );
    for &preset in presets {
        peak_rss_mib(true);
        // No plateau stop: the figure is epochs to the target, or the limit.
        let opts = TrainOptions {
            preset,
            config: preset.config(),
            threads,
            max_epochs,
            patience: 0,
            ..Default::default()
        };
        let cancel = AtomicBool::new(false);
        let (model, reports) = train(&clip, n, &opts, &Device::Cpu, &cancel, &mut |_| {})
            .map_err(|e| FileError::new(file, e.to_string()))?;
        let params = total_parameters(&model.stages);
        let mut total = 0.0;
        for r in &reports {
            total += r.seconds;
            let reached = if r.final_loss <= 0.01 { "" } else { " (not reached)" };
            println!(
                "{:<8} {:>10} {:>6} {:>12.4} {:>8} {:>10.2} {:>10.4}{reached}",
                preset.name(),
                params,
                r.resolution,
                r.seconds / r.epochs as f64,
                r.epochs,
                r.seconds,
                r.final_loss
            );
        }
        let all = reports.iter().all(|r| r.final_loss <= 0.01);
        // Generation: 32 bars with the default sampling. The first run also primes the model
        // (its plain weights and the clip's memory, kept for every later run); then the
        // median of five runs, as a shared machine's load comes and goes.
        let gen_opts = GenerateOptions::default();
        let mut times = with_one_maths_thread(|| {
            (0..6)
                .map(|_| {
                    let t = std::time::Instant::now();
                    generate(&model, &gen_opts, 32, &cancel, &mut |_, _| {})?;
                    Ok(t.elapsed().as_secs_f64() * 1000.0)
                })
                .collect::<Result<Vec<f64>, GenerateError>>()
        })
        .map_err(|e| FileError::new(file, e.to_string()))?;
        let first = times.remove(0);
        times.sort_by(f64::total_cmp);
        let (gen_ms, fastest) = (times[times.len() / 2], times[0]);
        let peak = peak_rss_mib(false).map_or("n/a".into(), |m| format!("{m:.0} MiB"));
        println!(
            "{:<8} total {:.2} s to {} at all stages; peak memory {peak}; 32 bars generated in {gen_ms:.0} ms \
             (median of 5, fastest {fastest:.0} ms; the first, priming the model, {first:.0} ms)",
            preset.name(),
            total,
            if all { "reach 0.01" } else { "the epoch limit" }
        );
    }
    first_bar(file, &clip, n, threads)?;
    Ok(())
}

/// The time from a capture's end to its first new bar as the plugin goes, on one thread (the
/// plugin leaves the other core to the host): while the capture ran it learned the bars before
/// the last; at the end the first bar comes from that model, following the last bar, and the
/// whole clip is learned behind it, from that model (warm) rather than from nothing (cold).
fn first_bar(file: &Path, clip: &Clip, bars: u32, _threads: usize) -> Result<(), FileError> {
    let err = |e: String| FileError::new(file, e);
    let opts = TrainOptions { threads: 1, ..Default::default() };
    let cancel = AtomicBool::new(false);
    let earlier = clip.select_bars(1, bars - 1).map_err(err)?;
    let (warm, _) = train(&earlier, bars - 1, &opts, &Device::Cpu, &cancel, &mut |_| {})
        .map_err(|e| err(e.to_string()))?;
    let t = std::time::Instant::now();
    with_one_maths_thread(|| {
        let mut gen = Generator::new(&warm, GenerateOptions::default())?;
        gen.follow_clip(clip, bars - 1..bars, false)?;
        gen.next_bar()
    })
    .map_err(|e| err(e.to_string()))?;
    let first = t.elapsed().as_secs_f64();
    let mut behind = Vec::new();
    for from in [None, Some(&warm)] {
        let t = std::time::Instant::now();
        let (_, reports) = train_from(clip, bars, &opts, from, &Device::Cpu, &cancel, &mut |_| {})
            .map_err(|e| err(e.to_string()))?;
        let epochs: Vec<String> = reports.iter().map(|r| r.epochs.to_string()).collect();
        behind.push(format!("{:.2} s (epochs {})", t.elapsed().as_secs_f64(), epochs.join(" / ")));
    }
    println!(
        "capture end to first new bar ({bars} bars x {} tracks, 1 thread): {first:.2} s from the model of bars 1-{}; \
         the clip learned behind it in {} warm, {} cold",
        clip.tracks.len(),
        bars - 1,
        behind[1],
        behind[0]
    );
    Ok(())
}
