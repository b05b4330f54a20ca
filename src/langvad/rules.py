"""Rules of normality for one camera: an editable text file, read and written here.

The file is Markdown with up to three sections; comments, blank lines and notes under other
headings are ignored, but a list item under another heading (a typo such as ``# Abnormall``)
is refused, as is a phrase under both ``# Normal`` and ``# Abnormal``::

    # Scene
    The camera overlooks a pedestrian walkway.

    # Normal
    - people walking on the walkway
    - a person standing

    # Abnormal
    - a person riding a bicycle
    - a small cart on the walkway

Each list item is one short phrase worded the way a frame description would say it. The judge
compares every item it reads in a description with these phrases; the LLM reads the scene and
both lists in its score and explanation prompts. ``langvad induce`` writes such a file from
normal footage; users edit it and pass it back with ``--rules FILE``.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from langvad.config import Config
from langvad.errors import InputError

MAX_ITEMS = 64
MAX_ITEM_CHARS = 160
MAX_SCENE_CHARS = 1000
_HEADING = re.compile(r"^#{1,6}\s*(.+?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(.*)$")
_SECTIONS = {"scene": "scene", "normal": "normal", "abnormal": "abnormal", "anomalous": "abnormal"}


class Rules(BaseModel):
    """What is normal and abnormal where the camera is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scene: str = ""
    normal: tuple[str, ...] = Field(default=())
    abnormal: tuple[str, ...] = Field(default=())


def parse_rules(text: str, *, source: str = "rules") -> Rules:
    """Parse the Markdown form; InputError (naming ``source``) when it has no abnormal item, an
    item is too long, or a list is too long."""
    section: str | None = None
    unknown: tuple[int, str] | None = None  # the unknown heading we are under, if any
    scene: list[str] = []
    lists: dict[str, list[str]] = {"normal": [], "abnormal": []}
    for lineno, line in enumerate(text.splitlines(), 1):
        h = _HEADING.match(line)
        if h:
            title = h.group(1).strip()
            section = _SECTIONS.get(title.lower().rstrip(":"))
            unknown = None if section else (lineno, title)
            continue
        if unknown is not None and _ITEM.match(line):
            raise InputError(
                f"{source}, line {lineno}: list item under the unknown heading "
                f"'# {unknown[1][:40]}' (line {unknown[0]}); known headings: # Scene, "
                "# Normal, # Abnormal",
                hint="rename the heading to one of those, or remove the list",
            )
        if section is None or not line.strip():
            continue
        if section == "scene":
            scene.append(line.strip())
            continue
        m = _ITEM.match(line)
        if not m:
            raise InputError(
                f"{source}, line {lineno}: expected a list item ('- phrase') under "
                f"'# {section.capitalize()}', got {line.strip()[:60]!r}",
                hint="write one '- phrase' per line",
            )
        item = " ".join(m.group(1).split())
        if len(item) > MAX_ITEM_CHARS:
            raise InputError(
                f"{source}, line {lineno}: item longer than {MAX_ITEM_CHARS} characters",
                hint="each item is one short phrase, e.g. '- a person riding a bicycle'",
            )
        if item and item not in lists[section]:
            lists[section].append(item)
    both = {x.lower() for x in lists["normal"]} & {x.lower() for x in lists["abnormal"]}
    if both:
        phrase = next(x for x in lists["abnormal"] if x.lower() in both)
        raise InputError(
            f"{source}: {phrase[:60]!r} is under both '# Normal' and '# Abnormal'",
            hint="keep each phrase in one list (the judge cannot tell them apart otherwise)",
        )
    if not lists["abnormal"]:
        raise InputError(
            f"{source} has no '# Abnormal' list",
            hint="add a '# Abnormal' heading with at least one '- phrase' under it",
        )
    for name, items in lists.items():
        if len(items) > MAX_ITEMS:
            raise InputError(
                f"{source}: {len(items)} {name} items (at most {MAX_ITEMS})",
                hint="keep the lists short: one phrase per kind of event",
            )
    scene_text = " ".join(scene)
    if len(scene_text) > MAX_SCENE_CHARS:
        raise InputError(
            f"{source}: the scene text is longer than {MAX_SCENE_CHARS} characters",
            hint="describe the camera's view in one or two sentences",
        )
    return Rules(scene=scene_text, normal=tuple(lists["normal"]), abnormal=tuple(lists["abnormal"]))


def load_rules(path: str | Path) -> Rules:
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"rules file {p} not found", hint="check the path, or write one with langvad induce"
        )
    from langvad.userfiles import read_text_file  # BOM, size limit, one clear error

    return parse_rules(read_text_file(p, "rules file")[1], source=f"rules file {p}")


def render_rules(rules: Rules, *, header: str = "") -> str:
    """The Markdown form; ``parse_rules(render_rules(r)) == r``."""
    lines = [f"<!-- {header} -->", ""] if header else []
    if rules.scene:
        lines += ["# Scene", rules.scene, ""]
    lines += ["# Normal", *(f"- {x}" for x in rules.normal), ""]
    lines += ["# Abnormal", *(f"- {x}" for x in rules.abnormal), ""]
    return "\n".join(lines)


def with_rules(config: Config, rules: Rules) -> Config:
    """The config with the rules in its prompts: both lists replaced, the scene text replaced
    when the rules give one."""
    update: dict[str, object] = {"normal": rules.normal, "abnormal": rules.abnormal}
    if rules.scene:
        update["scene"] = rules.scene
    return config.model_copy(update={"prompts": config.prompts.model_copy(update=update)})


def rules_of_config(config: Config) -> Rules:
    p = config.prompts
    return Rules(scene=p.scene, normal=p.normal, abnormal=p.abnormal)
