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
