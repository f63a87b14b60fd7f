//! The engine thread: one per plugin instance, it owns the model (candle). It turns captures
//! into clips, trains, samples bars and hands their notes to the audio thread through a
//! pre-allocated lock-free queue, bar by bar. Commands come in over a bounded channel and status
//! goes out through shared state and a listener; nothing here ever runs on the audio thread.
//!
//! - `messages`: the protocol (commands, status, events, notes for the audio thread).
//! - `worker`: the thread itself and its jobs (restore, train, generate, endless play).
//! - `decode`: sampled bars to notes; `from_capture`: recorded notes to a clip.
//! - `redraw`: bars of a variation drawn again.

mod decode;
mod from_capture;
mod messages;
mod redraw;
mod worker;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError};
use parking_lot::Mutex;

pub use decode::BarDecoder;
pub use from_capture::clip_from_capture;
pub use messages::{Command, EngineEvent, ModelInfo, PlayMsg, Settings, Status};

use crate::capture::CaptureMsg;
use crate::project::ProjectStore;

/// Commands waiting for the engine; past this a send is refused (the sender never blocks).
const COMMAND_QUEUE: usize = 64;

/// Hears every engine event as it happens (on the engine thread: keep it short).
pub type Listener = Arc<dyn Fn(&EngineEvent) + Send + Sync>;

/// Everything the engine shares with the plugin and the editor (all of it off the audio
/// thread's path, except the atomics).
#[derive(Clone, Default)]
pub struct Shared {
    /// Latest status.
    pub status: Arc<Mutex<Status>>,
    /// The saved project: clip, model, variations, pick and origin.
    pub project: ProjectStore,
    /// What the model is, once there is one.
    pub info: Arc<Mutex<Option<ModelInfo>>>,
    /// The audio thread's position on the timeline (f64 bits), for endless mode and display.
    pub playhead: Arc<AtomicU64>,
    /// Whether the host's transport is playing.
    pub playing: Arc<AtomicBool>,
    /// Bumped to stop the training or sampling under way (a counter, so no cancel is lost).
    pub cancels: Arc<AtomicU64>,
    /// Raised when the plugin goes away.
    pub shutdown: Arc<AtomicBool>,
    /// A training or sampling job has been accepted and has not finished.
    pub busy: Arc<AtomicBool>,
    /// Raised by the audio thread's generate button, taken by the engine.
    pub generate_request: Arc<AtomicBool>,
    /// Capture messages the audio thread could not queue (counted there, reported here).
    pub capture_overflow: Arc<AtomicU32>,
    /// The capture's state (`capture::IDLE`, `ARMED`, `RECORDING`), written by the audio thread.
    pub capture_phase: Arc<AtomicU8>,
}

impl Shared {
    /// Stops the training or sampling under way at its next step.
    pub fn cancel(&self) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks a job as accepted; false when one is already under way. Lock-free (the audio
    /// thread's generate button uses it too).
    pub fn begin_job(&self) -> bool {
        !self.busy.swap(true, Ordering::SeqCst)
    }
}

/// The plugin's handle on its engine thread; dropping it cancels work and joins the thread.
pub struct Engine {
    /// Commands in.
    commands: Sender<Command>,
    /// Shared state.
    pub shared: Shared,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts the thread. `settings` is called whenever the engine samples; `listener` hears
    /// every event.
    pub fn start(
        shared: Shared,
        capture: rtrb::Consumer<CaptureMsg>,
        play: rtrb::Producer<PlayMsg>,
        settings: Arc<dyn Fn() -> Settings + Send + Sync>,
        listener: Listener,
    ) -> Self {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().map_err(|e| e.to_string());
        let spawn = |run: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name("sintra-engine".into()).spawn(run)
        };
        Self::start_with(shared, capture, play, settings, listener, pool, spawn)
    }

    /// [`Engine::start`] with the sampling threads and the engine thread's spawn given: when
    /// the system refuses a thread, the editor shows why instead of the host crashing.
    fn start_with(
        shared: Shared,
        capture: rtrb::Consumer<CaptureMsg>,
        play: rtrb::Producer<PlayMsg>,
        settings: Arc<dyn Fn() -> Settings + Send + Sync>,
        listener: Listener,
        pool: Result<rayon::ThreadPool, String>,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> std::io::Result<JoinHandle<()>>,
    ) -> Self {
        let (commands, rx) = crossbeam_channel::bounded(COMMAND_QUEUE);
        let worker = worker::Worker::new(shared.clone(), capture, play, settings, listener.clone(), pool);
        let thread = spawn(Box::new(move || worker.run(rx)))
            .map_err(|e| {
                let e = format!("the engine thread could not start ({e}): reload the plugin");
                *shared.status.lock() = Status::Error(e.clone());
                listener(&EngineEvent::Error(e));
            })
            .ok();
        Self { commands, shared, thread }
    }

    /// A handle for the editor.
    pub fn handle(&self) -> Handle {
        Handle { commands: self.commands.clone(), shared: self.shared.clone() }
    }

    /// Sends a command (see [`Handle::send`]).
    pub fn send(&self, command: Command) -> Result<(), String> {
        self.handle().send(command)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The flag stops any job at its next step and the loop at its next turn; the command
        // only wakes the thread sooner, and may not fit in a full queue.
        self.shared.shutdown.store(true, Ordering::SeqCst);
        let _ = self.commands.try_send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends commands to the engine; cheap to clone.
#[derive(Clone)]
pub struct Handle {
    /// Commands in.
    commands: Sender<Command>,
    /// Shared state.
    pub shared: Shared,
}

impl Handle {
    /// Sends a command without waiting. A job (train, generate) is accepted only when none is
    /// under way, and shows as busy at once, so a double click or automation cannot queue a
    /// second run.
    pub fn send(&self, command: Command) -> Result<(), String> {
        let job = command.is_job();
        let before = if job {
            if !self.shared.begin_job() {
                return Err("SinTra is still busy with the last job".into());
            }
            let busy = match command {
                Command::Generate | Command::Redraw { .. } => {
                    Status::Generating { variation: 1, variations: 1, done: 0, of: 0 }
                }
                _ => Status::Training {
                    stage: 1,
                    stages: 3,
                    epoch: 0,
                    max_epochs: 0,
                    loss: f32::NAN,
                    seconds: 0.0,
                },
            };
            Some(std::mem::replace(&mut *self.shared.status.lock(), busy))
        } else {
            None
        };
        self.commands.try_send(command).map_err(|e| {
            if let Some(before) = before {
                *self.shared.status.lock() = before;
                self.shared.busy.store(false, Ordering::SeqCst);
            }
            match e {
                TrySendError::Full(_) => "SinTra's engine is not taking commands (queue full)",
                TrySendError::Disconnected(_) => "SinTra's engine is not running: reload the plugin",
            }
            .to_string()
        })
    }
}
