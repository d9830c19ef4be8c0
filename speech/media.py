"""Media a training task hands to experiment tracking at validation: a sound to hear, a picture to look at.

Plain data, so that tasks (which make them) need not import the tracker (which logs them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class AudioMedia:
    samples: np.ndarray
    sample_rate: int
    caption: str = ""


@dataclass
class ImageMedia:
    pixels: np.ndarray  # (height, width) or (height, width, 3), any range: scaled for display
    caption: str = ""
