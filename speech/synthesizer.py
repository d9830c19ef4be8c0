"""The synthesis API: load a voice folder, turn text into speech.

    synthesizer = Synthesizer.load("exp/voice/best", vocoder="exp/vocoder/best")
    samples, rate = synthesizer.synthesize("Hello there. How are you?", rate=1.2)

Text is split into paragraphs (blank lines) and sentences (after . ? !; overlong ones at commas, then at word
boundaries), each sentence phonemised and wrapped in word boundaries as in training; sentences of all texts
are batched by length through the acoustic model, their frames vocoded (with the given vocoder, else the
shipped one, else Griffin-Lim), and joined with pauses. ``rate`` scales speaking rate: durations are divided
by it, and every phoneme keeps at least one frame, so no sound is ever dropped.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from speech.assets import TTS_VOICE, VOCODER_MODEL
from speech.data.batching import length_batches
from speech.device import resolve_device
from speech.errors import SpeechError
from speech.features import FeatureConfig
from speech.models.tts import TTSModel
from speech.registry import load_model
from speech.text.normalize import is_abbreviation, normalize_text
from speech.text.phonemes import Phonemizer, is_separator, synthesis_tokens
from speech.text.vocab import WORD_BOUNDARY, PhonemeVocab

SENTENCE_PAUSE_S = 0.25
PARAGRAPH_PAUSE_S = 0.6
MAX_TOKENS = 200  # a longer sentence is cut at a comma (else a word boundary): bounded memory per batch
BATCH_TOKENS = 3000  # tokens (padded) per acoustic-model batch
MIN_RATE, MAX_RATE = 0.25, 4.0
MAX_SILENCE_S = 10.0
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")  # a blank line
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")  # where a streamed text may be cut
CHUNK_CHARS = 400  # text per streamed piece: a few sentences, so short ones still share a batch
# The first streamed piece is a leading phrase of the first sentence, so that the autoregressive acoustic
# model decodes a few words, not a sentence, before the first audio: 3 to 7 words, cut after a clause mark
# (, ; :) or before a word that starts a phrase, and leaving at least 2 words for the rest.
LEAD_MIN_WORDS, LEAD_MAX_WORDS, TAIL_MIN_WORDS = 3, 7, 2
# fmt: off
PHRASE_STARTS = frozenset({  # conjunctions, relative pronouns, prepositions
    "and", "but", "or", "nor", "so", "yet", "because", "although", "though", "while", "when", "whenever",
    "where", "if", "unless", "until", "after", "before", "since", "than", "that", "which", "who", "whom",
    "whose", "on", "in", "at", "for", "from", "with", "without", "by", "into", "onto", "over", "under",
    "through", "about", "above", "below", "beside", "between", "behind", "across", "along", "around",
    "against", "during", "toward", "towards", "near", "beyond", "past", "like"
})
BINDS_FORWARD = frozenset({  # a cut never follows these: they lean on the word after them
    "a", "an", "the", "my", "your", "his", "her", "its", "our", "their", "this", "that", "these", "those",
    "of", "to", "in", "on", "at", "for", "from", "with", "by", "into", "as", "and", "but", "or", "nor",
    "is", "are", "was", "were", "be", "been", "am", "not", "no", "very", "too", "so", "some", "any",
    "every", "each"
})
# fmt: on
CLAUSE_MARK = re.compile(r"[,;:]$")
DASH = re.compile(r"^(?:-{1,2}|\u2013|\u2014)$")
JOIN_LEAD_IN_S = 0.02  # quiet kept before the rest of a cut sentence (each piece starts with ~0.22 s of it)
JOIN_FADE_S = 0.005
QUIET_DB = 35.0  # 10 ms frames this far below a piece's loudest are its quiet lead-in


@dataclass
class Spoken:
    """One text's result: samples at ``sample_rate``, or a one-line error."""

    samples: np.ndarray | None = None
    error: str | None = None


def split_sentences(tokens: list[str], max_tokens: int = MAX_TOKENS) -> list[list[str]]:
    """Phonemiser output -> sentences (cut after . ? !), none longer than ``max_tokens`` phonemes and marks."""
    sentences, current = [], []
    for token in tokens:
        current.append(token)
        if token in (".", "?", "!"):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    out = []
    for sentence in sentences:
        while len(sentence) > max_tokens:
            head = sentence[:max_tokens]
            cut = max((i for i, t in enumerate(head) if t == ","), default=-1)
            if cut <= 0:
                cut = max((i for i, t in enumerate(head) if t == WORD_BOUNDARY), default=max_tokens - 1)
            out.append(sentence[: cut + 1])
            sentence = sentence[cut + 1 :]
        if any(not is_separator(t) for t in sentence):
            out.append(sentence)
    return [[t for i, t in enumerate(s) if t != WORD_BOUNDARY or 0 < i < len(s) - 1] for s in out]


def text_chunks(text: str, max_chars: int = CHUNK_CHARS) -> Iterator[str]:
    """``text`` cut after sentence ends into pieces of at most ``max_chars`` (a longer run without a sentence
    end at its last comma, else space, else anywhere), lazily, so a book or a 1 MB line is read in bounded
    memory. The first piece is one sentence, so that streamed audio starts early."""
    start = 0
    while start < len(text):
        end = len(text)
        window = text[start : start + max_chars + 1]
        ends = [
            match.end() for match in SENTENCE_END.finditer(window) if _ends_sentence(window[: match.start()])
        ]
        if start == 0 and ends:
            end = ends[0]
        elif len(text) - start > max_chars:
            cut = ends[-1] if ends else max(window.rfind(", "), window.rfind(" ")) + 1
            end = start + (cut or max_chars)
        piece = text[start:end].strip()
        if piece:
            yield piece
        start = end


def lead_phrase(sentence: str) -> int:
    """Where the first streamed piece should end in ``sentence`` (a character offset), or 0 to say it whole.

    After LEAD_MIN_WORDS to LEAD_MAX_WORDS words: at the first clause mark (a comma, semicolon or colon ending
    a word, or a dash between words), else before the first word in PHRASE_STARTS; a longer sentence with
    neither is cut after the last word in reach that does not lean on the next (BINDS_FORWARD). Never after
    a word with a period (an abbreviation or initial, inside a sentence), and never leaving under
    TAIL_MIN_WORDS words."""
    words = list(re.finditer(r"\S+", sentence))
    last = min(LEAD_MAX_WORDS, len(words) - TAIL_MIN_WORDS)
    ends = [
        count
        for count in range(LEAD_MIN_WORDS, last + 1)
        if "." not in words[count - 1].group() and not DASH.match(words[count - 1].group())
    ]
    for count in ends:
        if CLAUSE_MARK.search(words[count - 1].group()) or DASH.match(words[count].group()):
            return words[count - 1].end()
    for count in ends:
        following = words[count].group().lower().strip("\"'([")
        if following in PHRASE_STARTS and _bare(words[count - 1].group()) not in BINDS_FORWARD:
            return words[count - 1].end()
    if len(words) > LEAD_MAX_WORDS + TAIL_MIN_WORDS:
        free = [count for count in ends if _bare(words[count - 1].group()) not in BINDS_FORWARD]
        if free:
            return words[free[-1] - 1].end()
    return 0


def _bare(word: str) -> str:
    return word.lower().strip("\"'()[],;:!?")


def _ends_sentence(before: str) -> bool:
    """Whether the [.!?] that ``before`` ends with ends a sentence (not the period of "Dr." or "J.")."""
    words = before[:-1].split()
    return not (before.endswith(".") and words and is_abbreviation(words[-1]))


class Synthesizer:
    def __init__(
        self, model: TTSModel, features: FeatureConfig, vocab: PhonemeVocab, vocoder=None, device: str = "cpu"
    ):
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.features = features
        self.vocab = vocab
        self.phonemizer = Phonemizer()
        if vocoder is None:
            from speech.vocoder.griffin_lim import GriffinLim

            vocoder = GriffinLim(features)
        if vocoder.features != features:
            raise SpeechError(
                "the vocoder was trained on other features than the voice (sample rate, mels, hop)"
            )
        self.vocoder = vocoder

    @property
    def sample_rate(self) -> int:
        return self.features.sample_rate

    @property
    def speakers(self) -> list[str]:
        return list(self.model.config.speakers)

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike = TTS_VOICE,
        vocoder: str | os.PathLike | object | None = None,
        device: str = "cpu",
    ) -> Synthesizer:
        """A voice folder as ``speech train conf/tts/...`` exports it. ``vocoder``: a vocoder folder or object,
        "griffin-lim", or None for the voice folder's own ``vocoder/`` (a recipe's voice packages the vocoder
        trained on its recordings there), else the shipped vocoder when there is one, else Griffin-Lim."""
        loaded = load_model(folder, "tts", "a voice")
        model, features, vocab = loaded.model, loaded.features, loaded.vocab
        if vocoder is None and (Path(folder) / "vocoder" / "config.json").exists():
            vocoder = Path(folder) / "vocoder"
        if vocoder is None and (VOCODER_MODEL / "config.json").exists():
            vocoder = VOCODER_MODEL
        if vocoder == "griffin-lim":
            vocoder = None
        elif isinstance(vocoder, (str, os.PathLike)):
            from speech.vocoder import load_vocoder

            vocoder = load_vocoder(vocoder, device)
        return cls(model, features, vocab, vocoder, device)

    def synthesize(
        self, text: str, rate: float = 1.0, speaker: str | None = None, seed: int = 0
    ) -> tuple[np.ndarray, int]:
        """Speech for ``text``: (float32 samples, sample rate). Raises a one-line SpeechError if there is
        nothing to say (empty text, only symbols) or the text cannot be phonemised."""
        (spoken,) = self.synthesize_many([text], rate, speaker, seed)
        if spoken.error:
            raise SpeechError(spoken.error)
        return spoken.samples, self.sample_rate

    def synthesize_many(
        self,
        texts: list[str],
        rate: float = 1.0,
        speaker: str | None = None,
        seed: int = 0,
        sentence_silence: float = SENTENCE_PAUSE_S,
    ) -> list[Spoken]:
        """One :class:`Spoken` per text, in order; the sentences of all texts are batched together.
        ``sentence_silence`` seconds separate sentences (paragraphs: at least PARAGRAPH_PAUSE_S)."""
        speaker_id = self._check(rate, speaker, sentence_silence)
        results = [Spoken() for _ in texts]
        plans: list[list[list[list[str]]]] = []  # text -> paragraphs -> sentences -> tokens
        for index, text in enumerate(texts):
            try:
                paragraphs = [self._sentences(p) for p in PARAGRAPH_BREAK.split(text)]
            except SpeechError as error:
                paragraphs, results[index].error = [], str(error)
            paragraphs = [p for p in paragraphs if p]
            if not paragraphs and not results[index].error:
                results[index].error = (
                    "nothing to say (no words in the text)" if text.strip() else "empty text"
                )
            plans.append(paragraphs)
        sentences = [s for paragraphs in plans for p in paragraphs for s in p]
        audio = iter(self._speak(sentences, rate, speaker_id, seed))
        for result, paragraphs in zip(results, plans, strict=True):
            if result.error:
                continue
            pieces = []
            for number, paragraph in enumerate(paragraphs):
                if number:
                    pieces.append(self._silence(max(PARAGRAPH_PAUSE_S, sentence_silence)))
                for count, _ in enumerate(paragraph):
                    if count:
                        pieces.append(self._silence(sentence_silence))
                    pieces.append(next(audio))
            result.samples = np.concatenate(pieces).astype(np.float32)
        return results

    def stream(
        self,
        text: str,
        rate: float = 1.0,
        speaker: str | None = None,
        seed: int = 0,
        sentence_silence: float = SENTENCE_PAUSE_S,
        progress: Callable[[int], object] | None = None,
    ) -> Iterator[np.ndarray]:
        """Speech for ``text`` as it is made: float32 chunks at ``sample_rate`` (each a few sentences, with
        the pauses before them), so a player can start at once and a book takes bounded memory. The first
        chunk is the first sentence's leading phrase (:func:`lead_phrase`) and the second the rest of that
        sentence, joined without a pause or the model's lead-in silence, so the first audio comes after a
        few words' decoding. The text is cut between sentences before phonemisation (:func:`text_chunks`);
        within a piece it is cut as :meth:`synthesize` cuts it. Raises a one-line SpeechError, before
        any audio, if the first piece has nothing to say; a later piece without words is skipped.
        ``progress`` is called with the characters of text each piece used up."""
        speaker_id = self._check(rate, speaker, sentence_silence)
        pause = 0.0
        said = False
        for paragraph in PARAGRAPH_BREAK.split(text):
            for piece in text_chunks(paragraph):
                cut = 0 if said else lead_phrase(piece)
                for number, part in enumerate([piece[:cut], piece[cut:]] if cut else [piece]):
                    spoken = list(self._speak(self._sentences(part), rate, speaker_id, seed))
                    if number and said and spoken:  # the rest of the sentence whose lead was said
                        spoken[0], pause = self._without_lead_in(spoken[0]), 0.0
                    for audio in spoken:
                        yield np.concatenate([self._silence(pause), audio]) if said else audio
                        said, pause = True, sentence_silence
                if progress:
                    progress(len(piece))
            pause = max(PARAGRAPH_PAUSE_S, sentence_silence) if said else 0.0
        if not said:
            raise SpeechError("nothing to say (no words in the text)" if text.strip() else "empty text")

    def _check(self, rate: float, speaker: str | None, sentence_silence: float) -> int | None:
        """The speaker's index, after checking the options every entry point takes."""
        if not MIN_RATE <= rate <= MAX_RATE:
            raise SpeechError(f"rate must be between {MIN_RATE} and {MAX_RATE}, got {rate}")
        if not 0 <= sentence_silence <= MAX_SILENCE_S:
            raise SpeechError(
                f"sentence silence must be between 0 and {MAX_SILENCE_S} s, got {sentence_silence}"
            )
        return self._speaker_id(speaker)

    def _without_lead_in(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` without the quiet the model starts every piece with, but JOIN_LEAD_IN_S of it, faded
        in over JOIN_FADE_S: the rest of a sentence follows its first words as it would within one piece."""
        frame = self.sample_rate // 100
        frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
        if not len(frames):
            return samples
        power = np.mean(np.square(frames, dtype=np.float64), axis=1)
        loud = np.flatnonzero(power > power.max() * 10 ** (-QUIET_DB / 10))
        start = int(loud[0]) * frame - round(JOIN_LEAD_IN_S * self.sample_rate) if loud.size else 0
        if start <= 0:  # silence, or no longer a lead-in than is kept
            return samples
        trimmed = samples[start:].copy()
        fade = min(len(trimmed), round(JOIN_FADE_S * self.sample_rate))
        trimmed[:fade] *= np.linspace(0.0, 1.0, fade, endpoint=False, dtype=np.float32)
        return trimmed

    def _silence(self, seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * self.sample_rate), np.float32)

    def _speaker_id(self, speaker: str | None) -> int | None:
        names = self.speakers
        if not names:
            if speaker:
                raise SpeechError(f"this voice has a single speaker; cannot use speaker {speaker!r}")
            return None
        if speaker is None:
            return 0
        if speaker not in names:
            raise SpeechError(f"unknown speaker {speaker!r}; this voice has {', '.join(names)}")
        return names.index(speaker)

    def _sentences(self, paragraph: str) -> list[list[str]]:
        return [synthesis_tokens(s) for s in split_sentences(self.phonemizer.phonemize(paragraph))]

    def sentences(self, text: str) -> list[list[str]]:
        """The acoustic model's input tokens for each sentence of ``text``, as :meth:`synthesize` cuts it
        (phonemes between word boundaries): to inspect what will be said."""
        return [s for paragraph in PARAGRAPH_BREAK.split(text) for s in self._sentences(paragraph)]

    def mels(
        self, sentences: list[list[str]], rate: float = 1.0, speaker: int | None = None, seed: int = 0
    ) -> list[np.ndarray]:
        """Log-mel frames (frames, mels) per token sequence, batched by length."""
        return [mel for _, mel in self.predict(sentences, rate, speaker, seed)]

    @torch.inference_mode()
    def predict(
        self, sentences: list[list[str]], rate: float = 1.0, speaker: int | None = None, seed: int = 0
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Predicted frames per token (tokens,) and log-mel frames (frames, mels) per token sequence, batched
        by length: what the acoustic model decides before vocoding, exposed for inspection."""
        predicted: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(sentences)
        batches = length_batches(range(len(sentences)), lambda i: len(sentences[i]), BATCH_TOKENS)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the pre-net's dropout stays on in generation
            for batch in batches:
                ids = [torch.tensor(self.vocab.encode(sentences[i])) for i in batch]
                tokens = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True).to(self.device)
                lengths = torch.tensor([len(i) for i in ids])
                speakers = None if speaker is None else torch.full((len(batch),), speaker, device=self.device)
                minimum = minimum_frames([sentences[i] for i in batch], tokens.shape[1]).to(self.device)
                _, log_durations = self.model.encode(tokens, lengths, speakers)
                durations = self.model.durations(log_durations, lengths, rate, minimum)
                frames, frame_lengths = self.model.generate(tokens, lengths, durations, speakers)
                for row, index in enumerate(batch):
                    predicted[index] = (
                        durations[row, : lengths[row]].cpu().numpy(),
                        frames[row, : frame_lengths[row]].float().cpu().numpy(),
                    )
        return predicted

    def _speak(
        self, sentences: list[list[str]], rate: float, speaker: int | None, seed: int
    ) -> list[np.ndarray]:
        if not sentences:
            return []
        return self.vocoder.vocode_many(self.mels(sentences, rate, speaker, seed), seed=seed)


def minimum_frames(sentences: list[list[str]], width: int) -> torch.Tensor:
    """(B, width) frames each token keeps however fast it is spoken: 1 for a phoneme, so no sound is ever
    dropped; 0 for word boundaries, pause marks and padding."""
    return torch.tensor(
        [[0 if is_separator(t) else 1 for t in s] + [0] * (width - len(s)) for s in sentences]
    )


@lru_cache(maxsize=4096)
def _speakable(char: str) -> bool:
    return bool(normalize_text(char, keep_punctuation=True))


def unspeakable_characters(text: str) -> list[str]:
    """Characters the front end drops without a sound (emoji, other scripts, symbols), in order of first
    appearance; ASCII, spaces, punctuation and accents are never listed."""
    return [
        char
        for char in dict.fromkeys(text)
        if not char.isascii()
        and not char.isspace()
        and unicodedata.category(char)[0] not in "PMZ"
        and not _speakable(char)
    ]
