//! What the editor says about the engine, as plain data: a headline (the state in plain words,
//! what to do next, a tone and a progress fraction), the loss curve of each training stage and
//! the time estimates. No GUI types here, so it is tested without a window.

use crate::engine::{EngineEvent, ModelInfo, Status};

/// The capture, as the audio thread reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureView {
    /// Not recording.
    Idle,
    /// Waiting for the host to play.
    Armed,
    /// Recording: notes so far, bar reached, bars at most.
    Recording { notes: u32, bar: u32, of: u32 },
}

/// How the headline is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Waiting for the user.
    Idle,
    /// Working.
    Busy,
    /// Ready to play.
    Good,
    /// Failed.
    Error,
}

/// The state at a glance.
#[derive(Clone, Debug, PartialEq)]
pub struct Headline {
    /// One or two words.
    pub title: String,
    /// What is happening or what to do next.
    pub detail: String,
    /// Colour.
    pub tone: Tone,
    /// Fraction done, for a progress bar.
    pub progress: Option<f32>,
}

/// Names of the training stages, coarse to fine.
const STAGE_NAMES: [&str; 3] = ["quarter notes", "eighth notes", "sixteenth notes"];

/// Collects the engine's events for display.
#[derive(Clone, Debug, Default)]
pub struct Monitor {
    /// Per stage, (epoch, loss) of the current or last training.
    pub curves: Vec<Vec<[f64; 2]>>,
    /// Seconds into training at which each stage's first step ended.
    stage_start: Vec<f64>,
    /// Last step seen (stage, epoch), to tell a new training from the next step.
    last: (usize, usize),
    /// Last finished training: seconds and parameters.
    pub trained: Option<(f64, usize)>,
    /// The most recent error, until the next success.
    pub error: Option<String>,
}

impl Monitor {
    /// Takes one engine event in.
    pub fn apply(&mut self, event: &EngineEvent) {
        match *event {
            EngineEvent::Progress { stage, epoch, loss, seconds, .. } => {
                if (stage, epoch) <= self.last {
                    *self = Monitor { trained: self.trained, ..Monitor::default() };
                }
                self.last = (stage, epoch);
                while self.curves.len() < stage {
                    self.curves.push(Vec::new());
                    self.stage_start.push(seconds);
                }
                self.curves[stage - 1].push([epoch as f64, loss as f64]);
                self.error = None;
            }
            EngineEvent::Trained { seconds, parameters } => self.trained = Some((seconds, parameters)),
            EngineEvent::BarReady { .. } => self.error = None,
            EngineEvent::Error(ref e) => self.error = Some(e.clone()),
        }
    }

    /// At most how many seconds training can still take: the rest of this stage at its own
    /// pace, then every later stage run to its epoch limit at twice the pace of the one before
    /// (each finer stage has twice the steps per bar). Most stages stop far earlier.
    pub fn remaining(&self, status: &Status) -> Option<f64> {
        let Status::Training { stage, stages, epoch, max_epochs, seconds, .. } = *status else {
            return None;
        };
        let begun = *self.stage_start.get(stage.checked_sub(1)?)?;
        let rate = if epoch > 1 { (seconds - begun) / (epoch - 1) as f64 } else { return None };
        let mut left = max_epochs.saturating_sub(epoch) as f64 * rate;
        let mut pace = rate;
        for _ in stage..stages {
            pace *= 2.0;
            left += max_epochs as f64 * pace;
        }
        Some(left)
    }

    /// The state at a glance: the capture takes precedence while it runs.
    pub fn headline(
        &self,
        status: &Status,
        capture: CaptureView,
        variations: usize,
        picked: usize,
    ) -> Headline {
        let h = |title: &str, detail: String, tone, progress| Headline {
            title: title.into(),
            detail,
            tone,
            progress,
        };
        match capture {
            CaptureView::Armed => {
                return h(
                    "Armed",
                    "Start the host's transport: what it plays into SinTra is recorded.".into(),
                    Tone::Busy,
                    None,
                )
            }
            CaptureView::Recording { notes, bar, of } => {
                let detail = format!("{notes} notes · bar {bar} of {of} (stop the transport to end early)");
                return h(
                    "Capturing",
                    detail,
                    Tone::Busy,
                    Some(bar.saturating_sub(1) as f32 / of.max(1) as f32),
                );
            }
            CaptureView::Idle => {}
        }
        match status {
            Status::Empty => h(
                "No clip yet",
                "Arm capture and play a clip into SinTra, or load a MIDI file.".into(),
                Tone::Idle,
                None,
            ),
            Status::Clip { bars, tracks } => h(
                "Clip ready",
                format!("{bars} bars, {tracks} tracks. Press Train to learn it."),
                Tone::Idle,
                None,
            ),
            &Status::Training { epoch: 0, .. } => {
                h("Training", "starting…".into(), Tone::Busy, Some(0.0))
            }
            &Status::Training { stage, stages, epoch, max_epochs, loss, seconds } => {
                let name = STAGE_NAMES.get((stage + 3).saturating_sub(stages.min(3) + 1)).unwrap_or(&"");
                let mut detail = format!(
                    "stage {stage} of {stages} ({name}) · epoch {epoch} · loss {loss:.3} · {}",
                    duration(seconds)
                );
                if let Some(left) = self.remaining(status) {
                    detail += &format!(", at most {} left", duration(left));
                }
                let done = (stage - 1) as f32 + epoch as f32 / max_epochs.max(1) as f32;
                h("Training", detail, Tone::Busy, Some(done / stages.max(1) as f32))
            }
            Status::Ready if variations > 0 => h(
                "Ready",
                format!(
                    "Variation {} of {variations} plays with the host's transport. Generate again for new bars.",
                    picked + 1
                ),
                Tone::Good,
                None,
            ),
            Status::Ready => h("Ready", "Trained. Press Generate for new bars.".into(), Tone::Good, None),
            &Status::Generating { of: 0, .. } => h("Generating", "starting…".into(), Tone::Busy, Some(0.0)),
            &Status::Generating { variation, variations, done, of } => h(
                "Generating",
                format!("variation {variation} of {variations} · bar {done} of {of}"),
                Tone::Busy,
                Some(((variation - 1) * of + done) as f32 / (variations * of).max(1) as f32),
            ),
            Status::Error(e) => h("Something went wrong", capitalised(e), Tone::Error, None),
        }
    }
}

/// "CPU · 1.23 M parameters · 4.9 MB", or what there is before a model exists.
pub fn model_line(info: Option<&ModelInfo>, cuda_built: bool) -> String {
    match info {
        Some(i) => format!(
            "{} · {:.2} M parameters · {:.1} MB",
            i.device.to_uppercase(),
            i.parameters as f64 / 1e6,
            i.bytes as f64 / 1e6
        ),
        None if cuda_built => "No model yet · trains on CUDA when a GPU answers, else the CPU".into(),
        None => "No model yet · trains on the CPU".into(),
    }
}

/// "3.2 s", "1 min 05 s".
pub fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let s = seconds.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(stage: usize, epoch: usize, loss: f32, seconds: f64) -> EngineEvent {
        EngineEvent::Progress { stage, stages: 3, epoch, loss, seconds }
    }

    #[test]
    fn curves_per_stage_and_a_new_training_starts_over() {
        let mut m = Monitor::default();
        for e in [progress(1, 1, 2.0, 0.1), progress(1, 2, 1.0, 0.2), progress(2, 1, 0.5, 0.4)] {
            m.apply(&e);
        }
        assert_eq!(m.curves, vec![vec![[1.0, 2.0], [2.0, 1.0]], vec![[1.0, 0.5]]]);
        m.apply(&EngineEvent::Trained { seconds: 0.5, parameters: 10 });
        m.apply(&EngineEvent::Error("cancelled".into()));
        assert_eq!(m.error.as_deref(), Some("cancelled"));
        m.apply(&progress(1, 1, 3.0, 0.1));
        assert_eq!(m.curves, vec![vec![[1.0, 3.0]]]);
        assert_eq!((m.trained, m.error), (Some((0.5, 10)), None));
    }

    #[test]
    fn remaining_time_is_an_upper_bound_from_the_pace() {
        let mut m = Monitor::default();
        m.apply(&progress(1, 1, 2.0, 1.0));
        m.apply(&progress(1, 11, 1.0, 2.0));
        let status =
            Status::Training { stage: 1, stages: 3, epoch: 11, max_epochs: 100, loss: 1.0, seconds: 2.0 };
        // 0.1 s per epoch: 89 more here, then 100 at 0.2 s and 100 at 0.4 s.
        assert!((m.remaining(&status).unwrap() - (8.9 + 20.0 + 40.0)).abs() < 1e-9);
        let h = m.headline(&status, CaptureView::Idle, 0, 0);
        assert_eq!(h.title, "Training");
        assert_eq!(
            h.detail,
            "stage 1 of 3 (quarter notes) · epoch 11 · loss 1.000 · 2.0 s, at most 1 min 09 s left"
        );
        assert!((h.progress.unwrap() - 0.11 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn headlines_say_what_to_do_next() {
        let m = Monitor::default();
        let idle = CaptureView::Idle;
        assert_eq!(m.headline(&Status::Empty, idle, 0, 0).title, "No clip yet");
        let rec = CaptureView::Recording { notes: 12, bar: 3, of: 8 };
        let h = m.headline(&Status::Ready, rec, 0, 0);
        assert_eq!((h.title.as_str(), h.progress), ("Capturing", Some(0.25)));
        assert!(h.detail.starts_with("12 notes · bar 3 of 8"));
        let h = m.headline(&Status::Generating { variation: 2, variations: 3, done: 4, of: 8 }, idle, 3, 0);
        assert_eq!((h.detail.as_str(), h.progress), ("variation 2 of 3 · bar 4 of 8", Some(0.5)));
        let h = m.headline(&Status::Ready, idle, 3, 1);
        assert!(h.detail.starts_with("Variation 2 of 3 plays"), "{}", h.detail);
        let h = m.headline(&Status::Error("train a model first".into()), idle, 0, 0);
        assert_eq!((h.detail.as_str(), h.tone), ("Train a model first", Tone::Error));
    }

    #[test]
    fn model_line_and_durations() {
        let info = ModelInfo { parameters: 1_234_567, bytes: 4_940_000, device: "cpu" };
        assert_eq!(model_line(Some(&info), false), "CPU · 1.23 M parameters · 4.9 MB");
        assert_eq!(model_line(None, false), "No model yet · trains on the CPU");
        assert_eq!((duration(3.21), duration(65.4)), ("3.2 s".to_string(), "1 min 05 s".to_string()));
    }
}
