"""The package as a city installs it: a wheel, not the checkout, answers in LLM mode.

The wheel is installed with --no-deps into a fresh virtual environment whose .pth file makes this
interpreter's dependencies visible (installing them all would take minutes); the project's own
code and data come from the wheel only, which the first test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, FakeOpenAI, write

DOC = (
    "---\ntitle: Riverton sister-city agreement\nvisibility: public\npartner: Riverton\n"
    "language: en\n---\n# Article 5 Review\n\n"
    "The parties review this agreement every three years at a joint meeting.\n"
)
QUESTION = "How often is the Riverton agreement reviewed?"
REPLY = "The agreement is reviewed every three years, at a joint meeting [1]."


@dataclass(frozen=True)
class Installed:
    """The wheel, the sources it was built from, its venv, and a working folder outside the repo."""

    wheel: Path
    src: Path
    venv: Path
    cwd: Path

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a program of the venv (python, exchange-bot) in the working folder."""
        clean = {
            k: v
            for k, v in os.environ.items()
            if k != "PYTHONPATH"  # the checkout on the path would hide the wheel
            and not k.startswith(("OPENAI_", "TELEGRAM_", "BOT_", "CHROMA_"))
            and k not in {"DATABASE_URL", "PARTNERS_FILE"}
        }
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=self.cwd,
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=240,
        )


def _copy_sources(dest: Path) -> Path:
    """Copy what the build reads, so building leaves no build/ or egg-info in the checkout."""
    dest.mkdir()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    folders = {"bot", *config["tool"]["setuptools"].get("package-dir", {}).values()}
    for name in ["pyproject.toml", config["project"]["readme"]]:
        shutil.copy(ROOT / name, dest / name)
    for folder in folders:
        shutil.copytree(
            ROOT / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("package")
    src = _copy_sources(root / "src")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), src],
        check=True,
        capture_output=True,
        timeout=240,
    )
    (wheel,) = (root / "dist").glob("exchange_bot-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel],
        check=True,
        capture_output=True,
        timeout=240,
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the dependencies of this interpreter, after the venv's own site-packages (so after the wheel)
    deps = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    Path(site, "_exchange_bot_deps.pth").write_text("\n".join(deps) + "\n", "utf-8")
    work = root / "work"
    write(work / "kb" / "agreements" / "riverton.md", DOC)
    yield Installed(wheel, src, venv, work)


def test_the_wheel_holds_every_file_of_the_package(installed: Installed) -> None:
    config = tomllib.loads((installed.src / "pyproject.toml").read_text("utf-8"))
    folders = {"bot": "bot", **config["tool"]["setuptools"].get("package-dir", {})}
    expected = {
        "/".join([*package.split("."), *path.relative_to(installed.src / folder).parts])
        for package, folder in folders.items()
        for path in (installed.src / folder).rglob("*")
        if path.is_file()
    }
    # a package or data file missing here is missing for every city that installs the bot
    assert expected - set(zipfile.ZipFile(installed.wheel).namelist()) == set()


def test_the_code_comes_from_the_wheel(installed: Installed) -> None:
    result = installed.run("python", "-c", "import bot; print(bot.__file__)")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(installed.venv)


def test_the_installed_bot_answers_with_the_model(installed: Installed) -> None:
    ingest = installed.run("exchange-bot", "--data-dir", "data", "ingest", "kb")
    assert ingest.returncode == 0, ingest.stderr
    with FakeOpenAI(REPLY) as llm:
        ask = installed.run(
            "exchange-bot", "--data-dir", "data", "ask", "--json", QUESTION, OPENAI_BASE_URL=llm.url
        )
        doctor = installed.run(
            "exchange-bot", "--data-dir", "data", "doctor", OPENAI_BASE_URL=llm.url
        )
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["mode"] == "llm" and answer["answer"] == REPLY
    assert answer["sources"][0]["source"] == "agreements/riverton.md"
    assert ("POST", "/v1/chat/completions") in llm.requests
    # no knowledge/partners.yaml beside an installed bot: meetings are off, said once, no crash
    assert "meetings are disabled" in ask.stderr and "PARTNERS_FILE" in ask.stderr
    # ... and, documents being ingested, the doctor fails on it (answers are worse without it)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "FAIL partners: no partner directory at " in doctor.stdout
    assert "with 1 document ingested" in doctor.stdout
    assert f"ok  llm: {llm.url} answers" in doctor.stdout
