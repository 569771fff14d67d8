//! The external programs media processing drives — `ffmpeg`, `ffprobe` (Debian's `ffmpeg`
//! package) and `pdftoppm` (`poppler-utils`) — found and asked for their versions once, at
//! start-up.
//!
//! Invariant: a missing program is not an error of the service: uploads and everything else
//! keep working, readiness lists the media component as unavailable (the service stays ready),
//! and media jobs wait (see `media::Media`) until a restart finds the programs.

use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Where the programs are: a bare name is looked up in `PATH`.
#[derive(Debug, Clone)]
pub struct ToolPaths {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    pub pdftoppm: PathBuf,
}

impl Default for ToolPaths {
    fn default() -> Self {
        Self {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            pdftoppm: "pdftoppm".into(),
        }
    }
}

/// One program as found at start-up.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub path: String,
    /// Its version, when it ran and said one; `None` when it is missing or broken.
    pub version: Option<String>,
    /// Why it is not usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Tool {
    pub fn usable(&self) -> bool {
        self.version.is_some()
    }
}

/// The programs as found at start-up.
#[derive(Debug, Clone, Serialize)]
pub struct Tools {
    pub ffmpeg: Tool,
    pub ffprobe: Tool,
    pub pdftoppm: Tool,
    /// `nice`, to run encoders at a lower priority than the service; `None` when missing (they
    /// then run at the service's priority).
    #[serde(skip)]
    pub nice: Option<PathBuf>,
}

/// How long a program may take to print its version.
const VERSION_BUDGET: Duration = Duration::from_secs(10);

impl Tools {
    /// Runs each program once for its version.
    pub async fn detect(paths: &ToolPaths) -> Self {
        let (ffmpeg, ffprobe, pdftoppm, nice) = tokio::join!(
            version(&paths.ffmpeg, "-version", "ffmpeg version "),
            version(&paths.ffprobe, "-version", "ffprobe version "),
            version(&paths.pdftoppm, "-v", "pdftoppm version "),
            version(std::path::Path::new("nice"), "--version", ""),
        );
        let tools = Self {
            ffmpeg,
            ffprobe,
            pdftoppm,
            nice: nice.usable().then(|| PathBuf::from("nice")),
        };
        match tools.unavailable() {
            None => tracing::info!(
                ffmpeg = tools.ffmpeg.version.as_deref(),
                ffprobe = tools.ffprobe.version.as_deref(),
                pdftoppm = tools.pdftoppm.version.as_deref(),
                "media tools found"
            ),
            Some(why) => tracing::warn!(
                "media processing is UNAVAILABLE: {why}; uploads still work and media jobs wait"
            ),
        }
        tools
    }

    /// Why audio and video cannot be processed; `None` when they can.
    pub fn unavailable(&self) -> Option<String> {
        let missing: Vec<String> = [("ffmpeg", &self.ffmpeg), ("ffprobe", &self.ffprobe)]
            .into_iter()
            .filter(|(_, t)| !t.usable())
            .map(|(name, t)| {
                format!(
                    "{name} ({}): {}",
                    t.path,
                    t.error.as_deref().unwrap_or("unusable")
                )
            })
            .collect();
        (!missing.is_empty()).then(|| missing.join("; "))
    }
}

/// Runs `program flag` and reads its version from the first line that starts with `prefix`
/// (on standard output or error: pdftoppm prints it on its error stream).
async fn version(program: &std::path::Path, flag: &str, prefix: &str) -> Tool {
    let path = program.display().to_string();
    let run = tokio::process::Command::new(program)
        .arg(flag)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(VERSION_BUDGET, run).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return Tool {
                path,
                version: None,
                error: Some(if e.kind() == std::io::ErrorKind::NotFound {
                    "not found".into()
                } else {
                    format!("cannot run: {e}")
                }),
            };
        }
        Err(_) => {
            return Tool {
                path,
                version: None,
                error: Some(format!(
                    "did not answer within {} s",
                    VERSION_BUDGET.as_secs()
                )),
            };
        }
    };
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let found = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        .filter(|v| !v.is_empty() || prefix.is_empty());
    match found {
        Some(v) if output.status.success() || !prefix.is_empty() => Tool {
            path,
            version: Some(if v.is_empty() { "present".into() } else { v }),
            error: None,
        },
        _ => Tool {
            path,
            version: None,
            error: Some(format!(
                "printed no version ({}): {}",
                output.status,
                text.trim().chars().take(200).collect::<String>()
            )),
        },
    }
}
