"""BiRNN must give what a packed bidirectional nn.LSTM / nn.GRU gives, at every real frame, forward and backward."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speech.models.asr import ASRModel, ASRModelConfig
from speech.models.padding import reverse_within_lengths
from speech.models.rnn import BiRNN


def packed_reference(cell: type, birnn: BiRNN, layers: int) -> nn.Module:
    """A bidirectional ``cell`` holding the same weights as ``birnn``, run the classic way (packed)."""
    first = birnn.forward_layers[0]
    reference = cell(first.input_size, first.hidden_size, layers, batch_first=True, bidirectional=True)
    for layer in range(layers):
        for suffix, rnns in (("", birnn.forward_layers), ("_reverse", birnn.backward_layers)):
            for name, value in rnns[layer].named_parameters():
                getattr(reference, f"{name.removesuffix('_l0')}_l{layer}{suffix}").data.copy_(value.data)
    return reference


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_matches_packed_bidirectional_rnn_with_gradients(cell):
    torch.manual_seed(0)
    birnn = BiRNN(6, 5, layers=3, cell=cell)
    reference = packed_reference(cell, birnn, 3)
    lengths = torch.tensor([9, 1, 6, 9, 3])
    x = torch.randn(5, 9, 6, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()

    ours = birnn(x, lengths)
    packed = pack_padded_sequence(x_ref, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(reference(packed)[0], batch_first=True, total_length=9)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=1e-5)
    assert ours[1, 1:].abs().max() == 0  # padding frames are zero, as packing leaves them

    weights = torch.randn_like(expected)
    (ours * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(
        birnn.backward_layers[2].weight_hh_l0.grad, reference.weight_hh_l2_reverse.grad, atol=1e-6, rtol=1e-5
    )


def test_reverse_within_lengths_reverses_real_frames_only_and_undoes_itself():
    x = torch.arange(8.0).reshape(2, 4, 1)
    reversed_ = reverse_within_lengths(x, torch.tensor([4, 2]))
    assert reversed_[:, :, 0].tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]
    assert torch.equal(reverse_within_lengths(reversed_, torch.tensor([4, 2])), x)


def test_asr_model_output_does_not_depend_on_what_else_is_in_the_batch():
    """A short utterance padded beside a long one gets the log-probabilities it gets alone."""
    torch.manual_seed(0)
    model = ASRModel(ASRModelConfig(hidden=16, layers=2)).eval()
    short, long = torch.randn(1, 31, 80), torch.randn(1, 60, 80)
    batch = torch.cat([torch.nn.functional.pad(short, (0, 0, 0, 29)), long])
    together, lengths = model(batch, torch.tensor([31, 60]))
    alone, alone_lengths = model(short, torch.tensor([31]))
    assert lengths.tolist() == [11, 20] and alone_lengths.tolist() == [11]
    torch.testing.assert_close(together[0, :11], alone[0], atol=1e-5, rtol=1e-5)
