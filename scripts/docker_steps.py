"""Run the Dockerfile's install steps in a fresh virtual environment (no Docker
engine runs here), then its HEALTHCHECK against the installed exporter.

The pip steps need the package index, so .ci/run calls this outside the test
namespace; the exporter and the health check run inside a private one.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts.quickstart import isolated

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_runs() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line[4:].strip() for line in text.splitlines() if line.startswith("RUN pip ")]


def healthcheck() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(r"HEALTHCHECK .*?CMD (\[.*\])", text)
    if match is None:
        raise SystemExit("docker_steps: no HEALTHCHECK CMD in the Dockerfile")
    return list(json.loads(match.group(1)))


def run_phase(venv: Path) -> None:
    """Inside the namespace: start the installed exporter and run the health check."""
    bin_dir = venv / "bin"
    proc = subprocess.Popen(
        [str(bin_dir / "exchange-cert-exporter"), "demo", "--web.listen-address", "127.0.0.1:9940"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        command = healthcheck()
        command[0] = str(bin_dir / command[0])  # the image's PATH holds the venv's bin
        for _ in range(100):
            if subprocess.run(command, check=False, stderr=subprocess.DEVNULL).returncode == 0:
                print("docker_steps: HEALTHCHECK passed against the installed exporter")
                return
            time.sleep(0.2)
        raise SystemExit("docker_steps: HEALTHCHECK never passed")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--run-phase":
        run_phase(Path(sys.argv[2]))
        return 0
    with tempfile.TemporaryDirectory(prefix="docker-steps-") as tmp:
        venv = Path(tmp) / "venv"
        wheels = Path(tmp) / "wheels"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        for run in dockerfile_runs():
            step = run.replace("/wheels", str(wheels)).split(" && ")[0]
            args = shlex.split(step)
            args[0] = str(venv / "bin" / "pip")
            if "*.whl" in step:
                args = [a for a in args if not a.endswith("*.whl")] + [
                    str(p) for p in wheels.glob("*.whl")
                ]
            print(f"docker_steps: $ {shlex.join(args)}", flush=True)
            subprocess.run(args, cwd=ROOT, check=True)
        version = subprocess.run(
            [str(venv / "bin" / "exchange-cert-exporter"), "--version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        print(f"docker_steps: installed {version.strip()}")
        phase = isolated([sys.executable, "-m", "scripts.docker_steps", "--run-phase", str(venv)])
        return subprocess.run(phase, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
