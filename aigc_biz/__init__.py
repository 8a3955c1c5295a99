"""aigc-biz: generative recommenders, personalised marketing copy and analyst reports from a behaviour table.

The public API lives in :mod:`aigc_biz.api` (the same verbs as the ``aigc-biz`` command line).
"""

from aigc_biz._version import __version__

__all__ = ["__version__"]
