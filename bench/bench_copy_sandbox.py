"""What the bounded template sandbox costs: copy throughput with and without the per-message limits.

    python bench/bench_copy_sandbox.py [--users 2000] [--repeats 3]

Renders the bundled sms and email templates (zh) for the generated test shop (tests/copywriting/conftest.py)
twice in the same run: with :class:`aigc_biz.copywriting.sandbox.CopySandbox` (loops, calls, sizes and time
bounded) and with the plain immutable sandbox it extends (the reference). Prints messages per second, best
of ``--repeats``, and the ratio of the two.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "copywriting")]

from conftest import make_shop  # noqa: E402
from jinja2.sandbox import ImmutableSandboxedEnvironment  # noqa: E402

from aigc_biz.copywriting import render_copy, template_pack  # noqa: E402
from aigc_biz.copywriting.sandbox import CopySandbox  # noqa: E402


class UnboundedSandbox(ImmutableSandboxedEnvironment):
    """The reference: Jinja's immutable sandbox with the same dict fast path, no limits."""

    getattr = CopySandbox.getattr


def best_rate(recs, users, items, channel: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        render_copy(recs, users=users, items=items, channel=channel, locale="zh")
        best = min(best, time.perf_counter() - started)
    return recs["user_id"].nunique() / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    recs, users, items = make_shop(n_users=args.users)
    print(f"{args.users:,} customers, best of {args.repeats}; load average {os.getloadavg()[0]:.2f}")
    print("| channel | bounded msg/s | unbounded msg/s | bounded / unbounded |")
    print("|---|---|---|---|")
    for channel in ("sms", "email"):
        bounded = best_rate(recs, users, items, channel, args.repeats)
        template_pack.CopySandbox = UnboundedSandbox
        try:
            unbounded = best_rate(recs, users, items, channel, args.repeats)
        finally:
            template_pack.CopySandbox = CopySandbox
        print(f"| {channel} | {bounded:,.0f} | {unbounded:,.0f} | {bounded / unbounded:.2f} |")


if __name__ == "__main__":
    main()
