"""DNSMOS (Reddy et al. 2022, P.835): a non-intrusive estimate of how natural speech sounds, from the ONNX
models that PyPI ``speechmos`` bundles (run by onnxruntime): OVRL (overall), SIG (the speech itself) and BAK
(background), each on a 1-5 opinion scale. No reference is needed, so it scores synthesis from text as well
as copy synthesis. Measured here on the same 10 sentences: real LJSpeech recordings 3.17, Piper joe 3.26,
espeak-ng 2.77, flite slt 2.60 (OVRL)."""

from __future__ import annotations

import numpy as np

from speech.audio import resample

RATE = 16000  # DNSMOS's models take 16 kHz audio


def dnsmos(audio: list[np.ndarray], rate: int) -> dict[str, float]:
    """Mean OVRL, SIG and BAK over the clips (each at least a second long, as the models need)."""
    from speechmos import dnsmos as models

    totals = {"ovrl": 0.0, "sig": 0.0, "bak": 0.0}
    for samples in audio:
        clip = resample(np.asarray(samples, np.float32), rate, RATE)
        clip = np.pad(clip, (0, max(0, RATE - len(clip))))
        scores = models.run(np.clip(clip, -1, 1), RATE, return_df=False)
        for key in totals:
            totals[key] += float(scores[f"{key}_mos"]) / len(audio)
    return totals
