"""The recognition API: load a trained model folder, transcribe many files fast.

    recognizer = Recognizer.load("speech/assets/asr")
    for result in recognizer.transcribe(["a.wav", "b.flac"]):
        print(result.source, result.transcript.text if result.transcript else result.error)
    recognizer.transcribe([(samples, 22050)])  # audio in memory: (samples, rate) pairs, named <audio N>

Files are decoded in background threads, long recordings cut at pauses, and the pieces of many files sorted by
length into batches under a budget of padded audio seconds, so a batch job keeps the model busy on full,
evenly sized batches. A file that fails yields its one-line error and the job goes on.

The acoustic model runs in onnxruntime (its features in numpy) or in PyTorch: ``backend="auto"`` takes
onnxruntime on the CPU when the folder holds an ONNX export of its current weights (the shipped model does),
since that path never imports torch and starts in a fraction of a second at the same accuracy
(docs/benchmarks.md); everything after the posteriors (decoding, word timing, noise filtering) is numpy and
the same for both. Torch is imported only for the torch backend, beam search and forced alignment.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from speech.assets import ASR_MODEL
from speech.audio import read_audio, resample
from speech.ctc import Decoder, GreedyDecoder
from speech.data.batching import featurize_and_pad, length_batches
from speech.errors import SpeechError
from speech.export import INT8_FILE, ONNX_FILE, WEIGHTS_FILE, OnnxAcousticModel, weights_digest
from speech.logmel import FeatureConfig
from speech.model_folder import ModelError, config_must_match, read_config
from speech.segment import is_silent, split_at_pauses
from speech.text.vocab import CharVocab
from speech.transcript import Segment, Transcript
from speech.word_timing import align_words

if TYPE_CHECKING:  # torch is imported only by the code that runs it
    import torch

    from speech.beam import BeamSearchDecoder
    from speech.features import FeatureExtractor
    from speech.models.asr import ASRModel

# Noise the decoder spells out, measured with the shipped model (greedy): pink noise gives stretches of
# made-up words whose mean confidence is 0.27 to 0.35, brown noise a lone confident "six" per 17-20 s stretch
# (0.1 to 0.7 letters a second). The 205 held-out speech files (synthetic voices, Debian's librivox reading)
# give a mean confidence of 0.75 at the least (0.90 median) and 7.4 letters a second at the least (14 median).
MIN_CONFIDENCE = 0.5
BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
MIN_LETTERS_PER_SECOND = 1.5
DECODER_SETTINGS = "decoder.json"  # beam-search weights tuned for the model's LM, beside it

log = logging.getLogger(__name__)

Source = str | os.PathLike | tuple[np.ndarray, int]  # a file, or mono samples and their rate


@dataclass
class Result:
    source: str
    transcript: Transcript | None = None
    error: str | None = None
    duration: float = 0.0


@dataclass
class _Piece:
    file: int
    start: int  # sample offset in its file
    samples: np.ndarray


class AcousticModel(Protocol):
    """Waveforms at the model's rate in; CTC log-probabilities (batch, steps, vocab) float32 and each row's
    step count out, as numpy arrays: what every backend gives the rest of the recognizer."""

    def __call__(self, waveforms: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]: ...


class TorchAcousticModel:
    """The network in PyTorch on ``device``, fed the torch features it was trained on."""

    def __init__(self, model: ASRModel, features: FeatureConfig, device: str = "cpu"):
        from speech.device import resolve_device
        from speech.features import FeatureExtractor

        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.extractor = FeatureExtractor(features)

    def __call__(self, waveforms: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            padded, lengths = featurize_and_pad(waveforms, self.extractor)
            log_probs, out_lengths = self.model(padded.to(self.device), lengths)
        return log_probs.float().cpu().numpy(), out_lengths.cpu().numpy()


def beam_decoder(
    folder: Path,
    vocab: CharVocab,
    beam: int,
    lm: str | os.PathLike | None = None,
    lexicon: str | os.PathLike | None = None,
    **weights: float,
) -> BeamSearchDecoder:
    """Beam search with the given LM and lexicon, else the model folder's ``lm.arpa``/``lexicon.txt``."""
    from speech.beam import BeamSearchDecoder  # flashlight and torch: only for beam search

    lm = lm or (folder / "lm.arpa" if (folder / "lm.arpa").exists() else None)
    lexicon = lexicon or (folder / "lexicon.txt" if (folder / "lexicon.txt").exists() else None)
    return BeamSearchDecoder(vocab, lm=lm, lexicon=lexicon, beam_size=beam, **weights)


def _decoder_settings(folder: Path) -> dict[str, float]:
    """The tuned ``lm_weight``/``word_score``/``beam_threshold`` of a model folder, if it has them."""
    path = folder / DECODER_SETTINGS
    if not path.exists():
        return {}
    try:
        settings = json.loads(path.read_text())
        unknown = set(settings) - {"lm_weight", "word_score", "beam_threshold"}
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        return {key: float(value) for key, value in settings.items()}
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise ModelError(f"{path}: not decoder settings ({error})") from None


class Recognizer:
    def __init__(
        self,
        acoustic_model: AcousticModel,
        features: FeatureConfig,
        vocab: CharVocab,
        stack: int,
        decoder: Decoder | None = None,
        min_confidence: float = MIN_CONFIDENCE,
        backend: str = "torch",
    ):
        """``acoustic_model``: waveforms to posteriors (:class:`TorchAcousticModel`, or
        :class:`speech.export.OnnxAcousticModel`), ``stack`` feature frames per posterior frame;
        ``backend`` names it in reports. ``decoder``: how posteriors become text, chosen once (greedy when
        None). ``min_confidence``: a stretch between pauses whose words' mean confidence is lower, or with
        fewer than MIN_LETTERS_PER_SECOND, is taken for noise and dropped; 0 keeps everything."""
        if not 0 <= min_confidence <= 1:
            raise SpeechError(f"minimum confidence must be between 0 and 1, got {min_confidence!r}")
        self.min_confidence = min_confidence
        self.acoustic_model = acoustic_model
        self.backend = backend
        self.features = features
        self.vocab = vocab
        self.decoder = decoder or GreedyDecoder(vocab)
        self.seconds_per_frame = features.hop_length * stack / features.sample_rate
        self._extractor: FeatureExtractor | None = None

    @property
    def extractor(self) -> FeatureExtractor:
        """The model's features in torch (:class:`speech.FeatureExtractor`), for inspecting them; the onnx
        backend computes the same features in numpy. Imports torch."""
        if self._extractor is None:
            from speech.features import FeatureExtractor

            self._extractor = FeatureExtractor(self.features)
        return self._extractor

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike = ASR_MODEL,
        device: str = "cpu",
        beam: int = 0,
        lm: str | os.PathLike | None = None,
        lexicon: str | os.PathLike | None = None,
        min_confidence: float = MIN_CONFIDENCE,
        backend: str = "auto",
    ) -> Recognizer:
        """A model folder holds ``model.safetensors`` and ``config.json`` (as ``speech train`` exports them).

        ``beam`` > 0 decodes with beam search; ``lm`` (ARPA) and ``lexicon`` default to ``lm.arpa`` and
        ``lexicon.txt`` in the model folder when they exist there, and the LM weight, word score and beam
        threshold to ``decoder.json`` there (written by ``tools/tune_decoder.py``). ``backend`` "onnx" (or
        "onnx-int8") runs the acoustic model exported beside the weights by ``speech export`` in onnxruntime,
        on the CPU, with the same features computed in numpy; "torch" runs it in PyTorch on ``device``;
        "auto" takes "onnx" on the CPU when ``model.onnx`` was exported from the folder's current weights
        (or the folder holds no other network), else "torch".
        """
        if backend not in BACKENDS:
            raise SpeechError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if isinstance(beam, bool) or not isinstance(beam, int) or beam < 0:
            raise SpeechError(f"beam size must be 0 (greedy decoding) or more, got {beam!r}")
        folder = Path(folder)
        config = read_config(folder, "asr", "a recognizer")
        acoustic_model, backend = _acoustic_model(folder, config, device, backend)
        features, vocab, stack = _settings(folder, config)
        decoder = None
        if beam > 0:
            decoder = beam_decoder(folder, vocab, beam, lm, lexicon, **_decoder_settings(folder))
        return cls(acoustic_model, features, vocab, stack, decoder, min_confidence, backend)

    def transcribe(
        self,
        sources: Iterable[Source],
        batch_seconds: float = 300.0,
        max_piece_seconds: float = 20.0,
    ) -> Iterator[Result]:
        """Transcribe files or in-memory audio, yielding one :class:`Result` per source in input order.

        The batch budget is checked here, before any work, not when the first batch is formed."""
        if not (math.isfinite(batch_seconds) and batch_seconds > 0):
            raise SpeechError(f"batch seconds must be a positive number, got {batch_seconds!r}")
        if not (math.isfinite(max_piece_seconds) and max_piece_seconds > 0):
            raise SpeechError(f"piece seconds must be a positive number, got {max_piece_seconds!r}")
        return self._transcribe(sources, batch_seconds, max_piece_seconds)

    def _transcribe(
        self, sources: Iterable[Source], batch_seconds: float, max_piece_seconds: float
    ) -> Iterator[Result]:
        pool: list[Result] = []
        pieces: list[_Piece] = []
        pooled_seconds = 0.0
        for result, samples in self._read(sources):
            pool.append(result)
            if samples is not None:
                rate = self.features.sample_rate
                for start, end in split_at_pauses(samples, rate, max_piece_seconds):
                    if not is_silent(samples[start:end], rate):
                        pieces.append(_Piece(len(pool) - 1, start, samples[start:end]))
                pooled_seconds += result.duration
            if pooled_seconds >= 4 * batch_seconds:
                yield from self._finish(pool, pieces, batch_seconds)
                pool, pieces, pooled_seconds = [], [], 0.0
        yield from self._finish(pool, pieces, batch_seconds)

    def transcribe_file(self, source: str | os.PathLike) -> Transcript:
        """One file's transcript; raises the file's one-line SpeechError if it cannot be read."""
        (result,) = self.transcribe([source])
        if result.error:
            raise SpeechError(result.error)
        return result.transcript

    def _read(self, sources: Iterable[Source]) -> Iterator[tuple[Result, np.ndarray | None]]:
        """Decode files in background threads, at most 16 ahead of the model."""
        rate = self.features.sample_rate

        def load(source: str) -> tuple[Result, np.ndarray | None]:
            try:
                samples, _ = read_audio(source, rate)
            except SpeechError as error:
                return Result(source, error=str(error)), None
            return Result(source, duration=len(samples) / rate), samples

        def take(index: int, audio: tuple[np.ndarray, int]) -> tuple[Result, np.ndarray]:
            samples = resample(np.asarray(audio[0], dtype=np.float32), audio[1], rate)
            return Result(f"<audio {index}>", duration=len(samples) / rate), samples

        with ThreadPoolExecutor(max_workers=2) as pool:
            pending: deque[Future] = deque()
            for index, source in enumerate(sources):
                in_memory = isinstance(source, tuple)
                pending.append(
                    pool.submit(take, index, source) if in_memory else pool.submit(load, str(source))
                )
                if len(pending) >= 16:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _finish(self, pool: list[Result], pieces: list[_Piece], batch_seconds: float) -> Iterator[Result]:
        """Recognise every pooled piece in length-sorted batches, then assemble each file's transcript."""
        rate = self.features.sample_rate
        segments: list[list[Segment]] = [[] for _ in pool]
        for batch in length_batches(pieces, lambda piece: len(piece.samples), batch_seconds * rate):
            for done, segment in zip(batch, self._recognise(batch), strict=True):
                if self.min_confidence and segment.words and _noise(segment, self.min_confidence):
                    continue
                segments[done.file].append(segment)
        for index, result in enumerate(pool):
            if result.error is None:
                ordered = tuple(sorted(segments[index], key=lambda segment: segment.start))
                result.transcript = Transcript(result.source, round(result.duration, 3), ordered)
            yield result

    def log_probs(self, waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC log-probabilities (B, T, V) on the CPU and their lengths for a batch of 16 kHz waveforms, as
        torch tensors for inspection and tuning (imports torch; transcription itself stays in numpy)."""
        import torch

        log_probs, out_lengths = self.acoustic_model(waveforms)
        return torch.from_numpy(log_probs), torch.from_numpy(out_lengths)

    def _recognise(self, batch: list[_Piece]) -> list[Segment]:
        rate = self.features.sample_rate
        log_probs, out_lengths = self.acoustic_model([piece.samples for piece in batch])
        texts = self.decoder.decode(log_probs, out_lengths)
        segments = []
        for row, (piece, text) in enumerate(zip(batch, texts, strict=True)):
            start, end = piece.start / rate, (piece.start + len(piece.samples)) / rate
            words = align_words(
                log_probs[row, : out_lengths[row]], text, self.vocab, self.seconds_per_frame, start, end
            )
            segments.append(Segment(round(start, 3), round(end, 3), text, tuple(words)))
        return segments


def _settings(folder: Path, config: dict) -> tuple[FeatureConfig, CharVocab, int]:
    """What a recognizer takes from its folder's config besides the network: its features, its vocabulary
    and the feature frames per output frame."""
    with config_must_match(folder):
        return FeatureConfig(**config["features"]), CharVocab(config["vocab"]), int(config["model"]["stack"])


def _acoustic_model(folder: Path, config: dict, device: str, backend: str) -> tuple[AcousticModel, str]:
    """The folder's network for ``backend`` ("auto" decided as :meth:`Recognizer.load` says), and the
    backend that runs it. The torch backend reads the weights before anything else in the folder, so an
    unreadable weights file is the error reported."""
    if backend == "auto":
        current = _current_onnx(folder, config) if str(device) == "cpu" else None
        if current is not None:
            return current, "onnx"
        backend = "torch"
    if backend == "torch":
        from speech.registry import load_model  # torch and the model classes: only for this backend

        loaded = load_model(folder, "asr", "a recognizer")
        return TorchAcousticModel(loaded.model, loaded.features, device), backend
    if str(device) != "cpu":
        raise SpeechError(f"the {backend} backend runs on the CPU, not {device}: use --backend torch there")
    path = folder / (INT8_FILE if backend == "onnx-int8" else ONNX_FILE)
    model = OnnxAcousticModel(path, _settings(folder, config)[0])
    recorded = model.weights_digest
    if recorded and (folder / WEIGHTS_FILE).exists() and recorded != weights_digest(folder):
        raise ModelError(
            f"{path}: exported from other weights than {folder / WEIGHTS_FILE}; write it again with speech export"
        )
    return model, backend


def _current_onnx(folder: Path, config: dict) -> OnnxAcousticModel | None:
    """``model.onnx`` when it may stand in for the weights: it records their digest and it matches, or the
    folder holds no weights at all (an ONNX-only copy of a model). Never raises: "auto" falls back to
    torch, saying why when an export is there but cannot be used."""
    path = folder / ONNX_FILE
    if not path.is_file():
        return None
    features = _settings(folder, config)[0]  # a config that cannot say is an error whatever the backend
    try:
        model = OnnxAcousticModel(path, features)
        if not (folder / WEIGHTS_FILE).exists() or model.weights_digest == weights_digest(folder):
            return model
    except SpeechError as error:  # onnxruntime missing, an unreadable file
        log.warning("%s; running the model in PyTorch", error)
        return None
    log.warning(
        "%s was not exported from the weights beside it; running them in PyTorch (speech export %s writes "
        "it again)",
        path,
        folder,
    )
    return None


def _noise(segment: Segment, min_confidence: float) -> bool:
    """Whether a recognised stretch is noise spelled out: unsure words, or a word or two in a long stretch
    (see MIN_CONFIDENCE)."""
    confidence = sum(word.confidence for word in segment.words) / len(segment.words)
    letters = len(segment.text.replace(" ", ""))
    return confidence < min_confidence or letters < MIN_LETTERS_PER_SECOND * (segment.end - segment.start)
