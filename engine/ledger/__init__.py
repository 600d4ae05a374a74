"""The ledger (工作台账): read → check → write, all or nothing; and the export that imports back unchanged."""

from __future__ import annotations

from engine.ledger.read import TABLES, Problems, read_ledger
from engine.ledger.write import ImportResult, import_ledger

__all__ = ["TABLES", "ImportResult", "Problems", "import_ledger", "read_ledger"]
