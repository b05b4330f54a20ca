"""Cost of the motion stage (tracks expert) per second of video, against decoding the same
frames in the same run.

    python benchmarks/motion.py [VIDEO ...]   (default: vtest.avi and the event-clip falls)

For each video: decode the sampled frames (10 per second, at most 640 px, as the stage reads
them) — the baseline every expert pays — then track them (MOG2 + ByteTrack at 320 px), then
read posture on every second sample (BlazePose, 5 per second). Prints seconds and the ratio
of each step to the video's length (real-time factor) and to decoding. The machine may be
shared: the ratios to decode measured in the same run are what carry over.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DEFAULT = [
    DATA / "clips" / "vtest.avi",
    DATA / "event_clips" / "fall_room_walkin.mp4",
    DATA / "event_clips" / "crash_cctv_intersection_wm.mp4",
    DATA / "normal_clips" / "upfall_Activity6_Subject1_Trial1Cam1.mp4",
]


def main(paths: list[Path]) -> None:
    from langvad.source import open_source
    from langvad.vision.describer.pose import PoseEstimator
    from langvad.vision.motion.events import motion_events
    from langvad.vision.motion.stage import MAX_SIDE, POSE_RATE
    from langvad.vision.motion.tracking import RATE, Tracker, sample_frames

    pose = PoseEstimator()
    every = max(1, round(RATE / POSE_RATE))
    rows = []
    for p in paths:
        s = open_source(p)
        idx = sample_frames(s.timestamps, RATE)
        t0 = time.perf_counter()
        frames = list(s.read(idx, max_side=MAX_SIDE))
        dec = time.perf_counter() - t0
        t0 = time.perf_counter()
        tr = Tracker()
        for f, t, rgb in frames:
            tr.step(f, t, rgb)
        tracks = tr.result()
        trk = time.perf_counter() - t0
        t0 = time.perf_counter()
        for k, (_f, _t, rgb) in enumerate(frames):
            if k % every == 0:
                pose.read(np.ascontiguousarray(rgb))
        pos = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_ev = len(motion_events(tracks))
        rules = time.perf_counter() - t0
        d = s.duration
        rows.append((p.name, d, dec, trk, pos, rules, len(tracks.tracks), n_ev))
    pose.close()
    print(
        "| video | video s | decode s (RTF) | tracking s (RTF, × decode) | posture s (RTF) "
        "| rules s | tracks |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, d, dec, trk, pos, rules, n_tr, _n in rows:
        print(
            f"| {name} | {d:.1f} | {dec:.2f} ({dec / d:.3f}) | {trk:.2f} ({trk / d:.3f}, "
            f"{trk / dec:.2f}×) | {pos:.2f} ({pos / d:.3f}) | {rules:.3f} | {n_tr} |"
        )
    tot = [sum(r[i] for r in rows) for i in range(1, 6)]
    print(
        f"| all | {tot[0]:.1f} | {tot[1]:.2f} ({tot[1] / tot[0]:.3f}) | {tot[2]:.2f} "
        f"({tot[2] / tot[0]:.3f}, {tot[2] / tot[1]:.2f}×) | {tot[3]:.2f} ({tot[3] / tot[0]:.3f})"
        f" | {tot[4]:.3f} | |"
    )


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]] or [p for p in DEFAULT if p.exists()])
