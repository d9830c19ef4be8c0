"""The recognition API: load a trained model folder, transcribe many files fast.

    recognizer = Recognizer.load("speech/assets/asr")
    for result in recognizer.transcribe(["a.wav", "b.flac"]):
        print(result.source, result.transcript.text if result.transcript else result.error)
    recognizer.transcribe([(samples, 22050)])  # audio in memory: (samples, rate) pairs, named <audio N>

Files are decoded in background threads, long recordings cut at pauses, and the pieces of many files sorted by
length into batches under a budget of padded audio seconds, so a batch job keeps the model busy on full,
evenly sized batches. A file that fails yields its one-line error and the job goes on.
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from speech.assets import ASR_MODEL
from speech.audio import read_audio, resample
from speech.beam import BeamSearchDecoder
from speech.ctc import Decoder, GreedyDecoder
from speech.data.batching import featurize_and_pad, length_batches
from speech.device import resolve_device
from speech.errors import SpeechError
from speech.features import FeatureConfig, FeatureExtractor
from speech.model_folder import ModelError
from speech.models.asr import ASRModel
from speech.registry import load_model
from speech.segment import is_silent, split_at_pauses
from speech.text.vocab import CharVocab
from speech.transcript import Segment, Transcript
from speech.word_timing import align_words

# Noise the decoder spells out, measured with the shipped model (greedy): pink noise gives stretches of
# made-up words whose mean confidence is 0.27 to 0.35, brown noise a lone confident "six" per 17-20 s stretch
# (0.1 to 0.7 letters a second). The 205 held-out speech files (synthetic voices, Debian's librivox reading)
# give a mean confidence of 0.75 at the least (0.90 median) and 7.4 letters a second at the least (14 median).
MIN_CONFIDENCE = 0.5
BACKENDS = ("torch", "onnx", "onnx-int8")
MIN_LETTERS_PER_SECOND = 1.5
DECODER_SETTINGS = "decoder.json"  # beam-search weights tuned for the model's LM, beside it

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


def beam_decoder(
    folder: Path,
    vocab: CharVocab,
    beam: int,
    lm: str | os.PathLike | None = None,
    lexicon: str | os.PathLike | None = None,
    **weights: float,
) -> BeamSearchDecoder:
    """Beam search with the given LM and lexicon, else the model folder's ``lm.arpa``/``lexicon.txt``."""
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
        model: ASRModel,
        features: FeatureConfig,
        vocab: CharVocab,
        device: str = "cpu",
        decoder: Decoder | None = None,
        min_confidence: float = MIN_CONFIDENCE,
    ):
        """``decoder``: how posteriors become text, chosen once (greedy when None). ``min_confidence``: a
        stretch between pauses whose words' mean confidence is lower, or with fewer than
        MIN_LETTERS_PER_SECOND, is taken for noise and dropped; 0 keeps everything."""
        if not 0 <= min_confidence <= 1:
            raise SpeechError(f"minimum confidence must be between 0 and 1, got {min_confidence!r}")
        self.min_confidence = min_confidence
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.acoustic_model = self.model  # or an exported copy of it (speech.export.OnnxAcousticModel)
        self.extractor = FeatureExtractor(features)
        self.features = features
        self.vocab = vocab
        self.decoder = decoder or GreedyDecoder(vocab)
        self.seconds_per_frame = features.hop_length * model.config.stack / features.sample_rate

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike = ASR_MODEL,
        device: str = "cpu",
        beam: int = 0,
        lm: str | os.PathLike | None = None,
        lexicon: str | os.PathLike | None = None,
        min_confidence: float = MIN_CONFIDENCE,
        backend: str = "torch",
    ) -> Recognizer:
        """A model folder holds ``model.safetensors`` and ``config.json`` (as ``speech train`` exports them).

        ``beam`` > 0 decodes with beam search; ``lm`` (ARPA) and ``lexicon`` default to ``lm.arpa`` and
        ``lexicon.txt`` in the model folder when they exist there, and the LM weight, word score and beam
        threshold to ``decoder.json`` there (written by ``tools/tune_decoder.py``). ``backend`` "onnx" (or
        "onnx-int8") runs the acoustic model exported beside the weights by ``speech export`` in onnxruntime,
        on the CPU; features and decoding are the same as with "torch".
        """
        if backend not in BACKENDS:
            raise SpeechError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if isinstance(beam, bool) or not isinstance(beam, int) or beam < 0:
            raise SpeechError(f"beam size must be 0 (greedy decoding) or more, got {beam!r}")
        folder = Path(folder)
        loaded = load_model(folder, "asr", "a recognizer")
        decoder = None
        if beam > 0:
            decoder = beam_decoder(folder, loaded.vocab, beam, lm, lexicon, **_decoder_settings(folder))
        recognizer = cls(loaded.model, loaded.features, loaded.vocab, device, decoder, min_confidence)
        if backend != "torch":
            from speech.export import INT8_FILE, ONNX_FILE, OnnxAcousticModel

            recognizer.acoustic_model = OnnxAcousticModel(
                Path(folder) / (INT8_FILE if backend == "onnx-int8" else ONNX_FILE)
            )
        return recognizer

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

    @torch.inference_mode()
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

    @torch.inference_mode()
    def log_probs(self, waveforms: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC log-probabilities (B, T, V) on the CPU and their lengths for a batch of 16 kHz waveforms."""
        padded, lengths = featurize_and_pad(waveforms, self.extractor)
        log_probs, out_lengths = self.acoustic_model(padded.to(self.device), lengths)
        return log_probs.float().cpu(), out_lengths.cpu()

    def _recognise(self, batch: list[_Piece]) -> list[Segment]:
        rate = self.features.sample_rate
        log_probs, out_lengths = self.log_probs([piece.samples for piece in batch])
        texts = self.decoder.decode(log_probs, out_lengths)
        segments = []
        for row, (piece, text) in enumerate(zip(batch, texts, strict=True)):
            start, end = piece.start / rate, (piece.start + len(piece.samples)) / rate
            words = align_words(
                log_probs[row, : out_lengths[row]], text, self.vocab, self.seconds_per_frame, start, end
            )
            segments.append(Segment(round(start, 3), round(end, 3), text, tuple(words)))
        return segments


def _noise(segment: Segment, min_confidence: float) -> bool:
    """Whether a recognised stretch is noise spelled out: unsure words, or a word or two in a long stretch
    (see MIN_CONFIDENCE)."""
    confidence = sum(word.confidence for word in segment.words) / len(segment.words)
    letters = len(segment.text.replace(" ", ""))
    return confidence < min_confidence or letters < MIN_LETTERS_PER_SECOND * (segment.end - segment.start)
