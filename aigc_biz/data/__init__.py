"""Reading user-behaviour tables and turning them into :class:`Interactions`."""
from aigc_biz.data.interactions import ColumnRoles, Interactions

__all__ = ["ColumnRoles", "Interactions"]
