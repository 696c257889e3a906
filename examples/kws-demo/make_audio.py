"""Writes the example recordings of examples/kws-demo/audio/: speech synthesised with espeak-ng
(`apt install espeak-ng`), resampled to the impulse's 16 kHz, with a quiet room-noise floor,
saved as 16-bit PCM mono WAV, plus `segments.json` saying what is where in each file.

    python examples/kws-demo/make_audio.py      # rewrites audio/*.wav and audio/segments.json

Deterministic for a given espeak-ng version (1.51 made the committed files); needs numpy and
scipy (resample_poly), not edgert. Nothing here is recorded from a person.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

RATE = 16000
NOISE_RMS = 20.0          # int16 units: about -64 dBFS, a quiet room through a MEMS microphone
GAP_S = 1.0
OUT = Path(__file__).resolve().parent / "audio"

# (file, [(text, espeak-ng voice, words per minute), ...]); the label is the file's prefix
FILES = [
    ("helloworld.01.wav", [("hello world", "en-us", 175), ("hello world", "en", 170),
                           ("hello world", "en-us+m3", 170)]),
    ("unknown.01.wav", [("good morning", "en-us", 175), ("what time is it", "en-us", 175),
                        ("turn it off", "en", 170)]),
    ("noise.01.wav", []),
]


def espeak(text: str, voice: str, wpm: int) -> np.ndarray:
    """The phrase as float64 int16-scale samples at RATE (espeak-ng speaks at 22050 Hz)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text],
                       check=True)
        with wave.open(str(path)) as w:
            assert w.getsampwidth() == 2 and w.getnchannels() == 1
            rate = w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    g = np.gcd(RATE, rate)
    return resample_poly(x, RATE // g, rate // g)


def trim(x: np.ndarray) -> np.ndarray:
    """Drop espeak-ng's leading/trailing digital silence (the gaps are added here)."""
    loud = np.flatnonzero(np.abs(x) > 100)
    return x[loud[0]:loud[-1] + 1] if loud.size else x


def build(phrases: list[tuple[str, str, int]], seed: int) -> tuple[np.ndarray, list[dict]]:
    parts = [np.zeros(int(GAP_S * RATE))]
    segments = []
    pos = parts[0].size
    for text, voice, wpm in phrases:
        speech = trim(espeak(text, voice, wpm))
        segments.append({"text": text, "voice": voice, "wpm": wpm,
                         "start_ms": round(pos * 1000 / RATE, 3),
                         "end_ms": round((pos + speech.size) * 1000 / RATE, 3)})
        gap = np.zeros(int(GAP_S * RATE))
        parts += [speech, gap]
        pos += speech.size + gap.size
    if not phrases:
        parts.append(np.zeros(4 * RATE))
    x = np.concatenate(parts)
    x += np.random.default_rng(seed).normal(0.0, NOISE_RMS, x.size)
    return np.clip(np.round(x), -32768, 32767).astype("<i2"), segments


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def main() -> None:
    OUT.mkdir(exist_ok=True)
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True,
                             check=True).stdout.split("Data at")[0].strip()
    doc = {"generator": f"examples/kws-demo/make_audio.py with {version}",
           "rate": RATE, "noise_rms": NOISE_RMS, "files": {}}
    for seed, (name, phrases) in enumerate(FILES, start=1):
        samples, segments = build(phrases, seed)
        write_wav(OUT / name, samples)
        doc["files"][name] = {"samples": int(samples.size), "label": name.split(".")[0],
                              "segments": segments}
        print(f"{name}: {samples.size / RATE:.2f} s, {len(segments)} phrases")
    (OUT / "segments.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
