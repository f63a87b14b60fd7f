//! The standalone editor under Xvfb, shared by `screenshots` and `drag-and-drop`: the build, the
//! virtual display, the editor process and its log lines, and finding its window.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, MapState, Rectangle, Window};
use x11rb::rust_connection::RustConnection;

/// Kills a child process when dropped, so no Xvfb or editor outlives an error.
pub struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The workspace root.
pub fn root() -> Result<PathBuf, String> {
    Ok(Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace")?.to_path_buf())
}

/// Builds release binaries of the plugin crate (`sintra-standalone`) or of the core (`sintra`).
pub fn build(root: &Path, bin: &str) -> Result<PathBuf, String> {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--release", "--bin", bin]).current_dir(root);
    if bin == "sintra-standalone" {
        cargo.args(["-p", "sintra", "--features", "standalone"]);
    }
    if !cargo.status().map_err(|e| format!("cargo: {e}"))?.success() {
        return Err(format!("building {bin} failed"));
    }
    Ok(root.join("target/release").join(bin))
}

/// Starts Xvfb on `display` and waits until it answers.
pub fn xvfb(display: &str) -> Result<Reaper, String> {
    let xvfb = Command::new("Xvfb")
        .args([display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("Xvfb: {e} (Debian: apt-get install xvfb)"))?;
    let reaper = Reaper(xvfb);
    let start = Instant::now();
    while x11rb::connect(Some(display)).is_err() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("Xvfb did not open display {display}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(reaper)
}

/// The standalone editor, running, and its log lines.
pub struct Editor {
    /// Its log (standard error), line by line.
    lines: mpsc::Receiver<String>,
    /// The process, killed with this.
    _child: Reaper,
}

impl Editor {
    /// Starts `exe` with the dummy audio backend and `args` on `display`.
    pub fn start(root: &Path, exe: &Path, args: &[&str], display: &str) -> Result<Self, String> {
        let mut child = Command::new(exe)
            .args(["--backend", "dummy"])
            .args(args)
            .current_dir(root)
            .env("DISPLAY", display)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let child = Reaper(child);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("  [{}] {line}", tx.send(line.clone()).map_or("gone", |_| "editor"));
            }
        });
        Ok(Self { lines, _child: child })
    }

    /// Waits up to `patience` for a log line containing `marker`, and returns it.
    pub fn wait_for(&self, marker: &str, patience: Duration) -> Result<String, String> {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(marker) => return Ok(line),
                Ok(_) => {}
                Err(_) => return Err(format!("the editor never logged “{marker}”")),
            }
        }
    }

    /// The lines logged so far that contain `marker`.
    pub fn logged(&self, marker: &str) -> Vec<String> {
        self.lines.try_iter().filter(|l| l.contains(marker)).collect()
    }
}

/// An X11 error in words.
pub fn x11(e: impl std::fmt::Display) -> String {
    format!("X11: {e}")
}

/// The largest window shown on the display (the editor's), and where it is on the screen.
pub fn largest_window(conn: &RustConnection, screen: usize) -> Result<(Window, Rectangle), String> {
    let root = conn.setup().roots[screen].root;
    let mut best: Option<(u32, Window, Rectangle)> = None;
    for w in conn.query_tree(root).map_err(x11)?.reply().map_err(x11)?.children {
        let attrs = conn.get_window_attributes(w).map_err(x11)?.reply().map_err(x11)?;
        let g = conn.get_geometry(w).map_err(x11)?.reply().map_err(x11)?;
        let area = g.width as u32 * g.height as u32;
        if attrs.map_state == MapState::VIEWABLE && best.is_none_or(|(a, ..)| area > a) {
            best = Some((area, w, Rectangle { x: g.x, y: g.y, width: g.width, height: g.height }));
        }
    }
    best.map(|(_, w, r)| (w, r)).ok_or_else(|| "no window was shown".into())
}

/// Waits up to ten seconds for a window to be shown on `display`.
pub fn shown_window(display: &str) -> Result<(Window, Rectangle), String> {
    let (conn, screen) = x11rb::connect(Some(display)).map_err(x11)?;
    let start = Instant::now();
    loop {
        match largest_window(&conn, screen) {
            Ok(found) => return Ok(found),
            Err(e) if start.elapsed() > Duration::from_secs(10) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
