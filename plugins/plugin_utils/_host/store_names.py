"""The definition stores by name: the one list of their names, which of them the product copies from, and their rank.

Every other list of store names is derived from :data:`TABLE` (``tests/unit/test_store_names.py`` fails on a
second literal list in the controller code):

- :data:`STORE_NAMES`: every store, in the table's order (the vendor article's columns);
- :data:`SOURCE_STORES`: the stores the product copies CSAPI from, in the order the source rule ranks them
  (``verify.judge``) and the default source is chosen (``decide.choose_source``): SMSMSE Hawking, then Hawking;
- :data:`SOURCES_IN_TABLE_ORDER`: the same stores in the table's order, as checks and reports list them;
- :data:`OWNED_SOURCES`: the source stores that belong to the product, repaired without being asked (Hawking is
  shared with SAV/SEP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: a definition store of SMSMSE
StoreName = Literal["hawking", "smsmse_hawking", "csapi"]
HAWKING: StoreName = "hawking"
SMSMSE_HAWKING: StoreName = "smsmse_hawking"
#: the scanner's store: the one the product uses, derived from a source store
CSAPI: StoreName = "csapi"


@dataclass(frozen=True)
class StoreRole:
    """What one store is to the product: a source it copies from (ranked, 1 first) or not, and whether it owns it."""

    name: StoreName
    #: the source rule's rank (1 wins); None: not a source store
    source_rank: int | None
    #: the product's own store (repaired by default); a store shared with other products is not
    owned: bool


#: every store, in the vendor article's order
TABLE: tuple[StoreRole, ...] = (
    StoreRole(HAWKING, source_rank=2, owned=False),
    StoreRole(SMSMSE_HAWKING, source_rank=1, owned=True),
    StoreRole(CSAPI, source_rank=None, owned=True),
)

STORE_NAMES: tuple[StoreName, ...] = tuple(role.name for role in TABLE)
SOURCES_IN_TABLE_ORDER: tuple[StoreName, ...] = tuple(role.name for role in TABLE if role.source_rank is not None)
SOURCE_STORES: tuple[StoreName, ...] = tuple(
    role.name for role in sorted((r for r in TABLE if r.source_rank is not None), key=lambda r: r.source_rank or 0)
)
OWNED_SOURCES: tuple[StoreName, ...] = tuple(role.name for role in TABLE if role.source_rank is not None and role.owned)
