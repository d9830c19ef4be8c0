"""The acoustic model: upsampling reads every token for exactly its frames, so generation never skips,
repeats or runs on, however long the input."""

from __future__ import annotations

import pytest
import torch

from speech.models.tts import TTSModel, TTSModelConfig
from speech.synthesizer import split_sentences
from speech.text.phonemes import Phonemizer, is_separator, synthesis_tokens
from speech.text.vocab import PhonemeVocab

PARAGRAPH = (
    "The committee met on Tuesday, March 3rd, to discuss the budget. After two hours of debate, nobody could "
    "agree on whether the new library should open before the summer, or wait until the autumn, when the "
    "students return. Dr. Patel argued that 4,500 books were already on the shelves, and that every week of "
    "delay cost the town $1,200. Her opponents replied that the heating system had never been tested, that "
    "the roof still leaked in two places, and that a library without heat would be empty by November. In the "
    "end they voted to open on the first of September, seven votes to five, and went home tired but relieved."
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model() -> TTSModel:
    torch.manual_seed(0)
    config = TTSModelConfig(
        embed=16, conv_layers=1, encoder=16, duration_hidden=16, prenet=16, decoder=32, decoder_layers=1,
        postnet=16, postnet_layers=2,
    )  # fmt: skip
    return TTSModel(config).eval()


def test_upsample_reads_each_token_for_exactly_its_frames() -> None:
    durations = torch.tensor([[0, 3, 2, 0, 4], [2, 0, 1, 0, 0]])
    memory = torch.arange(5.0)[None, :, None].expand(2, 5, 1)
    cond, frames = TTSModel.upsample(memory, durations)
    assert frames.tolist() == [9, 3] and cond.shape == (2, 9, 2)
    assert cond[0, :, 0].tolist() == [1, 1, 1, 2, 2, 4, 4, 4, 4]
    assert cond[1, :3, 0].tolist() == [0, 0, 2] and cond[1, 3:].abs().sum() == 0  # padding frames are zero
    assert cond[0, :3, 1].tolist() == pytest.approx([1 / 6, 3 / 6, 5 / 6])  # position inside the token


@pytest.mark.parametrize("rate", [1.0, 1.7, 0.6])
def test_long_paragraph_generates_exactly_the_scaled_durations(rate: float) -> None:
    model = tiny_model()
    vocab = PhonemeVocab.english()
    tokens = synthesis_tokens(Phonemizer().phonemize(PARAGRAPH))
    assert len(tokens) > 400  # one long input, no sentence splitting
    ids = torch.tensor([vocab.encode(tokens)])
    lengths = torch.tensor([len(tokens)])
    true = torch.randint(0, 9, (1, len(tokens)), generator=torch.Generator().manual_seed(1))
    minimum = torch.tensor([[0 if is_separator(t) else 1 for t in tokens]])
    log_durations = torch.log1p(true.float())  # as a trained duration predictor outputs them
    durations = model.durations(log_durations, lengths, rate, minimum)
    expected = torch.maximum((true / rate).round().long(), minimum)
    assert torch.equal(durations, expected)
    mel, frames = model.generate(ids, lengths, durations)
    assert frames.item() == int(expected.sum()) == mel.shape[1]
    assert mel.shape[2] == 80 and torch.isfinite(mel).all()


def test_teacher_forced_outputs_match_the_frames() -> None:
    model = tiny_model().train()
    ids = torch.tensor([[5, 6, 7, 0], [5, 8, 9, 10]])
    lengths = torch.tensor([3, 4])
    durations = torch.tensor([[2, 3, 1, 0], [1, 1, 1, 1]])
    before, after, log_durations, frames = model(ids, lengths, durations, torch.randn(2, 6, 80))
    assert before.shape == after.shape == (2, 6, 80) and frames.tolist() == [6, 4]
    assert log_durations.shape == (2, 4) and log_durations[0, 3] == 0
    assert after[1, 4:].abs().sum() == 0  # the post-net never writes past an utterance's end


def test_sentences_are_split_and_bounded() -> None:
    tokens = Phonemizer().phonemize("Hello there, my friend. How are you? Fine!")
    sentences = split_sentences(tokens)
    assert [s[-1] for s in sentences] == [".", "?", "!"]
    assert all(s[0] != "|" for s in sentences)
    long = Phonemizer().phonemize(" ".join(["one two three, four five"] * 30))
    pieces = split_sentences(long, max_tokens=50)
    assert all(len(p) <= 50 for p in pieces) and len(pieces) > 5
    phones = [t for t in long if not is_separator(t)]
    assert [t for p in pieces for t in p if not is_separator(t)] == phones  # nothing lost or repeated


def test_voice_frames_for_a_vocoder_follow_the_recording_and_stop_at_its_end() -> None:
    """``teacher_forced``: log-mel frames (not normalised ones) for each recording's own frames, zero past
    its end, and each row the same whether batched or alone, so stored frames do not depend on batching."""
    model = tiny_model()
    model.normalize.mean.fill_(-4.0)
    model.normalize.std.fill_(2.0)
    ids = torch.tensor([[5, 6, 7, 0], [5, 8, 9, 10]])
    lengths = torch.tensor([3, 4])
    durations = torch.tensor([[2, 3, 1, 0], [1, 1, 1, 1]])
    recorded = torch.randn(2, 6, 80) * 2 - 4
    torch.manual_seed(0)
    frames, counts = model.teacher_forced(ids, lengths, durations, recorded)
    assert frames.shape == (2, 6, 80) and counts.tolist() == [6, 4]
    assert frames[1, 4:].abs().sum() == 0 and (frames[0].mean() - -4.0).abs() < 1.0  # log-mel scale
    model.config.prenet_dropout = 0.0  # the pre-net's dropout is random: compare without it
    together, _ = model.teacher_forced(ids, lengths, durations, recorded)
    alone, _ = model.teacher_forced(ids[1:, :4], lengths[1:], durations[1:], recorded[1:, :4])
    assert torch.allclose(together[1, :4], alone[0], atol=1e-5)
