"""Score a trained voice on its held-out sentences, for its model card (pipelines/voice/run.sh stage 7).

    python pipelines/voice/score.py data/voice_x/test.jsonl --voice exp/voice_x/tts/best \
        [--vocoder exp/voice_x/vocoder/best] [--count 20] -o exp/voice_x/scores.json

- Round trip: the voice says each test sentence and the shipped recognizer (beam 32 + its LM) transcribes it;
  the CER is set beside the same recognizer's CER on the speaker's own recordings of those sentences.
- DNSMOS OVRL / SIG / BAK (tools/dnsmos.py) of the voice's audio and of the recordings.
- Copy synthesis (with a trained vocoder): the vocoder and Griffin-Lim rebuild each recording from its mel;
  MCD, PESQ-wb and STOI against it (tools/bench_vocoder_quality.py's measures).

The scores go to a JSON file (written atomically) and a Markdown table on standard output; the synthesised
audio stays beside the JSON for listening. tools/bench_tts.py is the longer benchmark (paragraphs, speed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from bench_vocoder_quality import scores as copy_scores  # noqa: E402
from dnsmos import dnsmos  # noqa: E402

from speech.audio import atomic_output, read_audio, write_audio  # noqa: E402
from speech.data.manifest import read_manifest  # noqa: E402
from speech.errors import SpeechError  # noqa: E402
from speech.package import voice_scores_markdown  # noqa: E402
from speech.recognizer import Recognizer  # noqa: E402
from speech.scoring import error_rates  # noqa: E402
from speech.synthesizer import Synthesizer  # noqa: E402
from speech.text.normalize import normalize_text  # noqa: E402
from speech.vocoder.griffin_lim import GriffinLim  # noqa: E402


def round_trip(recognizer: Recognizer, audio: list[np.ndarray], rate: int, references: list[str]) -> float:
    """The recognizer's CER (%) on ``audio`` against the normalised references."""
    results = recognizer.transcribe([(samples, rate) for samples in audio])
    heard = [result.transcript.text if result.transcript else "" for result in results]
    return 100 * error_rates(references, heard)["cer"]


def score(manifest: Path, voice: Path, vocoder: Path | None, count: int, work: Path) -> dict[str, object]:
    """The card's numbers for a voice (and its vocoder) on the first ``count`` utterances of ``manifest``."""
    utterances = list(read_manifest(manifest))[:count]
    if not utterances:
        raise SpeechError(f"{manifest}: no utterances to score on")
    synthesizer = Synthesizer.load(voice, str(vocoder) if vocoder else "griffin-lim")
    rate = synthesizer.sample_rate
    recordings = [read_audio(u.audio, rate)[0] for u in utterances]
    spoken = [s.samples for s in synthesizer.synthesize_many([u.text for u in utterances])]
    for index, samples in enumerate(spoken):
        write_audio(work / f"voice-{index:03d}.wav", samples, rate)
    references = [normalize_text(u.text) for u in utterances]
    recognizer = Recognizer.load(beam=32)
    result: dict[str, object] = {
        "sentences": len(utterances),
        "vocoder": "ours" if vocoder else "griffin-lim",
        "round_trip_cer": {
            "voice": round(round_trip(recognizer, spoken, rate, references), 2),
            "recordings": round(round_trip(recognizer, recordings, rate, references), 2),
        },
        "dnsmos": {
            "voice": {k: round(v, 3) for k, v in dnsmos(spoken, rate).items()},
            "recordings": {k: round(v, 3) for k, v in dnsmos(recordings, rate).items()},
        },
    }
    if vocoder:
        systems = {"ours": synthesizer.vocoder, "griffin-lim": GriffinLim(synthesizer.features)}
        copy: dict[str, dict[str, float]] = {}
        for name, system in systems.items():
            rows = [copy_scores(x, system.copy_synthesis(x)[0]) for x in recordings]
            copy[name] = {key: round(float(np.mean([row[key] for row in rows])), 3) for key in rows[0]}
        result["copy_synthesis"] = copy
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path, help="held-out utterances (test.jsonl)")
    parser.add_argument("--voice", type=Path, required=True, help="the acoustic model's folder")
    parser.add_argument("--vocoder", type=Path, help="the vocoder's folder (default: Griffin-Lim only)")
    parser.add_argument("--count", type=int, default=20, help="sentences to score (default 20)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="scores JSON to write")
    args = parser.parse_args()
    try:
        work = args.out.parent / "audio"
        work.mkdir(parents=True, exist_ok=True)
        result = score(args.manifest, args.voice, args.vocoder, args.count, work)
    except SpeechError as error:
        sys.exit(f"score: {error}")
    with atomic_output(args.out, "w") as stream:
        json.dump(result, stream, indent=1)
    print(voice_scores_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
