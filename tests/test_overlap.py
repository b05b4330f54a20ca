"""The experts run while the frames are described (judged modes): the same scores,
segments and cache rows as one stage after the other, on a real clip with real models."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import CLIPS, need_shared
from test_describer import _need_describer

from langvad.config import preset_config
from langvad.engine.overlap import overlaps
from langvad.engine.runner import Runner
from langvad.source import open_source
from langvad.store import Store

CLIP = CLIPS / "VAU_car_accident.mp4"


def _rows(db: Path) -> dict[str, set[tuple[str, str]]]:
    with sqlite3.connect(db) as con:
        return {
            "artefacts": set(con.execute("SELECT key, value FROM artefacts")),
            "calls": set(con.execute("SELECT key, value FROM calls")),
        }


@pytest.mark.slow
def test_overlapped_and_sequential_runs_are_identical(tmp_path: Path, smollm, encoder) -> None:
    _need_describer()
    from langvad.vision.describer import load_describer

    source = open_source(need_shared(CLIP), None, None)
    describer = load_describer()
    runs = {}
    try:
        for overlap in (False, True):
            cfg = preset_config("ucf", llm="smollm2-135m-instruct", experts=["violence", "motion"])
            cfg = cfg.model_copy(update={"overlap": overlap, "explain": False})
            runner = Runner(
                cfg,
                store=Store(tmp_path / f"{overlap}.sqlite"),
                llm=smollm,
                encoder=encoder,
                captioner=describer,
                progress=True,  # both stages' bars in one live display
            )
            assert overlaps(runner.config, source) is overlap
            runs[overlap] = runner.run(source)
    finally:
        describer.close()
    seq, par = runs[False], runs[True]
    assert par.scores == seq.scores
    assert [(s.start_frame, s.end_frame, s.peak) for s in par.segments] == [
        (s.start_frame, s.end_frame, s.peak) for s in seq.segments
    ]
    assert [w.model_dump() for w in par.windows] == [w.model_dump() for w in seq.windows]
    assert par.provenance["usage"]["expert_calls"] == seq.provenance["usage"]["expert_calls"] > 0
    assert _rows(tmp_path / "True.sqlite") == _rows(tmp_path / "False.sqlite")
