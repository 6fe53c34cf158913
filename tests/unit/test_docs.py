"""The docs are part of the product: their config tables come from the code, every command block is run verbatim
by a test or says why not, the cheap commands run here, and the site builds in strict mode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from jobs.curate_docs import doc_pages, render
from tests.docs_commands import ROOT, blocks, commands, python_blocks


def test_the_config_tables_match_the_code():
    for page in doc_pages():
        text = page.read_text()
        assert render(text) == text, f"{page.name}: config table is stale: run `python -m jobs.curate_docs`"


def test_the_readme_has_exactly_the_two_setup_commands():
    setup = [c for b in blocks() if b.page == "README.md" for c in b.commands]
    assert [c.split("#")[0].strip() for c in setup] == ["make demo", "make test"]


def test_every_command_block_is_run_by_a_test_or_says_why_not():
    # A test names the block it runs: commands("NAME"), or a helper given "NAME".
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    used = set(re.findall(r"\"([\w-]+)\"", tests))
    for b in blocks():
        where = f"{b.page}:{b.line}"
        assert b.mark is not None, f"{where}: a bash block needs <!-- commands: NAME --> or <!-- untested: WHY -->"
        assert b.label, f"{where}: the mark needs a name or a reason"
        if b.mark == "commands":
            assert b.label in used, f"{where}: no test runs the block {b.label!r}"


def test_every_python_block_is_named_and_run_by_a_test():
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    used = set(re.findall(r"python_code\(\"([\w-]+)\"\)", tests))
    for page, line, name, _ in python_blocks():
        assert name is not None, f"{page}:{line}: a python block needs <!-- python: NAME -->"
        assert name in used, f"{page}:{line}: no test runs the python block {name!r}"


def _run(cmd: str, **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **kw)


def test_the_help_commands_run_as_shown():
    out = [_run(c) for c in commands("curate-help") + commands("train-help")]
    assert [p.returncode for p in out] == [0, 0, 0], [p.stderr[-500:] for p in out]
    curate_help, printed, train_help = (p.stdout for p in out)
    assert "decode.height_px" in curate_help and "labels_csv" in curate_help
    assert "height_px: 96" in printed
    assert "--launcher" in train_help and "--num-processes" in train_help


def test_the_cron_line_finds_spark_from_crons_empty_environment(tmp_path: Path):
    """The cron entry's own PATH is all spark-submit gets (cron's is /usr/bin:/bin, nothing else is set): its
    command, up to the job, with the checkout for /opt/sora_model and --version for the job."""
    [untested] = [b for b in blocks() if b.page == "docs/cycle.md" and b.mark == "untested"]
    entry = untested.commands[0].split(None, 5)[5]
    head = entry[:entry.index(" jobs/cycle.py")].replace("/opt/sora_model", str(ROOT))
    head = head.replace("/tmp/sora-cycle.lock", str(tmp_path / "lock"))
    venv = Path(sys.executable).parent.parent
    if venv.resolve() != (ROOT / ".venv").resolve():
        head = head.replace(f"{ROOT}/.venv", str(venv))
    proc = subprocess.run(["env", "-i", f"HOME={tmp_path}", "PATH=/usr/bin:/bin", "/bin/sh", "-c",
                           f"{head} --version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"version 4\.\d+\.\d+", proc.stdout + proc.stderr)
    # What the line used to be fails in the same environment: the venv's spark-submit alone cannot find Spark.
    bare = subprocess.run(["env", "-i", f"HOME={tmp_path}", "PATH=/usr/bin:/bin", "/bin/sh", "-c",
                           f"cd {ROOT} && {venv}/bin/spark-submit --version"], capture_output=True, text=True,
                          timeout=120)
    assert bare.returncode != 0 and "SPARK_HOME" in bare.stdout + bare.stderr


def test_the_docs_site_builds_in_strict_mode(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = (tmp_path / "site" / "index.html").read_text()
    assert "The two commands" in index and 'href="cluster/' in index
