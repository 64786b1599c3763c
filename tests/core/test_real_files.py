import contextlib
import json
import os
import signal
import sys
from fractions import Fraction

import pytest
from click.testing import CliRunner

from portal.core import rules
from portal.core.cli import pb
from portal.core.pabulib import read_pb
from portal.core.rules import _MES, Profile, _NeedExact, tally

from .conftest import KERNELS, data_file, kernel


def published(inst):
    return {p for p, pr in inst.projects.items() if pr.extra.get("selected") == "1"}


@pytest.mark.parametrize(
    "name",
    [
        "Poland_Warszawa_2023_Mokotow.pb",
        "Poland_Warszawa_2026.pb",
        "Poland_Warszawa_2026_Rembertow.pb",
        "Poland_Krakow_2022_Stare_Miasto.pb",
    ],
)
def test_greedy_reproduces_published_winners(name):
    inst = read_pb(data_file(name))
    result = tally(inst, "greedy")
    assert set(result.selected) == published(inst)
    assert result.total_cost == sum(inst.projects[p].cost for p in published(inst))


def test_warszawa_threshold_comes_from_meta_and_matters():
    inst = read_pb(data_file("Poland_Warszawa_2026_Rembertow.pb"))
    assert tally(inst, "greedy").info["threshold"] == 150
    assert set(tally(inst, "greedy", threshold=0).selected) != published(inst)


@pytest.mark.parametrize("name", ["Netherlands_Assen_2024.pb", "Poland_Swiecie_2023.pb"])
def test_mes_add1_reproduces_published_winners(name):
    inst = read_pb(data_file(name))
    assert set(tally(inst, "mes-add1").selected) == published(inst)
    assert set(tally(inst, "auto").selected) == published(inst)


def test_wieliczka_needs_add1_to_keep_raising():
    inst = read_pb(data_file("Poland_Wieliczka_2023_Green_Budget.pb"))
    first = tally(inst, "mes-add1")
    assert (len(first.selected), first.total_cost) == (31, 984_579)
    kept = tally(inst, "mes-add1", keep_raising=True)
    assert (len(kept.selected), kept.total_cost) == (30, 995_079)
    assert set(kept.selected) == published(inst)
    # the published rule, equalshares/add1-comparison: MES stays preferred to greedy
    compared = tally(inst, "equalshares/add1-comparison", keep_raising=True)
    assert compared.selected == kept.selected
    assert compared.info["comparison"]["winner"] == "mes"


@pytest.mark.parametrize(
    ("name", "n", "cost"),
    [
        ("France_Toulouse_2019.pb", 14, 1_000_000),
        ("Poland_Gdansk_2020_Chelm.pb", 9, 868_550),
        ("Poland_Zabrze_2021_Centrum_Polnoc.pb", 1, 310_000),
        ("Netherlands_Amsterdam_304.pb", 18, 249_150),
    ],
)
def test_greedy_on_files_without_selected_column(name, n, cost):
    inst = read_pb(data_file(name))
    result = tally(inst, "greedy")
    assert (len(result.selected), result.total_cost) == (n, cost)
    # cumulative files rank by raw points: the greedy order follows the score column
    if "score" in inst.project_columns:
        for pid in result.selected:
            assert result.explanations[pid].score == int(inst.projects[pid].extra["score"])


def test_explanations_for_mes():
    inst = read_pb(data_file("Netherlands_Assen_2024.pb"))
    result = tally(inst, "mes-add1")
    d = result.to_dict()
    json.dumps(d)
    bought = d["projects"][result.selected[0]]
    assert bought["round"] == 1 and bought["rho"] > 0 and bought["effective_votes"] > 0
    lost = [e for e in d["projects"].values() if not e["selected"]]
    assert lost and all("supporters_money" in e for e in lost)
    assert all(("shortfall" in e) or ("rho" in e) for e in lost)


def test_cli_check_and_tally():
    runner = CliRunner()
    path = str(data_file("Poland_Warszawa_2026_Rembertow.pb"))
    out = runner.invoke(pb, ["check", path])
    assert out.exit_code == 0 and "projects:  40" in out.output and "voters:    1555" in out.output
    out = runner.invoke(pb, ["tally", path, "--rule", "greedy", "--json"])
    data = json.loads(out.output)
    inst = read_pb(path)
    assert set(data["selected"]) == published(inst)
    assert data["rule"] == "greedy" and data["total_cost"] == 1_318_233
    out = runner.invoke(pb, ["tally", path, "--rule", "greedy", "--threshold", "0"])
    assert out.exit_code == 0 and "rule: greedy" in out.output


def test_cli_check_lists_problems_and_exits_1(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_text(
        "META\nkey;value\ndescription;x\nnum_projects;1\nnum_votes;1\nbudget;10\n"
        "vote_type;approval\nPROJECTS\nproject_id;cost\n1;0\nVOTES\nvoter_id;vote\nv;2\n"
    )
    out = CliRunner().invoke(pb, ["check", str(bad)])
    assert out.exit_code == 1
    assert "line 10" in out.output and "line 13" in out.output
    out = CliRunner().invoke(pb, ["tally", str(bad), "--rule", "greedy"])
    assert out.exit_code == 1


@pytest.mark.parametrize(
    "name",
    [
        "Poland_Warszawa_2023_Mokotow.pb",
        "Poland_Wieliczka_2023_Green_Budget.pb",
        "Poland_Swiecie_2023.pb",
        "Poland_Warszawa_2026_Rembertow.pb",
    ],
)
@pytest.mark.parametrize("numeric", KERNELS)
def test_mes_fast_path_buys_what_a_full_run_buys(name, numeric):
    # the add1 search uses a float run that returns only the projects bought
    prof = Profile(read_pb(data_file(name)))
    with kernel(numeric):
        mes = _MES(prof)
    assert mes.kernel is getattr(rules, f"_{numeric}_kernel")
    share = Fraction(prof.budget, prof.n_voters)
    for k in (0, 1, 2, 7, 30, 61, 150, 333):
        full = mes.run(share + k).selected
        assert mes.selected(share + k)[0] == full
        with contextlib.suppress(_NeedExact):
            assert mes._fast(float(share + k)) == full
    # runs from the highest share down, each bounded by the trace of the one above it
    hint: list = []
    for k in range(12, -1, -1):
        sel, hint = mes.selected(share + k, hint)
        assert sel == mes.run(share + k).selected


def _block_recording_pid(lo, hi):
    # stands in for rules._forked_block in the worker processes (module level: the pool
    # pickles it by name); notes which process computed the block
    with open(os.environ["PORTAL_TEST_PID_FILE"], "a") as f:
        f.write(f"{os.getpid()}\n")
    mes, share = rules._FORKED
    return rules._block(mes, share, lo, hi)


def _block_dying_once(lo, hi):
    # stands in for rules._forked_block: the worker given the third spread block dies (as if
    # killed or out of memory) instead of answering
    if lo == 1 + rules.SERIAL_BLOCKS[0] + 2 * rules.ADD1_BLOCK:
        with open(os.environ["PORTAL_TEST_PID_FILE"] + ".died", "w") as f:
            f.write(str(lo))
        os._exit(1)
    return _block_recording_pid(lo, hi)


def test_add1_goes_on_in_this_process_when_a_worker_dies(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_TEST_PID_FILE", str(tmp_path / "pids"))
    monkeypatch.setattr(rules, "_forked_block", _block_dying_once)
    monkeypatch.setattr(rules, "SPREAD_MIN_RUN", 0.0)

    def waited_for_ever(*_args):
        raise TimeoutError("the add1 search waited for a dead worker's block")

    # a search waiting for the dead worker's block for ever fails here
    previous = signal.signal(signal.SIGALRM, waited_for_ever)
    signal.alarm(60)
    try:
        inst = read_pb(data_file("Poland_Swiecie_2023.pb"))
        spread = tally(inst, "mes-add1", jobs=2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert (tmp_path / "pids").read_text()  # the workers did compute blocks before
    assert (tmp_path / "pids.died").exists()  # and one of them died on its block
    alone = tally(inst, "mes-add1")
    assert spread.selected == alone.selected and set(spread.selected) == published(inst)
    assert spread.info["add1_steps"] == alone.info["add1_steps"] == 226


def test_add1_spread_over_worker_processes_keeps_the_outcome(monkeypatch, tmp_path):
    pids = tmp_path / "pids"
    monkeypatch.setenv("PORTAL_TEST_PID_FILE", str(pids))
    monkeypatch.setattr(rules, "_forked_block", _block_recording_pid)
    monkeypatch.setattr(rules, "SPREAD_MIN_RUN", 0.0)  # spread even these fast runs
    inst = read_pb(data_file("Poland_Swiecie_2023.pb"))
    alone = tally(inst, "mes-add1")
    assert not pids.exists()  # jobs=1: everything in this process
    spread = tally(inst, "mes-add1", jobs=2)
    workers = set(pids.read_text().split())
    assert workers and str(os.getpid()) not in workers
    assert spread.selected == alone.selected and set(spread.selected) == published(inst)
    assert spread.info["add1_steps"] == alone.info["add1_steps"] == 226
    # keep-raising stops elsewhere (Wieliczka) and reads the same from the workers
    inst = read_pb(data_file("Poland_Wieliczka_2023_Green_Budget.pb"))
    kept = tally(inst, "mes-add1", keep_raising=True, jobs=2)
    assert set(kept.selected) == published(inst)
    assert kept.info == tally(inst, "mes-add1", keep_raising=True).info


def test_cli_tally_jobs(monkeypatch):
    monkeypatch.setattr(rules, "SPREAD_MIN_RUN", 0.0)
    path = str(data_file("Poland_Swiecie_2023.pb"))
    runner = CliRunner()
    one = runner.invoke(pb, ["tally", path, "--rule", "mes-add1", "--json", "--jobs", "1"])
    two = runner.invoke(pb, ["tally", path, "--rule", "mes-add1", "--json", "--jobs", "2"])
    assert one.exit_code == two.exit_code == 0
    assert json.loads(one.output) == json.loads(two.output)
    assert set(json.loads(two.output)["selected"]) == published(read_pb(path))
    bad = runner.invoke(pb, ["tally", path, "--rule", "mes-add1", "--jobs", "0"])
    assert bad.exit_code == 2 and "--jobs" in bad.output


def test_large_approval_files_use_numpy_and_the_engine_runs_without_it(monkeypatch):
    # NumPy speeds the add1 search where candidates have many supporters; without it the
    # engine is pure Python and reaches the same outcome
    inst = read_pb(data_file("Poland_Swiecie_2023.pb"))
    assert _MES(Profile(inst)).kernel is rules._numpy_kernel
    small = read_pb(data_file("Netherlands_Assen_2024.pb"))
    assert _MES(Profile(small)).kernel is rules._python_kernel
    with_numpy = tally(inst, "mes-add1")
    monkeypatch.setitem(sys.modules, "numpy", None)  # as if it were not installed
    assert _MES(Profile(inst)).kernel is rules._python_kernel
    without = tally(inst, "mes-add1")
    assert without.selected == with_numpy.selected
    assert set(without.selected) == published(inst)
    assert without.info["add1_steps"] == with_numpy.info["add1_steps"] > 0
