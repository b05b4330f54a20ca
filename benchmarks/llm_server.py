"""Requests per second against the local LLM server (``langvad llm-server``) at 1, 2 and 4
requests in flight.

Starts :class:`LLMServer` in this process on the default 1.5B model with 4 parallel slots on
127.0.0.1 (a free port), then sends LAVAD's option-scoring request (the ``score_messages``
prompt of a preset, with a Ped2 text-bench description as the window's text, prefilled with
"[" and asking for the top 20 next-token log-probabilities: the first call of every window
score) through the project's client (``OpenAICompatLLM``) with ``ordered_map``, as the
pipeline's window stages do with ``--concurrency N``. Every level sends the same N requests
(distinct descriptions, the same prompt shape); the server evaluates each prompt afresh (no
prefix cache), so the levels do the same work. Prints requests/s, seconds per request and
the speed-up over 1 in flight, and checks that every level returned the same
log-probabilities as 1 in flight.

    python benchmarks/llm_server.py [--model NAME] [--requests 16] [--parallel 4]
        [--threads N] [--preset ped2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from langvad.concurrency import ordered_map
from langvad.config import DEFAULT_LLM, PRESET_PROMPTS
from langvad.models.llm_server import LLMServer
from langvad.models.openai_llm import OpenAICompatLLM
from langvad.stages.prompts import score_messages

TEXT_BENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "text_bench"
LEVELS = (1, 2, 4)


def window_texts(n: int) -> list[str]:
    """``n`` distinct Ped2 descriptions (one frame's caption each), cycling the test videos."""
    seen: dict[str, None] = {}
    for f in sorted((TEXT_BENCH / "ped2" / "descriptions").glob("test_*.txt")):
        for line in f.read_text().splitlines():
            if line.strip():
                seen.setdefault(line.strip())
            if len(seen) >= n:
                return list(seen)
    if not seen:
        raise SystemExit(f"no Ped2 descriptions under {TEXT_BENCH} (clone ../shared)")
    texts = list(seen)
    return [texts[i % len(texts)] for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_LLM)
    ap.add_argument("--requests", type=int, default=16, help="requests per level")
    ap.add_argument("--parallel", type=int, default=4, help="server slots")
    ap.add_argument("--threads", type=int, default=None, help="server CPU threads")
    ap.add_argument("--preset", default="ped2")
    args = ap.parse_args()
    console = Console()
    prompts = PRESET_PROMPTS[args.preset]
    texts = window_texts(args.requests)

    t0 = time.perf_counter()
    with LLMServer(args.model, port=0, parallel=args.parallel, threads=args.threads) as srv:
        console.print(
            f"[bold]{srv.name}[/] at {srv.url}: {args.parallel} slots, {srv.threads} threads, "
            f"loaded in {time.perf_counter() - t0:.1f} s"
        )
        llm = OpenAICompatLLM(srv.name, srv.url, max_retries=0)

        def request(text: str) -> dict[str, float]:
            return llm.next_token_logprobs(score_messages(prompts, text), "[", top=20)

        request(texts[0])  # warm-up: first-use allocations, page cache
        prompt_tokens = llm.stats["prompt_tokens"]
        rows: list[tuple[int, float, bool]] = []
        reference: list[dict[str, float]] | None = None
        for n in LEVELS:
            t = time.perf_counter()
            out = ordered_map(request, texts, n)
            seconds = time.perf_counter() - t
            reference = reference if reference is not None else out
            rows.append((n, seconds, out == reference))

    table = Table(title=f"LAVAD score requests ({args.requests} per level, {prompts_note(args)})")
    for col in ("in flight", "seconds", "requests/s", "s/request", "vs 1 in flight", "same"):
        table.add_column(col, justify="right")
    base = args.requests / rows[0][1]
    for n, seconds, same in rows:
        rps = args.requests / seconds
        table.add_row(
            str(n),
            f"{seconds:.1f}",
            f"{rps:.2f}",
            f"{seconds / args.requests:.2f}",
            f"{rps / base:.2f}x",
            "yes" if same else "NO",
        )
    console.print(table)
    console.print(f"prompt: ~{prompt_tokens} tokens per request (warm-up)")
    return 0 if all(same for *_, same in rows) else 1


def prompts_note(args: argparse.Namespace) -> str:
    return f"preset {args.preset}, server --parallel {args.parallel}"


if __name__ == "__main__":
    raise SystemExit(main())
