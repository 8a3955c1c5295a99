"""Terminal rendering for the CLI: tables of a profile and a leaderboard (no logic here)."""

from __future__ import annotations

from rich.table import Table

from aigc_biz.cli.common import out_console, printable


def print_profile(summary: dict) -> None:
    table = Table(title=printable(f"aigc-biz inspect: {summary.get('source', '')}"), show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")

    def add(*cells) -> None:  # names and values come from the user's file
        table.add_row(*(printable(cell) for cell in cells))

    roles = summary.get("roles") or {}
    for key in ("user", "item", "time", "weight", "weight_kind"):
        if roles.get(key):
            add(f"{key} column" if key != "weight_kind" else "weight read as", str(roles[key]))
    if roles.get("user_name"):
        add("customer name", str(roles["user_name"]))
    if roles.get("user_attrs"):
        add("customer attributes", ", ".join(roles["user_attrs"]))
    if roles.get("item_attrs"):
        add("item attributes", ", ".join(f"{c} ({n})" if c != n else c for c, n in roles["item_attrs"].items()))
    for key, label in (("users", "customers"), ("items", "items"), ("interactions", "interactions")):
        if key in summary:
            add(label, f"{summary[key]:,}")
    if "sparsity" in summary:
        add("sparsity", f"{summary['sparsity']:.4%}")
    date_range = summary.get("date_range")
    if date_range and all(date_range):
        add("date range", f"{date_range[0]} … {date_range[1]}")
    out_console.print(table)
    for warning in summary.get("warnings") or []:
        out_console.print(printable(f"Warning: {warning}"), markup=False)


def print_leaderboard(result: dict) -> None:
    """Metrics as rows and models as columns, so five models fit an 80-column terminal."""
    models = result.get("models") or []
    if not models:
        out_console.print("No model was evaluated.")
        return
    wanted = (
        "ndcg@10",
        "recall@10",
        "ndcg@20",
        "recall@20",
        "ndcg@50",
        "recall@50",
        "map@10",
        "hit_rate@10",
        "coverage@10",
        "novelty@10",
        "diversity@10",
        "popularity@10",
    )
    names = [m for m in wanted if m in models[0]["metrics"]]
    table = Table(
        title=f"Leaderboard, {result.get('split')} split",
        caption="± is half the 95% bootstrap interval; * marks the winner by NDCG@10",
    )
    table.add_column("metric", style="bold")
    for entry in models:
        star = "*" if entry["model"] == result.get("winner") else ""
        table.add_column(entry["model"] + star, justify="right")
    for name in names:
        cells = []
        for entry in models:
            m = entry["metrics"].get(name) or {}
            mean, low, high = m.get("mean"), m.get("low"), m.get("high")
            if mean is None:
                cells.append("–")
            elif low is None or high is None:
                cells.append(f"{mean:.3f}")
            else:
                cells.append(f"{mean:.3f} ±{(high - low) / 2:.3f}")
        table.add_row(name, *cells)
    table.add_row("fit s", *[f"{e.get('fit_seconds') or 0:.1f}" for e in models])
    table.add_row("score s", *[f"{e.get('score_seconds') or 0:.2f}" for e in models])
    out_console.print(table)
