"""The engine against a plain, exact reference written here: per voter, Fractions, no
aggregation, no lazy evaluation, no floating point."""

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.core import rules
from portal.core.model import Project, Voter, make_instance
from portal.core.rules import _MES, Profile, tally

from .conftest import KERNELS, kernel


# --- reference ------------------------------------------------------------------------------
def weights(inst, voter):
    """project id -> weight for one voter (1 approval, points, Borda for ordinal)."""
    vt = inst.vote_type.value
    if vt in ("approval", "choose-1"):
        return {p: 1 for p in voter.vote}
    if vt == "ordinal":
        top = int(inst.limit("max_length"))
        return {p: top - k for k, p in enumerate(voter.vote) if top - k > 0}
    return {p: w for p, w in zip(voter.vote, voter.points, strict=False) if w > 0}


def tiebreak(inst, p):
    ids = list(inst.projects)
    votes = sum(1 for v in inst.voters if p in weights(inst, v))
    return (inst.projects[p].cost, -votes, ids.index(p))


def ref_greedy(inst, budget, threshold=0, no_skip=False, exclude=()):
    score = {p: 0 for p in inst.projects}
    for v in inst.voters:
        for p, w in weights(inst, v).items():
            score[p] += w
    order = sorted(
        (p for p in inst.projects if p not in exclude),
        key=lambda p: (-score[p], *tiebreak(inst, p)),
    )
    left, out = budget, []
    for p in order:
        if score[p] < threshold:
            continue
        if inst.projects[p].cost <= left:
            out.append(p)
            left -= inst.projects[p].cost
        elif no_skip:
            break
    return out


def ref_mes(inst, per_voter):
    approval = inst.vote_type.value in ("approval", "choose-1")
    w = [weights(inst, v) for v in inst.voters]
    b = [Fraction(per_voter)] * len(w)
    chosen = []
    while True:
        best = None
        for p, proj in inst.projects.items():
            if p in chosen:
                continue
            sup = [i for i in range(len(w)) if p in w[i]]
            if not sup or sum(b[i] for i in sup) < proj.cost:
                continue
            # smallest rho with sum_i min(b_i, rho * w_i) = cost
            sup.sort(key=lambda i: b[i] / w[i][p])
            paid, denom, rho = Fraction(0), sum(w[i][p] for i in sup), None
            for i in sup:
                rho = (proj.cost - paid) / denom
                if b[i] / w[i][p] >= rho:
                    break
                paid += b[i]
                denom -= w[i][p]
            rho = (proj.cost - paid) / denom
            key = (rho / proj.cost if approval else rho, *tiebreak(inst, p))
            if best is None or key < best[0]:
                best = (key, p, rho)
        if best is None:
            return chosen
        _, p, rho = best
        chosen.append(p)
        for i in range(len(w)):
            if p in w[i]:
                b[i] -= min(b[i], rho * w[i][p])


def ref_tally(inst, rule, keep_raising=False, comparison=False, threshold=None, no_skip=False):
    budget = inst.budget
    cost = lambda sel: sum(inst.projects[p].cost for p in sel)  # noqa: E731
    if rule.startswith("greedy"):
        th = inst.limit("min_project_score_threshold") if threshold is None else threshold
        return ref_greedy(inst, budget, th, no_skip or rule == "greedy-no-skip")
    share = Fraction(budget, len(inst.voters))
    sel = ref_mes(inst, share)
    if rule != "mes":
        supported = {p for v in inst.voters for p in weights(inst, v)}
        k = 0
        while True:
            exhaustive = all(
                inst.projects[p].cost > budget - cost(sel) for p in inst.projects if p not in sel
            )
            if (exhaustive and not keep_raising) or supported <= set(sel):
                break
            nxt = ref_mes(inst, share + k + 1)
            if cost(nxt) > budget:
                break
            sel, k = nxt, k + 1
    if rule == "mes-add1-greedy":
        sel = sel + ref_greedy(inst, budget - cost(sel), exclude=sel)
    if comparison:
        greedy = ref_greedy(inst, budget)
        approval = inst.vote_type.value in ("approval", "choose-1")

        def util(v, s):
            ws = weights(inst, v)
            return sum((inst.projects[p].cost if approval else ws[p]) for p in s if p in ws)

        pg = sum(1 for v in inst.voters if util(v, greedy) > util(v, sel))
        pm = sum(1 for v in inst.voters if util(v, sel) > util(v, greedy))
        if pg > pm:
            sel = greedy
    return sel


# --- random instances -----------------------------------------------------------------------
VOTE_TYPES = ["approval", "choose-1", "cumulative", "scoring", "ordinal"]


@st.composite
def instances(draw):
    vt = draw(st.sampled_from(VOTE_TYPES))
    m = draw(st.integers(1, 6))
    ids = [f"p{k}" for k in range(m)]
    costs = draw(st.lists(st.integers(1, 20), min_size=m, max_size=m))
    n = draw(st.integers(1, 8))
    voters = []
    for k in range(n):
        if vt == "choose-1":
            vote = [draw(st.sampled_from(ids))]
        else:
            vote = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=m, unique=True))
        points = None
        if vt in ("cumulative", "scoring"):
            points = draw(st.lists(st.integers(1, 3), min_size=len(vote), max_size=len(vote)))
        voters.append(Voter(f"v{k}", tuple(vote), tuple(points) if points else None))
    budget = draw(st.integers(1, 60))
    return make_instance(
        budget=budget,
        projects=[Project(p, c) for p, c in zip(ids, costs, strict=False)],
        voters=voters,
        vote_type=vt,
    )


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(instances(), st.sampled_from(["greedy", "greedy-no-skip"]), st.integers(0, 6))
def test_greedy_matches_reference(inst, rule, threshold):
    assert tally(inst, rule, threshold=threshold).selected == ref_tally(
        inst, rule, threshold=threshold
    )


@SETTINGS
@given(instances())
def test_greedy_no_skip_flag_matches_rule(inst):
    assert tally(inst, "greedy", no_skip=True).selected == ref_tally(inst, "greedy-no-skip")


@pytest.mark.parametrize("numeric", KERNELS)
@SETTINGS
@given(
    instances(),
    st.sampled_from(["mes", "mes-add1", "mes-add1-greedy"]),
    st.booleans(),
    st.booleans(),
)
def test_mes_matches_reference(numeric, inst, rule, keep_raising, comparison):
    options = {"comparison": comparison}
    if rule != "mes":
        options["keep_raising"] = keep_raising
    with kernel(numeric):
        result = tally(inst, rule, **options)
    assert result.selected == ref_tally(
        inst, rule, keep_raising=keep_raising, comparison=comparison
    )
    assert result.total_cost <= inst.budget
    assert sum(inst.projects[p].cost for p in result.selected) == result.total_cost


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.integers(1, 5))
def test_exact_ties_are_reported(m, n):
    # m identical projects, every voter approves all: every step is a tie
    inst = make_instance(
        budget=10 * (m - 1),
        projects=[Project(f"p{k}", 10) for k in range(m)],
        voters=[(f"v{k}", [f"p{j}" for j in range(m)]) for k in range(n)],
    )
    for rule in ("greedy", "mes"):
        result = tally(inst, rule)
        assert result.selected[0] == "p0"
        assert result.ties and result.ties[0].broken_by == "order"
    rev = tally(inst, "mes", tie_order=[f"p{k}" for k in reversed(range(m))])
    assert rev.selected[0] == f"p{m - 1}"


@st.composite
def approval_instances(draw):
    """Larger approval instances with varied costs: few exact ties, so the float fast path
    of add1 (bounds from the run above, candidates tested against the best) decides."""
    m = draw(st.integers(2, 12))
    ids = [f"p{k}" for k in range(m)]
    costs = draw(st.lists(st.integers(1, 5000), min_size=m, max_size=m))
    n = draw(st.integers(5, 120))
    voters = [
        Voter(f"v{k}", tuple(draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))))
        for k in range(n)
    ]
    return make_instance(
        budget=draw(st.integers(1, sum(costs))),
        projects=[Project(p, c) for p, c in zip(ids, costs, strict=True)],
        voters=voters,
    )


@pytest.mark.parametrize("numeric", KERNELS)
@SETTINGS
@given(approval_instances())
def test_mes_fast_path_matches_exact_runs(numeric, inst):
    prof = Profile(inst)
    with kernel(numeric):
        mes = _MES(prof)
    assert mes.kernel is getattr(rules, f"_{numeric}_kernel")
    share = Fraction(prof.budget, prof.n_voters)
    hint: list = []
    for k in range(8, -1, -1):
        sel, hint = mes.selected(share + k, hint)
        assert sel == mes._run(share + k, exact=True, exclude=()).selected


def _priced(price, i, target):
    try:
        return price(i, target)
    except rules._NeedExact:
        return "exact"


@SETTINGS
@given(
    approval_instances(),
    st.lists(st.tuples(st.integers(0, 11), st.floats(0.05, 3.0)), max_size=8),
    st.floats(0.0, 1.2),
)
def test_both_kernels_price_and_pay_alike(inst, pays, fraction):
    # the same payments taken by both kernels leave the same budgets, and every candidate then
    # gets the same answer from both: unaffordable, a bound below the target, or its price
    prof = Profile(inst)
    mes = _MES(prof)
    assert mes._build_numpy_arrays()
    share = prof.budget / prof.n_voters
    py_price, py_pay = rules._python_kernel(mes, share)
    np_price, np_pay = rules._numpy_kernel(mes, share)
    for i, f in pays:
        i %= len(prof.ids)
        if prof.sup[i]:
            py_pay(i, share * f)
            np_pay(i, share * f)
    for i in mes.cands:
        for target in (0, mes.W[i] * fraction):
            a, b = _priced(py_price, i, target), _priced(np_price, i, target)
            assert type(a) is type(b), (a, b)
            if isinstance(a, tuple):
                assert a[2] == b[2]
                assert a[0] == pytest.approx(b[0], rel=1e-12)
                assert a[1] == pytest.approx(b[1], rel=1e-12)
            elif isinstance(a, float):
                assert a == pytest.approx(b, rel=1e-12)
            else:
                assert a == b
