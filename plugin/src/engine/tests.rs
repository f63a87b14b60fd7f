use super::*;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use nice_plug::params::persist::PersistentField;
use sintra_core::clip::Clip;
use sintra_core::generate::GenerateOptions;

use crate::project::{ModelBytes, Project, Variation, MAX_SAVED_BARS};
use crate::scheduler::PlayNote;

/// An engine under test: its handle, the audio thread's end of the note queue, its events
/// and its settings (changeable while it runs).
struct Bench {
    engine: Engine,
    play: rtrb::Consumer<PlayMsg>,
    events: Receiver<EngineEvent>,
    settings: Arc<Mutex<Settings>>,
}

/// How an engine under test starts: [`Engine::start`], or with its threads given.
type Starter = fn(
    Shared,
    rtrb::Consumer<CaptureMsg>,
    rtrb::Producer<PlayMsg>,
    Arc<dyn Fn() -> Settings + Send + Sync>,
    Listener,
) -> Engine;

fn start(variations: usize) -> Bench {
    start_by(variations, Engine::start)
}

fn start_by(variations: usize, start: Starter) -> Bench {
    let (_cap_tx, cap_rx) = rtrb::RingBuffer::new(16);
    let (play_tx, play) = rtrb::RingBuffer::new(1 << 16);
    let settings = Arc::new(Mutex::new(Settings {
        bars: 2,
        variations,
        options: GenerateOptions::default(),
        endless: false,
        auto_train: true,
    }));
    let read = settings.clone();
    let (tx, events) = crossbeam_channel::unbounded();
    let listener: Listener = Arc::new(move |e: &EngineEvent| {
        let _ = tx.send(e.clone());
    });
    let engine = start(Shared::default(), cap_rx, play_tx, Arc::new(move || read.lock().clone()), listener);
    Bench { engine, play, events, settings }
}

impl Bench {
    fn next_event(&self) -> EngineEvent {
        self.events.recv_timeout(Duration::from_secs(120)).expect("engine events")
    }

    /// Waits for an event matching `f`, returning those before it too.
    fn until(&self, f: impl Fn(&EngineEvent) -> bool) -> Vec<EngineEvent> {
        let mut seen = vec![self.next_event()];
        while !f(seen.last().unwrap()) {
            seen.push(self.next_event());
        }
        seen
    }

    fn wait_status(&self, f: impl Fn(&Status) -> bool, secs: u64) -> Status {
        let t = Instant::now();
        loop {
            let s = self.engine.shared.status.lock().clone();
            if f(&s) || t.elapsed() > Duration::from_secs(secs) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn drain(&mut self) -> Vec<PlayMsg> {
        std::iter::from_fn(|| self.play.pop().ok()).collect()
    }

    /// A trained model and the first bars sampled from it: a project to load elsewhere.
    fn trained_project(&mut self, bars: u32) -> Project {
        self.engine.send(Command::LoadClip { clip: chorale(bars), train: true }).unwrap();
        self.until(|e| matches!(e, EngineEvent::BarReady { index: 1, .. }));
        self.wait_status(|s| *s == Status::Ready, 20);
        self.engine.shared.project.snapshot().1
    }
}

fn chorale(bars: u32) -> Clip {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/midi/bwv349_4track_ts34.mid");
    sintra_core::read_clip(&path).unwrap().select_bars(1, bars).unwrap()
}

fn notes(msgs: &[PlayMsg]) -> Vec<PlayNote> {
    msgs.iter().filter_map(|m| if let PlayMsg::Note(n) = m { Some(*n) } else { None }).collect()
}

#[test]
fn loads_trains_streams_and_reports() {
    let mut b = start(1);
    b.engine.send(Command::LoadClip { clip: chorale(4), train: true }).unwrap();
    let seen = b.until(|e| matches!(e, EngineEvent::BarReady { index: 1, .. }));
    assert!(seen.iter().any(|e| matches!(e, EngineEvent::Progress { stage: 3, .. })));
    assert!(seen.iter().any(|e| matches!(e, EngineEvent::Trained { .. })));
    let msgs = b.drain();
    assert_eq!(msgs[0], PlayMsg::Clear { loads: 0 });
    // Two 3/4 bars: the timeline ends at 6 quarters, every note inside it, on the 16th grid.
    assert_eq!(msgs.last(), Some(&PlayMsg::Length(6.0)));
    let notes = notes(&msgs);
    assert!(!notes.is_empty());
    for n in &notes {
        assert!(n.start >= 0.0 && n.end <= 6.0 && n.start < n.end && n.channel < 4, "{n:?}");
        assert_eq!((n.start * 4.0).fract(), 0.0);
    }
    b.wait_status(|s| *s == Status::Ready, 10);
    let project = b.engine.shared.project.lock().clone();
    let mut saved = project.variations[0].notes.clone();
    saved.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
    let mut streamed = notes.clone();
    streamed.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
    assert_eq!(saved, streamed);
    assert!(project.model.is_some(), "the model is kept for the project");
    assert!(!b.engine.shared.busy.load(Ordering::SeqCst));
}

#[test]
fn variations_are_kept_and_a_picked_one_replaces_the_timeline() {
    let mut b = start(2);
    b.engine.send(Command::LoadClip { clip: chorale(4), train: true }).unwrap();
    b.until(|e| matches!(e, EngineEvent::BarReady { variation: 1, index: 1, .. }));
    assert_eq!(b.wait_status(|s| *s == Status::Ready, 10), Status::Ready);
    let variations = b.engine.shared.project.variations().clone();
    assert_eq!(variations.len(), 2);
    assert!(variations.iter().all(|v| v.length == 6.0 && !v.notes.is_empty()));
    assert_ne!(variations[0], variations[1], "seeds differ");
    // Only the first variation went to the audio thread while sampling.
    let mut first = notes(&b.drain());
    first.sort_by(|a, b| a.start.total_cmp(&b.start));
    assert_eq!(first.len(), variations[0].notes.len());
    b.engine.shared.project.set_picked(1);
    let t = Instant::now();
    let mut msgs = Vec::new();
    while msgs.last() != Some(&PlayMsg::Length(6.0)) && t.elapsed() < Duration::from_secs(20) {
        msgs.extend(b.drain());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(msgs[0], PlayMsg::Clear { loads: 0 });
    assert_eq!(notes(&msgs), variations[1].notes, "sorted by start");
    assert_eq!(b.engine.shared.project.snapshot().1.picked, 1, "saved with the project");
}

#[test]
fn a_thread_the_system_refuses_is_an_error_in_the_editor_not_a_crash() {
    let b = start_by(1, |shared, capture, play, settings, listener| {
        let refused = |_| Err(std::io::Error::other("out of threads"));
        Engine::start_with(shared, capture, play, settings, listener, Err("out of threads".into()), refused)
    });
    let Status::Error(e) = b.engine.shared.status.lock().clone() else { panic!("no error shown") };
    assert!(e.contains("engine thread could not start (out of threads)"), "{e}");
    assert!(matches!(b.next_event(), EngineEvent::Error(_)));
    let refused = b.engine.send(Command::Train { generate: true }).unwrap_err();
    assert!(refused.contains("not running"), "{refused}");
    assert!(!b.engine.shared.busy.load(Ordering::SeqCst), "no job left pending");
    assert!(matches!(*b.engine.shared.status.lock(), Status::Error(_)), "still says why");
}

#[test]
fn without_sampling_threads_the_engine_thread_samples() {
    let mut b = start_by(1, |shared, capture, play, settings, listener| {
        let spawn = |run: Box<dyn FnOnce() + Send>| std::thread::Builder::new().spawn(run);
        Engine::start_with(shared, capture, play, settings, listener, Err("out of threads".into()), spawn)
    });
    let Status::Error(e) = b.engine.shared.status.lock().clone() else { panic!("no error shown") };
    assert!(e.contains("sampling runs on the engine thread alone"), "{e}");
    b.engine.send(Command::LoadClip { clip: chorale(4), train: true }).unwrap();
    b.until(|e| matches!(e, EngineEvent::BarReady { index: 1, .. }));
    assert!(!notes(&b.drain()).is_empty());
}

#[test]
fn a_second_job_is_refused_while_one_is_under_way() {
    let b = start(1);
    b.engine.send(Command::LoadClip { clip: chorale(4), train: false }).unwrap();
    b.wait_status(|s| matches!(s, Status::Clip { .. }), 10);
    b.engine.send(Command::Train { generate: false }).unwrap();
    // Busy at once, before the engine took the command.
    assert!(matches!(*b.engine.shared.status.lock(), Status::Training { .. }));
    let again = b.engine.send(Command::Train { generate: true });
    assert!(again.unwrap_err().contains("busy"));
    assert!(b.engine.send(Command::Generate).is_err());
    b.until(|e| matches!(e, EngineEvent::Trained { .. }));
    assert_eq!(b.wait_status(|s| *s == Status::Ready, 10), Status::Ready);
    std::thread::sleep(Duration::from_millis(100));
    assert!(b.events.try_recv().is_err(), "no second run");
    assert!(b.engine.send(Command::Generate).is_ok(), "free again");
}

#[test]
fn trains_without_generating_and_a_project_loaded_while_running_is_restored() {
    let mut b = start(1);
    b.engine.send(Command::LoadClip { clip: chorale(4), train: false }).unwrap();
    b.engine.send(Command::Train { generate: false }).unwrap();
    let parameters = loop {
        match b.next_event() {
            EngineEvent::Trained { parameters, .. } => break parameters,
            EngineEvent::Progress { .. } => {}
            other => panic!("{other:?}"),
        }
    };
    b.wait_status(|s| *s == Status::Ready, 10);
    let project = b.engine.shared.project.lock().clone();
    let bytes = project.model.as_ref().map(|m| m.bytes.len()).unwrap();
    let info = b.engine.shared.info.lock().clone();
    assert_eq!(info, Some(ModelInfo { parameters, bytes, device: "cpu" }));
    assert!(project.variations.is_empty());
    assert!(b.play.pop().is_err(), "nothing was sent to play");

    // The host loads a project into a running engine: all of it is taken at once.
    let mut other = start(1);
    let notes = vec![PlayNote::new(0.5, 1.0, 2, 60, 90)];
    let saved = Project {
        variations: vec![Variation { notes: notes.clone(), length: 6.0, ..Default::default() }],
        origin: Some(12.0),
        ..project
    };
    other.engine.shared.project.set(saved);
    assert_eq!(other.wait_status(|s| *s == Status::Ready, 20), Status::Ready);
    assert_eq!(*other.engine.shared.info.lock(), info);
    assert_eq!(other.engine.shared.project.origin(), 12.0);
    assert_eq!(
        other.drain(),
        vec![PlayMsg::Restore { loads: 1 }, PlayMsg::Note(notes[0]), PlayMsg::Length(6.0)]
    );
}

#[test]
fn a_project_loaded_during_training_cancels_it_and_is_restored_at_once() {
    let mut donor = start(1);
    let project = donor.trained_project(4);
    let mut b = start(1);
    b.engine.send(Command::LoadClip { clip: chorale(12), train: true }).unwrap();
    assert!(matches!(b.next_event(), EngineEvent::Progress { .. }));
    let t = Instant::now();
    b.engine.shared.project.set(project.clone());
    let status = b.wait_status(|s| *s == Status::Ready, 20);
    assert_eq!(status, Status::Ready);
    assert!(t.elapsed() < Duration::from_secs(3), "restored after {:?}", t.elapsed());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(b.engine.shared.project.lock().clip, project.clip, "the loaded clip, not the trained one");
    assert_eq!(b.engine.shared.project.lock().model, project.model);
    assert!(
        !std::iter::from_fn(|| b.events.try_recv().ok()).any(|e| matches!(e, EngineEvent::Trained { .. }))
    );
    let msgs = b.drain();
    let restored = msgs.iter().position(|m| *m == PlayMsg::Restore { loads: 1 }).expect("restored notes");
    assert_eq!(notes(&msgs[restored..]).len(), project.variations[0].notes.len());
}

#[test]
fn dropping_mid_training_returns_promptly_even_with_a_full_queue() {
    let b = start(1);
    b.engine.send(Command::LoadClip { clip: chorale(12), train: true }).unwrap();
    assert!(matches!(b.next_event(), EngineEvent::Progress { .. }));
    // Fill the command queue behind the training job.
    let clip = chorale(2);
    while b.engine.send(Command::LoadClip { clip: clip.clone(), train: false }).is_ok() {}
    let t = Instant::now();
    drop(b.engine);
    assert!(t.elapsed() < Duration::from_secs(1), "drop took {:?}", t.elapsed());
}

#[test]
fn cancel_stops_training_and_a_damaged_model_is_refused() {
    let b = start(1);
    b.engine.send(Command::LoadClip { clip: chorale(12), train: true }).unwrap();
    assert!(matches!(b.next_event(), EngineEvent::Progress { .. }));
    b.engine.shared.cancel();
    let err = loop {
        match b.next_event() {
            EngineEvent::Error(e) => break e,
            EngineEvent::Progress { .. } => {}
            other => panic!("{other:?}"),
        }
    };
    assert!(err.contains("cancelled"), "{err}");
    b.engine
        .shared
        .project
        .set(Project { model: Some(ModelBytes::new(b"not a model".to_vec())), ..Project::default() });
    let err = b.next_event();
    assert!(matches!(&err, EngineEvent::Error(e) if e.contains("could not be restored")), "{err:?}");
    assert!(b.engine.shared.project.lock().model.is_none());
}

#[test]
fn a_panic_in_a_job_is_reported_and_the_engine_stays_usable() {
    let b = start(1);
    b.engine.send(Command::Panic).unwrap();
    let err = b.next_event();
    assert!(
        matches!(&err, EngineEvent::Error(e) if e.contains("internal error") && e.contains("asked for it")),
        "{err:?}"
    );
    assert!(matches!(*b.engine.shared.status.lock(), Status::Error(_)));
    b.engine.send(Command::LoadClip { clip: chorale(4), train: true }).unwrap();
    b.until(|e| matches!(e, EngineEvent::BarReady { index: 1, .. }));
}

#[test]
fn endless_play_keeps_a_bounded_window_and_resumes_after_a_reload() {
    let mut b = start(1);
    let project = b.trained_project(4);
    b.settings.lock().endless = true;
    b.drain();
    // The playhead walks through 300 bars of 3/4: bars are sampled ahead of it, notes far
    // behind it are forgotten, and the project keeps at most MAX_SAVED_BARS bars.
    let bar = 3.0;
    let mut trims = Vec::new();
    let mut ahead = 0.0;
    for i in 0..300 {
        let playhead = i as f64 * bar;
        b.engine.shared.playhead.store(playhead.to_bits(), Ordering::Relaxed);
        let t = Instant::now();
        while ahead < playhead + bar && t.elapsed() < Duration::from_secs(10) {
            for m in b.drain() {
                match m {
                    PlayMsg::Length(l) => ahead = l,
                    PlayMsg::Trim(before) => trims.push(before),
                    _ => {}
                }
            }
        }
        assert!(ahead >= playhead + bar, "bar {i}: sampled up to {ahead}");
    }
    // The window trails the playhead by WINDOW_BARS (16) and a few bars of slack.
    assert!(trims.last().is_some_and(|&t| t >= 290.0 * bar - 17.0 * bar), "{:?}", trims.last());
    let saved = b.engine.shared.project.lock().clone();
    assert_eq!(saved.variations[0].length, MAX_SAVED_BARS as f64 * bar);
    assert!(saved.variations[0].notes.iter().all(|n| n.start < MAX_SAVED_BARS as f64 * bar));

    // Reloaded into a fresh engine in endless mode: the saved bars, then new ones after them.
    let mut other = start(1);
    other.settings.lock().endless = true;
    let playhead = (MAX_SAVED_BARS - 1) as f64 * bar;
    other.engine.shared.playhead.store(playhead.to_bits(), Ordering::Relaxed);
    other.engine.shared.project.set(Project { variations: saved.variations.clone(), ..project });
    let t = Instant::now();
    let mut msgs = Vec::new();
    while !msgs.iter().any(|m| matches!(m, PlayMsg::Length(l) if *l > MAX_SAVED_BARS as f64 * bar))
        && t.elapsed() < Duration::from_secs(20)
    {
        msgs.extend(other.drain());
        std::thread::sleep(Duration::from_millis(5));
    }
    let append = msgs.iter().position(|m| *m == PlayMsg::Append { loads: 1 }).expect("endless play resumed");
    assert!(msgs[..append].contains(&PlayMsg::Restore { loads: 1 }));
    assert!(notes(&msgs[append..]).iter().all(|n| n.start >= MAX_SAVED_BARS as f64 * bar));
}

#[test]
fn a_kept_track_plays_the_clips_bars_and_a_redraw_can_be_undone() {
    let mut b = start(1);
    b.settings.lock().bars = 4;
    let clip = chorale(4);
    b.engine.send(Command::LoadClip { clip: clip.clone(), train: false }).unwrap();
    b.wait_status(|s| matches!(s, Status::Clip { .. }), 10);
    b.engine.shared.project.lock().kept = vec![false, false, false, true];
    b.engine.send(Command::Train { generate: true }).unwrap();
    b.until(|e| matches!(e, EngineEvent::BarReady { index: 3, .. }));
    assert_eq!(b.wait_status(|s| *s == Status::Ready, 20), Status::Ready);
    let before = b.engine.shared.project.variations()[0].clone();
    // The bass plays the clip's own bars, velocities and all; every bar has its closeness.
    let bass = clip.tracks[3].channel;
    let key = |n: &PlayNote| (n.start.to_bits(), n.end.to_bits(), n.key, n.velocity);
    let of = |v: &[PlayNote], ch: u8| v.iter().filter(|n| n.channel == ch).map(key).collect::<Vec<_>>();
    let want: Vec<_> = clip.tracks[3]
        .notes
        .iter()
        .map(|n| ((n.start as f64 / 4.0).to_bits(), (n.end as f64 / 4.0).to_bits(), n.pitch, n.velocity))
        .collect();
    assert_eq!(of(&before.notes, bass), want);
    assert_eq!(before.closeness.len(), 4);
    assert!(before.closeness.iter().all(|c| (0.0..=1.0).contains(c)), "{:?}", before.closeness);
    b.drain();

    // Bars 2-3 drawn again: bars 1 and 4 and the bass stay, the audio thread gets the new notes.
    b.engine.send(Command::Redraw { first: 2, last: 3 }).unwrap();
    let t = Instant::now();
    while b.engine.shared.project.variations()[0] == before && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let after = b.engine.shared.project.variations()[0].clone();
    let bar = 3.0; // 3/4
    let starts = |v: &Variation, from: f64, to: f64| {
        let mut s: Vec<_> = v
            .notes
            .iter()
            .filter(|n| n.start >= from && n.start < to)
            .map(|n| (n.start.to_bits(), n.channel, n.key))
            .collect();
        s.sort();
        s
    };

    assert_eq!(starts(&after, 0.0, bar), starts(&before, 0.0, bar));
    assert_eq!(starts(&after, 3.0 * bar, 4.0 * bar), starts(&before, 3.0 * bar, 4.0 * bar));
    assert_ne!(starts(&after, bar, 3.0 * bar), starts(&before, bar, 3.0 * bar));
    assert_eq!(of(&after.notes, bass), want);
    assert_eq!(after.closeness.len(), 4);
    b.wait_status(|s| *s == Status::Ready, 10);
    let msgs = b.drain();
    assert_eq!(msgs[0], PlayMsg::Clear { loads: 0 });
    let mut streamed = notes(&msgs);
    streamed.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
    assert_eq!(streamed, after.notes);

    // Undo puts the old bars back.
    b.engine.send(Command::UndoRedraw).unwrap();
    let t = Instant::now();
    while b.engine.shared.project.variations()[0] != before && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(b.engine.shared.project.variations()[0], before);
}
