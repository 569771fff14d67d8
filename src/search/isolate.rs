//! Text extraction where a hostile file cannot take the service down: in a child process of the
//! same executable (`lectern extract-text FORMAT`, hidden from the help), which first lowers its
//! own address-space limit to [`CHILD_ADDRESS_SPACE`], reads the file on standard input and
//! writes the segments as JSON on standard output. The parent kills it after
//! [`CHILD_TIME_LIMIT`].
//!
//! [`extract::extract`] bounds what it knows to be costly (input, inflated bytes, tokens decoded,
//! output); the child is for what nobody has found yet. A child that dies (an allocation over
//! its limit aborts it), is killed, or answers nonsense means the file is over the budget, and
//! its extraction is recorded as failed with that reason; the service itself only ever holds a
//! chunk of the file at a time (streamed from storage into the child) and the (bounded) reply.
//!
//! Invariant: the service never runs a parser on stored bytes in its own process, except where
//! the running executable is not `lectern` (the integration tests' harness runs the application
//! inside the test binary, which has no `extract-text` subcommand): there the extraction runs
//! in process, on a blocking thread, with the bounds of [`extract::extract`] alone.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use crate::storage::ObjectBody;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::extract::{self, Extracted, Format};

/// The name of the hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "extract-text";
/// The child's address-space limit (`RLIMIT_AS`). It counts the mapped executable and the
/// allocator's reservations as well as the heap; [`extract::extract`] needs at most the file
/// (64 MiB), what it inflates (64 MiB) and the tokens it decodes at once (a few hundred MiB).
pub const CHILD_ADDRESS_SPACE: u64 = 1536 * 1024 * 1024;
/// How long the child may take before it is killed.
pub const CHILD_TIME_LIMIT: Duration = Duration::from_secs(60);
/// The largest reply read from the child: the text [`extract::MAX_OUTPUT_BYTES`] with JSON's
/// escapes (`\u001f` is six bytes for one), plus the numbers of [`extract::MAX_SEGMENTS`].
const MAX_REPLY_BYTES: usize = 6 * extract::MAX_OUTPUT_BYTES + 100 * extract::MAX_SEGMENTS;

/// What the child writes on standard output.
#[derive(serde::Serialize, serde::Deserialize)]
enum Reply {
    Segments(Extracted),
    Failed(String),
}

/// Why no segments came back.
#[derive(Debug)]
pub enum Failure {
    /// The file cannot be read for text, or is over the budget: recorded as failed, with this
    /// reason for editors to see.
    File(String),
    /// The child could not be started (the executable replaced during an upgrade, no processes
    /// left): nothing is wrong with the file, so it is tried again later.
    Unavailable(String),
}

/// Where extraction runs.
#[derive(Debug)]
pub enum Extractor {
    /// In a child process running this executable.
    Child(PathBuf),
    /// On a blocking thread of this process (see the module documentation for when).
    InProcess,
}

impl Extractor {
    /// The extractor of this process: a child when the running executable is `lectern`.
    pub fn for_this_process() -> &'static Extractor {
        static EXTRACTOR: OnceLock<Extractor> = OnceLock::new();
        EXTRACTOR.get_or_init(|| {
            let exe = std::env::current_exe().ok();
            let is_lectern = exe
                .as_deref()
                .and_then(Path::file_stem)
                .is_some_and(|stem| stem == "lectern");
            match exe {
                Some(exe) if is_lectern => Extractor::Child(exe),
                _ => {
                    tracing::warn!(
                        exe = ?exe,
                        "not running as the lectern binary: text is extracted in process"
                    );
                    Extractor::InProcess
                }
            }
        })
    }

    /// Extracts the text of the file `body` streams, see [`extract::extract`]. The stream is
    /// read with a bounded buffer (one chunk at a time into the child's standard input) and at
    /// most `format.max_input_bytes() + 1` bytes of it, and the whole — reading included —
    /// must finish within [`CHILD_TIME_LIMIT`]. A stream that fails (storage went away) is
    /// [`Failure::Unavailable`]: nothing is wrong with the file.
    pub async fn extract(&self, format: Format, body: ObjectBody) -> Result<Extracted, Failure> {
        let deadline = tokio::time::Instant::now() + CHILD_TIME_LIMIT;
        match self {
            Extractor::InProcess => {
                // The parser needs the file in one piece; at most the format's limit (and a byte
                // to tell that it is over it) is held.
                let limit = format.max_input_bytes() + 1;
                let collect = async {
                    let mut bytes = Vec::new();
                    let mut body = body;
                    while let Some(chunk) = body.next().await {
                        let chunk = chunk.map_err(|e| {
                            Failure::Unavailable(format!("cannot read the file: {e}"))
                        })?;
                        let room = (limit - bytes.len() as u64) as usize;
                        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if bytes.len() as u64 >= limit {
                            break;
                        }
                    }
                    Ok(bytes)
                };
                let bytes = tokio::time::timeout_at(deadline, collect)
                    .await
                    .map_err(|_| over_time())??;
                let run =
                    tokio::task::spawn_blocking(move || extract::extract_noting(format, &bytes));
                tokio::time::timeout_at(deadline, run)
                    .await
                    .map_err(|_| over_time())?
                    .map_err(|e| Failure::File(e.to_string()))?
                    .map_err(|e| Failure::File(e.to_string()))
            }
            Extractor::Child(program) => in_child(program, format, body, deadline).await,
        }
    }
}

fn over_time() -> Failure {
    Failure::File(format!(
        "extracting the text took longer than {} s, the most allowed",
        CHILD_TIME_LIMIT.as_secs()
    ))
}

async fn in_child(
    program: &Path,
    format: Format,
    mut body: ObjectBody,
    deadline: tokio::time::Instant,
) -> Result<Extracted, Failure> {
    // No environment: the child needs none, and the service's holds secrets (the database URL)
    // that a process parsing hostile bytes has no business seeing.
    let mut child = tokio::process::Command::new(program)
        .arg(SUBCOMMAND)
        .arg(format.as_str())
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Unavailable(format!("cannot start {}: {e}", program.display())))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(Failure::Unavailable("the child's pipes are missing".into()));
    };
    // Written while the reply is read, so neither side can wait on a full pipe. A child that
    // stops reading early (it died, or has read all it takes) makes the write fail; its exit
    // status and reply say why. Only a failing source is reported from here.
    let limit = format.max_input_bytes() + 1;
    let write = async move {
        let mut sent: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| format!("cannot read the file: {e}"))?;
            let take = chunk.len().min((limit - sent) as usize);
            if stdin.write_all(&chunk[..take]).await.is_err() {
                break;
            }
            sent += take as u64;
            if sent >= limit {
                break;
            }
        }
        drop(stdin);
        Ok::<(), String>(())
    };
    let read = async {
        let mut reply = Vec::new();
        let read = stdout
            .take(MAX_REPLY_BYTES as u64 + 1)
            .read_to_end(&mut reply)
            .await;
        read.map(|_| reply)
    };
    let Ok((written, reply)) =
        tokio::time::timeout_at(deadline, async { tokio::join!(write, read) }).await
    else {
        // Dropping `child` kills it.
        return Err(over_time());
    };
    if let Err(why) = written {
        return Err(Failure::Unavailable(why));
    }
    let reply = reply.map_err(|e| Failure::File(format!("cannot read the child's reply: {e}")))?;
    if reply.len() > MAX_REPLY_BYTES {
        return Err(Failure::File(format!(
            "the extracted text is larger than the {MAX_REPLY_BYTES} bytes accepted"
        )));
    }
    let Ok(status) = tokio::time::timeout_at(deadline, child.wait()).await else {
        return Err(over_time());
    };
    let status =
        status.map_err(|e| Failure::Unavailable(format!("cannot wait for the child: {e}")))?;
    if !status.success() {
        return Err(Failure::File(format!(
            "the extraction stopped before it finished ({status}), most likely over its \
             budget of {} MiB of memory",
            CHILD_ADDRESS_SPACE >> 20
        )));
    }
    match serde_json::from_slice(&reply) {
        Ok(Reply::Segments(extracted)) => Ok(extracted),
        Ok(Reply::Failed(reason)) => Err(Failure::File(reason)),
        Err(e) => Err(Failure::File(format!(
            "the extraction answered nonsense: {e}"
        ))),
    }
}

/// The child's side, `lectern extract-text FORMAT`: lowers its address-space limit, reads the
/// file from standard input, writes a [`Reply`] to standard output. Returns the exit code: 0
/// whenever a reply was written, failed extractions included.
pub fn run_child(format: &str) -> i32 {
    if let Err(e) = rlimit::setrlimit(
        rlimit::Resource::AS,
        CHILD_ADDRESS_SPACE,
        CHILD_ADDRESS_SPACE,
    ) {
        eprintln!("lectern {SUBCOMMAND}: cannot limit its memory: {e}");
        return 2;
    }
    let reply = match Format::from_name(format) {
        None => Reply::Failed(format!("unknown format {format:?}")),
        Some(format) => {
            let mut bytes = Vec::new();
            let read = std::io::stdin()
                .lock()
                .take(format.max_input_bytes() + 1)
                .read_to_end(&mut bytes);
            match read {
                Err(e) => Reply::Failed(format!("cannot read the file: {e}")),
                Ok(_) => match extract::extract_noting(format, &bytes) {
                    Ok(extracted) => Reply::Segments(extracted),
                    Err(e) => Reply::Failed(e.to_string()),
                },
            }
        }
    };
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &reply)
        .map_err(std::io::Error::from)
        .and_then(|()| out.flush());
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lectern {SUBCOMMAND}: cannot write the reply: {e}");
            3
        }
    }
}
