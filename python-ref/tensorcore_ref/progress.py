"""Progress lines on stderr, one per step: ``[convert 2/5] loading the HF model``.

The tensorcore CLI (cli/progress.ts) recognises this form and draws it as a bar on a terminal;
run directly, the lines are plain log lines.
"""
from __future__ import annotations

import sys


class Steps:
    def __init__(self, task: str, total: int, quiet: bool = False):
        self.task, self.total, self.quiet, self.done = task, total, quiet, 0

    def __call__(self, label: str) -> None:
        self.done += 1
        if not self.quiet:
            print(f"[{self.task} {self.done}/{self.total}] {label}", file=sys.stderr, flush=True)
