//! Running ffmpeg and ffprobe as child processes: `tokio::process`, `kill_on_drop`, a total
//! time budget, and for encoders a watchdog on ffmpeg's `-progress pipe:1` output.
//!
//! Invariant: no child outlives its call. A child that runs past its budget, or (with progress)
//! prints no progress for the stall time, is killed and reaped before the call returns; a
//! future dropped mid-run (the job aborted) kills it through `kill_on_drop`.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// How long a run may take.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// In all.
    pub total: Duration,
    /// Without a progress line (only with [`Stdout::Progress`]).
    pub stall: Duration,
}

/// What the child's standard output is.
#[derive(Debug, Clone, Copy)]
pub enum Stdout {
    /// Data to keep (ffprobe's JSON), at most this many bytes.
    Collect(usize),
    /// ffmpeg's `-progress pipe:1` key=value lines, read for progress.
    Progress,
}

/// How a run ended.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// The end of its standard error (at most [`STDERR_TAIL`] bytes): ffmpeg's summaries and
    /// its last error lines.
    pub stderr: String,
    /// The last progress position ffmpeg reported, in milliseconds of output.
    pub progress_ms: Option<i64>,
}

/// Why a run did not end by itself.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {program}: {source}")]
    Start {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} ran longer than {} s and was stopped", .budget.as_secs())]
    TimedOut { program: String, budget: Duration },
    #[error("{program} made no progress for {} s and was stopped", .stall.as_secs())]
    Stalled { program: String, stall: Duration },
    #[error("reading from {program}: {source}")]
    Io {
        program: String,
        source: std::io::Error,
    },
}

/// The most of standard error kept.
pub const STDERR_TAIL: usize = 64 * 1024;

/// Runs `program args…` (under `nice -n LEVEL` when `nice` is given) within `budget`.
pub async fn run(
    program: &Path,
    args: &[OsString],
    nice: Option<(&Path, i32)>,
    stdout: Stdout,
    budget: Budget,
) -> Result<Ran, RunError> {
    run_watched(program, args, nice, stdout, budget, None).await
}

/// [`run`], sending each progress position (ms of output, with [`Stdout::Progress`]) on
/// `progress` as ffmpeg reports it.
pub async fn run_watched(
    program: &Path,
    args: &[OsString],
    nice: Option<(&Path, i32)>,
    stdout: Stdout,
    budget: Budget,
    progress: Option<tokio::sync::watch::Sender<Option<i64>>>,
) -> Result<Ran, RunError> {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.display().to_string());
    let mut cmd = match nice {
        Some((nice, level)) => {
            let mut c = tokio::process::Command::new(nice);
            c.arg("-n").arg(level.to_string()).arg(program);
            c
        }
        None => tokio::process::Command::new(program),
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| RunError::Start {
        program: name.clone(),
        source,
    })?;
    let (Some(out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill().await;
        return Err(RunError::Io {
            program: name,
            source: std::io::Error::other("no pipes"),
        });
    };
    // Standard error is drained on a task of its own: a hung child keeps it open, and the
    // watchdog must not wait for it to close before killing.
    let mut stderr_task = tokio::spawn(async move {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match err.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > 2 * STDERR_TAIL {
                        tail.drain(..tail.len() - STDERR_TAIL);
                    }
                }
            }
        }
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
        String::from_utf8_lossy(&tail).into_owned()
    });
    let stdout_task = async move {
        match stdout {
            Stdout::Collect(max) => {
                let mut data = Vec::new();
                let mut limited = out.take(max as u64);
                limited.read_to_end(&mut data).await.map_err(Some)?;
                // Past the limit the rest is read and dropped, so the child is never blocked
                // on a full pipe (the truncated data then fails to parse).
                tokio::io::copy(&mut limited.into_inner(), &mut tokio::io::sink())
                    .await
                    .map_err(Some)?;
                Ok((data, None))
            }
            Stdout::Progress => {
                let mut lines = BufReader::new(out).lines();
                let mut at: Option<i64> = None;
                loop {
                    match tokio::time::timeout(budget.stall, lines.next_line()).await {
                        Err(_) => return Err(None),
                        Ok(Err(e)) => return Err(Some(e)),
                        Ok(Ok(None)) => return Ok((Vec::new(), at)),
                        Ok(Ok(Some(line))) => {
                            // `out_time_us` (and, despite its name, `out_time_ms`) are
                            // microseconds; "N/A" before the first frame.
                            if let Some(v) = line.strip_prefix("out_time_us=")
                                && let Ok(us) = v.trim().parse::<i64>()
                            {
                                at = Some(us / 1000);
                                if let Some(p) = &progress {
                                    let _ = p.send(at);
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let deadline = tokio::time::Instant::now() + budget.total;
    let timed_out = |name: String| RunError::TimedOut {
        program: name,
        budget: budget.total,
    };
    let out = match tokio::time::timeout_at(deadline, stdout_task).await {
        Ok(out) => out,
        Err(_) => {
            let _ = child.kill().await;
            stderr_task.abort();
            return Err(timed_out(name));
        }
    };
    let (stdout, progress_ms) = match out {
        Ok(v) => v,
        Err(e) => {
            let _ = child.kill().await;
            stderr_task.abort();
            return Err(match e {
                None => RunError::Stalled {
                    program: name,
                    stall: budget.stall,
                },
                Some(source) => RunError::Io {
                    program: name,
                    source,
                },
            });
        }
    };
    let stderr = match tokio::time::timeout_at(deadline, &mut stderr_task).await {
        Ok(Ok(tail)) => tail,
        Ok(Err(_)) => String::new(),
        Err(_) => {
            let _ = child.kill().await;
            stderr_task.abort();
            return Err(timed_out(name));
        }
    };
    // Both pipes are closed: the child has ended or is ending.
    let status = match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => {
            return Err(RunError::Io {
                program: name,
                source,
            });
        }
        Err(_) => {
            let _ = child.kill().await;
            return Err(timed_out(name));
        }
    };
    Ok(Ran {
        status,
        stdout,
        stderr,
        progress_ms,
    })
}

/// The last `n` non-empty lines of `text`, joined by " / ", at most `max` characters (from the
/// end).
pub fn last_lines(text: &str, n: usize, max: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = lines[lines.len().saturating_sub(n)..].join(" / ");
    let count = joined.chars().count();
    if count <= max {
        joined
    } else {
        joined.chars().skip(count - max).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child that prints no progress and keeps standard error open is stopped for stalling
    /// after the stall time, not left to run out its total budget.
    #[tokio::test]
    async fn a_silent_child_is_stopped_for_stalling() {
        let r = run(
            Path::new("sleep"),
            &[OsString::from("30")],
            None,
            Stdout::Progress,
            Budget {
                total: Duration::from_secs(20),
                stall: Duration::from_millis(500),
            },
        )
        .await;
        assert!(matches!(r, Err(RunError::Stalled { .. })), "{r:?}");
    }

    #[test]
    fn last_lines_keeps_the_end() {
        assert_eq!(last_lines("a\n\nb\nc\n", 2, 100), "b / c");
        assert_eq!(last_lines("abcdef", 1, 3), "def");
        assert_eq!(last_lines("", 3, 10), "");
    }
}
