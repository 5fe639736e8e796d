import subprocess
import sys

import pytest


@pytest.mark.slow
def test_the_package_exports_load_the_network_stack_only_when_used() -> None:
    script = (
        "import sys, intercom_destination as package\n"
        "assert 'aiohttp' not in sys.modules\n"
        "assert package.Analytics.__name__ == 'Analytics'\n"
        "assert 'aiohttp' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
