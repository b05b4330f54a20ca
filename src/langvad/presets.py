"""The prompts of the method and each dataset preset's scene, context and rules of normality
(written once from each dataset's public description)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

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
