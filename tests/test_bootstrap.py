"""bootstrap.sh picks where PyTorch comes from without installing anything: `bash bootstrap.sh torch-source URL`."""

import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _torch_source(url: str, bin_dir: Path) -> str:
    """bootstrap.sh's decision, with only bin_dir on PATH (so no real nvidia-smi is found)."""
    for tool in ("dirname",):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    if not (bin_dir / "python3").exists():
        (bin_dir / "python3").symlink_to(sys.executable)
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), "PYTHON": str(bin_dir / "python3")}
    result = subprocess.run(["/bin/bash", str(ROOT / "bootstrap.sh"), "torch-source", url], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def cpu_index(tmp_path):
    """A PEP 503 index on loopback that has a torch page, like PyTorch's CPU wheel index."""
    (tmp_path / "index" / "whl" / "cpu" / "torch").mkdir(parents=True)
    (tmp_path / "index" / "whl" / "cpu" / "torch" / "index.html").write_text("<a href='torch-2.13.0+cpu.whl'>x</a>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "index"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/whl/cpu"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with block ends: nothing listens there


def test_without_a_gpu_a_reachable_cpu_index_is_used(cpu_index, tmp_path):
    (tmp_path / "bin").mkdir()
    assert _torch_source(cpu_index, tmp_path / "bin") == f"cpu-index {cpu_index}"


def test_without_a_gpu_an_unreachable_cpu_index_falls_back_to_the_default_index(tmp_path):
    (tmp_path / "bin").mkdir()
    assert _torch_source(f"http://127.0.0.1:{_closed_port()}/whl/cpu", tmp_path / "bin") == "default"


def test_a_server_that_is_not_an_index_counts_as_unreachable(cpu_index, tmp_path):
    (tmp_path / "bin").mkdir()
    assert _torch_source(cpu_index.replace("/whl/cpu", "/nothing/here"), tmp_path / "bin") == "default"


def test_with_a_gpu_the_default_index_is_used(cpu_index, tmp_path):
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    assert _torch_source(cpu_index, tmp_path / "bin") == "gpu"
