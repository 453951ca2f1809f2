"""CMakeLists.txt's configure against a LibTorch it must not build against in silence: a CUDA
build of LibTorch whose CUDA package did not configure (no torch_cuda target) stops the
configure with one message, where it used to build CPU-only and fail every GPU step later. A
stand-in TorchConfig.cmake plays that LibTorch; the other packages are the machine's own."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def fake_torch(tmp_path, with_cuda_library):
    prefix = tmp_path / "torch"
    (prefix / "lib").mkdir(parents=True)
    if with_cuda_library:
        (prefix / "lib" / "libtorch_cuda.so").write_bytes(b"")
    config = prefix / "share" / "cmake" / "Torch"
    config.mkdir(parents=True)
    # What TorchConfig.cmake sets when its CUDA part failed: no torch_cuda target.
    (config / "TorchConfig.cmake").write_text(
        f'set(TORCH_INSTALL_PREFIX "{prefix}")\nset(TORCH_LIBRARIES "")\nset(Torch_FOUND TRUE)\n')
    return prefix / "share" / "cmake"


def configure(tmp_path, prefix):
    if shutil.which("cmake") is None:
        pytest.skip("no cmake on this machine")
    return subprocess.run(["cmake", "-S", str(ROOT), "-B", str(tmp_path / "build"),
                           f"-DCMAKE_PREFIX_PATH={prefix}"], capture_output=True, text=True, timeout=120)


def test_a_cuda_libtorch_whose_cuda_part_did_not_configure_stops_the_configure(tmp_path):
    proc = configure(tmp_path, fake_torch(tmp_path, with_cuda_library=True))
    assert proc.returncode != 0
    message = " ".join(proc.stderr.split())  # CMake wraps its messages
    assert "is a CUDA build (lib/libtorch_cuda.so), but its CUDA package did not configure" in message


def test_a_cpu_only_libtorch_configures_without_the_cuda_fixtures(tmp_path):
    proc = configure(tmp_path, fake_torch(tmp_path, with_cuda_library=False))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "trainbench: CUDA fixtures OFF" in proc.stdout
