"""Agreement of the opt-in fire classifier (`fire_resnet`, PyPI fire-detector==1.0.3, no
licence stated) with the pixel fire expert, per clip, on the videos of benchmarks/fire.py.

    pip install --no-deps fire-detector==1.0.3   # opt-in, see README
    python benchmarks/fire_agreement.py

One clip per 2 s of each video (the pixel expert's 16 frames at 15 fps; the classifier's 3
frames 0.5 s apart around the same centre); a clip agrees when both say ≥ 0.5 or both < 0.5
(the pixel expert's calibrated and sustained fire probability, the classifier's median
P(fire)). Prints one Markdown row per video and the overall agreement.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    if importlib.util.find_spec("fire_detector") is None:
        print("fire-detector is not installed: pip install --no-deps fire-detector==1.0.3")
        return 2
    from fire import videos  # benchmarks/fire.py

    from langvad.video import probe, read_frames
    from langvad.vision.experts.base import clip_indices
    from langvad.vision.experts.fire import FireExpert
    from langvad.vision.experts.fire_resnet import FireResnetExpert

    pixel, cls = FireExpert(), FireResnetExpert()
    print("| video | label | clips | pixel ≥ 0.5 | classifier ≥ 0.5 | agreement |")
    print("|---|---|---|---|---|---|")
    total = agree = 0
    for path, label, _spans in videos():
        if not path.exists():
            continue
        info = probe(path)
        ts = list(info.timestamps)
        n = max(1, round(info.duration / 2))
        centres = [(k + 0.5) * info.duration / n for k in range(n)]
        a = [clip_indices(ts, c, pixel.clip_frames, pixel.clip_fps) for c in centres]
        b = [clip_indices(ts, c, cls.clip_frames, cls.clip_fps) for c in centres]
        need = sorted({i for c in a + b for i in c})
        frames = {i: rgb for i, _, rgb in read_frames(info, need)}
        pf = [p["fire"] for p in pixel.calibrate([pixel.score([frames[i] for i in c]) for c in a])]
        pr = [cls.score([frames[i] for i in c])["fire_scene"] for c in b]
        same = sum((x >= 0.5) == (y >= 0.5) for x, y in zip(pf, pr, strict=True))
        total += len(pf)
        agree += same
        print(
            f"| {path.name} | {label} | {len(pf)} | {sum(x >= 0.5 for x in pf)} | "
            f"{sum(y >= 0.5 for y in pr)} | {same / len(pf):.2f} |",
            flush=True,
        )
    print(f"\nAll {total} clips: agreement {agree / max(1, total):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
