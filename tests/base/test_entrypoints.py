"""`python -m taiga` is `./manage.py`."""

import pytest

from tests.utils.processes import manage, run_python


@pytest.mark.parametrize("args", [("help", "embeddeddb"), ("check",), ("nosuchcommand",)])
def test_python_m_taiga_behaves_exactly_like_manage_py(args):
    via_module = run_python("-m", "taiga", *args)
    via_manage = manage(*args)

    assert (via_module.returncode, via_module.stdout, via_module.stderr) == (
        via_manage.returncode,
        via_manage.stdout,
        via_manage.stderr,
    )


def test_python_m_taiga_reports_failures_with_a_non_zero_exit():
    result = run_python("-m", "taiga", "nosuchcommand")

    assert result.returncode == 1
    assert "Unknown command: 'nosuchcommand'" in result.stderr
