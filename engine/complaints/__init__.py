"""Mayor's-hotline work orders (12345 工单): import the export, tie each to its project, read them as of a day."""

from __future__ import annotations

from engine.complaints.write import ComplaintImport, import_complaints, link_complaint

__all__ = ["ComplaintImport", "import_complaints", "link_complaint"]
