//! Errors a user can cause (bad files, bad options); each names what went wrong in plain words.

use std::path::{Path, PathBuf};

/// An error tied to the file it came from; the CLI prints it as `sintra: <file>: <reason>`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct FileError {
    /// The file the problem is in.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl FileError {
    /// An error about `path`.
    pub fn new(path: &Path, reason: impl Into<String>) -> Self {
        Self { path: path.to_path_buf(), reason: reason.into() }
    }
}
