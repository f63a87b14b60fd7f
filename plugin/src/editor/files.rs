//! Files in and out of the editor: the open and save dialogs and the reading of MIDI files run
//! on threads of their own (a dialog can stay open for minutes); exports and the clipboard.

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender};
use egui::Ui;
use sintra_core::clip::Clip;

use super::App;
use crate::engine::Command;
use crate::export;

/// What a background file job found.
pub enum FileResult {
    /// A MIDI file was read (or failed to, with the reason naming it).
    Loaded(Result<Clip, String>),
    /// The save dialog returned this path.
    SaveTo(PathBuf),
    /// No dialog could be shown (it came back at once with nothing).
    NoDialog,
}

/// A dialog that returns faster than this without a file was never shown.
const TOO_QUICK: std::time::Duration = std::time::Duration::from_millis(400);

/// The editor's file helpers.
pub struct Files {
    /// Results of background jobs.
    rx: Receiver<FileResult>,
    /// Their sender, cloned into each job.
    tx: Sender<FileResult>,
    /// Where one-click exports go.
    pub folder: PathBuf,
    /// The clipboard, opened at first use and kept: on X11 the owner serves the pasted data.
    clipboard: Option<clipboard_rs::ClipboardContext>,
}

impl Files {
    pub fn new() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { rx, tx, folder: export::default_folder(), clipboard: None }
    }

    pub fn poll(&mut self) -> Option<FileResult> {
        self.rx.try_recv().ok()
    }

    /// Asks for a MIDI file and reads it, off the GUI thread.
    pub fn open_midi(&self) {
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let asked = std::time::Instant::now();
            let picked = rfd::FileDialog::new()
                .set_title("Load a MIDI clip")
                .add_filter("MIDI files", &["mid", "midi", "smf"])
                .pick_file();
            let _ = match picked {
                Some(path) => tx.send(FileResult::Loaded(read(path))),
                None if asked.elapsed() < TOO_QUICK => tx.send(FileResult::NoDialog),
                None => Ok(()),
            };
        });
    }

    /// Reads a MIDI file dropped on the window; says why one that hovers would be refused (the
    /// window refuses it, so it is never dropped: `is_midi`).
    pub fn take_drops(&self, ui: &Ui, message: &mut Option<(String, bool)>) {
        let (hovered, dropped): (Vec<PathBuf>, Vec<PathBuf>) = ui.input(|i| {
            let hovered = i.raw.hovered_files.iter().filter_map(|f| f.path.clone()).collect();
            (hovered, i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect())
        });
        if let Some(path) = dropped.into_iter().find(|p| is_midi(p)) {
            let tx = self.tx.clone();
            std::thread::spawn(move || {
                let _ = tx.send(FileResult::Loaded(read(path)));
            });
            return;
        }
        if let Some(first) = hovered.first().filter(|_| !hovered.iter().any(|p| is_midi(p))) {
            let text = format!("{}: not a MIDI file (.mid), so it cannot be dropped here", first.display());
            if message.as_ref().is_none_or(|(m, _)| *m != text) {
                nice_plug::nice_log!("SinTra: refused a drop: {text}");
                *message = Some((text, true));
            }
        }
    }

    /// Asks where to save, off the GUI thread.
    fn save_dialog(&self, name: String) {
        let (tx, folder) = (self.tx.clone(), self.folder.clone());
        std::thread::spawn(move || {
            let asked = std::time::Instant::now();
            let picked = rfd::FileDialog::new()
                .set_title("Export the generated bars")
                .add_filter("MIDI files", &["mid"])
                .set_directory(folder)
                .set_file_name(name)
                .save_file();
            let _ = match picked {
                Some(path) => tx.send(FileResult::SaveTo(path)),
                None if asked.elapsed() < TOO_QUICK => tx.send(FileResult::NoDialog),
                None => Ok(()),
            };
        });
    }

    /// Puts `path` on the clipboard as a file.
    fn copy(&mut self, path: &std::path::Path) -> Result<(), String> {
        use clipboard_rs::Clipboard;
        if self.clipboard.is_none() {
            self.clipboard = Some(clipboard_rs::ClipboardContext::new().map_err(|e| e.to_string())?);
        }
        let clipboard = self.clipboard.as_ref().expect("opened above");
        clipboard.set_files(vec![path.display().to_string()]).map_err(|e| e.to_string())
    }
}

/// Whether `path` names a MIDI file (by its extension): the only files the window takes.
pub fn is_midi(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
    matches!(ext.as_deref(), Some("mid" | "midi" | "smf"))
}

fn read(path: PathBuf) -> Result<Clip, String> {
    sintra_core::read_clip(&path).map_err(|e| e.to_string())
}

impl App {
    /// The variation that plays (0-based).
    pub(super) fn picked(&self) -> usize {
        self.link.engine.shared.project.picked()
    }

    pub(super) fn file_result(&mut self, result: FileResult) {
        match result {
            FileResult::Loaded(Ok(clip)) => {
                self.params.place_after(&clip);
                self.say(format!("Loaded “{}”", clip.meta.title), false);
                self.view = None;
                let train = self.params.auto_train.value();
                if let Err(e) = self.link.engine.send(Command::LoadClip { clip, train }) {
                    self.say(e, true);
                }
            }
            FileResult::Loaded(Err(e)) => self.say(e, true),
            FileResult::NoDialog => self.say(
                "No file dialog could be opened (it needs xdg-desktop-portal or zenity). Capture \
                 the clip from the host instead; Export and Copy as file need no dialog.",
                true,
            ),
            FileResult::SaveTo(path) => {
                let path = if path.extension().is_none() { path.with_extension("mid") } else { path };
                self.export_to(&path);
            }
        }
    }

    fn stem(&self) -> Option<String> {
        let clip = self.link.engine.shared.project.clip();
        Some(export::file_stem(clip.as_ref()?, self.params.seed.value(), self.picked() + 1))
    }

    pub(super) fn save_as(&mut self) {
        if let Some(stem) = self.stem() {
            self.files.save_dialog(format!("{stem}.mid"));
        }
    }

    /// Exports into the default folder under a fresh name; with `copy`, also to the clipboard.
    pub(super) fn export_default(&mut self, copy: bool) {
        let Some(stem) = self.stem() else { return };
        let path = export::free_path(&self.files.folder, &stem);
        if !self.export_to(&path) || !copy {
            return;
        }
        match self.files.copy(&path) {
            Ok(()) => self.say(format!("Copied {} — paste it into the DAW", path.display()), false),
            Err(e) => self.say(format!("Saved {}, but the clipboard refused it: {e}", path.display()), true),
        }
    }

    /// Starts dragging the variation out: writes it as *Export* would (into the export folder,
    /// so a DAW that keeps a reference to the file keeps a file), then follows the pointer.
    pub(super) fn drag_out(&mut self) {
        let Some(stem) = self.stem() else { return };
        let path = export::free_path(&self.files.folder, &stem);
        if self.export_to(&path) {
            nice_plug::nice_log!("SinTra: dragging out {}", path.display());
            self.say(format!("Dragging {}: let go over a track", path.display()), false);
            self.dragging = Some((path.clone(), super::drag_out::start(path)));
        }
    }

    /// Takes in how a drag out ended; a file nobody took is removed again.
    pub(super) fn poll_drag(&mut self) {
        use super::drag_out::Outcome;
        let Some(outcome) = self.dragging.as_ref().and_then(|(_, rx)| rx.try_recv().ok()) else { return };
        let Some((path, _)) = self.dragging.take() else { return };
        let shown = path.display().to_string();
        match outcome {
            Ok(Outcome::Dropped) => {
                nice_plug::nice_log!("SinTra: dragged out {shown}");
                self.say(format!("Dropped {shown}"), false);
                return;
            }
            Ok(Outcome::Refused) => {
                self.say("The window there did not take the file; Export still works", true)
            }
            Ok(Outcome::Cancelled) => self.message = None,
            Err(e) => {
                nice_plug::nice_log!("SinTra: dragging {shown} out failed: {e}");
                self.say(format!("Dragging out failed: {e}; Export still works"), true)
            }
        }
        let _ = std::fs::remove_file(&path);
    }

    fn export_to(&mut self, path: &std::path::Path) -> bool {
        let clip = self.link.engine.shared.project.clip().clone();
        let variation = self.link.engine.shared.project.variations().get(self.picked()).cloned();
        let result = match (clip, variation) {
            (Some(c), Some(v)) => {
                export::write(&c, &v, self.include_clip, self.params.feel.value() as f64, path)
            }
            _ => Err("nothing generated to export yet".into()),
        };
        match result {
            Ok(()) => {
                self.say(format!("Saved {}", path.display()), false);
                true
            }
            Err(e) => {
                self.say(e, true);
                false
            }
        }
    }

    /// Where the generated bars play in the host, in words.
    pub(super) fn start_text(&self) -> String {
        let start = self.params.start_bar.value();
        if start > 0 {
            return format!("Plays from host bar {start}.");
        }
        let origin = self.params.project.origin();
        let clip = self.link.engine.shared.project.clip();
        match clip.as_ref() {
            Some(c) if origin.is_finite() => {
                let bar = (origin / crate::project::bar_quarters(c)).round() as i64 + 1;
                format!("Plays from host bar {bar}, right after the clip.")
            }
            _ => "Start bar 0 follows the clip; set a bar to play elsewhere.".into(),
        }
    }
}
