"""``python -m aigc_biz.cli``: the same as the ``aigc-biz`` script."""

from aigc_biz.cli import main

main()
