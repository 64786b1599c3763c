"""Allocation rules: greedy and the Method of Equal Shares (MES) with its completions.

``tally(instance, rule, **options) -> Result``. Decisions are exact: greedy works on integers
and fractions; MES runs in floating point and, whenever a decisive comparison (which project is
cheapest per effective vote, whether supporters can afford a project) falls within a relative
1e-9 of a tie, the whole run is redone with ``fractions.Fraction`` so the outcome is the exact one.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from heapq import heapify, heappop, heappush
from itertools import accumulate, chain, repeat
from operator import itemgetter, mul
from time import perf_counter
from typing import Any

from portal.core.model import Instance, Number, VoteType, format_number, paused_gc

RULES = ("greedy", "greedy-no-skip", "mes", "mes-add1", "mes-add1-greedy")
# pabulib META `rule` values -> (rule, options)
PABULIB_RULES: dict[str, tuple[str, dict]] = {
    "greedy": ("greedy", {}),
    "greedy-threshold": ("greedy", {}),
    "greedy-no-skip": ("greedy-no-skip", {}),
    "equalshares": ("mes", {}),
    "equalshares/add1": ("mes-add1", {}),
    "equalshares/add1-comparison": ("mes-add1", {"comparison": True}),
    "equalshares/add1-greedy": ("mes-add1-greedy", {}),
}
TOL = 1e-9
# the first candidate of a round is tested against 99% of the next bound on the heap (a
# little below it, so that the winner is usually priced at once rather than bounded first)
FIRST_TARGET = 0.99
ADD1_BLOCK = 16  # add1 runs computed together, from the highest share down
SERIAL_BLOCKS = (4, 8)  # the first add1 blocks, computed in the calling process
# add1 spreads its later runs over worker processes (option jobs) once a run takes this long (s)
SPREAD_MIN_RUN = 0.0005
# Approval runs use NumPy (if installed) when the candidates have at least this many supporters
# on average (below, its cost per call outweighs the Python loops it saves) and NUMPY_MIN_TOTAL
# in all (below, a whole run takes well under a millisecond: importing NumPy would cost more).
NUMPY_MIN_VOTERS = 100
NUMPY_MIN_TOTAL = 5000


# --- results ----------------------------------------------------------------------------------
def _plain(x: object) -> object:
    if isinstance(x, Fraction):
        return int(x) if x.denominator == 1 else float(x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


@dataclass
class Explanation:
    """Why a project was or was not funded.

    greedy: ``rank`` (position in the order considered), ``score``, ``budget_left`` before it
    was considered, ``reason``. MES: ``round`` bought, ``rho`` (most a supporter paid; per point
    for cardinal ballots), ``effective_votes`` (cost / rho: supporters, or points, who paid in
    full), ``supporters_money`` (what its supporters had left when bought, or at the end), and
    for a project not bought ``shortfall`` (cost minus that money, when they could not afford
    it) or ``rho`` it would have needed at the end. ``stage`` says which step decided it
    (``mes``, ``greedy``, ``comparison``)."""

    project_id: str
    cost: Number
    selected: bool
    reason: str = ""
    score: Number | None = None
    votes: int | None = None
    rank: int | None = None
    budget_left: Number | None = None
    round: int | None = None
    rho: Number | float | None = None
    effective_votes: Number | float | None = None
    supporters_money: Number | float | None = None
    shortfall: Number | float | None = None
    stage: str | None = None

    def to_dict(self) -> dict:
        return {k: _plain(v) for k, v in asdict(self).items() if v is not None}


@dataclass
class Tie:
    """Projects that were equal on the rule's own criterion at one step, how the tie was
    broken (``cost``, ``votes`` or ``order``) and the one chosen first. ``order`` means the
    tie remained after cost and votes and was decided by the caller's tie order."""

    step: str
    projects: list[str]
    chosen: str
    broken_by: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Result:
    """The outcome of a rule. ``selected`` is in the order bought."""

    rule: str
    selected: list[str]
    total_cost: Number
    budget: Number
    explanations: dict[str, Explanation]
    ties: list[Tie] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "selected": list(self.selected),
            "total_cost": _plain(self.total_cost),
            "budget": _plain(self.budget),
            "projects": {k: e.to_dict() for k, e in self.explanations.items()},
            "ties": [t.to_dict() for t in self.ties],
            "unresolved_ties": [t.to_dict() for t in self.ties if t.broken_by == "order"],
            "info": _plain(self.info),
        }


# --- profile over distinct ballots ----------------------------------------------------------
class Profile:
    """Projects by index, distinct ballots with multiplicity, supporters per project."""

    def __init__(self, instance: Instance, tie_order: Sequence[str] | None = None) -> None:
        self.ids = list(instance.projects)
        index = {p: i for i, p in enumerate(self.ids)}
        self.cost: list[Number] = [instance.projects[p].cost for p in self.ids]
        self.budget: Number = instance.budget
        vt = instance.vote_type
        self.approval = vt in (VoteType.APPROVAL, VoteType.CHOOSE_1)
        self.n_voters = len(instance.voters)
        ballots: dict[tuple, int] = {}
        m = len(self.ids)
        votes = [0] * m
        score: list[Number] = [0] * m
        if self.approval:
            raw = Counter(v.vote for v in instance.voters)
            get = index.get
            for vote, n in raw.items():
                ids = set(map(get, vote))
                ids.discard(None)
                key = tuple(sorted(ids))
                ballots[key] = ballots.get(key, 0) + n
            pair = [(i, 1) for i in range(m)]  # shared by every ballot that approves i
            at = pair.__getitem__
            self.ballots = [(tuple(map(at, k)), n) for k, n in ballots.items()]
            # approvals per project: ballots cast once are counted in C, the others by hand
            counted = Counter(chain.from_iterable(k for k, n in ballots.items() if n == 1))
            for i, c in counted.items():
                votes[i] = c
            for k, n in ballots.items():
                if n != 1:
                    for i in k:
                        votes[i] += n
            score = list(votes)
        else:
            for b in instance.ballots:
                key = tuple((index[p], w) for p, w in b.items if p in index and w != 0)
                ballots[key] = ballots.get(key, 0) + b.count
            self.ballots = list(ballots.items())
            for items, n in self.ballots:
                for i, w in items:
                    votes[i] += n
                    score[i] += w * n
        self.mult = [n for _, n in self.ballots]
        self.votes = votes
        self.score = score
        self._sup: list[list[int]] | None = None
        self._wts: list[list[Number]] | None = None
        order = list(tie_order) if tie_order else []
        pos = {p: k for k, p in enumerate(order)}
        # position in the caller's order, then file order for projects it does not name
        self.order = [pos.get(p, len(order) + i) for i, p in enumerate(self.ids)]

    def cluster(self) -> None:
        """Put the ballots in lexicographic order of their projects, most voted first: the
        supporters of a popular project then sit together in memory, which MES runs (that
        gather and update their budgets thousands of times) feel: 10-15 % on large files."""
        m = len(self.ids)
        place = [0] * m
        for r, i in enumerate(sorted(range(m), key=lambda i: (-self.votes[i], i))):
            place[i] = r
        at = place.__getitem__
        first = itemgetter(0)
        self.ballots.sort(key=lambda b: sorted(map(at, map(first, b[0]))))
        self.mult = [n for _, n in self.ballots]
        self._sup = self._wts = None

    def _supporters(self) -> None:
        m = len(self.ids)
        sup: list[list[int]] = [[] for _ in range(m)]
        wts: list[list[Number]] = [[] for _ in range(m)]
        if self.approval:  # every weight is 1
            for j, (items, _n) in enumerate(self.ballots):
                for i, _w in items:
                    sup[i].append(j)
            wts = [[1] * len(s) for s in sup]
        else:
            for j, (items, _n) in enumerate(self.ballots):
                for i, w in items:
                    sup[i].append(j)
                    wts[i].append(w)
        self._sup, self._wts = sup, wts

    @property
    def sup(self) -> list[list[int]]:
        """Per project, the indices of the distinct ballots that support it."""
        if self._sup is None:
            self._supporters()
        return self._sup  # type: ignore[return-value]

    @property
    def wts(self) -> list[list[Number]]:
        """Per project, the weights of those ballots, aligned with ``sup``."""
        if self._wts is None:
            self._supporters()
        return self._wts  # type: ignore[return-value]

    def tiebreak_key(self, i: int) -> tuple:
        return (self.cost[i], -self.votes[i], self.order[i])


def _broken_by(prof: Profile, a: int, b: int) -> str:
    if prof.cost[a] != prof.cost[b]:
        return "cost"
    if prof.votes[a] != prof.votes[b]:
        return "votes"
    return "order"


# --- greedy -----------------------------------------------------------------------------------
def _greedy(
    prof: Profile,
    *,
    budget: Number,
    threshold: Number = 0,
    no_skip: bool = False,
    exclude: Sequence[int] = (),
    stage: str = "greedy",
    explanations: dict[str, Explanation] | None = None,
    ties: list[Tie] | None = None,
) -> list[int]:
    """Fund projects in decreasing score while they fit; return the indices funded."""
    done = set(exclude)
    cand = [i for i in range(len(prof.ids)) if i not in done]
    cand.sort(key=lambda i: (-prof.score[i], *prof.tiebreak_key(i)))
    left = budget
    chosen: list[int] = []
    stopped = False
    for rank, i in enumerate(cand, 1):
        e = Explanation(
            prof.ids[i],
            prof.cost[i],
            False,
            score=prof.score[i],
            votes=prof.votes[i],
            rank=rank,
            budget_left=left,
            stage=stage,
        )
        if prof.score[i] < threshold:
            e.reason = (
                f"score {format_number(prof.score[i])} below the threshold "
                f"{format_number(threshold)}"
            )
        elif stopped:
            e.reason = "not considered: greedy without skipping stopped earlier"
        elif prof.cost[i] <= left:
            e.selected = True
            e.reason = "funded: fits the budget left"
            left -= prof.cost[i]
            chosen.append(i)
        else:
            e.reason = "does not fit the budget left"
            if no_skip:
                stopped = True
                e.reason += "; greedy without skipping stops here"
        if explanations is not None:
            explanations[prof.ids[i]] = e
    if ties is not None:
        sel = set(chosen)
        groups: dict[Number, list[int]] = {}
        for i in cand:
            groups.setdefault(prof.score[i], []).append(i)
        for sc, group in groups.items():
            if len(group) > 1 and any(i in sel for i in group) and any(i not in sel for i in group):
                first = next(i for i in group if i in sel)
                broken = "order"
                for other in group:
                    if other != first and other not in sel:
                        broken = _broken_by(prof, first, other)
                        if broken == "order":
                            break
                ties.append(
                    Tie(
                        f"{stage}: equal score {format_number(sc)}",
                        [prof.ids[i] for i in group],
                        prof.ids[first],
                        broken,
                    )
                )
    return chosen


# --- Method of Equal Shares ------------------------------------------------------------------
class _NeedExact(Exception):
    """A float comparison was too close to call: redo the run with fractions."""


def _gather(idx: list[int]) -> Callable[[list], tuple]:
    if len(idx) == 1:
        k = idx[0]
        return lambda seq: (seq[k],)
    return itemgetter(*idx)


@dataclass
class _Run:
    selected: list[int]
    rounds: dict[int, tuple[int, object, object, object]]  # i -> (round, rho, eff, money)
    budgets: list
    ties: list[Tie]


def _price(groups: list[tuple], cost: object, total: int) -> object:
    """The price rho per supporter with sum(min(budget, rho)) = cost, from (budget, voters)
    groups in increasing budget. Capping the k poorest groups gives the price
    (cost - their money) / (the others); the first group that can pay it settles it, and the
    test is monotone in k, so a binary search over prefix sums finds it."""
    vals, counts = zip(*groups, strict=True)
    paid = list(accumulate(map(mul, vals, counts), initial=0))
    capped = list(accumulate(counts, initial=0))
    lo, hi = 0, len(groups) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if vals[mid] >= (cost - paid[mid]) / (total - capped[mid]):
            hi = mid
        else:
            lo = mid + 1
    return (cost - paid[lo]) / (total - capped[lo])


def _price_low(low: list, zeros: int, cost: float, total: int) -> float:
    """``_price`` from one budget per voter: ``low`` holds, sorted increasingly, the positive
    budgets of every supporter who may be capped (all others can pay the price), ``zeros``
    counts those with nothing left. Capping the k poorest gives (cost - their money) /
    (total - zeros - k); binary search for the first k whose next voter can pay it."""
    paid = list(accumulate(low, initial=0.0))
    rest = total - zeros
    lo, hi = 0, len(low)
    while lo < hi:
        mid = (lo + hi) // 2
        if low[mid] >= (cost - paid[mid]) / (rest - mid):
            hi = mid
        else:
            lo = mid + 1
    return (cost - paid[lo]) / (rest - lo)


# The two numeric halves of a lean approval run (``_MES._fast``) over the voters' budgets as
# floats, made by a kernel for each run: ``price(i, target)`` answers None if the supporters of
# project i cannot afford it, a float bound on its effective votes if they are below ``target``,
# or (effective votes, price per supporter, whether that is exact) otherwise; ``pay(i, rho)``
# takes the price from them. The two kernels (pure Python, NumPy) share ``_pricer`` and differ
# only in how they gather, add up, filter and sort budgets. Their figures may differ in the last
# bits (NumPy adds up in another order, and at an exact boundary between two numbers of capped
# voters it may take the other, equal price): far inside the 1e-9 tolerance of every decision,
# past which a run is redone in fractions, so both make the same decisions.
Price = Callable[[int, float], "None | float | tuple[float, float, bool]"]


def _pricer(
    mes: _MES,
    gather: Callable[[int], Sequence[float]],
    total: Callable[[Sequence[float]], float],
    below: Callable[[Sequence[float], float], Sequence[float]],
    positives: Callable[[Sequence[float]], Sequence[float]],
    price_low: Callable[[Sequence[float], int, float, int], float],
) -> Price:
    """``price`` over the budgets that ``gather(i)`` gives (one per supporter of project i):
    ``below(budgets, x)`` keeps those under x, ``positives`` keeps the positive ones sorted,
    ``price_low`` prices them as ``_price_low`` does."""
    W, fcost = mes.W, mes.fcost

    def price(i: int, target: float) -> None | float | tuple[float, float, bool]:
        cost = fcost[i]
        bud = gather(i)
        money = float(total(bud))
        if abs(money - cost) <= TOL * cost:
            raise _NeedExact
        if money < cost:
            return None
        Wi = W[i]
        if target > 0:
            # E reaches the target only if the price is at most cost / target, i.e. if the
            # supporters can raise the cost at that price
            top_rho = cost / (target * (1 - TOL))
            low = below(bud, top_rho)
            short = Wi - len(low)
            raised = float(total(low)) + top_rho * short
            if raised < cost:  # one Newton step from below bounds the price
                return cost / (top_rho + (cost - raised) / short)
        else:
            low = bud
        pos = positives(low)
        zeros = len(low) - len(pos)
        rho = cost / Wi
        if not zeros and (not len(pos) or pos[0] >= rho):  # everyone pays cost / W
            return Wi, rho, True
        rho = price_low(pos, zeros, cost, Wi)
        return cost / rho, rho, False

    return price


def _python_kernel(mes: _MES, b0: float) -> tuple[Price, Callable[[int, float], None]]:
    budgets = [b0] * len(mes.prof.ballots)
    getx, sup = mes.getx, mes.prof.sup

    def pay(i: int, rho: float) -> None:
        for j in sup[i]:
            bj = budgets[j]
            budgets[j] = bj - rho if bj > rho else 0.0

    price = _pricer(
        mes,
        gather=lambda i: getx[i](budgets),
        total=sum,
        below=lambda bud, x: [b for b in bud if b < x],
        positives=lambda low: sorted(filter(None, low)),
        price_low=_price_low,
    )
    return price, pay


def _numpy_kernel(mes: _MES, b0: float) -> tuple[Price, Callable[[int, float], None]]:
    """``_python_kernel`` with the budgets in a NumPy array: each step is a few calls over the
    supporters at once instead of a Python loop over them."""
    np = mes.np
    budgets = np.full(len(mes.prof.ballots), b0)
    voters, ballots, steps = mes.np_voters, mes.np_ballots, mes.np_steps
    maximum, running = np.maximum, np.add.accumulate
    paid = np.zeros(len(steps) + 1)  # paid[k]: what the k poorest supporters have

    def positives(low: Any) -> Any:
        pos = low[low > 0.0]
        pos.sort()
        return pos

    def price_low(pos: Any, zeros: int, cost: float, Wi: int) -> float:
        # _price_low at every k at once: the first k whose voter can pay (cost - what the k
        # poorer ones paid) / (the others)
        rest = Wi - zeros
        n = k = len(pos)
        if n:
            running(pos, out=paid[1 : n + 1])
            can = pos >= (cost - paid[:n]) / (rest - steps[:n])
            k = int(can.argmax())
            if not can[k]:
                k = n
        return (cost - float(paid[k])) / (rest - k)

    def pay(i: int, rho: float) -> None:
        # b - rho where b > rho, else 0: b - rho is positive exactly when b > rho
        s = ballots[i]
        b = budgets[s]
        b -= rho
        budgets[s] = maximum(b, 0.0, out=b)

    price = _pricer(
        mes,
        gather=lambda i: budgets[voters[i]],
        total=np.add.reduce,
        below=lambda bud, x: bud[bud < x],
        positives=positives,
        price_low=price_low,
    )
    return price, pay


class _MES:
    """MES over a profile. Approval ballots use cost utilities (a supporter's utility is the
    project's cost, so the project bought is the one with the most effective votes, i.e. the
    lowest price per supporter relative to its cost); cardinal ballots pay in proportion to
    their points."""

    def __init__(self, prof: Profile) -> None:
        prof.cluster()
        self.prof = prof
        m = len(prof.ids)
        self.get = [_gather(s) if s else None for s in prof.sup]
        # the same supporters repeated by multiplicity (one entry per voter)
        mult = prof.mult
        self.getx = [
            _gather(list(chain.from_iterable(map(repeat, s, map(mult.__getitem__, s)))))
            if s
            else None
            for s in prof.sup
        ]
        self.mult_of = [tuple(map(mult.__getitem__, s)) for s in prof.sup]
        self.unit = prof.approval or all(w == 1 for ws in prof.wts for w in ws)
        # float weights: only runs with points other than 1 read them
        self.wf = [] if self.unit else [tuple(map(float, ws)) for ws in prof.wts]
        self.W = [sum(map(mul, ws, ms)) for ws, ms in zip(prof.wts, self.mult_of, strict=True)]
        self.cands = [i for i in range(m) if prof.sup[i] and self.W[i] > 0 and prof.cost[i] > 0]
        self.fcost = [float(c) for c in prof.cost]
        # the tie-break order as one integer per project (heap entries compare it)
        self.by_rank = sorted(range(m), key=prof.tiebreak_key)
        self.rank = [0] * m
        for q, i in enumerate(self.by_rank):
            self.rank[i] = q
        supporters = sum(self.W[i] for i in self.cands)
        self._kernel: Callable | None = None
        self._numpy_wanted = (
            prof.approval
            and bool(self.cands)
            and supporters >= NUMPY_MIN_VOTERS * len(self.cands)
            and supporters >= NUMPY_MIN_TOTAL
        )

    @property
    def kernel(self) -> Callable:
        """The numeric kernel of the lean runs, made at the first one (a rule without the add1
        search never needs it): NumPy's where it pays and is installed, else pure Python."""
        if self._kernel is None:
            self._kernel = (
                _numpy_kernel
                if self._numpy_wanted and self._build_numpy_arrays()
                else _python_kernel
            )
        return self._kernel

    def _build_numpy_arrays(self) -> bool:
        try:
            import numpy as np
        except ImportError:  # pure Python it is
            return False
        self.np = np
        sup, mult_of = self.prof.sup, self.mult_of
        self.np_ballots = [np.array(s, dtype=np.intp) for s in sup]
        self.np_voters = [np.repeat(b, ms) for b, ms in zip(self.np_ballots, mult_of, strict=True)]
        self.np_steps = np.arange(max(self.W, default=0) + 1, dtype=np.float64)
        return True

    def selected(self, per_voter: Number, hint: list | None = None) -> tuple[list[int], list]:
        """The projects MES buys at ``per_voter``, in order (what ``run`` selects), and a trace
        to pass as ``hint`` to the run at a lower share (empty when there is none). Approval
        ballots take the fast path unless a decision there is within 1e-9 of a tie."""
        if self.prof.approval and self.cands:
            trace: list = []
            try:
                return self._fast(float(per_voter), hint, trace), trace
            except _NeedExact:
                pass
        return self.run(per_voter).selected, []

    def _fast(self, b0: float, hint: list | None = None, trace: list | None = None) -> list[int]:
        """A float MES run for approval ballots (cost utilities) that returns only the
        projects bought, with the same decisions as ``_run``: candidates come off a heap keyed
        by an upper bound on their effective votes (their last value: a price never falls
        within a run), and are priced and paid for by the run's kernel (``_python_kernel`` or
        ``_numpy_kernel``). Raises _NeedExact when a decision is within the tolerance of a tie.

        Heap entries are (-bound, rank) with ``rank`` the project's place in the tie-break
        order, so equal bounds pop in that order. ``own[rank]`` mirrors the key each live
        project has (-1.0 once bought or unaffordable).

        ``trace`` receives, per round, the project bought and a list (by rank) of upper bounds
        on the effective votes of every project still affordable then (-1.0 for the others).
        Given as ``hint`` to a run at a lower share, it bounds that run's rounds for as long as
        both runs bought the same projects: with the same purchases so far every voter has at
        most as much left at the lower share, so every price is at least as high (effective
        votes at most as many) and a project unaffordable at the higher share is unaffordable
        at the lower one too. A hint is applied lazily, to the entries that reach the top."""
        W = self.W
        rank = self.rank
        by_rank = self.by_rank
        own = [-1.0] * len(by_rank)
        heap = []
        for i in self.cands:
            q = rank[i]
            own[q] = float(W[i])
            heap.append((-W[i], q))
        heapify(heap)
        price, pay = self.kernel(self, b0)  # over fresh budgets of b0 each
        selected: list[int] = []
        follow = bool(hint)
        hb: list = []
        while heap:
            if follow:
                hb = hint[len(selected)][1]  # type: ignore[index]
            bestE = None
            best_exact = True
            best: list[tuple] = []  # entries tied with the best (exactly equal, exact)
            seen: list[tuple] = []  # entries evaluated this round, with their new bound
            win_rho = 0.0
            while heap:
                top = heap[0]
                if bestE is not None and -top[0] < bestE * (1 - TOL):
                    break
                heappop(heap)
                q = top[1]
                if follow:
                    h = hb[q]
                    if h < 0:  # unaffordable at the higher share: here too
                        own[q] = -1.0
                        continue
                    if h < -top[0]:  # the higher run bounds it tighter: requeue
                        own[q] = h
                        heappush(heap, (-h, q))
                        continue
                # the target: the best so far, or else the next bound on the heap (a
                # candidate below it cannot be bought before the next one is evaluated)
                target = bestE if bestE is not None else (-heap[0][0] * FIRST_TARGET if heap else 0)
                found = price(by_rank[q], target)
                if found is None:  # never affordable again in this run
                    own[q] = -1.0
                    continue
                if type(found) is not tuple:  # below the target: ``found`` bounds it
                    own[q] = found
                    if bestE is None:
                        heappush(heap, (-found, q))
                    else:
                        seen.append((-found, q))
                    continue
                E, rho, is_exact = found
                own[q] = E
                entry = (-E, q)
                seen.append(entry)
                if bestE is None or E - bestE > TOL * E:  # better than all so far
                    best = [entry]
                    bestE, best_exact, win_rho = E, is_exact, rho
                elif bestE - E <= TOL * bestE:
                    # within tolerance of the best: a tie only if both are exact and equal
                    if not (is_exact and best_exact and bestE == E):
                        raise _NeedExact
                    best.append(entry)
                    if entry < best[0]:
                        best.insert(0, best.pop())
                        win_rho = rho
            if bestE is None:
                if trace is not None:
                    trace.append((None, own))
                break
            win = best[0]
            for e in seen:
                if e is not win:
                    heappush(heap, e)
            w = by_rank[win[1]]
            if trace is not None:  # the winner keeps its bound: the lower run prices it too
                trace.append((w, list(map(min, own, hb)) if follow else own[:]))
            own[win[1]] = -1.0
            if follow:
                rnd = len(selected)
                follow = rnd + 1 < len(hint) and hint[rnd][0] == w  # type: ignore[arg-type]
                if not follow:
                    # the runs part here; this round's bounds still hold for every later
                    # round (prices only rise within a run): give them to every entry now
                    rekeyed = []
                    for key, q in heap:
                        h = min(-key, hb[q])
                        own[q] = h if h >= 0 else -1.0
                        if h >= 0:
                            rekeyed.append((-h, q))
                    heap = rekeyed
                    heapify(heap)
            selected.append(w)
            pay(w, win_rho)
        return selected

    def run(self, per_voter: Number, exclude: Sequence[int] = ()) -> _Run:
        try:
            return self._run(per_voter, exact=False, exclude=exclude)
        except _NeedExact:
            return self._run(per_voter, exact=True, exclude=exclude)

    def _eval(self, i: int, budgets: list, exact: bool) -> tuple[object, object, object, bool]:
        """Return (K, rho, money of supporters, K is exact), K None when the supporters cannot
        afford it. rho is the price per supporter (approval) or per point; the project bought
        is the one with the largest K: cost / rho for approval (cost utilities: effective
        votes), 1 / rho for cardinal ballots (the lowest price per point)."""
        prof = self.prof
        cost = Fraction(prof.cost[i]) if exact else float(prof.cost[i])
        Wtot = self.W[i]
        if self.unit:
            bud = self.getx[i](budgets)  # one entry per voter
            money = sum(bud)
            if not exact and abs(money - cost) <= TOL * cost:
                raise _NeedExact
            if money < cost:
                return None, None, money, True
            rho = cost / Wtot
            low = min(bud)
            if low >= rho:  # nobody is short: everyone pays cost / W
                if prof.approval:
                    return Wtot, rho, money, True
                return (Fraction(Wtot) / cost if exact else Wtot / cost), rho, money, False
            rho = _price(sorted(Counter(bud).items()), cost, Wtot)
            return (cost / rho if prof.approval else 1 / rho), rho, money, False
        bud = self.get[i](budgets)
        ms = self.mult_of[i]
        money = sum(map(mul, bud, ms))
        if not exact and abs(money - cost) <= TOL * cost:
            raise _NeedExact
        if money < cost:
            return None, None, money, True
        ws = prof.wts[i] if exact else self.wf[i]
        ratio = [b / w for b, w in zip(bud, ws, strict=True)]
        rho = cost / Wtot
        if min(ratio) >= rho:
            return (Fraction(Wtot) / cost if exact else Wtot / cost), rho, money, False
        order = sorted(range(len(bud)), key=ratio.__getitem__)
        paid = 0
        denom = Wtot
        for k in order:
            rho = (cost - paid) / denom
            if ratio[k] >= rho:
                break
            paid += bud[k] * ms[k]
            denom -= ws[k] * ms[k]
        rho = (cost - paid) / denom
        return (cost / rho if prof.approval else 1 / rho), rho, money, False

    def _run(self, per_voter: Number, *, exact: bool, exclude: Sequence[int]) -> _Run:
        prof = self.prof
        b0 = Fraction(per_voter) if exact else float(per_voter)
        budgets = [b0] * len(prof.ballots)
        skip = set(exclude)
        ub: dict[int, object] = {
            i: self.W[i] if prof.approval else Fraction(self.W[i]) / prof.cost[i]
            for i in self.cands
            if i not in skip
        }
        selected: list[int] = []
        rounds: dict[int, tuple] = {}
        ties: list[Tie] = []
        rnd = 0
        key = prof.tiebreak_key
        while ub:
            rnd += 1
            best: list[int] = []
            bestE = None
            best_exact = True
            vals: dict[int, tuple] = {}
            for i in sorted(ub, key=lambda i: (-ub[i], key(i))):
                if bestE is not None:
                    if exact and ub[i] < bestE:
                        break
                    if not exact and ub[i] < bestE * (1 - TOL):
                        break
                E, rho, money, is_exact = self._eval(i, budgets, exact)
                if E is None:
                    del ub[i]
                    continue
                ub[i] = E
                vals[i] = (E, rho, money)
                if bestE is None or bestE < E:
                    if (
                        not exact
                        and bestE is not None
                        and E - bestE <= TOL * E
                        and not (is_exact and best_exact)
                    ):
                        raise _NeedExact
                    if bestE is not None and (exact or E - bestE > TOL * E):
                        best = []
                    if not best or exact or E - bestE > TOL * E:
                        best = [i]
                    else:
                        best.append(i)
                    bestE = E
                    best_exact = is_exact
                elif bestE == E or (not exact and bestE - E <= TOL * bestE):
                    if not exact and not (is_exact and best_exact and bestE == E):
                        raise _NeedExact
                    best.append(i)
            if not best:
                break
            best.sort(key=key)
            win = best[0]
            if len(best) > 1:
                ties.append(
                    Tie(
                        f"mes round {rnd}: equal effective votes",
                        [prof.ids[i] for i in best],
                        prof.ids[win],
                        _broken_by(prof, win, best[1]),
                    )
                )
            _K, rho, money = vals[win]
            del ub[win]
            selected.append(win)
            rounds[win] = (rnd, rho, prof.cost[win] / rho, money)
            zero = Fraction(0) if exact else 0.0
            if self.unit:  # everyone pays rho, or all they have left
                for j in prof.sup[win]:
                    bj = budgets[j]
                    budgets[j] = bj - rho if bj > rho else zero
            else:
                ws = prof.wts[win] if exact else self.wf[win]
                for j, w in zip(prof.sup[win], ws, strict=True):
                    pay = rho * w
                    bj = budgets[j]
                    budgets[j] = bj - pay if bj > pay else zero
        return _Run(selected, rounds, budgets, ties)

    def final_state(self, run: _Run, i: int) -> tuple[object, object]:
        """Supporters' money at the end and the rho the project would need (None if short)."""
        exact = isinstance(run.budgets[0], Fraction) if run.budgets else True
        E, rho, money, _ = (
            self._eval(i, run.budgets, exact=True) if exact else self._safe_eval(i, run.budgets)
        )
        return money, rho

    def _safe_eval(self, i: int, budgets: list) -> tuple:
        try:
            return self._eval(i, budgets, exact=False)
        except _NeedExact:
            money = sum(map(mul, self.get[i](budgets), self.mult_of[i]))
            return None, None, money, False


def _exhaustive(prof: Profile, selected: set[int], budget: Number) -> bool:
    spent = sum(prof.cost[i] for i in selected)
    return all(prof.cost[i] > budget - spent for i in range(len(prof.ids)) if i not in selected)


def _utility(prof: Profile, chosen: set[int]) -> list[Number]:
    """Per distinct ballot: cost of funded approved projects (approval), or funded points."""
    out = []
    for items, _n in prof.ballots:
        if prof.approval:
            out.append(sum(prof.cost[i] for i, _w in items if i in chosen))
        else:
            out.append(sum(w for i, w in items if i in chosen))
    return out


def _block(mes: _MES, share: Fraction, lo: int, hi: int) -> list[list[int]]:
    """The projects bought at shares ``share + lo`` … ``share + hi``, computed from the highest
    down, each run bounded by the trace of the one above it."""
    out: list[list[int]] = []
    hint: list = []
    for k in range(hi, lo - 1, -1):
        sel, hint = mes.selected(share + k, hint)
        out.append(sel)
    out.reverse()
    return out


_FORKED: tuple | None = None  # (mes, share) inherited by the worker processes of add1


def _forked_block(lo: int, hi: int) -> list[list[int]]:
    mes, share = _FORKED  # type: ignore[misc]
    return _block(mes, share, lo, hi)


def _add1_runs(mes: _MES, share: Fraction, jobs: int) -> Iterator[list[int]]:
    """The projects bought after 1, 2, 3 … one-unit raises, in order, computed in blocks.

    The first blocks are small and computed here, so that short searches cost nothing more.
    With ``jobs`` > 1, the ``fork`` start method available and runs slow enough to pay for
    starting processes, later blocks are computed by that many worker processes (forked, so
    they inherit the profile) while this process checks the results in order; blocks still
    running when the caller stops are abandoned."""
    k = 1
    spread = jobs > 1 and "fork" in multiprocessing.get_all_start_methods()
    for size in SERIAL_BLOCKS:
        started = perf_counter()
        yield from _block(mes, share, k, k + size - 1)
        k += size
        if spread and (perf_counter() - started) / size > SPREAD_MIN_RUN:
            break
    else:
        spread = False
    if spread:
        global _FORKED
        _FORKED = (mes, share)
        try:
            yield from _spread_blocks(mes, share, k, jobs)
        except _WorkerLost as lost:
            k = lost.k  # go on here from the first block not given yet
        finally:
            _FORKED = None
    while True:
        yield from _block(mes, share, k, k + ADD1_BLOCK - 1)
        k += ADD1_BLOCK


class _WorkerLost(Exception):
    """A worker process of the add1 search died (killed, out of memory): its block is lost."""

    def __init__(self, k: int) -> None:
        super().__init__(k)
        self.k = k


def _spread_blocks(mes: _MES, share: Fraction, k: int, jobs: int) -> Iterator[list[int]]:
    """Blocks from ``k`` on, computed by ``jobs`` forked worker processes, given in order.

    A pool whose worker dies would wait for that block for ever: while waiting, this checks
    that every worker it started is still alive, and raises _WorkerLost otherwise."""
    mes.kernel  # noqa: B018 - made (NumPy's arrays built) once here, inherited by the workers
    before = {p.pid for p in multiprocessing.active_children()}
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        workers = {p.pid for p in multiprocessing.active_children()} - before
        pending: deque = deque()
        ahead = k
        while True:
            while len(pending) <= jobs:  # one block waiting for each busy worker
                pending.append(pool.apply_async(_forked_block, (ahead, ahead + ADD1_BLOCK - 1)))
                ahead += ADD1_BLOCK
            while True:
                try:
                    block = pending[0].get(timeout=0.25)
                    break
                except multiprocessing.TimeoutError:
                    if not workers <= {p.pid for p in multiprocessing.active_children()}:
                        raise _WorkerLost(k) from None
            pending.popleft()
            k += ADD1_BLOCK
            yield from block


def _add1_steps(
    prof: Profile, mes: _MES, share: Fraction, keep: bool, first: list[int], jobs: int = 1
) -> int:
    """How many one-unit raises of the per-voter share add1 makes: the first step whose
    outcome is exhaustive (unless ``keep``) or supports every supported project, or the last
    one before a step whose outcome would cost more than the budget."""
    budget = prof.budget
    supported = set(mes.cands)

    def stop_here(sel: list[int]) -> bool:
        s = set(sel)
        return (not keep and _exhaustive(prof, s, budget)) or supported <= s

    steps = 0
    if stop_here(first):
        return steps
    runs = _add1_runs(mes, share, jobs)
    try:
        for sel in runs:
            if sum(prof.cost[i] for i in sel) > budget:
                break
            steps += 1
            if stop_here(sel):
                break
    finally:
        runs.close()  # stops the worker processes, if any
    return steps


def tally(instance: Instance, rule: str, **options: object) -> Result:
    """Compute the winners of ``instance`` under ``rule``.

    Rules: ``greedy``, ``greedy-no-skip``, ``mes``, ``mes-add1``, ``mes-add1-greedy``, or a
    pabulib name (``greedy-threshold``, ``equalshares``, ``equalshares/add1``,
    ``equalshares/add1-comparison``) or ``auto`` (the file's META ``rule``).

    Options: ``threshold`` (minimum score for greedy; default META
    ``min_project_score_threshold``, else 0), ``no_skip`` (greedy stops at the first project
    that does not fit), ``keep_raising`` (add1 keeps raising the per-voter share past the first
    exhaustive outcome until the next step would overspend), ``comparison`` (after MES, use
    greedy's outcome instead if more voters prefer it), ``tie_order`` (project ids in the
    order that settles ties left after cost and votes; default file order), ``jobs`` (worker
    processes for the add1 search once it runs past a few steps; default 1: all in this
    process; the outcome does not depend on it).
    """
    with paused_gc():
        return _tally(instance, rule, **options)


def _tally(instance: Instance, rule: str, **options: object) -> Result:
    options = dict(options)
    if rule == "auto":
        rule = instance.rule or "greedy"
    if rule in PABULIB_RULES and rule not in RULES:
        rule, extra = PABULIB_RULES[rule]
        for k, v in extra.items():
            options.setdefault(k, v)
    elif rule == "equalshares/add1-comparison":
        options.setdefault("comparison", True)
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    unknown = set(options) - {
        "threshold",
        "no_skip",
        "keep_raising",
        "comparison",
        "tie_order",
        "jobs",
    }
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    prof = Profile(instance, options.get("tie_order"))  # type: ignore[arg-type]
    budget = prof.budget
    threshold = options.get("threshold")
    if threshold is None:
        threshold = instance.limit("min_project_score_threshold") or 0
    expl: dict[str, Explanation] = {}
    ties: list[Tie] = []
    info: dict = {}
    if rule in ("greedy", "greedy-no-skip"):
        no_skip = bool(options.get("no_skip")) or rule == "greedy-no-skip"
        name = "greedy-no-skip" if no_skip else "greedy"
        chosen = _greedy(
            prof,
            budget=budget,
            threshold=threshold,
            no_skip=no_skip,  # type: ignore[arg-type]
            explanations=expl,
            ties=ties,
        )
        info["threshold"] = threshold
        ordered = {
            prof.ids[i]: e
            for i, e in sorted(
                ((prof.ids.index(k), v) for k, v in expl.items()), key=lambda x: x[0]
            )
        }
        return Result(
            name,
            [prof.ids[i] for i in chosen],
            sum(prof.cost[i] for i in chosen),
            budget,
            ordered,
            ties,
            info,
        )
    return _tally_mes(prof, rule, options, instance)


def _tally_mes(prof: Profile, rule: str, options: dict, instance: Instance) -> Result:
    budget = prof.budget
    mes = _MES(prof)
    n = max(prof.n_voters, 1)
    share = Fraction(budget) / n
    info: dict = {"per_voter_share": share, "add1_steps": 0}
    name = rule
    if rule in ("mes-add1", "mes-add1-greedy"):
        keep = bool(options.get("keep_raising"))
        if keep:
            name += "-keep-raising"
        # the search needs only the projects bought; the full run, with what explains it,
        # is made once, at the share the search stops at
        first = mes.selected(share)[0]
        steps = _add1_steps(prof, mes, share, keep, first, int(options.get("jobs") or 1))
        info["add1_steps"] = steps
        info["per_voter_share"] = share + steps
    run = mes.run(info["per_voter_share"])
    chosen = list(run.selected)
    expl: dict[str, Explanation] = {}
    for i, pid in enumerate(prof.ids):
        e = Explanation(
            pid,
            prof.cost[i],
            i in run.rounds,
            votes=prof.votes[i],
            score=prof.score[i],
            stage="mes",
        )
        if i in run.rounds:
            rnd, rho, E, money = run.rounds[i]
            e.round, e.rho, e.effective_votes, e.supporters_money = rnd, rho, E, money
            e.reason = f"bought by its supporters in round {rnd}"
        elif not prof.sup[i]:
            e.reason = "no supporters"
        else:
            money, rho = mes.final_state(run, i)
            e.supporters_money = money
            if rho is None:
                e.shortfall = (
                    prof.cost[i] - money
                    if isinstance(money, Fraction | int)
                    else float(prof.cost[i]) - money
                )
                e.reason = "its supporters' money at the end falls short of its cost"
            else:
                e.rho = rho
                e.reason = "affordable at the end only after the budget ran out"
        expl[pid] = e
    ties = list(run.ties)
    if rule == "mes-add1-greedy":
        spent = sum(prof.cost[i] for i in chosen)
        gexpl: dict[str, Explanation] = {}
        extra = _greedy(
            prof,
            budget=budget - spent,
            exclude=chosen,
            stage="greedy completion",
            explanations=gexpl,
            ties=ties,
        )
        for i in extra:
            expl[prof.ids[i]] = gexpl[prof.ids[i]]
        chosen += extra
    if options.get("comparison"):
        name += "-comparison"
        greedy_chosen = _greedy(prof, budget=budget)
        u_mes = _utility(prof, set(chosen))
        u_gr = _utility(prof, set(greedy_chosen))
        prefer_greedy = sum(m for a, b, m in zip(u_mes, u_gr, prof.mult, strict=True) if b > a)
        prefer_mes = sum(m for a, b, m in zip(u_mes, u_gr, prof.mult, strict=True) if a > b)
        info["comparison"] = {"prefer_mes": prefer_mes, "prefer_greedy": prefer_greedy}
        if prefer_greedy > prefer_mes:
            chosen = greedy_chosen
            info["comparison"]["winner"] = "greedy"
            expl = {}
            _greedy(prof, budget=budget, explanations=expl, ties=ties)
            for e in expl.values():
                e.stage = "comparison: greedy preferred"
        else:
            info["comparison"]["winner"] = "mes"
    return Result(
        name,
        [prof.ids[i] for i in chosen],
        sum(prof.cost[i] for i in chosen),
        budget,
        expl,
        ties,
        info,
    )
