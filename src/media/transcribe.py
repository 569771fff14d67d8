"""Lectern's speech recognition sidecar: Whisper (a CTranslate2 model) run by faster-whisper.

Lectern embeds this file (src/media/transcribe.py), writes it into the models folder
(`lectern models install`, and again at start-up when it changed) and runs it as a child
process with the interpreter of the models folder's virtual environment:

    python3 transcribe.py --model DIR --audio FILE.wav --out FILE.json [--language zh]
                          [--beam-size 2] [--threads N]

The audio is a 16 kHz mono 16-bit WAV file that ffmpeg made from the master. While it works, it
prints `out_time_us=N` lines on standard output (how far into the audio it is, in microseconds,
the same key ffmpeg's `-progress` uses), so Lectern's watchdog sees progress; when it is done it
writes the result to --out (through a temporary file and a rename, so a killed run leaves no
half-written result) and prints `progress=end`. The result is JSON:

    {"language": "zh", "duration_ms": 13590,
     "segments": [{"start_ms": 0, "end_ms": 2300, "text": "...",
                   "words": [{"start_ms": 0, "end_ms": 400, "text": "..."}, ...]}, ...]}

Lectern makes the subtitle-sized cues from the words and converts them to Simplified characters
(src/media/transcript.rs); this program only recognises. It never downloads anything: the model
is a local folder, and the voice-activity model (Silero VAD) ships inside faster-whisper.
"""

import argparse
import json
import os
import sys
import wave

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def progress(seconds):
    sys.stdout.write("out_time_us=%d\n" % int(max(seconds, 0.0) * 1_000_000))
    sys.stdout.flush()


def read_wav(path):
    """The samples of a 16 kHz mono 16-bit WAV file as float32 in [-1, 1]."""
    import numpy as np

    with wave.open(path, "rb") as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(
                "expected 16 kHz mono 16-bit WAV, got %d Hz, %d channels, %d bytes per sample"
                % (w.getframerate(), w.getnchannels(), w.getsampwidth())
            )
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def ms(seconds):
    return int(round(float(seconds) * 1000))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--audio", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--language", default="zh")
    p.add_argument("--beam-size", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()

    from faster_whisper import WhisperModel

    audio = read_wav(a.audio)
    duration = len(audio) / 16000.0
    model = WhisperModel(
        a.model, device="cpu", compute_type="int8", cpu_threads=a.threads, local_files_only=True
    )
    progress(0)
    segments, info = model.transcribe(
        audio,
        language=a.language,
        task="transcribe",
        beam_size=a.beam_size,
        # Each 30 s window is decoded on its own: a hallucination cannot feed the next window.
        condition_on_previous_text=False,
        # Silero VAD: only stretches with a voice are decoded (no text invented over silence or
        # music), and their bounds are where cues may start and end.
        vad_filter=True,
        vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 200},
        word_timestamps=True,
        # A window whose text compresses too well (a loop) or decodes with low confidence is
        # decoded again at a higher temperature, and dropped if it stays so.
        compression_ratio_threshold=2.4,
        log_prob_threshold=-1.0,
        no_speech_threshold=0.6,
        hallucination_silence_threshold=2.0,
    )
    out = []
    for s in segments:
        words = [
            {"start_ms": ms(w.start), "end_ms": ms(w.end), "text": w.word}
            for w in (s.words or [])
        ]
        out.append(
            {"start_ms": ms(s.start), "end_ms": ms(s.end), "text": s.text, "words": words}
        )
        progress(s.end)
    result = {
        "language": info.language,
        "duration_ms": ms(duration),
        "segments": out,
    }
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)
    os.replace(tmp, a.out)
    progress(duration)
    sys.stdout.write("progress=end\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
