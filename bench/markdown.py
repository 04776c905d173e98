"""Pathological Markdown: `python -m bench.markdown` prints the worst render time per pattern.

Every pattern is repeated to the fields' maximum length (20,000 characters). Such a text is either
refused by the form (too many marks) or, when it comes from elsewhere (CLI, demo), shown as plain
text; so two figures per pattern: the full-length text as the app handles it (weighing + render or
plain text), and the longest prefix that is still accepted, rendered as Markdown. Both are compared
with ordinary Markdown prose of the same length, rendered in the same run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from incidents.markdown import DEFAULT_MAX_COST, markdown_cost, render_uncached

MAX_LENGTH = 20_000
PROSE = ("Restored **12,400** contacts from the nightly tape; the counts match the device sync log. "
         "See [the runbook](https://wiki.example.com/runbooks/restore) and `restore --verify`.\n\n"
         "- shard 7: done\n- shard 8: checking\n\n")

PATTERNS = {
    "[": "[", "![": "![", "[ ": "[ ", "[*_`": "[*_`", "[a][": "[a][", "[](": "[](", "[a](": "[a](",
    "](": "](", "<a ": "<a ", "<": "<", "<b>x</b> line": "<b>x</b>\n", "*a": "*a", "**a": "**a",
    "a*": "a*", "_a": "_a", "*": "*", "_": "_", "`": "`", "`a": "`a", "``a": "``a", "~~": "~~",
    "\\": "\\", "&#": "&#", "&amp;": "&amp;", "#": "#", "> (quotes)": "> ", "- (lists)": "- ",
    "1. (lists)": "1. ", "- > nested": "- > ", "  - indented": "  - ", "setext a/=": "a\n=\n",
    "lines a\\n": "a\n", "table rows": "|a|b|\n", "table header": "|a|b|\n|-|-|\n",
    "ref defs": "[a]: /u\n", "<!--": "<!--", "```": "```\n", "blank lines": "\n",
}


def best_of(text: str, rounds: int) -> float:
    """The fastest of `rounds` renders, in ms: the least disturbed by other work on the machine."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        render_uncached(text)
        samples.append(time.perf_counter() - start)
    return min(samples) * 1000


def longest_accepted(text: str, limit: int) -> str:
    """The longest prefix of `text` within the cost limit (binary search; cost grows with length)."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if markdown_cost(text[:middle], limit=limit).total <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=DEFAULT_MAX_COST, help="MARKDOWN_MAX_COST")
    args = parser.parse_args(argv)
    prose = (PROSE * (MAX_LENGTH // len(PROSE) + 1))[:MAX_LENGTH]
    base = best_of(prose, args.rounds)
    print(f"ordinary Markdown prose, {MAX_LENGTH:,} chars (cost {markdown_cost(prose).total:,}): "
          f"{base:.1f} ms; limit {args.limit:,}; best of {args.rounds}")
    print(f"{'pattern':16} {'cost@20k':>8} {'ms@20k':>7} {'vs prose':>8}   {'accepted':>8} {'ms':>6} {'vs prose':>8}")
    worst = []
    for label, unit in PATTERNS.items():
        text = (unit * (MAX_LENGTH // len(unit) + 1))[:MAX_LENGTH]
        full = best_of(text, args.rounds)
        accepted = longest_accepted(text, args.limit)
        kept = best_of(accepted, args.rounds) if accepted else 0.0
        worst.append((max(full, kept), label))
        print(f"{label:16} {markdown_cost(text, limit=args.limit).total:8,} {full:7.1f} {full / base:7.1f}x   "
              f"{len(accepted):8,} {kept:6.1f} {kept / base:7.1f}x")
    slowest, label = max(worst)
    print(f"worst case: {label!r} {slowest:.1f} ms = {slowest / base:.1f}x ordinary prose "
          f"(median of worst per pattern {statistics.median(w for w, _ in worst):.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
