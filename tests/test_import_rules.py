"""The design's import rules, as import-linter contracts in pyproject.toml, hold."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")   # the dev extra installs it
    run = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    summary = re.search(r"Contracts: (\d+) kept, (\d+) broken", run.stdout)
    assert run.returncode == 0 and summary, run.stdout + run.stderr
    assert int(summary[1]) >= 4, run.stdout      # every contract of pyproject.toml was read
