"""Run the README's quick start exactly as written, as a new user on a stock
distribution would: in a clean copy of the source, with ``python3`` being the
distribution's own interpreter, which carries the PEP 668 marker
(``EXTERNALLY-MANAGED`` in its stdlib directory, as Debian 12 and Ubuntu 24.04 ship
it), so a quick start that installs into the system's Python fails here as it
would there (checked first, as the control).

Reads the first ```sh block under "## Quick start" and runs each line with bash:
an install must exit 0; the run command either finishes with a report (exit 0-2
and output) or, if it is a server, prints its URL, answers on it, and stops on
SIGTERM. Needs the package index (pip), so .ci/run calls it outside the test
namespace; every command but the install runs inside a private network namespace
(only loopback exists there), so the quick start can never probe a real address.
``QUICKSTART_PYTHON`` names another distribution interpreter than /usr/bin/python3.
"""

from __future__ import annotations

import os
import re
import shutil
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


def _start(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """The README's line as a shell runs it, its output captured."""
    return subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_server(command: str, cwd: Path, env: dict[str, str]) -> None:
    proc = _start(command, cwd, env)
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


def run_phase(commands: list[str], source: Path, env: dict[str, str]) -> None:
    """Inside the namespace: run every non-install command and check its outcome."""
    for command in commands:
        print(f"quickstart: $ {command}", flush=True)
        probe = _start(command, source, env)
        try:
            output, _ = probe.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            probe.kill()
            probe.communicate()
            run_server(command, source, env)  # a server: check it properly
            continue
        if probe.returncode not in (0, 1, 2) or not output.strip():
            raise SystemExit(f"quickstart: '{command}' exited {probe.returncode}:\n{output}")
        print(output, end="")
        print(f"quickstart: ok, '{command}' exited {probe.returncode} with a report")


def system_python() -> str:
    """The distribution's python3, refusing one without the PEP 668 marker."""
    python = os.environ.get("QUICKSTART_PYTHON", "/usr/bin/python3")
    check = (
        "import os, sysconfig; "
        "print(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED'))"
    )
    try:
        marker = subprocess.run(
            [python, "-c", check], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit(f"quickstart: no distribution python3 at {python}") from None
    if not Path(marker).is_file():
        raise SystemExit(f"quickstart: {python} carries no PEP 668 marker ({marker})")
    return python


def clean_copy(destination: Path) -> Path:
    """The tracked files only, as a fresh clone has them (no .venv, no build output)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def main() -> int:
    commands = quickstart_commands((ROOT / "README.md").read_text())
    installs = [c for c in commands if " install " in f" {c} "]
    runs = [c for c in commands if c not in installs]
    if len(sys.argv) == 3 and sys.argv[1] == "--run-phase":
        source = Path(sys.argv[2])
        run_phase(runs, source, dict(os.environ))
        return 0
    with tempfile.TemporaryDirectory(prefix="quickstart-") as tmp:
        bin_dir = Path(tmp) / "bin"
        bin_dir.mkdir()
        (bin_dir / "python3").symlink_to(system_python())
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
        env.pop("VIRTUAL_ENV", None)
        source = clean_copy(Path(tmp) / "src")
        # The control: what the README used to say fails on this interpreter.
        refused = subprocess.run(
            ["bash", "-c", "python3 -m pip install ."],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if refused.returncode == 0 or "externally-managed-environment" not in refused.stderr:
            raise SystemExit("quickstart: a system-wide pip install was not refused (PEP 668)")
        print("quickstart: ok, a system-wide pip install is refused (PEP 668), as on Debian")
        for command in installs:
            print(f"quickstart: $ {command}", flush=True)
            subprocess.run(["bash", "-c", command], cwd=source, env=env, check=True)
        phase = isolated(
            [sys.executable, str(Path(__file__).resolve()), "--run-phase", str(source)]
        )
        return subprocess.run(phase, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
