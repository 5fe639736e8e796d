"""What an application gets when it ends: the README's examples deliver as written (at exit,
to a host by name), and what could not be delivered in the time given is reported, with where
it waits, rather than waited for without end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.library import sandbox as sb

README = Path(__file__).parents[2] / "README.md"


def readme_examples() -> tuple[str, str]:
    """The library section's examples: for threads, and for asyncio (in a coroutine)."""
    section = README.read_text().split("## Library mode", 1)[1].split("\n## ", 1)[0]
    threads, in_a_loop = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    in_a_loop = f"async def main():\n{textwrap.indent(in_a_loop, '    ')}\n"
    return threads, f"import asyncio\n{in_a_loop}asyncio.run(main())\n"


def run(code: str, api_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`code` in a process of its own, as an application would run it (its store, the
    default file, in `cwd`)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**environment, "INTERCOM_API_URL": api_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def by_name(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


def test_the_readme_examples_deliver_as_written_to_a_host_by_name(
    sandbox: str, tmp_path: Path
) -> None:
    for _ in range(2):
        for example in readme_examples():
            ran = run(example, by_name(sandbox), tmp_path)
            assert (ran.returncode, ran.stderr) == (0, "")
    assert sb.contact(sandbox, "u1")["custom_attributes"] == {"plan": "pro"}
    assert sb.event_names(sandbox, "u1") == ["Order Completed"] * 2
