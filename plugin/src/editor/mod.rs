//! The plugin window (egui): the piano roll of the clip and the generated bars, the state at a
//! glance, and the whole workflow as numbered steps (clip, train, generate, play, export).
//!
//! The editor only reads shared state and sends commands: training and sampling run on the
//! engine thread, file dialogs and file reading on short-lived threads of their own, so the
//! window never waits and never touches the audio thread.

mod controls;
mod drag_out;
mod files;
mod paint;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use egui::{CentralPanel, Color32, Panel, RichText};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::editor::ResizeHint;
use nice_plug_egui::{create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp};
use parking_lot::Mutex;

use crate::capture::{ARMED, RECORDING};
use crate::engine::{Handle, Status};
use crate::monitor::{model_line, CaptureView, Monitor, Tone};
use crate::params::SintraParams;
use crate::roll::View;

/// Default window size, logical points.
pub const SIZE: (f32, f32) = (1120.0, 760.0);
/// Smallest window size: the controls column and a useful roll.
const MIN_SIZE: (f32, f32) = (820.0, 520.0);

/// What the editor needs from the plugin; all of it created with the plugin.
#[derive(Clone)]
pub struct Link {
    /// Commands to the engine thread and the state it shares.
    pub engine: Handle,
    /// The engine's events collected for display (loss curves, last training, last error).
    pub monitor: Arc<Mutex<Monitor>>,
    /// Raised by the editor, taken by the audio thread: arm, disarm or end the capture.
    pub capture_toggle: Arc<AtomicBool>,
    /// The capture's state (`capture::IDLE`, `ARMED`, `RECORDING`), written by the audio thread.
    pub capture_phase: Arc<AtomicU8>,
    /// Notes in the capture under way.
    pub capture_notes: Arc<AtomicU32>,
    /// Bar reached in the capture under way.
    pub capture_bars: Arc<AtomicU32>,
    /// The host gives no song position (written by the audio thread).
    pub no_position: Arc<AtomicBool>,
    /// Bars selected on the roll's ruler when the editor opens.
    pub selection: Option<(u32, u32)>,
}

/// Creates the editor.
pub fn create(params: Arc<SintraParams>, link: Link, state: Arc<EguiEditorState>) -> Option<EguiEditor<App>> {
    let resize = ResizeHint::resizable().with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1));
    let settings = EguiNiceSettings::new().with_tile("SinTra").with_resize_hint(resize);
    create_egui_editor(state, Default::default(), settings, App::new(params, link))
}

/// The default window state.
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(SIZE.0, SIZE.1), 1.0)
}

/// The editor's own state, kept while the plugin lives (the window may open and close).
pub struct App {
    /// Parameters (read here, set through the host's `GuiContext`).
    params: Arc<SintraParams>,
    /// The plugin's side.
    link: Link,
    /// The host's context, from `build`.
    gui: Option<GuiContext>,
    /// The roll's visible part; `None` until there is something to fit.
    view: Option<View>,
    /// What the view was last fitted to (bars of clip and of generated notes).
    fitted: (u32, u64),
    /// Scroll the roll along with the playhead.
    follow: bool,
    /// Exports start with the clip.
    include_clip: bool,
    /// Dialogs, file loading and the clipboard.
    files: files::Files,
    /// Result of the last action, in plain words, and whether it failed.
    message: Option<(String, bool)>,
    /// Generated bars selected on the roll's ruler (1-based, first and last), for *Redraw*.
    selection: Option<(u32, u32)>,
    /// The bar a drag on the ruler started from.
    anchor: Option<u32>,
    /// Length (quarter notes) of the variation the selection was made in, as last painted.
    selected_in: f64,
    /// Bars of the variation that plays sampled so far, as last painted.
    sampled_bars: u32,
    /// A drag out under way: the file it carries and where its outcome arrives.
    dragging: Option<(std::path::PathBuf, crossbeam_channel::Receiver<Result<drag_out::Outcome, String>>)>,
    /// Where the drag-out handle was last painted (window points), logged when it moves.
    handle_at: Option<egui::Pos2>,
}

impl App {
    fn new(params: Arc<SintraParams>, link: Link) -> Self {
        let selection = link.selection;
        Self {
            params,
            link,
            gui: None,
            view: None,
            fitted: (0, 0),
            follow: true,
            include_clip: false,
            files: files::Files::new(),
            message: None,
            selection,
            anchor: None,
            selected_in: 0.0,
            sampled_bars: 0,
            dragging: None,
            handle_at: None,
        }
    }

    fn capture_view(&self) -> CaptureView {
        match self.link.capture_phase.load(Ordering::Relaxed) {
            ARMED => CaptureView::Armed,
            RECORDING => CaptureView::Recording {
                notes: self.link.capture_notes.load(Ordering::Relaxed),
                bar: self.link.capture_bars.load(Ordering::Relaxed),
                of: self.params.capture_bars.value().max(1) as u32,
            },
            _ => CaptureView::Idle,
        }
    }

    /// Takes in what the background file jobs found.
    fn poll(&mut self) {
        if let Some(result) = self.files.poll() {
            self.file_result(result);
        }
        self.poll_drag();
    }

    fn say(&mut self, text: impl Into<String>, failed: bool) {
        self.message = Some((text.into(), failed));
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        let status = self.link.engine.shared.status.lock().clone();
        let variations = self.link.engine.shared.project.variations().len();
        let picked = self.link.engine.shared.project.picked();
        let (head, last_error) = {
            let monitor = self.link.monitor.lock();
            (monitor.headline(&status, self.capture_view(), variations, picked), monitor.error.clone())
        };
        let colour = match head.tone {
            Tone::Idle => Color32::from_rgb(150, 160, 175),
            Tone::Busy => Color32::from_rgb(240, 180, 60),
            Tone::Good => Color32::from_rgb(90, 200, 120),
            Tone::Error => Color32::from_rgb(235, 90, 80),
        };
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.label(RichText::new("SinTra").size(20.0).strong());
            ui.add_space(12.0);
            paint::swatch(ui, colour);
            ui.label(RichText::new(&head.title).size(16.0).color(colour).strong());
            ui.label(RichText::new(&head.detail).size(14.0));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let info = self.link.engine.shared.info.lock().clone();
                ui.label(RichText::new(model_line(info.as_ref(), cfg!(feature = "cuda"))).weak());
            });
        });
        if let Some(p) = head.progress {
            ui.add(egui::ProgressBar::new(p).desired_height(4.0).fill(colour));
        }
        let red = Color32::from_rgb(235, 90, 80);
        if self.link.no_position.load(Ordering::Relaxed) {
            ui.label(
                RichText::new("The host gives SinTra no song position: it cannot record or play in time.")
                    .color(red),
            );
        }
        if let Some(e) = last_error.as_ref().filter(|_| !matches!(status, Status::Error(_))) {
            ui.label(RichText::new(format!("Last problem: {e}")).color(red));
        }
        if let Some((text, failed)) = &self.message {
            ui.label(RichText::new(text).color(if *failed { red } else { Color32::from_rgb(90, 200, 120) }));
        }
        ui.add_space(4.0);
    }

    fn busy(&self) -> bool {
        self.link.engine.shared.status.lock().is_busy()
            || self.link.capture_phase.load(Ordering::Relaxed) != crate::capture::IDLE
            || self.link.engine.shared.playing.load(Ordering::Relaxed)
    }
}

impl NiceEguiApp for App {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        // Only MIDI files may be dropped: anything else is refused while it hovers.
        nice_plug_egui::accept_files(&egui_ctx, files::is_midi);
        egui_ctx.set_theme(egui::ThemePreference::Dark);
        egui_ctx.all_styles_mut(|style| {
            style.spacing.item_spacing = egui::vec2(8.0, 4.0);
            // A solid scroll bar: where the steps do not fit, it shows that the column scrolls.
            style.spacing.scroll = egui::style::ScrollStyle::solid();
            style.spacing.button_padding = egui::vec2(10.0, 4.0);
        });
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        self.poll();
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        // Moving things (progress, the playhead) repaint often, a still window rarely.
        let every = if self.busy() { 33 } else { 250 };
        ui.ctx().request_repaint_after(Duration::from_millis(every));
        self.files.take_drops(ui, &mut self.message);

        Panel::top("status").show(ui, |ui| self.status_bar(ui));
        Panel::left("controls").resizable(false).exact_size(320.0).show(ui, |ui| {
            egui::ScrollArea::vertical()
                .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::VisibleWhenNeeded)
                .show(ui, |ui| controls::show(self, ui, &setter));
        });
        CentralPanel::default().show(ui, |ui| paint::main_area(self, ui));
    }
}
