"""Generate a large synthetic ledger (a folder of CSV files with English headers) for benchmarks.

    python scripts/make_synthetic_ledger.py --projects 20000 --nodes-per-project 12 --persons N \\
        --miss-rate 0.05 --seed 1 --out DIR

Writes DIR/persons.csv, DIR/projects.csv, DIR/nodes.csv and DIR/expected.json. Planned dates run from 2024-05-01
to 2024-10-31; a share (1 - miss-rate) of the nodes is completed on or before its planned date, the rest is
completed 1–20 days late (never after 2024-10-31) or not at all. expected.json holds the number of distinct
(responsible person, planned date) pairs among the missed nodes: the strikes the engine should count with
one strike per person and due date, no grace days, no extensions and no exemptions.
National scale is --projects 220000 (2.64 million nodes, 100,000 persons).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

FIRST_PLANNED = dt.date(2024, 5, 1)
LAST_PLANNED = dt.date(2024, 10, 31)
#: Days before the first planned date that an early completion may reach.
EARLY_DAYS = 3
MAX_LATE_DAYS = 20
#: Each project's nodes fall within a window of this many days somewhere between the first and last planned date.
WINDOW_DAYS = 90

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌海燕玲鹏飞宇浩晓峰俊云"
UNITS = (
    "市住建局城建科",
    "市住建局城市更新科",
    "市住建局物业科",
    "市住建局质安站",
    "区住建局",
    "街道办事处",
    "合成建设集团有限公司",
    "合成市政工程有限公司",
    "合成建筑安装有限公司",
    "合成城建集团有限公司",
)
DISTRICTS = ("东城片区", "西城片区", "南城片区", "北城片区", "新区片区", "老城片区", "河东片区", "河西片区")
PHASES = ("综合改造一期", "综合改造二期", "综合改造三期")
CONTRACTORS = tuple(f"合成第{i:02d}建设工程有限公司" for i in range(1, 41))
NODE_NAMES = (
    "进场施工",
    "管网改造完成",
    "化粪池清理完成",
    "雨污分流完成",
    "线路入盒完成",
    "外墙保温完成",
    "屋面防水完成",
    "加装电梯完成",
    "路面硬化完成",
    "绿化完成",
    "照明安装完成",
)
LAST_NODE = "竣工验收"


def node_names(count: int) -> list[str]:
    """Names for the nodes of a project: the work items in order, 竣工验收 last."""
    middle = [NODE_NAMES[i] if i < len(NODE_NAMES) else f"其他节点{i + 1:02d}" for i in range(count - 1)]
    return [*middle, LAST_NODE]


class Generator:
    """Builds the rows of the three tables and keeps the counts for expected.json."""

    def __init__(self, projects: int, nodes_per_project: int, persons: int, miss_rate: float, seed: int) -> None:
        """Keep the parameters and precompute the date strings."""
        self.projects = projects
        self.nodes_per_project = nodes_per_project
        self.persons = persons
        self.miss_rate = miss_rate
        self.rng = random.Random(seed)
        span = (LAST_PLANNED - FIRST_PLANNED).days + 1
        self.planned_range = range(EARLY_DAYS, EARLY_DAYS + span)
        self.last_index = EARLY_DAYS + span - 1
        start = FIRST_PLANNED - dt.timedelta(days=EARLY_DAYS)
        self.days = [(start + dt.timedelta(days=i)).isoformat() for i in range(EARLY_DAYS + span)]
        self.responsible: list[int] = []
        self.batches: list[str] = []
        self.missed_nodes = 0
        self.missed_pairs = 0

    def person_rows(self) -> Iterator[tuple[str, str, str, str, str]]:
        """Rows of persons.csv."""
        rng = self.rng
        for i in range(1, self.persons + 1):
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
            phone = f"1{rng.choice('358')}{rng.randrange(1_000_000_000):09d}"
            yield f"P{i:06d}", name, rng.choice(UNITS), phone, f"p{i:06d}@syn.example.cn"

    def plan(self) -> list[list[int]]:
        """Planned day indexes of every project's nodes (sorted; nodes may share a date); also the responsible persons."""
        rng = self.rng
        choices, randrange, n = rng.choices, rng.randrange, self.nodes_per_project
        first, stop = self.planned_range.start, self.planned_range.stop
        window = min(WINDOW_DAYS, stop - first)
        windows = [range(start, start + window) for start in range(first, stop - window + 1)]
        self.responsible = [randrange(self.persons) for _ in range(self.projects)]
        return [sorted(choices(windows[randrange(len(windows))], k=n)) for _ in range(self.projects)]

    def project_rows(self, plans: list[list[int]]) -> Iterator[tuple]:
        """Rows of projects.csv (the batch is the month of the last planned date)."""
        rng, days = self.rng, self.days
        for i, (plan, person) in enumerate(zip(plans, self.responsible, strict=True), 1):
            yield (
                f"SYN-{i:06d}",
                f"合成小区{i:06d}",
                rng.choice(DISTRICTS),
                rng.choice(PHASES),
                days[plan[-1]][:7],
                "active",
                f"P{person + 1:06d}",
                rng.choice(CONTRACTORS),
                rng.randint(40, 600),
            )

    def node_rows(self, plans: list[list[int]]) -> Iterator[tuple[str, str, str, str, str]]:
        """Rows of nodes.csv; counts the missed nodes and the distinct (person, planned date) pairs among them."""
        rng_random, randint = self.rng.random, self.rng.randint
        days, miss_rate, last = self.days, self.miss_rate, self.last_index
        codes = [f"N{i:02d}" for i in range(1, self.nodes_per_project + 1)]
        names = node_names(self.nodes_per_project)
        labelled = list(zip(codes, names, strict=True))
        pairs: set[int] = set()
        missed = 0
        stride = len(days)
        for i, (plan, person) in enumerate(zip(plans, self.responsible, strict=True), 1):
            code = f"SYN-{i:06d}"
            for (node_code, name), day in zip(labelled, plan, strict=True):
                if rng_random() >= miss_rate:
                    done = days[day - randint(0, EARLY_DAYS)] if rng_random() < 0.5 else days[day]
                else:
                    missed += 1
                    pairs.add(person * stride + day)
                    late = day + randint(1, MAX_LATE_DAYS)
                    done = days[late] if late <= last and rng_random() < 0.6 else ""
                yield code, node_code, name, days[day], done
        self.missed_nodes = missed
        self.missed_pairs = len(pairs)


def write(path: Path, header: list[str], rows: Iterator[tuple]) -> None:
    """Write one CSV file (UTF-8, English header)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    """Parse the arguments, write the ledger and expected.json, print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=20000)
    parser.add_argument("--nodes-per-project", type=int, default=12)
    parser.add_argument("--persons", type=int, default=None, help="default: projects / 2.2, rounded")
    parser.add_argument("--miss-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    persons = args.persons if args.persons is not None else max(1, round(args.projects / 2.2))
    if args.projects < 1 or args.nodes_per_project < 1 or persons < 1 or not 0 <= args.miss_rate <= 1:
        parser.error("projects, nodes-per-project and persons must be ≥ 1, miss-rate between 0 and 1")

    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    gen = Generator(args.projects, args.nodes_per_project, persons, args.miss_rate, args.seed)
    write(args.out / "persons.csv", ["person_id", "name", "unit", "phone", "email"], gen.person_rows())
    plans = gen.plan()
    write(
        args.out / "projects.csv",
        [
            "project_code",
            "name",
            "district",
            "phase",
            "batch",
            "status",
            "responsible_person_id",
            "contractor",
            "households",
        ],
        gen.project_rows(plans),
    )
    write(
        args.out / "nodes.csv",
        ["project_code", "node_code", "name", "planned_date", "completed_on"],
        gen.node_rows(plans),
    )
    expected = {
        "projects": args.projects,
        "nodes": args.projects * args.nodes_per_project,
        "persons": persons,
        "missed_nodes": gen.missed_nodes,
        "expected_strikes_per_due_date": gen.missed_pairs,
    }
    (args.out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - started
    print(
        f"wrote {args.out}: {expected['persons']} persons, {expected['projects']} projects, "
        f"{expected['nodes']} nodes in {elapsed:.1f} s"
    )
    print(
        f"missed nodes: {expected['missed_nodes']}; distinct (responsible person, planned date) pairs among them "
        f"(expected strikes): {expected['expected_strikes_per_due_date']}"
    )


if __name__ == "__main__":
    main()
