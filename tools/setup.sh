#!/usr/bin/env bash
# Set up from nothing: the Debian packages (installed when run as root, otherwise the command is printed),
# a virtual environment, and the package with its pinned dependencies. Safe to run again.
set -euo pipefail
venv=${1:-.venv}
cd "$(dirname "$0")/.."

# Speech synthesisers for corpora and tests, real read speech for tests, sox for audio checks.
debian_packages=(espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
                 pocketsphinx-testdata sox libsndfile1)
if command -v dpkg-query >/dev/null; then
    missing=()
    for package in "${debian_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        if [ "$(id -u)" = 0 ]; then
            echo "setup: installing Debian packages: ${missing[*]}"
            apt-get update -q
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
        else
            echo "setup: missing Debian packages; tests that need them will skip. Install them with:"
            echo "    sudo apt-get install -y ${missing[*]}"
        fi
    fi
else
    echo "setup: not a Debian system; install espeak-ng, flite, festival (+ voices) and sox yourself"
fi

python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating $venv with $($python --version)"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[dev]'
"$venv/bin/python" -c "import torch, torchaudio, speech; print(f'setup: speech {speech.__version__}, torch {torch.__version__}, torchaudio {torchaudio.__version__}')"
