"""Generate the bundled demo: engine/app/demo/ledger.xlsx (the ledger) and engine/app/demo/campaign.csv (the 2024 campaign).

Deterministic: one random.Random(2024), no clock, no hash-seed dependence; running it twice gives the same bytes.
The demo follows the Lüliang report: 126 projects of 综合改造一期/二期 in 离石区, finished in four batches (end of July,
August, September, October), every node worked backwards from the batch's completion date, and a campaign in which
most nodes are done on time while a few responsible persons (and the contractors and districts they work in) fall
behind, so that the three-strike rule has something to do at every level.

    python scripts/make_demo_ledger.py [--out-dir engine/app/demo]
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import io
import random
import re
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

SEED = 2024
CAMPAIGN_START = dt.date(2024, 7, 1)
CAMPAIGN_END = dt.date(2024, 10, 31)
BATCHES = ("2024-07", "2024-08", "2024-09", "2024-10")
EMAIL_DOMAIN = "lljs.example.cn"
#: Fixed timestamp written into the workbook's properties and zip entries (keeps the file byte-identical).
FIXED_STAMP = (2024, 6, 28, 9, 0, 0)

N_PROJECTS = 126
N_ACTIVE_PERSONS = 54
N_RESERVE_PERSONS = 6
#: How many responsible persons hold 1, 2, 3, 4 projects (10 + 22 + 16 + 6 = 54 persons, 126 projects).
PROJECTS_PER_PERSON = {1: 10, 2: 22, 3: 16, 4: 6}
#: Deliberate strike targets by weakness rank: the weakest five, then eleven with two, then twenty-one with one.
TARGET_STRIKES = [6, 5, 4, 3, 3] + [2] * 11 + [1] * 21

DISTRICTS = ("滨河片区", "龙凤片区", "永宁片区", "凤山片区", "城北片区")
#: District weakness: 城北 has the oldest pipes, 凤山 sits on the hillside.
DISTRICT_WEAKNESS = {"滨河片区": 0.1, "龙凤片区": 0.1, "永宁片区": 0.15, "凤山片区": 0.45, "城北片区": 0.6}
CONTRACTORS = (
    "山西晋腾建设集团有限公司",
    "吕梁汇通建筑工程有限公司",
    "山西华岳城建集团有限公司",
    "吕梁市恒达市政工程有限公司",
    "山西鼎晟建工集团有限公司",
    "吕梁宏远建设工程有限公司",
    "山西泰和城建集团有限公司",
    "吕梁盛安建筑安装有限公司",
)
#: Contractor weakness: two are weak, two middling, the rest sound.
CONTRACTOR_WEAKNESS = (0.1, 0.4, 0.1, 0.1, 0.4, 0.1, 0.9, 0.9)
#: Which contractors work in which district (indexes into CONTRACTORS).
DISTRICT_CONTRACTORS = {
    "滨河片区": (0, 1),
    "龙凤片区": (2, 3),
    "永宁片区": (4, 5, 1),
    "凤山片区": (6, 2),
    "城北片区": (7, 4),
}
DEPARTMENTS = (
    ("市住建局城建科", 8),
    ("市住建局城市更新科", 6),
    ("市住建局物业科", 4),
    ("市住建局质安站", 4),
    ("市住建局老旧小区改造工作专班", 4),
    ("市住建局村镇建设科", 2),
    ("离石区住建局", 4),
)

SURNAMES = "王王王李李李张张张刘刘郭郭高高武武薛白韩贾任赵杨冯田霍梁马孙曹闫段乔温成康牛胡秦吴宋苏崔雷"
GIVEN_NAMES = (
    "建军",
    "志刚",
    "海燕",
    "晓东",
    "丽娟",
    "俊峰",
    "文斌",
    "红梅",
    "永刚",
    "卫东",
    "建平",
    "瑞峰",
    "晋生",
    "玉兰",
    "宏伟",
    "小平",
    "志强",
    "鹏飞",
    "亚楠",
    "晓燕",
    "国庆",
    "云霞",
    "春生",
    "利军",
    "旭东",
    "慧敏",
    "彦军",
    "雪峰",
    "爱萍",
    "金龙",
    "巧玲",
    "宇",
    "磊",
    "涛",
    "静",
    "斌",
    "鑫",
    "婷",
    "超",
    "浩然",
    "子健",
    "嘉欣",
    "晨阳",
    "泽宇",
    "丽萍",
    "秀英",
    "保平",
    "文杰",
    "卫华",
    "红英",
    "晓丽",
    "永平",
    "建华",
    "海军",
    "小军",
    "志明",
    "俊杰",
    "晓军",
    "玉梅",
    "国栋",
    "建文",
    "宏亮",
    "艳红",
    "美玲",
    "振华",
    "立新",
    "少华",
    "晋峰",
    "耀武",
    "亚军",
    "新民",
    "凤英",
    "润生",
    "福生",
    "晓峰",
    "建英",
    "海平",
    "宝林",
    "二平",
    "翠萍",
    "东升",
    "智勇",
    "补平",
    "永红",
    "思远",
    "佳琪",
    "雅婷",
)
#: Names of people in the news report; never reused for invented persons.
REAL_NAMES = {"白旭平", "高浩", "郭玉增", "韩明", "薛玉鹏", "武志飞", "郭小燕", "张瑞枫"}

UNIT_COMPOUNDS = (
    "市建行",
    "市工行",
    "市农行",
    "市人民银行",
    "市委",
    "市政府",
    "移动公司",
    "联通公司",
    "电力公司",
    "市财政局",
    "市教育局",
    "市卫生局",
    "市水利局",
    "市交通局",
    "市气象局",
    "市林业局",
    "市烟草公司",
    "市邮政局",
    "市粮食局",
    "市中医院",
    "离石区法院",
    "离石区检察院",
    "市公安局",
    "市税务局",
    "农机局",
    "地区物资局",
    "市文化局",
    "市广电局",
    "市自来水公司",
    "市煤炭局",
    "市审计局",
    "市统计局",
    "区供销社",
    "地区运输公司",
    "市二中",
    "离石区医院",
    "农业局",
    "市地震局",
    "市商务局",
    "市民政局",
    "地区医院",
    "市建筑公司",
    "市供销社",
    "离石区农行",
    "市百货公司",
    "市第一建筑公司",
    "吕梁卫校",
    "市环保局",
    "市人防办",
    "离石区政府",
)
ESTATES = (
    "滨河小区",
    "龙凤苑",
    "龙凤花园",
    "滨河花园",
    "永宁佳苑",
    "凤山苑",
    "凤山新村",
    "北川河小区",
    "东川河小区",
    "西属巴小区",
    "莲花池小区",
    "世纪花园",
    "学府苑",
    "锦绣园",
    "阳光小区",
    "康宁小区",
    "惠民小区",
    "朝阳小区",
    "安居小区",
    "和平小区",
    "新华小区",
    "城北小区",
    "城北新村",
    "田家会小区",
    "龙凤新村",
    "永宁苑",
    "滨河新村",
    "吕梁花园",
    "贺昌小区",
    "华兴小区",
    "振兴小区",
    "兴华苑",
    "文苑小区",
    "金星小区",
    "幸福里",
    "建设新村",
    "凤城小区",
    "馨园小区",
    "丽景苑",
    "东关小区",
    "滨河苑",
    "龙凤小区",
    "永宁小区",
    "城北花园",
    "凤山花园",
    "北川花园",
    "育才小区",
    "利民小区",
    "安康苑",
    "福馨园",
    "翠苑小区",
    "怡景小区",
    "永安里",
    "长治路小区",
    "人民路小区",
)
ROADS = (
    "滨河北路",
    "滨河南路",
    "永宁东路",
    "永宁西路",
    "永宁中路",
    "龙凤南大街",
    "龙凤北大街",
    "北川河东路",
    "北川河西路",
    "凤山路",
    "吕梁大道",
    "贺昌中路",
    "新华街",
    "世纪大道",
    "莲花池路",
    "城北路",
    "西属巴街",
    "田家会路",
    "体育路",
    "学院路",
)
CHINESE_NUMBERS = "一二三四五"
#: Name keywords that place a community in its district.
DISTRICT_KEYWORDS = {
    "滨河片区": ("滨河", "莲花池", "体育路"),
    "龙凤片区": ("龙凤", "世纪", "学院", "学府"),
    "永宁片区": ("永宁", "新华", "贺昌", "东关"),
    "凤山片区": ("凤山", "凤城", "田家会", "西属巴"),
    "城北片区": ("城北", "北川河", "东川河"),
}

FIRST_NODE = "进场施工"
LAST_NODE = "竣工验收"
ELEVATOR_NODE = "加装电梯完成"
#: The work items between moving in and acceptance, in construction order.
MIDDLE_NODES = (
    "管网改造完成",
    "化粪池清理完成",
    "雨污分流完成",
    "线路入盒完成",
    "外墙保温完成",
    "屋面防水完成",
    ELEVATOR_NODE,
    "路面硬化完成",
    "绿化完成",
    "照明安装完成",
)
EXTENSION_REASONS = (
    "连续降雨停工",
    "管线产权单位协调",
    "居民意见征询未完成",
    "供热管网迁改协调",
    "燃气管线迁改审批未完成",
    "材料供应延误（外墙保温板）",
)
EXEMPTION_REASONS = {
    "管网改造完成": "燃气公司停气审批延误，非施工单位原因",
    "雨污分流完成": "市政主管网接口施工受阻，非施工单位原因",
    "线路入盒完成": "通信运营商线路迁移滞后，非施工单位原因",
    ELEVATOR_NODE: "电梯加装单元居民意见未统一，非施工单位原因",
}
FORCE_MAJEURE = "特大暴雨，不可抗力"


@dataclass
class Person:
    """One row of 人员."""

    pid: str
    name: str
    unit: str
    phone: str
    email: str


@dataclass
class Node:
    """One row of 节点 plus what the campaign does to it."""

    project_code: str
    code: str
    name: str
    planned: dt.date
    final: bool = False
    completed: dt.date | None = None
    recorded: dt.date | None = None
    tag: str = ""  # "" (not decided yet), plain, late, never, extended, backdated


@dataclass
class Project:
    """One row of 项目 with its nodes."""

    code: str
    name: str
    district: str
    phase: str
    batch: str
    status: str
    contractor: int
    households: int
    responsible: str = ""
    nodes: list[Node] = field(default_factory=list)

    @property
    def weakness(self) -> float:
        """How likely the project's context (contractor and district) makes a node late."""
        return CONTRACTOR_WEAKNESS[self.contractor] + DISTRICT_WEAKNESS[self.district]

    @property
    def end(self) -> dt.date:
        """The batch's completion date: the last day of the batch month."""
        year, month = (int(part) for part in self.batch.split("-"))
        return dt.date(year, month, calendar.monthrange(year, month)[1])


@dataclass
class Event:
    """One row of campaign.csv."""

    recorded_on: dt.date
    kind: str
    project_code: str
    node_code: str = ""
    date: dt.date | None = None
    person_id: str = ""
    reason: str = ""

    def row(self) -> list[str]:
        """The CSV row."""
        return [
            self.recorded_on.isoformat(),
            self.kind,
            self.project_code,
            self.node_code,
            self.date.isoformat() if self.date else "",
            self.person_id,
            self.reason,
        ]

    def key(self) -> tuple[dt.date, str, str, str]:
        """Sort key: recorded_on, kind, project_code, node_code."""
        return (self.recorded_on, self.kind, self.project_code, self.node_code)


@dataclass
class Demo:
    """Everything generated."""

    persons: list[Person]
    reserve: list[str]
    projects: list[Project]
    events: list[Event] = field(default_factory=list)
    #: project code → [(effective_from, person_id)] after the initial responsible person.
    reassignments: dict[str, list[tuple[dt.date, str]]] = field(default_factory=dict)


def days(n: int) -> dt.timedelta:
    """A timedelta of n days."""
    return dt.timedelta(days=n)


def person_names(rng: random.Random, count: int) -> list[str]:
    """Unique, realistic Chinese names (never a name from the news report)."""
    names: list[str] = []
    seen = set(REAL_NAMES)
    while len(names) < count:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def phone_number(rng: random.Random, used: set[str]) -> str:
    """A fake 11-digit mobile number starting 13, 15 or 18, unique within the demo."""
    while True:
        number = f"{rng.choice(('13', '15', '18'))}{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}"
        if number not in used:
            used.add(number)
            return number


def community_names(rng: random.Random, count: int) -> list[str]:
    """Unique community names in 离石区: work-unit compounds, named estates and street-side courtyards."""
    pool = [f"{unit}{rng.choice(('家属院', '家属院', '家属院', '小区', '宿舍楼'))}" for unit in UNIT_COMPOUNDS]
    pool += list(ESTATES)
    for road in ROADS:
        pool.append(f"{road}住宅小区")
        for number in rng.sample(CHINESE_NUMBERS, rng.randint(0, 2)):
            pool.append(f"{road}{number}号院")
    pool = sorted(set(pool))
    return rng.sample(pool, count)


def district_of(rng: random.Random, name: str) -> str:
    """The district a community's name points to, or a random one."""
    for district, keywords in DISTRICT_KEYWORDS.items():
        if any(keyword in name for keyword in keywords):
            return district
    return rng.choice(DISTRICTS)


def node_names(rng: random.Random) -> list[str]:
    """The work items of one project (8 to 12), in construction order; an elevator only in some."""
    elevator = rng.random() < 0.25
    others = [name for name in MIDDLE_NODES if name != ELEVATOR_NODE]
    middle_count = rng.randint(6, 10 if elevator else 9)
    chosen = set(rng.sample(others, middle_count - 1 if elevator else middle_count))
    if elevator:
        chosen.add(ELEVATOR_NODE)
    return [FIRST_NODE, *[name for name in MIDDLE_NODES if name in chosen], LAST_NODE]


def planned_dates(rng: random.Random, end: dt.date, count: int) -> list[dt.date]:
    """Planned dates worked backwards from the completion date, a few days to two weeks apart, none before July 1."""
    gaps = [0 if rng.random() < 0.07 else rng.randint(3, 14) for _ in range(count - 1)]
    room = (end - CAMPAIGN_START).days
    if sum(gaps) > room:
        target = room - rng.randint(0, 2)
        weights = [gap or 0.3 for gap in gaps]
        total = sum(weights)
        exact = [w * target / total for w in weights]
        gaps = [int(x) for x in exact]
        by_remainder = sorted(range(len(gaps)), key=lambda i: (exact[i] - gaps[i], -i), reverse=True)
        for i in by_remainder[: target - sum(gaps)]:
            gaps[i] += 1
    dates = [end]
    for gap in reversed(gaps):
        dates.append(dates[-1] - days(gap))
    return list(reversed(dates))


def build_ledger(rng: random.Random) -> Demo:
    """Persons, projects and planned nodes (no completions)."""
    names = community_names(rng, N_PROJECTS)
    batches = [BATCHES[i % len(BATCHES)] for i in range(N_PROJECTS)]
    rng.shuffle(batches)
    projects = []
    for name, batch in zip(names, batches, strict=True):
        district = district_of(rng, name)
        first_phase = rng.random() < (0.75 if batch in BATCHES[:2] else 0.3)
        projects.append(
            Project(
                code="",
                name=name,
                district=district,
                phase="综合改造一期" if first_phase else "综合改造二期",
                batch=batch,
                status="在建",
                contractor=rng.choice(DISTRICT_CONTRACTORS[district]),
                households=int(rng.triangular(40, 600, 160)),
            )
        )
    projects.sort(key=lambda p: (p.phase != "综合改造一期", p.batch, DISTRICTS.index(p.district), p.name))
    for number, project in enumerate(projects, 1):
        project.code = f"LL-2024-{number:03d}"
        node_list = node_names(rng)
        for index, (node_name, planned) in enumerate(
            zip(node_list, planned_dates(rng, project.end, len(node_list)), strict=True), 1
        ):
            project.nodes.append(Node(project.code, f"N{index:02d}", node_name, planned, final=node_name == LAST_NODE))
    for project in rng.sample(projects, 5)[:3]:
        project.status = "储备"
    for project in rng.sample([p for p in projects if p.status == "在建"], 2):
        project.status = "取消"

    # Responsible persons: consecutive chunks of projects grouped by district and contractor.
    sizes = [size for size, count in PROJECTS_PER_PERSON.items() for _ in range(count)]
    rng.shuffle(sizes)
    grouped = sorted(projects, key=lambda p: (p.district, p.contractor, p.batch, p.code))
    chunks, start = [], 0
    for size in sizes:
        chunks.append(grouped[start : start + size])
        start += size
    department_pool = [name for name, weight in DEPARTMENTS for _ in range(weight)]
    slots: list[tuple[str, list[Project]]] = []
    for chunk in chunks:
        contractors = {p.contractor for p in chunk}
        if len(contractors) == 1 and rng.random() < 0.45:
            unit = CONTRACTORS[contractors.pop()]
        else:
            unit = rng.choice(department_pool)
        slots.append((unit, chunk))
    for _ in range(N_RESERVE_PERSONS):  # the reserve pool: bureau cadres the task force can put in charge later
        slots.append((rng.choice(department_pool), []))
    unit_order = [name for name, _ in DEPARTMENTS] + list(CONTRACTORS)
    order = list(range(len(slots)))
    rng.shuffle(order)
    order.sort(key=lambda i: unit_order.index(slots[i][0]))
    persons, reserve, used_phones = [], [], set()
    for number, (slot, name) in enumerate(zip(order, person_names(rng, len(slots)), strict=True), 1):
        unit, chunk = slots[slot]
        pid = f"P{number:03d}"
        persons.append(Person(pid, name, unit, phone_number(rng, used_phones), f"{pid.lower()}@{EMAIL_DOMAIN}"))
        for project in chunk:
            project.responsible = pid
        if not chunk:
            reserve.append(pid)
    return Demo(persons=persons, reserve=reserve, projects=projects)


def late_limit(project: Project, node: Node) -> dt.date:
    """The latest date a late node may be completed: before acceptance for work items, the campaign end for acceptance."""
    return CAMPAIGN_END if node.final else project.end


def lateness(rng: random.Random, cap: int) -> int:
    """Days late: 1 to 20, mostly a few, never more than cap."""
    return max(1, min(cap, int(rng.triangular(1, 21, 2))))


def complete(rng: random.Random, node: Node, on: dt.date, recorded_by: dt.date, tag: str) -> None:
    """Mark a node completed on a date and recorded 0–2 days later (never after recorded_by)."""
    node.completed, node.tag = on, tag
    node.recorded = on + days(rng.randint(0, max(0, min(2, (recorded_by - on).days))))


def run_campaign(rng: random.Random, demo: Demo) -> None:
    """Decide every completion, extension, exemption request and reassignment of the campaign."""
    active = [p for p in demo.projects if p.status == "在建"]
    by_person: dict[str, list[Project]] = defaultdict(list)
    for project in active:
        by_person[project.responsible].append(project)

    # Rank the persons by weakness (their projects' contractors and districts, plus their own) and set targets.
    score = {pid: sum(p.weakness for p in ps) / len(ps) + rng.gauss(0, 0.25) for pid, ps in sorted(by_person.items())}
    ranked = sorted(score, key=lambda pid: (-score[pid], pid))
    target = {pid: TARGET_STRIKES[i] if i < len(TARGET_STRIKES) else 0 for i, pid in enumerate(ranked)}

    # A handful of nodes never complete: a stuck work item and therefore the acceptance of three October projects.
    stuck_owners = [pid for pid in ranked if target[pid] >= 2 and any(p.batch == "2024-10" for p in by_person[pid])]
    for pid in stuck_owners[:5:2]:
        project = rng.choice([p for p in by_person[pid] if p.batch == "2024-10"])
        middle = [
            n for n in project.nodes if not n.final and n.name != FIRST_NODE and n.planned <= dt.date(2024, 10, 25)
        ]
        preferred = [n for n in middle if n.name == ELEVATOR_NODE] or middle
        for node in (rng.choice(preferred), project.nodes[-1]):
            node.tag = "never"

    # Late nodes: for each person, `target` distinct planned dates, preferring nodes of weak projects.
    for pid in ranked:
        taken = {n.planned for p in by_person[pid] for n in p.nodes if n.tag}
        remaining = target[pid] - len(taken)
        candidates: dict[dt.date, list[tuple[Project, Node]]] = defaultdict(list)
        for project in by_person[pid]:
            for node in project.nodes:
                if not node.tag and node.planned not in taken and (late_limit(project, node) - node.planned).days >= 1:
                    candidates[node.planned].append((project, node))
        dates = sorted(candidates)
        for _ in range(max(0, remaining)):
            if not dates:
                break
            weights = [(max(p.weakness for p, _ in candidates[d]) + 0.2) * len(candidates[d]) ** 1.5 for d in dates]
            day = rng.choices(dates, weights)[0]
            dates.remove(day)
            pairs = candidates[day]
            chosen = [rng.choice(pairs)]
            chosen += [pair for pair in pairs if pair is not chosen[0] and rng.random() < 0.8]
            for project, node in chosen:
                cap = (late_limit(project, node) - node.planned).days
                finish = node.planned + days(lateness(rng, cap))
                complete(rng, node, finish, CAMPAIGN_END, "late")

    # Eight of the late nodes had an extension approved before their planned date and finish by the new date: they
    # stay in the estimate (which ignores extensions), but the engine should not strike them.
    def extendable(pair: tuple[Project, Node]) -> bool:
        project, node = pair
        return (
            node.tag == "late"
            and node.name != FIRST_NODE
            and (project.end - node.planned).days >= 8
            and node.planned - days(6) >= CAMPAIGN_START
        )

    pool = [(p, n) for p in active for n in p.nodes if extendable((p, n))]
    for project, node in weighted_sample(rng, pool, [p.weakness + 0.1 for p, _ in pool], 8):
        assert node.completed
        asked = node.planned - days(rng.randint(1, 6))
        new_date = max(node.completed, node.planned + days(rng.randint(5, min(15, (project.end - node.planned).days))))
        demo.events.append(
            Event(asked, "extend", project.code, node.code, new_date, reason=rng.choice(EXTENSION_REASONS))
        )
        complete(rng, node, node.completed, new_date, "extended")

    # Extensions asked for a few days after a miss; two are then met, one is missed again.
    late = [
        (p, n) for p in active for n in p.nodes if n.tag == "late" and not n.final and (p.end - n.planned).days >= 14
    ]
    for index, (project, node) in enumerate(rng.sample(late, 3)):
        asked = node.planned + days(rng.randint(1, 3))
        new_date = node.planned + days(rng.randint(8, 12))
        if index < 2:
            finish = asked + days(rng.randint(1, (new_date - asked).days))
            complete(rng, node, finish, new_date, "late")
        else:
            finish = new_date + days(rng.randint(1, min(6, (project.end - new_date).days)))
            complete(rng, node, finish, CAMPAIGN_END, "late")
        node.tag = "late-extended"
        demo.events.append(
            Event(asked, "extend", project.code, node.code, new_date, reason=rng.choice(EXTENSION_REASONS))
        )

    # Requests to excuse a miss, put to the party-group meeting a few days after it.
    late = [(p, n) for p in active for n in p.nodes if n.tag == "late"]
    typed = [(p, n) for p, n in late if n.name in EXEMPTION_REASONS]
    requests = rng.sample(typed, 2) + rng.sample([pair for pair in late if pair not in typed], 2)
    for project, node in requests:
        reason = EXEMPTION_REASONS.get(node.name, FORCE_MAJEURE)
        asked = node.planned + days(rng.randint(1, 5))
        demo.events.append(
            Event(min(asked, CAMPAIGN_END), "exempt_request", project.code, node.code, node.planned, reason=reason)
        )

    # Completed in time but reported late: the office learns of it a few days after the planned date.
    untouched = [
        (p, n) for p in active for n in p.nodes if not n.tag and n.planned + days(6) <= CAMPAIGN_END and not n.final
    ]
    seen_persons: set[str] = set()
    backdated = 0
    for project, node in rng.sample(untouched, len(untouched)):
        if backdated == 8:
            break
        if project.responsible in seen_persons:
            continue
        seen_persons.add(project.responsible)
        finish = max(CAMPAIGN_START, node.planned - days(rng.randint(0, 3)))
        node.completed, node.recorded, node.tag = finish, node.planned + days(rng.randint(2, 6)), "backdated"
        backdated += 1

    # Everything else is done on time (acceptance last of all).
    for project in active:
        for node in project.nodes:
            if not node.tag and not node.final:
                early = rng.choices((0, 1, 2, 3, 4, 5, 6), (40, 25, 15, 8, 5, 4, 3))[0]
                complete(rng, node, max(CAMPAIGN_START, node.planned - days(early)), node.planned, "plain")
        final = project.nodes[-1]
        if not final.tag:
            early = rng.choices((0, 1, 2, 3), (50, 25, 15, 10))[0]
            others = [n.completed for n in project.nodes[:-1] if n.completed]
            finish = max([final.planned - days(early), *others])
            complete(rng, final, finish, final.planned, "plain")

    for project in active:
        for node in project.nodes:
            if node.completed:
                demo.events.append(
                    Event(node.recorded or node.completed, "complete", project.code, node.code, node.completed)
                )

    # Planned reassignments: a project of a person suspended after a second strike (one that stands even if every
    # extension and exemption is approved) passes to a reserve person; the project is on time from then on.
    strikes = adjusted_dates(demo)
    reserve = list(demo.reserve)
    rng.shuffle(reserve)
    for pid in ranked:
        if len(demo.reassignments) == 2:
            break
        dates = sorted(strikes.get(pid, ()))
        if len(dates) < 2:
            continue
        effective = dates[1] + days(rng.randint(3, 7))
        clean = [
            p
            for p in by_person[pid]
            if any(n.planned >= effective for n in p.nodes)
            and all(
                n.tag in ("plain", "backdated")
                or (n.planned < effective and n.completed is not None and n.completed < effective)
                for n in p.nodes
            )
        ]
        if not clean:
            continue
        project = rng.choice(clean)
        successor = reserve.pop()
        demo.reassignments[project.code] = [(effective, successor)]
        demo.events.append(
            Event(
                effective - days(rng.randint(0, 2)),
                "assign",
                project.code,
                "",
                effective,
                successor,
                "第二次未按期完成节点，免除负责人职务，留用整改",
            )
        )
    demo.events.sort(key=Event.key)


def weighted_sample(rng: random.Random, items: list, weights: list[float], count: int) -> list:
    """Draw count distinct items with the given weights."""
    items, weights, chosen = list(items), list(weights), []
    for _ in range(min(count, len(items))):
        index = rng.choices(range(len(items)), weights)[0]
        chosen.append(items.pop(index))
        weights.pop(index)
    return chosen


def responsible_on(demo: Demo, project: Project, day: dt.date) -> str:
    """The responsible person of a project on a day, planned reassignments included."""
    person = project.responsible
    for effective, successor in demo.reassignments.get(project.code, []):
        if effective <= day:
            person = successor
    return person


def late_dates(demo: Demo) -> dict[str, set[dt.date]]:
    """Person → distinct planned dates of their late nodes (在建 only; extensions and exemptions ignored)."""
    result: dict[str, set[dt.date]] = defaultdict(set)
    for project in demo.projects:
        if project.status != "在建":
            continue
        for node in project.nodes:
            if node.completed is None or node.completed > node.planned:
                result[responsible_on(demo, project, node.planned)].add(node.planned)
    return result


def adjusted_dates(demo: Demo) -> dict[str, set[dt.date]]:
    """The same, if every extension asked in time and every exemption request were approved."""
    project_of = {p.code: p for p in demo.projects}
    due: dict[tuple[str, str], list[dt.date]] = {}
    for project in demo.projects:
        for node in project.nodes:
            due[project.code, node.code] = [node.planned]
    excused: set[tuple[str, str, dt.date]] = set()
    for event in demo.events:
        key = (event.project_code, event.node_code)
        if event.kind == "extend" and event.date:
            if event.recorded_on < due[key][-1]:
                due[key][-1] = event.date
            else:
                due[key].append(event.date)
        elif event.kind == "exempt_request" and event.date:
            excused.add((*key, event.date))
    result: dict[str, set[dt.date]] = defaultdict(set)
    for (code, node_code), dates in due.items():
        project = project_of[code]
        if project.status != "在建":
            continue
        node = next(n for n in project.nodes if n.code == node_code)
        for day in dates:
            if (node.completed is None or node.completed > day) and (code, node_code, day) not in excused:
                result[responsible_on(demo, project, day)].add(day)
    return result


def spread(strikes: dict[str, set[dt.date]]) -> str:
    """One line: how many persons have one, two, three or more strikes."""
    counts = Counter(min(len(dates), 3) for dates in strikes.values() if dates)
    return f"1 次 {counts[1]} 人，2 次 {counts[2]} 人，3 次及以上 {counts[3]} 人（共 {sum(len(d) for d in strikes.values())} 次）"


def write_workbook(demo: Demo, path: Path) -> None:
    """Write ledger.xlsx: sheets 人员, 项目, 节点 with Chinese headers and real date cells, byte-for-byte stable."""
    wb = Workbook()
    bold = Font(bold=True)
    sheets = {
        "人员": (
            ["人员编号", "姓名", "单位", "电话", "邮箱"],
            [10, 10, 30, 14, 24],
            [[p.pid, p.name, p.unit, p.phone, p.email] for p in demo.persons],
        ),
        "项目": (
            ["项目编号", "项目名称", "片区", "期次", "批次", "状态", "负责人编号", "施工单位", "户数"],
            [13, 22, 10, 14, 9, 6, 11, 30, 7],
            [
                [
                    p.code,
                    p.name,
                    p.district,
                    p.phase,
                    p.batch,
                    p.status,
                    p.responsible,
                    CONTRACTORS[p.contractor],
                    p.households,
                ]
                for p in demo.projects
            ],
        ),
        "节点": (
            ["项目编号", "节点编号", "节点名称", "计划完成日期", "实际完成日期"],
            [13, 9, 16, 14, 14],
            [[n.project_code, n.code, n.name, n.planned, None] for p in demo.projects for n in p.nodes],
        ),
    }
    wb.remove(wb.active)
    for title, (header, widths, rows) in sheets.items():
        ws = wb.create_sheet(title)
        ws.append(header)
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(row)
        for column, width in zip("ABCDEFGHI", widths, strict=False):
            ws.column_dimensions[column].width = width
        ws.freeze_panes = "A2"
        if title == "节点":
            for cells in ws.iter_rows(min_row=2, min_col=4, max_col=5):
                for cell in cells:
                    cell.number_format = "yyyy-mm-dd"
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(stabilise_zip(buffer.getvalue()))


def stabilise_zip(data: bytes) -> bytes:
    """Rewrite an xlsx with fixed entry timestamps and fixed document dates (openpyxl stamps the clock)."""
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*FIXED_STAMP)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", rf"\g<1>{stamp}\g<3>", text)
                content = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_STAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, content)
    return out.getvalue()


def write_campaign(demo: Demo, path: Path) -> None:
    """Write campaign.csv (UTF-8, English header)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["recorded_on", "kind", "project_code", "node_code", "date", "person_id", "reason"])
        writer.writerows(event.row() for event in demo.events)


def check(demo: Demo) -> None:
    """Refuse to write a demo that breaks its own promises."""
    for event in demo.events:
        assert CAMPAIGN_START <= event.recorded_on <= CAMPAIGN_END, event
    for project in demo.projects:
        assert 8 <= len(project.nodes) <= 12
        assert project.nodes[-1].planned == project.end
        for node in project.nodes:
            assert CAMPAIGN_START <= node.planned <= CAMPAIGN_END, node
        if project.status != "在建":
            assert all(n.completed is None for n in project.nodes)
    assert len({p.name for p in demo.projects}) == len(demo.projects)
    assert len({p.name for p in demo.persons}) == len(demo.persons)
    held = Counter(p.responsible for p in demo.projects)
    assert len(held) == N_ACTIVE_PERSONS and all(1 <= n <= 4 for n in held.values())
    assert not set(held) & set(demo.reserve)


def summary(demo: Demo) -> None:
    """Print what was written and the expected spread of strikes."""
    active_nodes = [n for p in demo.projects if p.status == "在建" for n in p.nodes]
    on_time = sum(1 for n in active_nodes if n.completed and n.completed <= n.planned)
    late = sum(1 for n in active_nodes if n.completed and n.completed > n.planned)
    never = sum(1 for n in active_nodes if n.completed is None)
    backdated = sum(1 for n in active_nodes if n.tag == "backdated")
    statuses = Counter(p.status for p in demo.projects)
    nodes = sum(len(p.nodes) for p in demo.projects)
    kinds = Counter(e.kind for e in demo.events)
    print(f"人员 {len(demo.persons)}（其中后备 {len(demo.reserve)}：{', '.join(demo.reserve)}）")
    print(f"项目 {len(demo.projects)}（" + "，".join(f"{k} {v}" for k, v in sorted(statuses.items())) + "）")
    print(
        f"节点 {nodes}（在建项目 {len(active_nodes)}：按期 {on_time} = {on_time / len(active_nodes):.1%}，"
        f"逾期完成 {late} = {late / len(active_nodes):.1%}，未完成 {never}，按期但迟报 {backdated}）"
    )
    print(f"campaign 行 {len(demo.events)}：" + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    strikes = late_dates(demo)
    print("预计问责（每人按不同的逾期计划日期计数，仅在建项目，不计延期与免责）：" + spread(strikes))
    print(
        "  " + "  ".join(f"{pid}×{len(d)}" for pid, d in sorted(strikes.items(), key=lambda kv: (-len(kv[1]), kv[0])))
    )
    print("若延期（逾期前申请）与免责申请全部批准：" + spread(adjusted_dates(demo)))
    late_by = Counter()
    total_by = Counter()
    for project in demo.projects:
        if project.status != "在建":
            continue
        for node in project.nodes:
            total_by[project.district] += 1
            total_by[CONTRACTORS[project.contractor]] += 1
            if node.completed is None or node.completed > node.planned:
                late_by[project.district] += 1
                late_by[CONTRACTORS[project.contractor]] += 1
    print("逾期节点分布：" + "，".join(f"{k} {late_by[k]}/{total_by[k]}" for k in [*DISTRICTS, *CONTRACTORS]))


def main() -> None:
    """Generate the demo ledger and campaign."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent.parent / "engine" / "demo")
    args = parser.parse_args()
    rng = random.Random(SEED)
    demo = build_ledger(rng)
    run_campaign(rng, demo)
    check(demo)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_workbook(demo, args.out_dir / "ledger.xlsx")
    write_campaign(demo, args.out_dir / "campaign.csv")
    print(f"已写入 {args.out_dir / 'ledger.xlsx'} 与 {args.out_dir / 'campaign.csv'}")
    summary(demo)


if __name__ == "__main__":
    main()
