//! Machine transcripts: Whisper run offline on CPU by the sidecar (`transcribe.py`, faster-whisper)
//! over a 16 kHz mono WAV file ffmpeg makes from the master, turned into subtitle-sized cues in
//! Simplified characters, stored as a WebVTT rendition (`transcript_zh`) and indexed for search
//! like a subtitle's cues (unless the lesson has an editor's subtitle, which replaces it).
//!
//! *Rationale (a sidecar, not an engine in the process):* running CTranslate2 inside the binary
//! (the `ct2rs` crate) means building CTranslate2 with cmake and a C++ toolchain, too slow for CI
//! on two cores and a burden on every build; a child process keeps the default build free of
//! C++, isolates a crash (a fault in the engine ends one job, which is retried, not the service),
//! and gives its memory (a few hundred MB while decoding) back to the system when it exits.
//!
//! *Rationale (Simplified characters in Rust):* Whisper writes Chinese in traditional characters
//! now and then; the cues are converted with `fast2s`, the converter the search analyzer already
//! folds text with, so what is stored and what is indexed agree character for character.
//!
//! Invariants:
//! - "No speech" and "no audio" are successes with an empty transcript (a WebVTT file with no
//!   cue), never failures; a silent or audio-less master is not even decoded.
//! - Every run has a time limit (a multiple of the duration plus a base, see
//!   [`super::TranscribeSettings`]) and the watchdog of [`super::run`]: a run past it is killed
//!   and the job retried.
//! - Without the engine (no model installed), the job waits; it is not failed.

use super::models::SCRIPT;
use super::run::{self, Budget, RunError, Stdout};
use super::{Media, Prepared, Step, os, reason_of, storage_failed};
use crate::db::media::NewRendition;
use crate::db::texts::NewSegment;
use crate::domain::media::RenditionKind;
use crate::domain::subtitle::{Cue, to_webvtt};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

const TRANSCRIPT: RenditionKind = RenditionKind::TranscriptZh;

/// The longest cue, in characters (letters, digits and ideographs; punctuation not counted).
pub const MAX_CUE_CHARS: usize = 20;
/// The longest cue, in milliseconds.
pub const MAX_CUE_MS: i64 = 7_000;
/// A pause between two words at least this long ends a cue.
pub const PAUSE_MS: i64 = 700;
/// A clause (ending in a comma) this long ends a cue.
const MIN_CLAUSE_CHARS: usize = 8;

/// What the sidecar writes.
#[derive(Debug, Deserialize)]
pub struct Recognised {
    #[serde(default)]
    pub segments: Vec<Segment>,
}

/// One stretch Whisper decoded, with its words.
#[derive(Debug, Clone, Deserialize)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    #[serde(default)]
    pub words: Vec<Word>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Word {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '!' | '?' | '；' | ';' | '…')
}

fn is_clause_end(c: char) -> bool {
    matches!(c, '，' | ',' | '、' | '：' | ':')
}

/// The characters of `s` that count towards a cue's length.
fn visible_len(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphanumeric()).count()
}

/// Cuts recognised segments into subtitle-sized cues: a cue ends at a sentence's end, at a
/// clause's end once it is long enough, at a pause between words, and before it would pass
/// [`MAX_CUE_CHARS`] characters or [`MAX_CUE_MS`]; a segment's end always ends one. Segments
/// without word times are split at their punctuation, times shared out by characters. Text is
/// converted to Simplified characters; cues with no letter or digit are dropped.
pub fn cues(segments: &[Segment]) -> Vec<Cue> {
    let mut out = Vec::new();
    for s in segments {
        let words: Vec<Word> = if s.words.is_empty() {
            spread(s)
        } else {
            s.words.clone()
        };
        let mut cur: Option<Cue> = None;
        for w in words {
            let text = w.text.as_str();
            if let Some(c) = &cur {
                let too_long = visible_len(&c.text) + visible_len(text) > MAX_CUE_CHARS;
                let too_late = w.end_ms - c.start_ms > MAX_CUE_MS;
                let paused = w.start_ms - c.end_ms >= PAUSE_MS;
                if too_long || too_late || paused {
                    push(&mut out, cur.take());
                }
            }
            let c = cur.get_or_insert_with(|| Cue {
                start_ms: w.start_ms,
                end_ms: w.end_ms,
                text: String::new(),
            });
            c.text.push_str(text);
            c.end_ms = c.end_ms.max(w.end_ms);
            let last = text.trim_end().chars().last();
            if last.is_some_and(is_sentence_end)
                || (last.is_some_and(is_clause_end) && visible_len(&c.text) >= MIN_CLAUSE_CHARS)
            {
                push(&mut out, cur.take());
            }
        }
        push(&mut out, cur);
    }
    out
}

fn push(out: &mut Vec<Cue>, cue: Option<Cue>) {
    let Some(mut c) = cue else { return };
    let text = fast2s::convert(
        c.text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .trim(),
    );
    // A trailing comma is noise on a subtitle line; a full stop or question mark is kept.
    let text = text.trim_end_matches(is_clause_end).trim().to_owned();
    if visible_len(&text) == 0 {
        return;
    }
    c.text = text;
    if c.end_ms <= c.start_ms {
        c.end_ms = c.start_ms + 1;
    }
    out.push(c);
}

/// A segment without word times as pseudo-words: its clauses, times shared out by length.
fn spread(s: &Segment) -> Vec<Word> {
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    for ch in s.text.chars() {
        cur.push(ch);
        if is_sentence_end(ch) || is_clause_end(ch) {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.trim().is_empty() {
        pieces.push(cur);
    }
    let total: usize = pieces.iter().map(|p| visible_len(p).max(1)).sum();
    let span = (s.end_ms - s.start_ms).max(0);
    let mut at = s.start_ms;
    let mut seen = 0usize;
    pieces
        .into_iter()
        .map(|p| {
            seen += visible_len(&p).max(1);
            let end = s.start_ms + span * seen as i64 / total.max(1) as i64;
            let w = Word {
                start_ms: at,
                end_ms: end,
                text: p,
            };
            at = end;
            w
        })
        .collect()
}

impl Media {
    /// Makes the machine transcript of a content: empty at once for one with no sound; else
    /// ffmpeg writes 16 kHz mono WAV, the sidecar recognises it within the time limit, and the
    /// cues are stored (WebVTT) and recorded with their text for search.
    pub async fn transcript(&self, job_payload: &str) -> Step {
        let Prepared {
            sha256,
            probe,
            url,
            scratch,
            ..
        } = match self.prepare(job_payload, TRANSCRIPT, |_| true).await {
            Ok(p) => p,
            Err(step) => return step,
        };
        match self.db.wants_transcript(&sha256).await {
            Ok(true) => {}
            // Every lesson holding it has an editor's subtitle by now: nothing to do.
            Ok(false) => return Step::Done,
            Err(e) => return Step::Retry(format!("database: {e}")),
        }
        if !probe.has_audio || probe.silent {
            return self
                .store_transcript(&sha256, &[], &scratch.file("t.vtt"))
                .await;
        }
        let engine = &self.transcriber;
        if let Some(why) = &engine.unavailable {
            return Step::Wait {
                at: crate::db::now_ms() + 60_000,
                why: Some(format!("waiting: machine transcripts are off: {why}")),
            };
        }
        let wav = scratch.file("audio.wav");
        let mut args = self.ffmpeg_input(&url, None);
        args.extend(os(&[
            "-map",
            "0:a:0",
            "-vn",
            "-sn",
            "-dn",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            "-y",
        ]));
        args.push(wav.clone().into());
        let ran = match self.encode(&args, self.settings.encode_timeout).await {
            Ok(r) => r,
            Err(e) => return Step::Retry(e.to_string()),
        };
        if !ran.status.success() {
            if storage_failed(&ran.stderr) {
                return Step::Retry(reason_of(&ran, &url, "ffmpeg could not read from storage"));
            }
            // The probe decoded this audio; a failure now is not the file's: retried.
            return Step::Retry(reason_of(&ran, &url, "ffmpeg could not decode the audio"));
        }
        let script = scratch.file("transcribe.py");
        let out = scratch.file("transcript.json");
        if let Err(e) = tokio::fs::write(&script, SCRIPT).await {
            return Step::Retry(format!("cannot write the sidecar program: {e}"));
        }
        let limit = self.transcript_limit(probe.duration_ms);
        let mut args = vec![script.into_os_string()];
        args.extend(os(&["--model"]));
        args.push(engine.model.clone().into_os_string());
        args.extend(os(&["--audio"]));
        args.push(wav.into_os_string());
        args.extend(os(&["--out"]));
        args.push(out.clone().into_os_string());
        args.extend(os(&[
            "--language",
            "zh",
            "--beam-size",
            &self.settings.transcribe.beam_size.to_string(),
            "--threads",
            &self.settings.transcribe.threads.to_string(),
        ]));
        let ran = run::run(
            &engine.python,
            &args,
            self.nice(),
            Stdout::Progress,
            Budget {
                total: limit,
                // Voice detection over a long file runs before the first segment is reported.
                stall: self.settings.stall.max(Duration::from_secs(300)),
            },
        )
        .await;
        let ran = match ran {
            Ok(r) => r,
            Err(RunError::TimedOut { .. }) => {
                return Step::Retry(format!(
                    "transcription ran past its time limit of {} s and was stopped",
                    limit.as_secs()
                ));
            }
            Err(e) => return Step::Retry(e.to_string()),
        };
        if !ran.status.success() {
            return Step::Retry(format!(
                "the speech engine failed ({}): {}",
                ran.status,
                run::last_lines(&ran.stderr, 5, 600)
            ));
        }
        let recognised: Recognised = match tokio::fs::read(&out)
            .await
            .map(|b| serde_json::from_slice(&b))
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                return Step::Retry(format!("the speech engine's answer is unreadable: {e}"));
            }
            Err(e) => return Step::Retry(format!("the speech engine wrote no answer: {e}")),
        };
        let cues = cues(&recognised.segments);
        self.store_transcript(&sha256, &cues, &scratch.file("t.vtt"))
            .await
    }

    /// The time limit of one recognition run over `duration_ms` of audio.
    fn transcript_limit(&self, duration_ms: Option<i64>) -> Duration {
        let t = &self.settings.transcribe;
        let seconds = duration_ms.unwrap_or(0).max(0) as f64 / 1000.0;
        t.timeout_base + Duration::from_secs_f64(seconds * f64::from(t.timeout_percent) / 100.0)
    }

    /// Stores `cues` as the WebVTT rendition and records it with its segments.
    async fn store_transcript(&self, sha256: &str, cues: &[Cue], file: &Path) -> Step {
        if let Err(e) = tokio::fs::write(file, to_webvtt(cues)).await {
            return Step::Retry(format!("cannot write the transcript: {e}"));
        }
        let mut made = match self
            .store_file(file, &Self::key(sha256, TRANSCRIPT), "text/vtt")
            .await
        {
            Ok(m) => m,
            Err(step) => return step,
        };
        made.duration_ms = cues.last().map(|c| c.end_ms);
        let segments: Vec<NewSegment> = cues.iter().map(NewSegment::from).collect();
        let rendition = NewRendition {
            source_sha256: sha256.to_owned(),
            kind: TRANSCRIPT,
            made: Ok(made),
        };
        match self.db.record_transcript(&rendition, &segments).await {
            Ok(()) => Step::Done,
            Err(e) => Step::Retry(format!("database: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start_ms: i64, end_ms: i64, text: &str) -> Word {
        Word {
            start_ms,
            end_ms,
            text: text.into(),
        }
    }

    fn seg(words: Vec<Word>) -> Segment {
        Segment {
            start_ms: words.first().map_or(0, |w| w.start_ms),
            end_ms: words.last().map_or(0, |w| w.end_ms),
            text: words.iter().map(|w| w.text.as_str()).collect(),
            words,
        }
    }

    #[test]
    fn cues_end_at_sentences_clauses_pauses_and_limits() {
        // One 30 s window as Whisper gives it: sentences, a short clause, a pause, a long run.
        let mut words = vec![
            w(0, 300, "今天"),
            w(300, 600, "我们"),
            w(600, 900, "学习。"),
            w(1000, 1200, "好，"),
            w(1200, 1500, "春季"),
            w(1500, 1800, "播种"),
            w(4000, 4300, "土壤"),
        ];
        let mut t = 4300;
        for _ in 0..15 {
            words.push(w(t, t + 200, "肥料"));
            t += 200;
        }
        let cues = cues(&[seg(words)]);
        let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts[0], "今天我们学习。");
        // "好，" is too short a clause to stand alone; the pause ends "好，春季播种".
        assert_eq!(texts[1], "好，春季播种");
        assert_eq!((cues[1].start_ms, cues[1].end_ms), (1000, 1800));
        // The long run is cut at 20 characters.
        assert!(
            cues.iter().all(|c| visible_len(&c.text) <= MAX_CUE_CHARS),
            "{texts:?}"
        );
        assert!(cues.iter().all(|c| c.end_ms - c.start_ms <= MAX_CUE_MS));
        assert_eq!(cues[2].start_ms, 4000);
        let all: String = texts.concat();
        assert_eq!(visible_len(&all), 6 + 5 + 2 + 30);
    }

    #[test]
    fn cues_are_simplified_and_empty_ones_dropped() {
        let cues = cues(&[
            seg(vec![w(0, 500, "黨史"), w(500, 900, "學習。")]),
            seg(vec![w(1000, 1100, "，")]),
        ]);
        assert_eq!(cues.len(), 1);
        assert_eq!(cues[0].text, "党史学习。");
    }

    #[test]
    fn segments_without_words_are_split_at_punctuation() {
        let s = Segment {
            start_ms: 1000,
            end_ms: 5000,
            text: "第一句话说完了。第二句".into(),
            words: vec![],
        };
        let cues = cues(&[s]);
        assert_eq!(cues.len(), 2);
        assert_eq!(cues[0].start_ms, 1000);
        assert_eq!(cues[1].end_ms, 5000);
        assert!(cues[0].end_ms > 1000 && cues[0].end_ms < 5000);
    }
}
