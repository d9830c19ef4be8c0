"""BiRNN must give what a packed bidirectional nn.LSTM / nn.GRU gives, at every real frame, forward and backward."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speech.models.asr import ASRModel, ASRModelConfig
from speech.models.padding import lengths_mask, reversal_index
from speech.models.rnn import BiRNN


def run_packed(reference: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(reference(packed)[0], batch_first=True, total_length=x.shape[1])[0]


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_loads_packed_weights_and_matches_packed_rnn_with_gradients(cell):
    torch.manual_seed(0)
    reference = cell(6, 5, 3, batch_first=True, bidirectional=True)
    birnn = BiRNN(6, 5, layers=3, cell=cell)
    birnn.load_state_dict(reference.state_dict())  # the nn.LSTM layout, renamed by the load hook
    torch.testing.assert_close(birnn.backward_layers[1].weight_ih_l0, reference.weight_ih_l1_reverse)
    lengths = torch.tensor([9, 1, 6, 9, 3])
    x = torch.randn(5, 9, 6, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()

    ours, expected = birnn(x, lengths), run_packed(reference, x_ref, lengths)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=1e-5)
    assert ours[1, 1:].abs().max() == 0  # padding frames are zero, as packing leaves them

    weights = torch.randn_like(expected)
    (ours * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(
        birnn.backward_layers[2].weight_hh_l0.grad, reference.weight_hh_l2_reverse.grad, atol=1e-6, rtol=1e-5
    )


def test_dropout_sits_between_layers_as_in_nn_lstm():
    """With p = 1 every dropped activation is zero, so both must give the same (deterministic) output."""
    torch.manual_seed(1)
    reference = nn.LSTM(4, 3, 2, batch_first=True, bidirectional=True, dropout=1.0).train()
    birnn = BiRNN(4, 3, layers=2, dropout=1.0).train()
    birnn.load_state_dict(reference.state_dict())
    x, lengths = torch.randn(2, 7, 4), torch.tensor([7, 4])
    ours = birnn(x, lengths)
    torch.testing.assert_close(ours, run_packed(reference, x, lengths), atol=1e-6, rtol=1e-5)
    assert ours[0].abs().max() > 0  # the last layer's biases still speak


def test_reversal_index_reverses_real_frames_only_and_undoes_itself():
    index = reversal_index(torch.tensor([4, 2]), 4)
    assert index.tolist() == [[3, 2, 1, 0], [1, 0, 2, 3]]
    x = torch.arange(8.0).reshape(2, 4)
    assert torch.equal(x.gather(1, index).gather(1, index), x)
    with pytest.raises(ValueError, match="at least one layer"):
        BiRNN(4, 3, layers=0)


@pytest.mark.parametrize("utterance_mean", [False, True])
def test_asr_model_output_does_not_depend_on_what_else_is_in_the_batch(utterance_mean):
    """A short utterance padded beside a long one gets the log-probabilities it gets alone (its length is
    not a multiple of the frame stacking, so its last stacked step holds padding)."""
    torch.manual_seed(0)
    model = ASRModel(ASRModelConfig(hidden=16, layers=2, utterance_mean=utterance_mean)).eval()
    model.normalize.mean.fill_(-6.0)  # as for real log-mels: padding is not zero once normalised
    short, long = torch.randn(1, 31, 80) - 6, torch.randn(1, 60, 80) - 6
    batch = torch.cat([torch.nn.functional.pad(short, (0, 0, 0, 29)), long])
    together, lengths = model(batch, torch.tensor([31, 60]))
    alone, alone_lengths = model(short, torch.tensor([31]))
    assert lengths.tolist() == [11, 20] and alone_lengths.tolist() == [11]
    torch.testing.assert_close(together[0, :11], alone[0], atol=1e-5, rtol=1e-5)


def test_utterance_mean_makes_the_model_deaf_to_a_fixed_channel_filter():
    """A microphone's frequency response adds one constant per mel channel to every log-mel frame; with
    ``utterance_mean`` the model's output does not change, without it it does."""
    torch.manual_seed(0)
    features = torch.randn(2, 40, 80) - 6
    lengths = torch.tensor([40, 25])
    features[1, 25:] = 0.0
    channel = torch.linspace(-3.0, 3.0, 80)  # a strong tilt, in natural-log units
    filtered = features + channel * lengths_mask(lengths, 40)[..., None]
    for utterance_mean in (True, False):
        model = ASRModel(ASRModelConfig(hidden=16, layers=2, utterance_mean=utterance_mean)).eval()
        same = torch.allclose(model(features, lengths)[0], model(filtered, lengths)[0], atol=1e-5)
        assert same == utterance_mean
