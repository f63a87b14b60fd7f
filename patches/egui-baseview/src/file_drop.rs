//! Files dragged onto the window (SinTra's patch of egui-baseview 0.9.0, which ignored them):
//! baseview's drag events become egui's `hovered_files` and `dropped_files`, and the drop is
//! accepted (`EventStatus::AcceptDrop`, the cursor's "copy" where the platform shows one) only
//! where some file passes the filter the app sets with [`accept_files`] (any file without one).

use std::path::{Path, PathBuf};

use baseview::{DropData, EventStatus};

/// The app's filter, kept in the egui context's memory.
#[derive(Clone, Copy)]
struct Filter(fn(&Path) -> bool);

/// Accept a drop only where `filter` passes one of its files (e.g. by extension); the app
/// reads what was dropped from `RawInput::dropped_files` as with any egui backend.
pub fn accept_files(ctx: &egui::Context, filter: fn(&Path) -> bool) {
    ctx.data_mut(|d| d.insert_temp(egui::Id::NULL, Filter(filter)));
}

/// The files of a drag.
pub(crate) fn files(data: &DropData) -> &[PathBuf] {
    match data {
        DropData::Files(files) => files,
        _ => &[],
    }
}

/// A file dropped on the window, as egui takes it.
#[derive(Debug)]
pub(crate) struct DroppedPath(pub PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| format!("{}: {e}", self.0.display()))
    }
}

/// The answer to a drag of `files` over the window of `ctx`.
pub(crate) fn status(ctx: &egui::Context, files: &[PathBuf]) -> EventStatus {
    let filter = ctx.data(|d| d.get_temp::<Filter>(egui::Id::NULL));
    let passes = |p: &PathBuf| filter.is_none_or(|Filter(f)| f(p));
    if files.iter().any(passes) {
        EventStatus::AcceptDrop(baseview::DropEffect::Copy)
    } else {
        EventStatus::Ignored
    }
}
