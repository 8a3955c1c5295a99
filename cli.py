#!/usr/bin/env python3
"""Runs the same Typer app as the ``aigc-biz`` console script: ``python cli.py --help``."""

from aigc_biz.cli import main

if __name__ == "__main__":
    main()
