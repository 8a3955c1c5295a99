"""The ``aigc-biz`` console script (also run by the repository's top-level ``cli.py``)."""

from aigc_biz.cli.app import app


def main() -> None:
    app(prog_name="aigc-biz")


__all__ = ["app", "main"]
