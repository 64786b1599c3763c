import subprocess
import sys


def test_core_imports_neither_flask_nor_sqlalchemy():
    code = (
        "import sys, portal.core, portal.core.model, portal.core.pabulib, portal.core.rules, "
        "portal.core.cli\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', "
        "'flask_sqlalchemy')]\n"
        "print(bad)\nsys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_portal_script_runs_pb_without_loading_flask(tmp_path):
    """`portal pb …` goes to the engine before Flask's CLI, which would import every
    extension's commands first; other commands still reach Flask's CLI."""
    pb_file = tmp_path / "tiny.pb"
    pb_file.write_text(
        "META\nkey;value\ndescription;tiny\nnum_projects;1\nnum_votes;1\nbudget;10\n"
        "vote_type;approval\nrule;greedy\nPROJECTS\nproject_id;cost\n1;5\n"
        "VOTES\nvoter_id;vote\nv1;1\n"
    )
    code = (
        "import sys\nfrom portal.cli import main\n"
        "try:\n    main(['pb', 'tally', sys.argv[1], '--rule', 'greedy', '--json'])\n"
        "except SystemExit as done:\n    assert not done.code, done.code\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'flask_limiter', "
        "'flask_migrate', 'sqlalchemy'})\n"
        "print(loaded, file=sys.stderr)\nsys.exit(1 if loaded else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(pb_file)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert '"selected": ["1"]' in out.stdout
    routes = subprocess.run(
        [sys.executable, "-c", "from portal.cli import main; main(['--help'])"],
        capture_output=True,
        text=True,
    )
    assert "census" in routes.stdout and "pb" in routes.stdout, routes.stdout + routes.stderr
