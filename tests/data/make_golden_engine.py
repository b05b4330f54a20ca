"""Writes tests/data/golden_engine.json from detect runs made with the code BEFORE a change:
``python tests/data/make_golden_engine.py RUNS_DIR COMMIT`` where RUNS_DIR holds one
sub-folder per case (named as in ``tests/test_engine_golden.py``'s ENGINE_CASES), each with
the ``out/result.json`` of ``langvad detect ... --out out`` run on an empty cache."""

import json
import sys
from pathlib import Path


def golden_of(res: dict) -> dict:
    prov = res["provenance"]
    return {
        "scores": res["scores"],
        "windows": [
            [w["centre_frame"], w["score"], w["refined_score"], w["final_score"]]
            for w in res["windows"]
        ],
        "segments": [[s["start_frame"], s["end_frame"]] for s in res["segments"]],
        "stage_keys": prov["stage_keys"],
        "fields": sorted(res),
        "provenance_fields": sorted(prov),
        "window_fields": sorted(res["windows"][0]) if res["windows"] else [],
    }


def main() -> None:
    runs, commit = Path(sys.argv[1]), sys.argv[2]
    doc: dict = {"commit": commit}
    for d in sorted(p for p in runs.iterdir() if (p / "out" / "result.json").is_file()):
        doc[d.name] = golden_of(json.loads((d / "out" / "result.json").read_text()))
    dest = Path(__file__).parent / "golden_engine.json"
    dest.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {dest}: {sorted(k for k in doc if k != 'commit')}")


if __name__ == "__main__":
    main()
