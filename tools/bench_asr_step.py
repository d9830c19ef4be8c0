#!/usr/bin/env python
"""Benchmark: the recognizer's training step on this CPU, by BiLSTM layout and by precision.

    python tools/bench_asr_step.py data/shards/valid150 [--model speech/assets/asr] [--steps 10]

On real batches from SHARDS (90 s of audio each, as conf/asr/small.yaml trains): (1) the BiLSTM stack alone,
forward and backward, as one packed bidirectional nn.LSTM against speech.models.rnn.BiRNN (each direction
over the padded batch); (2) the whole model's step, fp32 against bf16 autocast; (3) the model's validation
loss and CER on SHARDS in fp32 and in bf16. Median seconds per batch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from machine import describe_machine
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speech.config import load_config
from speech.data.loader import BatchStream
from speech.recognizer import Recognizer
from speech.tasks import TASKS


def median_seconds(step, batches) -> float:
    times = []
    for batch in batches:
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first warms up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shards", help="a shard folder with transcripts (e.g. data/shards/valid150)")
    parser.add_argument("--config", default="conf/asr/small.yaml")
    parser.add_argument("--model", default="speech/assets/asr", help="trained model for the bf16 scores")
    parser.add_argument("--steps", type=int, default=10, help="batches to time")
    args = parser.parse_args()
    config = load_config(args.config)
    task = TASKS["asr"](config)
    batches = list(BatchStream(args.shards, task.featurize, config.data.batch_seconds))
    timed = (batches * args.steps)[: args.steps]
    model = task.build_model()
    print(f"{args.shards}: {len(timed)} batches of {config.data.batch_seconds:g} s; {describe_machine()}")

    packed = torch.nn.LSTM(
        model.lstm.forward_layers[0].input_size,
        config.model.hidden,
        config.model.layers,
        batch_first=True,
        bidirectional=True,
        dropout=config.model.dropout,
    )
    packed.train()
    model.train()

    def stack_input(batch):
        steps = model.output_lengths(batch.lengths)
        return torch.randn(len(batch.lengths), int(steps.max()), config.model.hidden), steps

    def packed_step(batch):
        x, lengths = stack_input(batch)
        sequence = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        pad_packed_sequence(packed(sequence)[0], batch_first=True)[0].sum().backward()

    def birnn_step(batch):
        x, lengths = stack_input(batch)
        model.lstm(x, lengths).sum().backward()

    print(f"BiLSTM stack, packed nn.LSTM: {median_seconds(packed_step, timed):.3f} s")
    print(f"BiLSTM stack, BiRNN (padded): {median_seconds(birnn_step, timed):.3f} s")
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):

        def model_step(batch, dtype=dtype):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
                loss, _ = task.loss(model, batch)
            loss.backward()

        print(f"whole training step, {name}: {median_seconds(model_step, timed):.3f} s")
    trained = Recognizer.load(args.model).model.eval()
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            metrics, _ = task.evaluate(trained, batches)
        print(f"{args.model} on {args.shards}, {name}: loss {metrics['loss']:.4f}, CER {metrics['cer']:.2%}")


if __name__ == "__main__":
    main()
