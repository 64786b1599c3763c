from fractions import Fraction

import pytest

from portal.core.model import Project, Voter, VoteType, make_instance
from portal.core.pabulib import PbError, check_text, dumps, loads, read_pb

from .conftest import DATA

GOOD = '''META
key;value
description;Test
country;Chile
unit;Huechuraba
instance;2026
num_projects;3
num_votes;3
budget;100
vote_type;approval
rule;greedy
date_begin;01.01.2026
date_end;02.01.2026
max_length;2
PROJECTS
project_id;cost;name;category
1;60;"Plaza; con ""juegos""";verde
2;40.5;Sede;social
3;30;Feria;economía
VOTES
voter_id;vote;age
a;1,2;30
b;2;41
c;1,3;17
'''


def test_reads_a_valid_file():
    inst = loads(GOOD)
    assert inst.vote_type is VoteType.APPROVAL
    assert inst.budget == 100
    assert inst.projects["1"].name == 'Plaza; con "juegos"'
    assert inst.projects["2"].cost == Fraction(81, 2)
    assert inst.projects["3"].extra == {"category": "economía"}
    assert inst.voters[2] == Voter("c", ("1", "3"), None, {"age": "17"})
    assert inst.limit("max_length") == 2 and inst.limit("min_length") == 1


def test_crlf_bom_and_lf_give_the_same_instance():
    crlf = ("\ufeff" + GOOD.replace("\n", "\r\n")).encode("utf-8")
    assert loads(crlf) == loads(GOOD)
    assert loads(GOOD.encode("utf-8-sig")) == loads(GOOD)


def test_round_trip_of_a_small_file():
    inst = loads(GOOD)
    text = dumps(inst)
    assert loads(text) == inst
    assert '"Plaza; con ""juegos"""' in text


@pytest.mark.parametrize("path", sorted(DATA.glob("*.pb")), ids=lambda p: p.name)
def test_every_shared_file_is_valid_and_round_trips(path):
    inst = read_pb(path)
    again = loads(dumps(inst))
    assert again.meta == inst.meta
    assert again.projects == inst.projects
    assert again.voters == inst.voters
    assert again.ballots == inst.ballots


def _problems(text):
    _inst, problems = check_text(text)
    return [(p.line, p.message) for p in problems if p.severity == "error"]


def test_every_problem_is_reported_with_its_line():
    bad = (
        GOOD.replace("num_projects;3", "num_projects;4")  # line 7
        .replace("2;40.5;Sede;social", "2;-5;Sede;social")  # line 18
        .replace("3;30;Feria;economía", "1;30;Feria;economía")  # line 19
        .replace("b;2;41", "b;2,9;41")  # line 23
        .replace("c;1,3;17", "c;1,3,2;17")  # line 24
    )
    found = _problems(bad)
    lines = {line for line, _ in found}
    assert {7, 18, 19, 23, 24} <= lines, found
    text = " | ".join(m for _, m in found)
    assert "num_projects is 4 but the file has 2 projects" in text
    assert "not positive" in text
    assert "duplicate project_id '1'" in text
    assert "unknown project '9'" in text
    assert "more than max_length 2" in text


def test_missing_meta_keys_and_vote_count():
    text = GOOD.replace("budget;100\n", "").replace("num_votes;3", "num_votes;5")
    found = _problems(text)
    assert any("required key 'budget'" in m and line == 1 for line, m in found)
    text = GOOD.replace("num_votes;3", "num_votes;5")
    assert (8, "num_votes is 5 but the file has 3 votes") in _problems(text)


def test_missing_section_and_bad_row_width():
    found = _problems(GOOD.split("VOTES")[0])
    assert (None, "section VOTES is missing") in found
    found = _problems(GOOD.replace("b;2;41", "b;2"))
    assert any(line == 23 and "2 fields" in m for line, m in found)


def test_duplicate_voter_and_sum_cost_limit():
    text = GOOD.replace("max_length;2", "max_sum_cost;90").replace("c;1,3;17", "a;1,3;17")
    found = _problems(text)
    assert any(line == 24 and "duplicate voter_id 'a'" in m for line, m in found)
    assert any(line == 22 and "more than max_sum_cost 90" in m for line, m in found)


CUMUL = """META
key;value
description;c
num_projects;2
num_votes;3
budget;10
vote_type;cumulative
max_points;3
max_sum_points;4
PROJECTS
project_id;cost
x;5
y;6
VOTES
voter_id;vote;points
1;x,y;3,1
2;x;4
3;x,y;3,3
4;y;1,1
"""


def test_points_limits_per_project_and_in_all():
    found = _problems(CUMUL)
    assert any(line == 17 and "more than max_points 3" in m for line, m in found)
    assert any(line == 18 and "6 points in all" in m for line, m in found)
    assert any(line == 19 and "2 points for 1 projects" in m for line, m in found)
    assert any(line == 5 and "num_votes is 3" in m for line, m in found)


def test_choose_one_and_unknown_vote_type():
    text = GOOD.replace("vote_type;approval", "vote_type;choose-1").replace("max_length;2\n", "")
    found = _problems(text)
    assert any(line == 21 and "more than max_length 1" in m for line, m in found)
    assert any(line == 23 for line, _ in found)
    found = _problems(GOOD.replace("vote_type;approval", "vote_type;magic"))
    assert any(line == 10 and "unknown vote_type" in m for line, m in found)


def test_read_raises_with_all_problems():
    with pytest.raises(PbError) as info:
        loads(GOOD.replace("b;2;41", "b;7;41").replace("c;1,3;17", "c;8;17"))
    assert [p.line for p in info.value.problems] == [23, 24]


def test_build_from_python_and_export():
    inst = make_instance(
        budget=1_000_000,
        projects=[Project("p1", 600_000, "Plaza"), Project("p2", 500_000, "Sede")],
        voters=[("v1", ["p1"], None, {"age": "34", "district": "Norte"}), ("v2", ["p1", "p2"])],
        meta={"description": "Huechuraba 2026", "rule": "greedy", "currency": "CLP"},
    )
    text = dumps(inst)
    back = loads(text)
    assert back.meta["num_votes"] == "2" and back.meta["rule"] == "greedy"
    assert back.voters[0].extra == {"age": "34", "district": "Norte"}
    assert back.voter_columns == ["age", "district"]
