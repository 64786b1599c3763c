"""Portal's allocation engine: pabulib files, ballots and winners, in plain Python.

It imports neither Flask nor SQLAlchemy, so anyone can check a city's published results with
``portal pb check FILE`` and ``portal pb tally FILE --rule RULE [--json]``.

Public API
----------
``portal.core.model``
    ``Project(id, cost, name="", extra={})``, ``Voter(id, vote, points=None, extra={})``,
    ``VoteType`` (approval, cumulative, ordinal, scoring, choose-1),
    ``Instance(meta, projects, voters, project_columns, voter_columns)`` with ``vote_type``,
    ``budget``, ``limit(key)`` (META limits with pabulib defaults) and ``ballots`` (distinct
    ballots with multiplicity), and
    ``make_instance(*, budget, projects, voters, vote_type="approval", meta=None,
    project_columns=None, voter_columns=None) -> Instance`` to build one from Python data
    (voters as ``Voter`` or ``(id, vote[, points[, extra]])``).
``portal.core.pabulib``
    ``read_pb(path) -> Instance`` and ``loads(text_or_bytes)`` (raise ``PbError`` whose
    ``problems`` list every error with its line), ``check_pb(path)`` /
    ``check_text(data) -> (Instance | None, [Problem(line, message, severity)])``,
    ``dumps(instance) -> str`` and ``write_pb(instance, path)``.
``portal.core.rules``
    ``tally(instance, rule, **options) -> Result`` with rules ``greedy``,
    ``greedy-no-skip``, ``mes``, ``mes-add1``, ``mes-add1-greedy`` (or pabulib names:
    ``greedy-threshold``, ``equalshares``, ``equalshares/add1``,
    ``equalshares/add1-comparison``, or ``auto`` for the file's META ``rule``) and options
    ``threshold``, ``no_skip``, ``keep_raising``, ``comparison``, ``tie_order``.
    ``Result(rule, selected, total_cost, budget, explanations, ties, info)`` has
    ``to_dict()`` (JSON-ready); ``explanations[project_id]`` is an ``Explanation`` and
    ``ties`` lists every ``Tie(step, projects, chosen, broken_by)``.

Exporting a published round (the web app)::

    inst = make_instance(budget=..., projects=[Project(str(p.id), p.cost, p.title,
                         {"selected": "1" if won else "0"}) ...],
                         voters=[(anon_id, [..project ids..], None, {"age": "34",
                         "district": "Norte"}) ...],
                         meta={"description": ..., "country": "Chile", "unit": comuna,
                               "rule": "equalshares/add1", "currency": "CLP"})
    text = dumps(inst)
"""
