//! `cargo xtask screenshots`: the standalone editor under Xvfb, one PNG per main state.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat, MapState};

/// The virtual display.
const DISPLAY: &str = ":77";
/// The clip the trained and generated states learn.
const CLIP: &str = "assets/bwv227-1_4track_ts44.mid";
/// Longest wait for a state (training in a release build takes seconds).
const PATIENCE: Duration = Duration::from_secs(300);

/// One screenshot: its name, the standalone's options, the log line that says it is there,
/// and how long to let the window paint after it.
struct Shot {
    name: &'static str,
    args: &'static [&'static str],
    ready: Option<&'static str>,
    settle: Duration,
}

const SHOTS: [Shot; 5] = [
    Shot { name: "empty", args: &[], ready: None, settle: Duration::from_secs(3) },
    // Mid-training: a second into the second stage, the first stage's curve complete.
    Shot {
        name: "training",
        args: &["--open", CLIP, "--no-generate"],
        ready: Some("SinTra: training stage 2 of 3"),
        settle: Duration::from_secs(1),
    },
    Shot {
        name: "trained",
        args: &["--open", CLIP, "--no-generate"],
        ready: Some("SinTra: trained in"),
        settle: Duration::from_secs(3),
    },
    Shot {
        name: "generated",
        args: &["--open", CLIP],
        ready: Some("SinTra: generated"),
        settle: Duration::from_secs(3),
    },
    // A producer's controls: the bass kept, bars 5-8 selected for a redraw, each generated
    // bar's closeness to the clip on the ruler.
    Shot {
        name: "producer",
        args: &["--open", CLIP, "--keep", "4", "--select", "5:8"],
        ready: Some("SinTra: generated"),
        settle: Duration::from_secs(3),
    },
];

/// Kills a child process when dropped, so no Xvfb or editor outlives an error.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace")?.to_path_buf();
    let build = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-p",
            "sintra",
            "--features",
            "standalone",
            "--bin",
            "sintra-standalone",
        ])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !build.success() {
        return Err("building the standalone failed".into());
    }
    let exe = root.join("target/release/sintra-standalone");
    let out = root.join("target/screenshots");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;

    let xvfb = Command::new("Xvfb")
        .args([DISPLAY, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("Xvfb: {e} (Debian: apt-get install xvfb)"))?;
    let _xvfb = Reaper(xvfb);
    let start = Instant::now();
    while x11rb::connect(Some(DISPLAY)).is_err() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!("Xvfb did not open display {DISPLAY}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for shot in &SHOTS {
        let path = out.join(format!("{}.png", shot.name));
        take(&root, &exe, shot, &path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Starts the standalone, waits for the state, saves its window.
fn take(root: &Path, exe: &Path, shot: &Shot, path: &Path) -> Result<(), String> {
    let mut child = Command::new(exe)
        .args(["--backend", "dummy"])
        .args(shot.args)
        .current_dir(root)
        .env("DISPLAY", DISPLAY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let _child = Reaper(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("  [{}] {line}", tx.send(line.clone()).map_or("gone", |_| "editor"));
        }
    });
    let deadline = Instant::now() + PATIENCE;
    if let Some(marker) = shot.ready {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(marker) => break,
                Ok(_) => {}
                Err(_) => return Err(format!("{}: the editor never logged “{marker}”", shot.name)),
            }
        }
    }
    // Time to map the window and paint the state.
    std::thread::sleep(shot.settle);
    capture(path)
}

/// Saves the largest window on the display as a PNG.
fn capture(path: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("X11: {e}");
    let (conn, screen) = x11rb::connect(Some(DISPLAY)).map_err(|e| err(&e))?;
    let root = conn.setup().roots[screen].root;
    let mut best = None;
    for w in conn.query_tree(root).map_err(|e| err(&e))?.reply().map_err(|e| err(&e))?.children {
        let attrs = conn.get_window_attributes(w).map_err(|e| err(&e))?.reply().map_err(|e| err(&e))?;
        let g = conn.get_geometry(w).map_err(|e| err(&e))?.reply().map_err(|e| err(&e))?;
        let area = g.width as u32 * g.height as u32;
        if attrs.map_state == MapState::VIEWABLE && best.is_none_or(|(a, _)| area > a) {
            best = Some((area, g));
        }
    }
    let (_, g) = best.ok_or("no window was shown")?;
    let image = conn
        .get_image(ImageFormat::Z_PIXMAP, root, g.x, g.y, g.width, g.height, !0)
        .map_err(|e| err(&e))?
        .reply()
        .map_err(|e| err(&e))?;
    // Depth 24 in 32-bit little-endian pixels: B, G, R, unused.
    let rgb: Vec<u8> = image.data.chunks_exact(4).flat_map(|p| [p[2], p[1], p[0]]).collect();
    // A window that never painted is one flat colour; the editor has hundreds.
    let colours: std::collections::HashSet<&[u8]> = rgb.chunks_exact(3).collect();
    if colours.len() < 50 {
        return Err(format!(
            "{}: the window shows {} colours: it did not paint",
            path.display(),
            colours.len()
        ));
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut png = png::Encoder::new(std::io::BufWriter::new(file), g.width as u32, g.height as u32);
    png.set_color(png::ColorType::Rgb);
    png.set_depth(png::BitDepth::Eight);
    let mut writer = png.write_header().map_err(|e| format!("{}: {e}", path.display()))?;
    writer.write_image_data(&rgb).map_err(|e| format!("{}: {e}", path.display()))
}
