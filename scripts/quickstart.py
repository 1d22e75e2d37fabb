"""Run the README's quick start exactly as written, in a fresh virtual environment.

Reads the first ```sh block under "## Quick start", runs each line with the new
venv's python and scripts first on PATH, and checks the outcome: an install must
exit 0; the run command either finishes with a report (exit 0-2 and output) or,
if it is a server, prints its URL, answers on it, and stops on SIGTERM.
Needs the package index (pip), so .ci/run calls it outside the test namespace;
every command but the install runs inside a private network namespace (only
loopback exists there), so the quick start can never probe a real address.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quickstart_commands(readme: str) -> list[str]:
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    if block is None:
        raise SystemExit("quickstart: no ```sh block under '## Quick start' in README.md")
    return [line for line in block.group(1).splitlines() if line.strip()]


def run_server(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    url = None
    deadline = time.monotonic() + 120
    lines = []
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"http://127\.0\.0\.1:\d+/\S*", line)
        url = found.group(0) if found else None
    if url is None:
        proc.kill()
        raise SystemExit("quickstart: the run command printed no URL:\n" + "".join(lines))
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise SystemExit(f"quickstart: {url} did not answer")
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit("quickstart: the server did not stop within 15s of SIGTERM") from None
    print(f"quickstart: ok, {url} answered and the server stopped")


def isolated(args: list[str]) -> list[str]:
    """Run ``args`` where only loopback exists; refuse to run without that guarantee."""
    if os.geteuid() != 0 or subprocess.run(["unshare", "-n", "true"], check=False).returncode:
        raise SystemExit("quickstart: needs root and unshare -n to isolate the run command")
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *args]


def run_phase(commands: list[str], venv: Path) -> None:
    """Inside the namespace: run every non-install command and check its outcome."""
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
    for command in commands:
        args = shlex.split(command)
        print(f"quickstart: $ {command}", flush=True)
        probe = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            output, _ = probe.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            probe.kill()
            probe.communicate()
            run_server(args, env)  # a server: check it properly
            continue
        if probe.returncode not in (0, 1, 2) or not output.strip():
            raise SystemExit(f"quickstart: '{command}' exited {probe.returncode}:\n{output}")
        print(output, end="")
        print(f"quickstart: ok, '{command}' exited {probe.returncode} with a report")


def main() -> int:
    commands = quickstart_commands((ROOT / "README.md").read_text())
    installs = [c for c in commands if " install " in f" {c} "]
    runs = [c for c in commands if c not in installs]
    if len(sys.argv) == 3 and sys.argv[1] == "--run-phase":
        run_phase(runs, Path(sys.argv[2]))
        return 0
    with tempfile.TemporaryDirectory(prefix="quickstart-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        for command in installs:
            args = shlex.split(command)
            if args[0] == "python3":
                args[0] = str(venv / "bin" / "python3")
            print(f"quickstart: $ {command}", flush=True)
            subprocess.run(args, cwd=ROOT, check=True)
        phase = isolated([sys.executable, str(Path(__file__).resolve()), "--run-phase", str(venv)])
        return subprocess.run(phase, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
