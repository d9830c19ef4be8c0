"""Log-mel frames kept as NumPy ``.npy`` data (a file ``speech vocode`` reads, the frames a shard stores):
loaded without unpickling anything and checked, each problem one line naming where the frames came from."""

from __future__ import annotations

import io
import os

import numpy as np

from speech.errors import SpeechError


def load_npy(source: str | os.PathLike | bytes, where: str) -> np.ndarray:
    """One array from a ``.npy`` file or its bytes; a pickle, an ``.npz`` archive or anything else that is not
    a plain array is refused (never unpickled)."""
    try:
        array = np.load(io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False)
    except FileNotFoundError:
        raise SpeechError(f"{where}: file not found") from None
    except OSError as error:
        raise SpeechError(f"{where}: cannot read ({error.strerror or error})") from None
    except (ValueError, EOFError):
        raise SpeechError(f"{where}: not a NumPy .npy array file") from None
    if not isinstance(array, np.ndarray):  # an .npz archive loads as a lazy dictionary of arrays
        array.close()
        raise SpeechError(f"{where}: not a NumPy .npy array file (an .npz archive)")
    return array


def check_frames(frames: np.ndarray, where: str, dims: int | None = None) -> np.ndarray:
    """``frames`` as float32 (frames, dims) when they are at least one frame of finite floating-point values
    (of ``dims`` each, when given); else a SpeechError naming ``where``."""
    frames = np.asarray(frames)
    if frames.ndim != 2 or frames.shape[0] == 0 or (dims is not None and frames.shape[1] != dims):
        raise SpeechError(
            f"{where}: expected log-mel frames of shape (frames, {dims or 'mels'}), got {frames.shape}"
        )
    if not np.issubdtype(frames.dtype, np.floating) or not np.isfinite(frames).all():
        raise SpeechError(f"{where}: log-mel frames must be finite floating-point numbers")
    return frames.astype(np.float32, copy=False)
