"""What a server holds: its settings, the models loaded once at start-up, and the workers that run them.

Models are named as OpenAI's API names them, so existing clients work unchanged: OpenAI's transcription and
speech model names are aliases of the loaded recognizer and voice, and OpenAI's voice names (``alloy``, ...)
mean the default voice. Any other name is refused, never read as a path: a request cannot make the server
open a file.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from threadpoolctl import ThreadpoolController

from speech.assets import ASR_MODEL, VOICES
from speech.errors import SpeechError, shown
from speech.recognizer import MIN_CONFIDENCE, Recognizer
from speech.serve.batching import TranscriptionBatcher
from speech.serve.errors import ApiError
from speech.synthesizer import Synthesizer

log = logging.getLogger(__name__)

ASR_ID, TTS_ID = "speech-asr", "speech-tts"
OPENAI_ASR = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
OPENAI_TTS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
OPENAI_VOICES = (
    *("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse"),
    *("marin", "cedar"),
)


@dataclass
class ServeConfig:
    """Settings of one server; the defaults are OpenAI's limits where it has them (25 MB uploads)."""

    asr_model: str | os.PathLike = ASR_MODEL
    beam: int = 0
    lm: str | None = None
    lexicon: str | None = None
    min_confidence: float = MIN_CONFIDENCE
    backend: str = "auto"  # as speech transcribe: onnxruntime when the folder holds a current export
    device: str = "cpu"
    voice: str = next(iter(VOICES))  # a shipped voice's name or a voice folder: the default voice
    vocoder: str | None = None
    tts: bool = True
    max_upload_bytes: int = 25_000_000
    max_audio_seconds: float = 1800.0
    max_input_chars: int = 4096
    timeout_seconds: float = 120.0
    max_queue: int = 256  # requests waiting for the recognizer; more get 503
    max_streams: int = 32  # live WebSocket sessions and speech streams at once
    batch_window_seconds: float = 0.005
    batch_seconds: float = 300.0  # padded audio seconds per model batch, as speech transcribe's
    workers: int | None = None  # recognizer threads, each single-threaded; None: torch's thread count


def _voice_folders(voice: str) -> tuple[str, dict[str, Path]]:
    """The default voice's name and every voice's folder by name (shipped voices, plus ``voice`` when it
    is a folder, named after it)."""
    folders = {
        name: Path(folder) for name, folder in VOICES.items() if (Path(folder) / "config.json").exists()
    }
    if voice in VOICES:
        return voice, folders
    folder = Path(voice)
    if not (folder / "config.json").exists():
        raise SpeechError(f"{shown(voice)}: no voice here (shipped voices: {', '.join(VOICES)})")
    name = folder.resolve().name
    folders[name] = folder
    return name, folders


@dataclass
class Services:
    """The loaded models and the workers around them, shared by every request."""

    config: ServeConfig
    recognizer: Recognizer
    voices: dict[str, Synthesizer] = field(default_factory=dict)
    default_voice: str | None = None
    streams: int = 0  # live sessions and speech streams now open
    batcher: TranscriptionBatcher | None = None
    threads: int = field(default_factory=torch.get_num_threads)  # the cores the server is given
    workers: int = field(init=False)
    model_threads: ThreadPoolExecutor = field(init=False)
    voice_thread: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        """The recognizer's workers run one intra-op thread each (see :mod:`speech.serve.batching`);
        synthesis, one autoregressive sentence at a time, keeps all ``threads``, which halve its time to
        first audio on 2 cores. torch's thread count is per calling thread, set as each starts."""
        self.workers = self.config.workers or self.threads
        self.model_threads = ThreadPoolExecutor(
            self.workers, "recognizer", initializer=torch.set_num_threads, initargs=(1,)
        )
        self.voice_thread = ThreadPoolExecutor(
            1, "synthesizer", initializer=torch.set_num_threads, initargs=(self.threads,)
        )

    @classmethod
    def load(cls, config: ServeConfig) -> Services:
        threads = torch.get_num_threads()  # OMP_NUM_THREADS, else the cores
        if (config.workers or threads) > 1:
            # One thread per worker in every library the recognizer calls, as for torch: onnxruntime (the
            # "auto" backend) sizes a session's pool from OMP_NUM_THREADS as it is made, and numpy's
            # OpenBLAS (the features' filterbank) has its own. Two threads a call, under load on 2 cores:
            # onnxruntime's pool 300 audio-s/s against 500, OpenBLAS's 346 against 521 (docs/benchmarks.md).
            os.environ["OMP_NUM_THREADS"] = "1"
            ThreadpoolController().select(internal_api="openblas").limit(limits=1)
        recognizer = Recognizer.load(
            config.asr_model,
            config.device,
            config.beam,
            config.lm,
            config.lexicon,
            config.min_confidence,
            config.backend,
        )
        services = cls(config, recognizer, threads=threads)
        if config.tts:
            services.default_voice, folders = _voice_folders(config.voice)
            for name, folder in folders.items():
                services.voices[name] = Synthesizer.load(folder, config.vocoder, config.device)
        log.info(
            "models loaded: recognizer %s; voices %s", config.asr_model, ", ".join(services.voices) or "none"
        )
        return services

    async def start(self) -> None:
        self.batcher = TranscriptionBatcher(
            self.recognizer,
            self.model_threads,
            self.config.max_queue,
            self.config.batch_window_seconds,
            self.config.batch_seconds,
            self.workers,
        )
        await self.batcher.start()

    async def stop(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()
        loop = asyncio.get_running_loop()
        for pool in (self.model_threads, self.voice_thread):
            await loop.run_in_executor(None, pool.shutdown)

    def check_asr_model(self, name: str | None) -> None:
        if name not in (None, "", ASR_ID, *OPENAI_ASR):
            raise ApiError(
                404,
                f"model '{name}' does not exist here: use {ASR_ID} (or {', '.join(OPENAI_ASR)})",
                "model",
                "model_not_found",
            )

    def synthesizer(self, model: str | None, voice: str | None) -> Synthesizer:
        """The synthesizer for a request's ``model`` and ``voice``, or a 4xx saying what there is."""
        if not self.voices:
            raise ApiError(
                404, "this server has no voice (started with --no-tts)", "model", "model_not_found"
            )
        if model not in (None, "", TTS_ID, *OPENAI_TTS):
            raise ApiError(
                404,
                f"model '{model}' does not exist here: use {TTS_ID} (or {', '.join(OPENAI_TTS)})",
                "model",
                "model_not_found",
            )
        if voice in (None, "") or voice in OPENAI_VOICES:
            return self.voices[self.default_voice]
        if voice not in self.voices:
            raise ApiError(
                400,
                f"unknown voice '{voice}': this server has {', '.join(self.voices)} "
                f"(OpenAI's voice names mean {self.default_voice})",
                "voice",
            )
        return self.voices[voice]

    def open_stream(self) -> None:
        """Count one more long-lived stream, or refuse it when the server has as many as it takes."""
        if self.streams >= self.config.max_streams:
            raise ApiError(503, f"server busy: {self.streams} streams open; retry later")
        self.streams += 1

    def close_stream(self) -> None:
        self.streams -= 1
