"""The data of a participatory budgeting instance: projects, voters, aggregated ballots.

Everything here is plain Python. Amounts are exact: ``int`` when whole, ``fractions.Fraction``
otherwise (a cost written ``1500.50`` is ``Fraction(3001, 2)``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

Number = int | Fraction


class VoteType(StrEnum):
    """The ballot formats of pabulib."""

    APPROVAL = "approval"
    CUMULATIVE = "cumulative"
    ORDINAL = "ordinal"
    SCORING = "scoring"
    CHOOSE_1 = "choose-1"


def to_number(text: str | int | Fraction) -> Number:
    """Parse an amount exactly: ``"12"`` -> 12, ``"12.5"`` -> Fraction(25, 2); ValueError if not."""
    if isinstance(text, int | Fraction):
        return _norm(Fraction(text))
    text = text.strip()
    if not text or text.lower() in {"nan", "inf", "-inf", "+inf", "infinity"}:
        raise ValueError(text)
    return _norm(Fraction(text))


def _norm(x: Fraction) -> Number:
    return x.numerator if x.denominator == 1 else x


def format_number(x: Number | float) -> str:
    """Write an amount back: integers as digits, other exact decimals in full, else a fraction."""
    if isinstance(x, float):
        return repr(x)
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    d = x.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    digits = max(twos, fives)
    if d != 1:  # not a finite decimal: fall back to numerator/denominator
        return f"{x.numerator}/{x.denominator}"
    sign = "-" if x < 0 else ""
    scaled = abs(x) * 10**digits
    whole, frac = divmod(int(scaled), 10**digits)
    return f"{sign}{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects (ballots,
    tuples) that form no cycles: otherwise it keeps rescanning everything built so far, which
    took about half the time of reading and aggregating the large files."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class Project:
    """A project on the ballot. ``extra`` keeps every other PROJECTS column as written."""

    id: str
    cost: Number
    name: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Voter:
    """One voter's ballot as written: project ids (in rank order for ordinal ballots), the
    points given to each (cumulative and scoring; optional for ordinal) and the other VOTES
    columns (age, sex, district…)."""

    id: str
    vote: tuple[str, ...]
    points: tuple[Number, ...] | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ballot:
    """A distinct ballot and how many voters cast it. ``items`` pairs a project id with the
    weight the rules use: 1 for approval and choose-1, the points for cumulative and scoring,
    the scoring function's value for ordinal ballots (Borda by default). Approval items are
    in project order; ordinal items in rank order."""

    items: tuple[tuple[str, Number], ...]
    count: int


# META keys with a numeric meaning and the defaults of the pabulib format.
LIMIT_KEYS = (
    "min_length",
    "max_length",
    "min_sum_cost",
    "max_sum_cost",
    "min_points",
    "max_points",
    "min_sum_points",
    "max_sum_points",
    "min_project_score_threshold",
    "default_score",
)


@dataclass
class Instance:
    """A PB instance: META as ordered strings, projects in file order, voters in file order.

    ``project_columns`` / ``voter_columns`` are the extra column names, in order, written
    after the standard ones. Build one with :func:`make_instance` or read one with
    :func:`portal.core.pabulib.read_pb`.
    """

    meta: dict[str, str]
    projects: dict[str, Project]
    voters: list[Voter]
    project_columns: list[str] = field(default_factory=list)
    voter_columns: list[str] = field(default_factory=list)
    _ballots: list[Ballot] | None = field(default=None, repr=False, compare=False)

    # --- META with defaults -------------------------------------------------------------
    @property
    def vote_type(self) -> VoteType:
        return VoteType(self.meta.get("vote_type", "approval").strip().lower())

    @property
    def budget(self) -> Number:
        return to_number(self.meta["budget"])

    def limit(self, key: str) -> Number | None:
        """A numeric META limit, or its pabulib default (None where the default is 'none')."""
        raw = self.meta.get(key)
        if raw is not None and raw.strip() != "":
            return to_number(raw)
        if key == "min_length":
            return 1
        if key == "max_length":
            return len(self.projects)
        if key in {"min_sum_cost", "min_sum_points", "min_project_score_threshold"}:
            return 0
        if key == "default_score":
            return 0
        return None

    @property
    def rule(self) -> str:
        return self.meta.get("rule", "")

    # --- ballots --------------------------------------------------------------------------
    def weights(self, voter: Voter) -> tuple[tuple[str, Number], ...]:
        """The (project id, weight) items of one voter's ballot, as the rules see them."""
        vt = self.vote_type
        if vt in (VoteType.APPROVAL, VoteType.CHOOSE_1):
            order = self._order()
            return tuple((p, 1) for p in sorted(set(voter.vote), key=order.__getitem__))
        if vt == VoteType.ORDINAL:
            return tuple((p, self.rank_score(i)) for i, p in enumerate(voter.vote))
        points = voter.points or ()
        order = self._order()
        items = sorted(zip(voter.vote, points, strict=False), key=lambda x: order[x[0]])
        return tuple(items)

    def rank_score(self, position: int) -> Number:
        """Score of the project ranked at 0-based ``position`` (META ``scoring_fn``, default
        Borda: max_length - position, so the top of a 3-long ranking gets 3 points)."""
        fn = self.meta.get("scoring_fn", "Borda").strip().lower()
        if fn not in {"borda", ""}:
            raise ValueError(f"unsupported scoring_fn {fn!r}")
        top = self.limit("max_length") or len(self.projects)
        return max(int(top) - position, 0)

    def _order(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.projects)}

    @property
    def ballots(self) -> list[Ballot]:
        """Distinct ballots with their multiplicity, in order of first appearance."""
        if self._ballots is None:
            self._ballots = aggregate(self)
        return self._ballots

    def invalidate(self) -> None:
        """Forget the cached aggregated ballots (call after editing voters)."""
        self._ballots = None


def aggregate(instance: Instance) -> list[Ballot]:
    """Group identical ballots (same projects and weights) with their multiplicity."""
    vt = instance.vote_type
    counts: dict[tuple, int] = {}
    if vt in (VoteType.APPROVAL, VoteType.CHOOSE_1):
        # Fast path: most elections are approval; key on the vote as written, then normalise.
        raw: dict[tuple[str, ...], int] = {}
        for v in instance.voters:
            raw[v.vote] = raw.get(v.vote, 0) + 1
        order = instance._order()
        big = len(order)
        get = order.get
        sorted_votes: dict[tuple[str, ...], int] = {}
        for vote, n in raw.items():
            key = tuple(sorted(set(vote), key=lambda p: get(p, big)))
            sorted_votes[key] = sorted_votes.get(key, 0) + n
        return [Ballot(tuple((p, 1) for p in k), n) for k, n in sorted_votes.items()]
    else:
        for v in instance.voters:
            key = instance.weights(v)
            counts[key] = counts.get(key, 0) + 1
    return [Ballot(items, n) for items, n in counts.items()]


def make_instance(
    *,
    budget: Number,
    projects: Iterable[Project],
    voters: Iterable[Voter | Sequence],
    vote_type: VoteType | str = VoteType.APPROVAL,
    meta: Mapping[str, object] | None = None,
    project_columns: Sequence[str] | None = None,
    voter_columns: Sequence[str] | None = None,
) -> Instance:
    """Build an instance from Python data (the web app builds one per district).

    ``voters`` holds :class:`Voter` objects or tuples ``(voter_id, vote[, points[, extra]])``.
    META gets ``num_projects``, ``num_votes``, ``budget`` and ``vote_type`` from the data;
    ``meta`` adds or overrides other keys (description, country, unit, rule, …). Extra column
    names default to the union of the ``extra`` keys, in first-seen order.
    """
    plist = list(projects)
    vlist: list[Voter] = []
    for v in voters:
        if isinstance(v, Voter):
            vlist.append(v)
            continue
        vid, vote, *rest = v
        points = tuple(to_number(x) for x in rest[0]) if rest and rest[0] is not None else None
        extra = dict(rest[1]) if len(rest) > 1 and rest[1] else {}
        vlist.append(Voter(str(vid), tuple(str(p) for p in vote), points, extra))
    vt = VoteType(str(vote_type))
    full: dict[str, str] = {
        "description": "",
        "country": "",
        "unit": "",
        "instance": "",
        "num_projects": str(len(plist)),
        "num_votes": str(len(vlist)),
        "budget": format_number(to_number(budget)),
        "vote_type": vt.value,
        "rule": "",
        "date_begin": "",
        "date_end": "",
    }
    for k, val in (meta or {}).items():
        if k not in {"num_projects", "num_votes", "budget", "vote_type"}:
            full[str(k)] = val if isinstance(val, str) else format_number(val)  # type: ignore[arg-type]
    if project_columns is None:
        project_columns = _union(p.extra for p in plist)
    if voter_columns is None:
        voter_columns = _union(v.extra for v in vlist)
    return Instance(
        meta=full,
        projects={
            p.id: Project(str(p.id), to_number(p.cost), p.name, dict(p.extra)) for p in plist
        },
        voters=vlist,
        project_columns=[c for c in project_columns if c not in {"project_id", "cost", "name"}],
        voter_columns=[c for c in voter_columns if c not in {"voter_id", "vote", "points"}],
    )


def _union(dicts: Iterable[Mapping[str, str]]) -> list[str]:
    seen: dict[str, None] = {}
    for d in dicts:
        for k in d:
            seen.setdefault(k, None)
    return list(seen)
