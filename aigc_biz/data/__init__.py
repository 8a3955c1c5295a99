"""Reading user-behaviour tables and turning them into :class:`Interactions`."""

from aigc_biz.data.interactions import ColumnRoles, Interactions
from aigc_biz.data.loading import load_interactions, validate_frame
from aigc_biz.data.profile import profile
from aigc_biz.data.readers import read_table
from aigc_biz.data.roles import detect_roles
from aigc_biz.data.splits import Split, split_random, split_temporal, split_users, validation_split

__all__ = [
    "ColumnRoles",
    "Interactions",
    "read_table",
    "detect_roles",
    "load_interactions",
    "validate_frame",
    "Split",
    "split_random",
    "split_temporal",
    "split_users",
    "validation_split",
    "profile",
]
