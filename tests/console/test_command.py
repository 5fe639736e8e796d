"""`console` and `serve` refuse to put the console on a reachable address without a password."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from intercom_destination.cli import main


@pytest.mark.parametrize(
    "args",
    [
        ["console", "--host", "0.0.0.0"],
        ["serve", "--console-host", "0.0.0.0"],
    ],
)
def test_a_reachable_console_needs_a_password(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, env={"CONSOLE_PASSWORD": None})
    assert result.exit_code == 2
    assert "the console would listen on 0.0.0.0" in result.output
    assert "set CONSOLE_PASSWORD" in result.output


def test_an_empty_password_is_no_password() -> None:
    result = CliRunner().invoke(
        main, ["console", "--host", "0.0.0.0"], env={"CONSOLE_PASSWORD": "  "}
    )
    assert result.exit_code == 2
    assert "set CONSOLE_PASSWORD" in result.output
