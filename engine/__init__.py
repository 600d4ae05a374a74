"""duban's engine: the record, the daily evaluation, the paperwork and the ways in (CLI, web, scheduler).

Start here: docs/ARCHITECTURE.md (the package map and how one ledger row becomes a strike on a
notice). The flow, by folder: ``ledger/`` (read → check → write) → ``store/`` (the database and
its audit chain) → ``evaluation/`` (each day: misses, the rules' verdicts, decision traces,
levels) → ``record/`` (the office's corrections and decisions) → ``views/`` and ``paperwork/``
(what people read) → ``delivery/`` (the outbox) — driven from ``app/`` (cli, web, scheduler, demo).
"""
