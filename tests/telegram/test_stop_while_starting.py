"""A stop signal while `exchange-bot run` (webhook mode) builds its services ends the process at
once, cleanly: the webhook server closed, exit code 0, not killed by the signal nor left waiting
for the models to load (a real process)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import bare_env
from tests.e2e.test_bot import ROOT, health


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_the_service_build_ends_the_process_at_once(
    tmp_path: Path, sig: signal.Signals
) -> None:
    port = _free_port()
    env = bare_env()
    env.update(
        TELEGRAM_BOT_TOKEN="123456:test-token",
        # nothing listens there: the process must stop before it ever asks Telegram
        TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot",
        BOT_DATA_DIR=str(tmp_path / "data"),
        TELEGRAM_WEBHOOK_URL="https://bot.example.org/tg",
        TELEGRAM_WEBHOOK_SECRET="s3cret-token",
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=str(port),
        LOG_LEVEL="INFO",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert health(port, "/healthz", until=time.monotonic() + 60) == (200, "starting")
        proc.send_signal(sig)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    log = err.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "stopped while starting" in log, log[-3000:]  # the build had not finished
    assert "Traceback" not in log, log[-3000:]
    assert took < 5, f"{took:.1f} s to stop"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # the server is closed
