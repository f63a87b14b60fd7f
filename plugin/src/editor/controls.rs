//! The left column: the workflow as numbered steps, each enabled when it can run.

use std::sync::atomic::Ordering;

use egui::{Button, Color32, RichText, Ui};
use nice_plug::prelude::{BoolParam, Param, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;

use super::{paint, App};
use crate::capture::{ARMED, IDLE};
use crate::engine::{Command, Status};
use crate::params::PlayMode;

pub fn show(app: &mut App, ui: &mut Ui, setter: &ParamSetter) {
    let status = app.link.engine.shared.status.lock().clone();
    let training = matches!(status, Status::Training { .. });
    let generating = matches!(status, Status::Generating { .. });
    let idle = !training && !generating;
    let has_model = app.link.engine.shared.info.lock().is_some();
    let p = app.params.clone();

    section(ui, "1", "Clip", |ui| {
        let phase = app.link.capture_phase.load(Ordering::Relaxed);
        let label = match phase {
            IDLE => "Arm capture",
            ARMED => "Disarm",
            _ => "End capture now",
        };
        let hint = "Records what the host plays into SinTra, from the next bar line once the transport runs.";
        if ui.add_enabled(idle, Button::new(label)).on_hover_text(hint).clicked() {
            app.link.capture_toggle.store(true, Ordering::Relaxed);
        }
        slider(ui, "Capture bars", &p.capture_bars, setter);
        ui.horizontal(|ui| {
            if ui.add_enabled(idle, Button::new("Load MIDI file…")).clicked() {
                app.files.open_midi();
            }
            ui.label(RichText::new("or drop one here").weak());
        });
        toggle(ui, "Train as soon as a clip arrives", &p.auto_train, setter);
        legend(app, ui);
    });

    section(ui, "2", "Train", |ui| {
        let has_clip = app.link.engine.shared.project.clip().is_some();
        if training {
            if ui.button("Cancel training").clicked() {
                app.link.engine.shared.cancel();
            }
        } else if ui.add_enabled(has_clip && idle, Button::new("Train")).clicked() {
            if let Err(e) = app.link.engine.send(Command::Train { generate: true }) {
                app.say(e, true);
            }
        }
        let trained = app.link.monitor.lock().trained;
        let text = match trained {
            Some((s, _)) => {
                format!("Last training took {}; new bars follow at once.", crate::monitor::duration(s))
            }
            None => "Learns the clip (three stages, coarse to fine), then generates.".into(),
        };
        ui.label(RichText::new(text).weak());
    });

    section(ui, "3", "Generate", |ui| {
        slider(ui, "Bars", &p.bars, setter);
        slider(ui, "Variations", &p.variations, setter);
        slider(ui, "Similarity", &p.similarity, setter)
            .on_hover_text("How close to the clip the new bars stay: 0 far from it, 1 copies allowed");
        slider(ui, "Seed", &p.seed, setter);
        egui::CollapsingHeader::new("Expert: temperature, top-p").show(ui, |ui| {
            slider(ui, "Temperature", &p.temperature, setter);
            slider(ui, "Quarters", &p.top_p1, setter);
            slider(ui, "Eighths", &p.top_p2, setter);
            slider(ui, "Sixteenths", &p.top_p3, setter);
        });
        // The button and the pick share a row, so every step fits the default window.
        ui.horizontal_wrapped(|ui| {
            if generating {
                if ui.button("Stop generating").clicked() {
                    app.link.engine.shared.cancel();
                }
            } else if ui.add_enabled(has_model && idle, Button::new("Generate")).clicked() {
                if let Err(e) = app.link.engine.send(Command::Generate) {
                    app.say(e, true);
                }
            }
            let sampled = app.link.engine.shared.project.variations().len();
            if sampled == 0 {
                return;
            }
            let picked = app.link.engine.shared.project.picked();
            let in_progress = match status {
                Status::Generating { variation, .. } => variation - 1,
                _ => usize::MAX,
            };
            ui.label("plays");
            for k in 0..sampled {
                let ready = k < in_progress;
                let b = egui::Button::selectable(picked == k, format!(" {} ", k + 1));
                if ui.add_enabled(ready || picked == k, b).clicked() {
                    app.link.engine.shared.project.set_picked(k);
                }
            }
        });
    });

    section(ui, "4", "Play", |ui| {
        ui.horizontal(|ui| {
            for (mode, name) in [
                (PlayMode::Off, "Off"),
                (PlayMode::Once, "Once"),
                (PlayMode::Loop, "Loop"),
                (PlayMode::Endless, "Endless"),
            ] {
                if ui.selectable_label(p.mode.value() == mode, name).clicked() {
                    setter.begin_set_parameter(&p.mode);
                    setter.set_parameter(&p.mode, mode);
                    setter.end_set_parameter(&p.mode);
                }
            }
        });
        slider(ui, "Start bar", &p.start_bar, setter);
        ui.label(RichText::new(app.start_text()).weak());
        slider(ui, "Feel", &p.feel, setter)
            .on_hover_text("The clip's swing and human timing: 0 on the grid, 1 as the clip was played");
        toggle(ui, "Pass incoming MIDI through", &p.thru, setter);
    });

    section(ui, "5", "Export", |ui| {
        let can = app
            .link
            .engine
            .shared
            .project
            .variations()
            .get(app.picked())
            .is_some_and(|v| !v.notes.is_empty());
        ui.checkbox(&mut app.include_clip, "Start the file with the clip");
        ui.horizontal(|ui| {
            if ui.add_enabled(can, Button::new("Save as…")).clicked() {
                app.save_as();
            }
            if ui.add_enabled(can, Button::new("Export")).on_hover_text("Into the folder below").clicked() {
                app.export_default(false);
            }
            if ui
                .add_enabled(can, Button::new("Copy as file"))
                .on_hover_text("Paste it into the DAW")
                .clicked()
            {
                app.export_default(true);
            }
        });
        ui.label(RichText::new(format!("Folder: {}", app.files.folder.display())).weak());
    });
}

/// A numbered step with a heading.
/// The clip in a line, and its tracks, each with its colour and its *keep* switch.
fn legend(app: &mut App, ui: &mut Ui) {
    let project = &app.link.engine.shared.project;
    // Read under the project's lock, shown without it (a switch writes it back).
    let read = project.lock().clip.as_ref().map(|clip| {
        let line = format!(
            "{}: {} bars · {} notes · {:.0} BPM · {}",
            clip.meta.title,
            clip.bars(),
            clip.note_count(),
            clip.meta.tempo_bpm(),
            clip.meta.time_sig
        );
        let tracks: Vec<String> =
            clip.tracks.iter().map(|t| format!("{} ({})", t.name, t.notes.len())).collect();
        (line, tracks)
    });
    let Some((line, tracks)) = read else { return };
    let mut kept = project.lock().kept_tracks();
    let before = kept.clone();
    ui.label(line);
    let hint =
        "Keep this track: its new bars are the clip's own, looped, and the other tracks are drawn to fit \
                it (at the next Generate or Redraw).";
    // Two tracks a row, each with its switch beside its name.
    for (row, names) in tracks.chunks(2).enumerate() {
        ui.horizontal(|ui| {
            for (i, name) in names.iter().enumerate() {
                let k = 2 * row + i;
                ui.allocate_ui(egui::vec2(130.0, 18.0), |ui| {
                    ui.horizontal(|ui| {
                        paint::swatch(ui, paint::track_colour(k));
                        ui.label(name);
                    });
                });
                ui.checkbox(&mut kept[k], "keep").on_hover_text(hint);
                ui.add_space(8.0);
            }
        });
    }
    if kept.iter().all(|&k| k) && !kept.is_empty() {
        ui.label(
            RichText::new("Every track kept: nothing is drawn; keep fewer.")
                .color(Color32::from_rgb(240, 170, 90)),
        );
    }
    if kept != before {
        // At once, even while a job runs (a command would wait for it); the next job reads it.
        project.lock().kept = kept;
    }
}

fn section(ui: &mut Ui, number: &str, title: &str, add: impl FnOnce(&mut Ui)) {
    ui.add_space(2.0);
    ui.horizontal(|ui| {
        ui.label(RichText::new(number).size(18.0).strong().color(Color32::from_rgb(120, 170, 255)));
        ui.label(RichText::new(title).size(16.0).strong());
    });
    ui.indent(title, add);
    ui.separator();
}

/// A parameter with its name.
fn slider<P: Param>(ui: &mut Ui, label: &str, param: &P, setter: &ParamSetter) -> egui::Response {
    ui.horizontal(|ui| {
        ui.add_sized([84.0, 18.0], egui::Label::new(label));
        ui.add(ParamSlider::for_param(param, setter).with_width(130.0));
    })
    .response
}

/// A boolean parameter as a checkbox, set through the host.
fn toggle(ui: &mut Ui, label: &str, param: &BoolParam, setter: &ParamSetter) {
    let mut on = param.value();
    if ui.checkbox(&mut on, label).changed() {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, on);
        setter.end_set_parameter(param);
    }
}
