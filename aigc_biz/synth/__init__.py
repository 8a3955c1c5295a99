"""Synthetic behaviour tables: invented customers who behave like the real ones, for sharing, testing
and augmentation (layer 3: it uses data, models and the reporting look).

- :class:`BehaviourSynthesizer` (``generator``): fit on a real table, sample a table in its formats;
- ``privacy``: ids, names, distance to the closest real record, copied rows, membership inference;
- ``quality`` and ``tstr``: real vs synthetic figures; ``report``: the offline HTML page;
- :func:`synthesize`: all of it in one call (what ``aigc_biz.api.synth`` runs).
"""

from aigc_biz.synth.generator import BehaviourSynthesizer
from aigc_biz.synth.run import SynthResult, synthesize, write_table

__all__ = ["BehaviourSynthesizer", "SynthResult", "synthesize", "write_table"]
