"""Dataset loaders and annotation parsers: exact frame labels on real files and on fixture
trees written with the real line formats (METHOD.md, "Evaluation protocol")."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from conftest import CLIPS, TEXT_BENCH, need_shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langvad.errors import InputError
from langvad.eval import DATASETS, EvalItem, label_runs, load_dataset, segments_to_labels
from langvad.eval.datasets import (
    parse_ubnormal_tracks,
    parse_ucf_annotations,
    parse_ucsd_m,
    parse_xd_annotations,
)
from langvad.eval.datasets.annotations import one_based_ranges

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# UCSD Ped2 test ground truth as published in UCSDped2.m (MATLAB ranges: 1-based, inclusive),
# with each video's frame count.
PED2_RANGES = [(61, 180), (95, 180), (1, 146), (31, 180), (1, 129), (1, 159)]
PED2_RANGES += [(46, 180), (1, 180), (1, 120), (1, 150), (1, 180), (88, 180)]
PED2_FRAMES = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]


def naive_labels(n: int, segments: list[tuple[int, int]]) -> np.ndarray:
    """Reference: frame f is anomalous when start <= f <= end for some segment."""
    return np.array([int(any(s <= f <= e for s, e in segments)) for f in range(n)], np.int8)


def csv_ones(path: Path) -> tuple[int, int]:
    """(rows, 1-labels) of a text-bench labels CSV, counted straight from the raw file."""
    rows = path.read_text().splitlines()[1:]
    return len(rows), sum(r.rsplit(",", 1)[1].strip() == "1" for r in rows)


def write_frames(folder: Path, n: int, fmt: str = "{:03d}.jpg") -> None:
    """A frame folder with ``n`` image files (loaders count frame files; none is decoded)."""
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / fmt.format(i)).write_bytes(b"")


def link(target: Path, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def mat_cells(ranges: list[list[tuple[int, int]]]) -> np.ndarray:
    cells = np.empty((1, len(ranges)), dtype=object)
    for i, rs in enumerate(ranges):
        cells[0, i] = np.array(rs, dtype=float).T.reshape(2, -1)
    return cells


# ---------------------------------------------------------------------------------------------
# text bench (real files)


@pytest.mark.parametrize("sub", ["", "ped2"])
def test_text_bench_ped2_from_both_roots(sub: str) -> None:
    root = need_shared(TEXT_BENCH) / sub
    items = load_dataset(root, "ped2")
    assert [i.name for i in items] == [f"test_{k:02d}" for k in range(1, 13)]
    for item in items:
        assert item.video is None and item.fps == 10.0
        assert item.captions == TEXT_BENCH / "ped2" / "descriptions" / f"{item.name}.txt"
        assert item.labels.dtype == np.int8
        rows, ones = csv_ones(TEXT_BENCH / "ped2" / "labels" / f"{item.name}.csv")
        assert (item.n_frames, int(item.labels.sum())) == (rows, ones)
        assert item.n_frames == len(item.captions.read_text().splitlines())
    assert sum(i.n_frames for i in items) == 2010
    # by hand: test_01 is anomalous from its 61st frame to its end (UCSDped2.m: 61:180)
    assert items[0].labels.sum() == 120 and label_runs(items[0].labels) == [(60, 179)]
    assert int(items[2].labels.sum()) == 146


def test_text_bench_avenue() -> None:
    items = load_dataset(need_shared(TEXT_BENCH), "avenue")
    assert len(items) == 21 and {i.fps for i in items} == {25.0}
    for item in items:
        rows, ones = csv_ones(TEXT_BENCH / "avenue" / "labels" / f"{item.name}.csv")
        assert (item.n_frames, int(item.labels.sum())) == (rows, ones)
    assert sum(i.n_frames for i in items) == 15324
    by_name = {i.name: i for i in items}
    assert label_runs(by_name["test_08"].labels) == [(20, 29)]  # 36 frames, 10 anomalous
    assert by_name["test_08"].n_frames == 36
    assert by_name["test_21"].labels.sum() == 53


def test_text_bench_by_its_own_name_and_limit() -> None:
    items = load_dataset(need_shared(TEXT_BENCH) / "avenue", "text_bench", limit=2)
    assert [i.name for i in items] == ["test_01", "test_02"] and items[0].fps == 25.0
    with pytest.raises(InputError, match="is the ped2 text bench, not avenue"):
        load_dataset(TEXT_BENCH / "ped2", "avenue")


def test_text_bench_mismatched_captions(tmp_path: Path) -> None:
    src = need_shared(TEXT_BENCH) / "ped2"
    root = tmp_path / "ped2"
    (root / "labels").mkdir(parents=True)
    (root / "descriptions").mkdir()
    (root / "labels" / "test_01.csv").write_text((src / "labels" / "test_01.csv").read_text())
    lines = (src / "descriptions" / "test_01.txt").read_text().splitlines()
    (root / "descriptions" / "test_01.txt").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(InputError, match="179 captions but .* 180 labels"):
        load_dataset(root, "ped2")
    (root / "descriptions" / "test_01.txt").unlink()
    with pytest.raises(InputError, match=r"descriptions/test_01\.txt not found"):
        load_dataset(root, "ped2")


def test_text_bench_bad_csv_rows(tmp_path: Path) -> None:
    root = tmp_path / "avenue"
    (root / "labels").mkdir(parents=True)
    (root / "descriptions").mkdir()
    (root / "descriptions" / "test_01.txt").write_text("a\nb\nc\n")
    bad = "image_path,label\nx/000.jpg,0\nx/001.jpg,2\nx/002.jpg,1\n"
    (root / "labels" / "test_01.csv").write_text(bad)
    with pytest.raises(InputError, match=r"test_01\.csv, line 3: label '2'"):
        load_dataset(root, "avenue")
    swapped = "image_path,label\nx/000.jpg,0\nx/002.jpg,1\nx/001.jpg,1\n"
    (root / "labels" / "test_01.csv").write_text(swapped)
    with pytest.raises(InputError, match=r"line 3: x/002\.jpg is not frame 1"):
        load_dataset(root, "avenue")


# ---------------------------------------------------------------------------------------------
# clips (real videos, real annotation file)


def test_clips_real_annotations() -> None:
    root = need_shared(CLIPS)
    items = load_dataset(root, "clips")
    raw = [ln.split() for ln in (root / "annotations.txt").read_text().splitlines() if ln.strip()]
    assert [i.name for i in items] == [Path(r[0]).stem for r in raw]
    for item, r in zip(items, raw, strict=True):
        nums = [int(x) for x in r[2:]]
        expected = sum(e - s + 1 for s, e in zip(nums[::2], nums[1::2], strict=True) if s >= 0)
        assert int(item.labels.sum()) == expected
        assert item.meta["category"] == r[1] and item.video == root / r[0]
    fight, mind, vtest = items
    # by hand (README): Fighting033 excerpt, 271 frames, all anomalous; the others all normal
    assert (fight.n_frames, int(fight.labels.sum()), fight.fps) == (271, 271, 30.0)
    assert (mind.n_frames, int(mind.labels.sum())) == (256, 0) and mind.meta["normal"]
    assert (vtest.n_frames, int(vtest.labels.sum()), vtest.fps) == (795, 0, 10.0)


def test_clips_missing_video_and_annotation(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"annotations\.txt not found"):
        load_dataset(tmp_path, "clips")
    (tmp_path / "annotations.txt").write_text("gone.mp4  Fighting  0  10  -1  -1\n")
    with pytest.raises(InputError, match=r"video gone\.mp4 .*line 1.* not found"):
        load_dataset(tmp_path, "clips")


# ---------------------------------------------------------------------------------------------
# UCSD Ped2 / Avenue: .mat, UCSDped2.m and label masks (fixture trees)


def test_ped2_mat_matches_real_text_bench_labels(tmp_path: Path) -> None:
    """ped2.mat with the published 1-based inclusive ranges gives exactly the text-bench
    labels of the same videos: the .mat convention is checked against real labels."""
    bench = {i.name: i.labels for i in load_dataset(need_shared(TEXT_BENCH), "ped2")}
    for k, n in enumerate(PED2_FRAMES, 1):
        write_frames(tmp_path / "testing" / "frames" / f"{k:02d}", n)
    scipy.io.savemat(tmp_path / "ped2.mat", {"gt": mat_cells([[r] for r in PED2_RANGES])})
    items = load_dataset(tmp_path, "ped2")
    assert [i.name for i in items] == list(bench)
    for item in items:
        assert np.array_equal(item.labels, bench[item.name]), item.name
        assert item.fps == 10.0 and item.video is not None and item.video.is_dir()
        assert item.captions is None


def test_ped2_ucsd_layout_with_m_file(tmp_path: Path) -> None:
    bench = {i.name: i.labels for i in load_dataset(need_shared(TEXT_BENCH), "ped2")}
    test = tmp_path / "Test"
    lines = ["TestVideoFile = {};"]
    for k, (n, (s, e)) in enumerate(zip(PED2_FRAMES, PED2_RANGES, strict=True), 1):
        write_frames(test / f"Test{k:03d}", n, "{:03d}.tif")
        write_frames(test / f"Test{k:03d}_gt", 3, "{:03d}.bmp")  # pixel masks: not a video
        lines.append(f"TestVideoFile{{end+1}}.gt_frame = [{s}:{e}];")
    (test / "UCSDped2.m").write_text("\n".join(lines) + "\n")
    items = load_dataset(tmp_path, "ped2", limit=3)
    assert [i.name for i in items] == ["test_01", "test_02", "test_03"]
    for item in items:
        assert np.array_equal(item.labels, bench[item.name])


def test_avenue_mat_several_ranges_per_video(tmp_path: Path) -> None:
    bench = {i.name: i.labels for i in load_dataset(need_shared(TEXT_BENCH), "avenue")}
    # published avenue.mat ranges of test videos 02 and 08 (1-based, inclusive)
    ranges = {2: [(273, 320), (724, 764), (1051, 1100)], 8: [(21, 30)]}
    for k in ranges:
        write_frames(tmp_path / "testing" / "frames" / f"{k:02d}", len(bench[f"test_{k:02d}"]))
    scipy.io.savemat(tmp_path / "avenue.mat", {"gt": mat_cells(list(ranges.values()))})
    items = load_dataset(tmp_path, "avenue")
    assert [i.name for i in items] == ["test_02", "test_08"]
    for item in items:
        assert np.array_equal(item.labels, bench[item.name])
    assert int(items[0].labels.sum()) == 48 + 41 + 50 == 139


def test_avenue_label_masks(tmp_path: Path) -> None:
    write_frames(tmp_path / "testing" / "frames" / "01", 5)
    vol = np.empty((1, 5), dtype=object)
    for f in range(5):
        vol[0, f] = np.zeros((4, 6), np.uint8)
    vol[0, 2][1, 3] = 1
    vol[0, 3][0, 0] = 1
    masks = tmp_path / "ground_truth_demo" / "testing_label_mask"
    masks.mkdir(parents=True)
    scipy.io.savemat(masks / "1_label.mat", {"volLabel": vol})
    (item,) = load_dataset(tmp_path, "avenue")
    assert item.labels.tolist() == [0, 0, 1, 1, 0]


def test_ucsd_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no test videos under .*testing/frames/NN/"):
        load_dataset(tmp_path, "ped2")
    write_frames(tmp_path / "testing" / "frames" / "01", 10)
    write_frames(tmp_path / "testing" / "frames" / "02", 10)
    with pytest.raises(InputError, match=r"ped2 ground truth not found .*ped2\.mat"):
        load_dataset(tmp_path, "ped2")
    scipy.io.savemat(tmp_path / "ped2.mat", {"gt": mat_cells([[(1, 5)]])})
    with pytest.raises(InputError, match="ground truth for 1 videos but .* 2 test videos"):
        load_dataset(tmp_path, "ped2")
    scipy.io.savemat(tmp_path / "ped2.mat", {"gt": mat_cells([[(1, 5)], [(3, 11)]])})
    with pytest.raises(
        InputError, match=r"ped2\.mat, video 2 \(02\): frame range \[3, 11\] \(1-based\) ends after"
    ):
        load_dataset(tmp_path, "ped2")
    scipy.io.savemat(tmp_path / "ped2.mat", {"gt": mat_cells([[(1, 5)], [(0, 3)]])})
    with pytest.raises(InputError, match=r"gt cell 2: bad frame range \[0, 3\]"):
        load_dataset(tmp_path, "ped2")
    scipy.io.savemat(tmp_path / "ped2.mat", {"labels": np.zeros(3)})
    with pytest.raises(InputError, match="has no variable 'gt'"):
        load_dataset(tmp_path, "ped2")
    (tmp_path / "ped2.mat").write_text("not a mat file")
    with pytest.raises(InputError, match="cannot read .*ped2.mat as a MATLAB file"):
        load_dataset(tmp_path, "ped2")


# ---------------------------------------------------------------------------------------------
# UCF-Crime and XD-Violence (fixture trees; real clips stand in for the videos)


def test_ucf_category_folders(tmp_path: Path) -> None:
    clips = need_shared(CLIPS)
    link(clips / "Fighting033_x264_570_841.mp4", tmp_path / "Arson" / "Arson011_x264.mp4")
    normal = tmp_path / "Testing_Normal_Videos_Anomaly" / "Normal_Videos_003_x264.mp4"
    link(clips / "A_Beautiful_Mind_label_A_1845_2101.mp4", normal)
    split = tmp_path / "UCF_Crimes-Train-Test-Split" / "Anomaly_Detection_splits"
    split.mkdir(parents=True)
    (split / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt").write_text(
        "Arson011_x264.mp4  Arson  150  200  220  270\t\n"
        "Normal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1  \n"
    )
    (split / "Anomaly_Test.txt").write_text(
        "Testing_Normal_Videos_Anomaly/Normal_Videos_003_x264.mp4\nArson/Arson011_x264.mp4\n"
    )
    normal_item, arson = load_dataset(tmp_path, "ucf")  # Anomaly_Test.txt order
    assert (arson.name, arson.meta["category"], arson.n_frames) == ("Arson011_x264", "Arson", 271)
    assert np.array_equal(arson.labels, naive_labels(271, [(150, 200), (220, 270)]))
    assert int(arson.labels.sum()) == 51 + 51  # inclusive ends
    assert arson.labels[149] == 0 and arson.labels[150] == 1 and arson.labels[201] == 0
    assert normal_item.name == "Normal_Videos_003_x264" and normal_item.meta["normal"]
    assert normal_item.labels.sum() == 0 and normal_item.n_frames == 256


def test_ucf_overrun_is_cut_with_warning_and_errors(tmp_path: Path) -> None:
    link(need_shared(CLIPS) / "Fighting033_x264_570_841.mp4", tmp_path / "Abuse028_x264.mp4")
    ann = tmp_path / "Temporal_Anomaly_Annotation_for_Testing_Videos.txt"
    ann.write_text("Abuse028_x264.mp4  Abuse  265  280  -1  -1\n")
    with pytest.warns(UserWarning, match="10 frame"):
        (item,) = load_dataset(tmp_path, "ucf")
    assert item.labels.sum() == 6 and item.meta["clipped_frames"] == 10
    ann.write_text("Abuse028_x264.mp4  Abuse  300  310  -1  -1\n")
    with pytest.raises(InputError, match=r"line 1 .*starts after the last frame"):
        load_dataset(tmp_path, "ucf")
    ann.write_text("Abuse028_x264.mp4  Abuse  1  2  -1  -1\nAbuse028_x264.mp4  Abuse  150  1O0\n")
    with pytest.raises(InputError, match=r"Testing_Videos\.txt, line 2: '1O0' is not a whole"):
        load_dataset(tmp_path, "ucf")
    (tmp_path / "Anomaly_Test.txt").write_text("Abuse/Abuse099_x264.mp4\n")
    ann.write_text("Abuse028_x264.mp4  Abuse  1  2  -1  -1\n")
    with pytest.raises(InputError, match=r"Anomaly_Test\.txt, line 1: .*Abuse099.* no line"):
        load_dataset(tmp_path, "ucf")
    ann.unlink()
    with pytest.raises(InputError, match="Temporal_Anomaly_Annotation_for_Testing_Videos.txt"):
        load_dataset(tmp_path, "ucf")


def test_xd_violence(tmp_path: Path) -> None:
    clips = need_shared(CLIPS)
    violent = "Bad.Boys.II.2003__#01-11-55_01-12-40_label_B2-G-0"
    normal = "A.Beautiful.Mind.2001__#00-25-20_00-29-20_label_A"
    link(clips / "Fighting033_x264_570_841.mp4", tmp_path / "videos" / f"{violent}.mp4")
    link(clips / "A_Beautiful_Mind_label_A_1845_2101.mp4", tmp_path / "videos" / f"{normal}.mp4")
    (tmp_path / "annotations.txt").write_text(f"{violent} 0 15 100 131 260 270\n")
    mind, bad = load_dataset(tmp_path, "xd")
    assert bad.name == violent and bad.meta == {
        "normal": False,
        "category": "B2-G-0",
        "segments": [[0, 15], [100, 131], [260, 270]],
    }
    assert np.array_equal(bad.labels, naive_labels(271, [(0, 15), (100, 131), (260, 270)]))
    assert int(bad.labels.sum()) == 16 + 32 + 11
    assert mind.name == normal and mind.meta["normal"] and mind.labels.sum() == 0

    (tmp_path / "annotations.txt").write_text(f"{violent} 0 15\nOther.Film__#1_label_B1-0-0 1 2\n")
    with pytest.raises(InputError, match=r"Other\.Film.*line 2.*not found"):
        load_dataset(tmp_path, "xd")
    assert len(load_dataset(tmp_path, "xd", limit=1)) == 1  # a partial copy with limit=
    (tmp_path / "annotations.txt").write_text(f"{normal} 0 15\n")
    with pytest.raises(InputError, match=r"line 1: .*label_A.* normal"):
        load_dataset(tmp_path, "xd")
    (tmp_path / "annotations.txt").write_text("\n")
    with pytest.raises(InputError, match=rf"violent video .*{re.escape(violent)}.* no line"):
        load_dataset(tmp_path, "xd")


# ---------------------------------------------------------------------------------------------
# ShanghaiTech and UBnormal (fixture trees)


def test_shanghaitech(tmp_path: Path) -> None:
    t = tmp_path / "testing"
    labels = np.array([0, 0, 1, 1, 1, 0, 0, 1], dtype=np.uint8)
    (t / "test_frame_mask").mkdir(parents=True)
    np.save(t / "test_frame_mask" / "01_0014.npy", labels)
    np.save(t / "test_frame_mask" / "01_0015.npy", np.zeros(3))
    write_frames(t / "frames" / "01_0014", 8)
    write_frames(t / "frames" / "01_0015", 3)
    for root in (tmp_path, t):
        a, b = load_dataset(root, "shanghaitech")
        assert (a.name, a.labels.tolist(), a.fps) == ("01_0014", labels.tolist(), None)
        assert a.video == t / "frames" / "01_0014" and b.meta["normal"] and b.n_frames == 3
    np.save(t / "test_frame_mask" / "01_0015.npy", np.zeros(4))
    with pytest.raises(InputError, match="01_0015.npy has 4 labels but .* 3 frames"):
        load_dataset(tmp_path, "shanghaitech")
    np.save(t / "test_frame_mask" / "01_0015.npy", np.array([0, 2, 0]))
    with pytest.raises(InputError, match="frame 1 has label 2"):
        load_dataset(tmp_path, "shanghaitech")
    np.save(t / "test_frame_mask" / "01_0015.npy", np.zeros(3))
    np.save(t / "test_frame_mask" / "01_0016.npy", np.zeros(3))
    with pytest.raises(InputError, match="frame folder for 01_0016 not found"):
        load_dataset(tmp_path, "shanghaitech", limit=3)
    with pytest.raises(InputError, match=r"testing/test_frame_mask not found"):
        load_dataset(t / "frames", "shanghaitech")


def test_ubnormal(tmp_path: Path) -> None:
    clips = need_shared(CLIPS)
    ab, no = "abnormal_scene_1_scenario_1", "normal_scene_1_scenario_2"
    link(clips / "Fighting033_x264_570_841.mp4", tmp_path / "Scene1" / f"{ab}.mp4")
    link(clips / "A_Beautiful_Mind_label_A_1845_2101.mp4", tmp_path / "Scene1" / f"{no}.mp4")
    tracks = tmp_path / "Scene1" / f"{ab}_annotations" / f"{ab}_tracks.txt"
    tracks.parent.mkdir()
    tracks.write_text(  # numpy.savetxt's default float format, as UBnormal's files may be
        "1.000000000000000000e+00,1.000000000000000000e+01,2.000000000000000000e+01\n2,15,30\n"
    )
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "abnormal_test_video_names.txt").write_text(f"{ab}\n")
    (tmp_path / "scripts" / "normal_test_video_names.txt").write_text(f"{no}\n")
    a, n = load_dataset(tmp_path, "ubnormal")
    assert np.array_equal(a.labels, naive_labels(271, [(10, 30)])) and a.labels.sum() == 21
    assert (n.name, int(n.labels.sum()), n.n_frames) == (no, 0, 256)
    tracks.write_text("1,10,20\n2,15\n")
    with pytest.raises(InputError, match=r"_tracks\.txt, line 2: expected 'object_id,start,end'"):
        load_dataset(tmp_path, "ubnormal")
    tracks.write_text("1,10,300\n")
    with pytest.raises(InputError, match="ends after the last frame"):
        load_dataset(tmp_path, "ubnormal")
    tracks.unlink()
    with pytest.raises(InputError, match="tracks file .* not found"):
        load_dataset(tmp_path, "ubnormal")
    (tmp_path / "scripts" / "normal_test_video_names.txt").unlink()
    with pytest.raises(InputError, match="normal_test_video_names.txt not found"):
        load_dataset(tmp_path, "ubnormal")


# ---------------------------------------------------------------------------------------------
# registry


def test_registry_and_unknown_names(tmp_path: Path) -> None:
    assert set(DATASETS) >= {"ucf", "xd", "ped2", "avenue", "shanghaitech", "ubnormal", "clips"}
    assert all(spec.description and spec.name == key for key, spec in DATASETS.items())
    with pytest.raises(InputError, match="unknown dataset 'kinetics'"):
        load_dataset(tmp_path, "kinetics")
    with pytest.raises(InputError, match="dataset folder .* not found"):
        load_dataset(tmp_path / "nope", "ucf")
    with pytest.raises(InputError, match="no text-bench layout"):
        load_dataset(tmp_path, "text_bench")


def test_eval_item_is_typed() -> None:
    item = EvalItem("v", None, None, np.array([0, 1], np.int8), None)
    assert item.n_frames == 2 and not item.is_normal and item.meta == {}


# ---------------------------------------------------------------------------------------------
# fuzzing the parsers: valid segments give exact labels; malformed lines always raise

frames = st.integers(min_value=1, max_value=400)


@st.composite
def segments_in(draw: st.DrawFn, n: int, max_size: int = 4) -> list[tuple[int, int]]:
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        s = draw(st.integers(0, n - 1))
        out.append((s, draw(st.integers(s, n - 1))))
    return out


@FUZZ
@given(data=st.data(), n=frames)
def test_fuzz_ucf_valid_segments_exact_labels(data: st.DataObject, n: int) -> None:
    segs = data.draw(segments_in(n).filter(bool))
    padded = segs + [(-1, -1)] * data.draw(st.integers(0, 2))
    nums = "  ".join(f"{s}  {e}" for s, e in padded)
    (ann,) = parse_ucf_annotations(f"Vid001_x264.mp4  Robbery  {nums}  \n", "a.txt")
    assert list(ann.segments) == segs and ann.line == 1
    labels = segments_to_labels(n, ann.segments, where="a.txt")
    assert np.array_equal(labels, naive_labels(n, segs))
    assert label_runs(labels) == label_runs(naive_labels(n, segs))


@FUZZ
@given(data=st.data(), n=frames)
def test_fuzz_xd_and_tracks_valid_segments(data: st.DataObject, n: int) -> None:
    segs = data.draw(segments_in(n).filter(bool))
    text = "Film.2001__#00-01_label_B1-0-0 " + " ".join(f"{s} {e}" for s, e in segs)
    (ann,) = parse_xd_annotations(text, "annotations.txt")
    tracks = "\n".join(f"{k},{s},{e}" for k, (s, e) in enumerate(segs, 1))
    for parsed in (ann.segments, parse_ubnormal_tracks(tracks, "t.txt")):
        assert np.array_equal(segments_to_labels(n, parsed, where="x"), naive_labels(n, segs))


@FUZZ
@given(data=st.data(), n=frames)
def test_fuzz_one_based_ranges(data: st.DataObject, n: int) -> None:
    segs = data.draw(segments_in(n))
    one_based = [(s + 1, e + 1) for s, e in segs]
    arr = np.array(one_based, dtype=float).T.reshape(2, -1)
    assert list(one_based_ranges(arr, "gt")) == segs
    body = ", ".join(f"{s}:{e}" for s, e in one_based)
    (parsed,) = parse_ucsd_m(f"TestVideoFile{{end+1}}.gt_frame = [{body}];\n", "UCSDped2.m")
    assert np.array_equal(segments_to_labels(n, parsed, where="m"), naive_labels(n, segs))


# tokens that are not plain ASCII integers (no whitespace or line breaks inside one token),
# with the ones Python's int() would quietly accept
TRICKY = ["+5", "1_0", "\u0663", "\uff15", "1.0", "0x10", "1e3", "-0.0", "--1", "5-"]
junk = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet=st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=6),
).filter(lambda t: not re.fullmatch(r"-?[0-9]+", t))
PLAIN_INT = re.compile(r"-?[0-9]+")


@st.composite
def malformed_ucf_line(draw: st.DrawFn) -> str:
    n = 1000
    segs = draw(segments_in(n).filter(bool))
    nums = [str(x) for s, e in segs for x in (s, e)]
    kind = draw(st.sampled_from(["junk", "drop", "reverse", "negative", "half", "normal"]))
    i = draw(st.integers(0, len(nums) - 1))
    category = "Burglary"
    if kind == "junk":
        nums[i] = draw(junk)
    elif kind == "drop":
        del nums[i]
    elif kind == "reverse":
        k = i // 2
        s, e = segs[k]
        nums[2 * k : 2 * k + 2] = [str(e + 1 + draw(st.integers(0, 5))), str(s)]
    elif kind == "negative":
        nums[i] = str(draw(st.integers(-(10**6), -2)))
    elif kind == "half":
        nums[i] = "-1"
        nums[i ^ 1] = str(draw(st.integers(0, n)))
    else:
        category = "Normal"
    return f"Burglary011_x264.mp4  {category}  " + "  ".join(nums)


@FUZZ
@given(bad=malformed_ucf_line(), before=st.integers(0, 3), after=st.integers(0, 3))
def test_fuzz_malformed_ucf_line_raises_with_line_number(bad: str, before: int, after: int) -> None:
    good = [f"Normal_Videos_{k:03d}_x264.mp4  Normal  -1  -1  -1  -1" for k in range(6)]
    text = "\n".join([*good[:before], bad, *good[before : before + after]])
    with pytest.raises(InputError, match=rf"^ann\.txt, line {before + 1}: "):
        parse_ucf_annotations(text, "ann.txt")


token = st.one_of(
    st.integers(-3, 50).map(str), junk, st.sampled_from(["-1", "0", "Normal", "Fighting"])
)


@FUZZ
@given(tokens=st.lists(token, min_size=0, max_size=8), n=st.integers(1, 60))
def test_fuzz_any_ucf_line_is_exact_or_rejected(tokens: list[str], n: int) -> None:
    """Whatever the line, the parser either raises InputError or returns exactly the label
    the format defines: never a silently different label."""
    line = "  ".join(tokens)
    try:
        anns = parse_ucf_annotations(line, "ann.txt")
        labels = [segments_to_labels(n, a.segments, where="x") for a in anns]
    except InputError:
        return
    if not line.strip():
        assert anns == []
        return
    assert all(PLAIN_INT.fullmatch(t) for t in tokens[2:])  # accepted -> plain integers only
    nums = [int(t) for t in tokens[2:]]
    pairs = [(s, e) for s, e in zip(nums[::2], nums[1::2], strict=True) if (s, e) != (-1, -1)]
    assert len(nums) % 2 == 0 and all(0 <= s <= e < n for s, e in pairs)
    assert (tokens[1].lower() == "normal") == (not pairs)
    assert np.array_equal(labels[0], naive_labels(n, pairs))


@pytest.mark.parametrize("bad", [",", "1", "1,2", "1,2,3,4", "a,1,2", "1,2,x", "1,5,2", "1,-3,4"])
def test_malformed_tracks(bad: str) -> None:
    with pytest.raises(InputError, match=r"t\.txt, line 2"):
        parse_ubnormal_tracks(f"1,0,5\n{bad}\n", "t.txt")


@FUZZ
@given(fields=st.lists(st.one_of(token, st.floats().map(str)), min_size=1, max_size=4))
def test_fuzz_any_tracks_line_is_exact_or_rejected(fields: list[str]) -> None:
    try:
        segs = parse_ubnormal_tracks(",".join(fields), "t.txt")
    except InputError:
        return
    nums = [float(f) for f in fields]
    assert len(fields) == 3 and all(x == int(x) for x in nums)
    assert segs == ((int(nums[1]), int(nums[2])),) and 0 <= nums[1] <= nums[2]


@FUZZ
@given(line=st.lists(token, min_size=1, max_size=7).map(" ".join))
def test_fuzz_any_xd_line_is_exact_or_rejected(line: str) -> None:
    try:
        (ann,) = parse_xd_annotations(line, "annotations.txt")
    except InputError:
        return
    tokens = line.split()
    assert all(PLAIN_INT.fullmatch(t) for t in tokens[1:])
    nums = [int(t) for t in tokens[1:]]
    assert len(nums) >= 2 and len(nums) % 2 == 0 and "label_A" not in tokens[0]
    assert list(ann.segments) == list(zip(nums[::2], nums[1::2], strict=True))
    assert all(0 <= s <= e for s, e in ann.segments)


def test_segments_to_labels_edges() -> None:
    assert segments_to_labels(5, [(0, 0), (4, 4)], where="x").tolist() == [1, 0, 0, 0, 1]
    with pytest.raises(InputError, match="x: bad segment"):
        segments_to_labels(5, [(3, 2)], where="x")
    with pytest.raises(InputError, match="ends after the last frame"):
        segments_to_labels(5, [(3, 5)], where="x")
    with pytest.warns(UserWarning, match="1 frame"):
        assert segments_to_labels(5, [(3, 5)], where="x", clip=True).tolist() == [0, 0, 0, 1, 1]


def test_existing_label_reader_still_reads_text_bench() -> None:
    from langvad.eval import load_frame_labels

    path = need_shared(TEXT_BENCH) / "ped2" / "labels" / "test_02.csv"
    with path.open() as f:
        expected = [int(r["label"]) for r in csv.DictReader(f)]
    assert load_frame_labels(path).tolist() == expected
