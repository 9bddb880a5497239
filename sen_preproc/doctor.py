"""``senprep doctor``: what of the optional tool chain is installed, and how to fix what is not.

Every check is a :class:`Check` (name, ok, detail, fix), computed from injectable inputs
(environment, home folder, ``/proc``) and never raising. No subprocess is started here: the gpt
version comes from :mod:`sen_preproc.snap.gpt` (``VERSION.txt`` or ``gpt --diag``), and torch
is looked up with :func:`importlib.util.find_spec`, never imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sen_preproc.snap import auxdata as snap_auxdata
from sen_preproc.snap import install as gpt_mod
from sen_preproc.snap.version import KNOWN_MAJORS

LOGGER = logging.getLogger(__name__)

_GIB = float(1 << 30)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report.

    Attributes
    ----------
    name : str
        What was checked (``SNAP gpt``).
    ok : bool
        Present and usable.
    detail : str
        What was found (path, version, counts).
    fix : str
        How to get it (empty when ``ok``).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _guarded(name: str, func: Callable[[], Check]) -> Check:
    try:
        return func()
    except Exception as err:  # a check must never stop the report
        LOGGER.debug("doctor check %s failed", name, exc_info=True)
        return Check(name, False, f"check failed: {type(err).__name__}: {err}", "report this bug")


def _count_files(folder: Path, suffixes: tuple[str, ...]) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file() and p.name.upper().endswith(suffixes))


def _check_gpt(install: gpt_mod.GptInstall | None, error: str) -> Check:
    name = "SNAP gpt"
    if install is None:
        return Check(
            name,
            False,
            error.split(". Fix:")[0] if error else "not found",
            "install ESA SNAP (https://step.esa.int/main/download/snap-download/) and pass "
            f"--gpt /path/to/snap/bin/gpt or set {gpt_mod.GPT_ENV_VAR}; or use --engine python",
        )
    if install.version is None:
        return Check(
            name,
            True,
            f"{install.path} (version unknown: no VERSION.txt, gpt --diag unreadable)",
            "pass --snap-version to render graphs for your SNAP",
        )
    detail = install.describe()
    if install.version.major > max(KNOWN_MAJORS):
        detail += f"; newer than the catalogue (SNAP ≤ {max(KNOWN_MAJORS)}), rendered as SNAP {max(KNOWN_MAJORS)}"
    elif install.version.major < min(KNOWN_MAJORS):
        return Check(
            name,
            False,
            detail + f"; older than SNAP {min(KNOWN_MAJORS)}, which senprep does not support",
            f"install SNAP {min(KNOWN_MAJORS)} or newer, or use --engine python",
        )
    return Check(name, True, detail)


def _check_heap(install: gpt_mod.GptInstall | None, total_ram: int | None) -> Check:
    name = "Java heap (gpt.vmoptions)"
    if install is None:
        return Check(name, False, "no SNAP gpt", "install SNAP first")
    path = gpt_mod.vmoptions_path(install)
    heap = gpt_mod.read_vmoptions(install)
    cache = gpt_mod.default_cache_size(heap, total_ram)
    threads = gpt_mod.default_parallelism()
    ram = f" of {total_ram / _GIB:.1f} GiB RAM" if total_ram else ""
    if heap is None:
        state = "missing" if not path.exists() else "has no -Xmx line"
        return Check(
            name,
            False,
            f"{path} {state} (Java's default: a quarter of the RAM); senprep passes -c {cache} "
            f"-q {threads}",
            f"add a line -Xmx<size>, e.g. -Xmx8G (about 2/3 of the RAM), to {path}",
        )
    detail = f"-Xmx {heap / _GIB:.1f} GiB{ram} in {path}; senprep passes -c {cache} -q {threads}"
    if total_ram and heap > total_ram:
        return Check(
            name,
            False,
            detail + " — the heap is larger than the RAM",
            f"lower -Xmx in {path} below {total_ram / _GIB:.0f}G",
        )
    return Check(name, True, detail)


def _check_orbits(auxdata: Path, home: Path) -> Check:
    name = "SNAP orbit files"
    folders = [snap_auxdata.s1_orbit_dir(kind, None, home=home) for kind in ("POEORB", "RESORB")]
    default = auxdata / "Orbits" / "Sentinel-1"
    existing = [f for f in folders if f.is_dir()]
    fix = (
        f"pass --orbit-file S1x_OPER_AUX_POEORB_*.EOF (copied into {folders[0]}/<S1x>/<YYYY>/<MM>/)"
        " or let SNAP download them (needs the network)"
    )
    if not existing:
        return Check(name, False, f"{default} does not exist (no orbit files yet)", fix)
    counts = {f.name: _count_files(f, (".EOF", ".ZIP")) for f in existing}
    detail = ", ".join(f"{n} {kind}" for kind, n in counts.items()) + f" in {default}"
    total = sum(counts.values())
    return Check(name, total > 0, detail, "" if total else fix)


def _check_dem(auxdata: Path) -> Check:
    name = "SNAP DEM auxdata"
    folder = auxdata / "dem"
    fix = (
        f"offline, pass --dem FILE (used as External DEM); online, SNAP downloads DEM tiles "
        f"into {folder}"
    )
    if not folder.is_dir():
        return Check(name, False, f"{folder} does not exist (no DEM downloaded yet)", fix)
    names = sorted(p.name for p in folder.iterdir() if p.is_dir())
    detail = f"{folder}: " + (", ".join(names) if names else "empty")
    return Check(name, bool(names), detail, "" if names else fix)


def _check_snappy(module: str, import_it: bool) -> Check:
    name = "esa_snappy (optional)"
    fix = (
        "optional: pip install 'senprep[snap]', then configure it with SNAP's "
        "bin/esa-snappy-conf <python>"
    )
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return Check(name, False, f"{module} not installed", fix)
    where = spec.origin or module
    if not import_it:
        return Check(name, True, f"{module} installed at {where} (import not tried)")
    try:
        importlib.import_module(module)
    except BaseException as err:  # esa_snappy may raise anything, even SystemExit
        if isinstance(err, KeyboardInterrupt):
            raise
        return Check(
            name,
            False,
            f"{module} installed at {where} but not usable ({type(err).__name__}: {err})",
            "configure it with SNAP's bin/esa-snappy-conf <python> (pointing at this Python)",
        )
    return Check(name, True, f"{module} imports ({where})")


def _check_sen2cor(env: Mapping[str, str]) -> Check:
    from sen_preproc.sentinel2 import sen2cor

    name = "Sen2Cor (L2A_Process)"
    if env is os.environ:
        found = sen2cor.find_sen2cor()
    else:
        found = shutil.which(sen2cor.SEN2COR_EXECUTABLE, path=env.get("PATH", os.defpath))
    if found is None:
        return Check(
            name,
            False,
            f"{sen2cor.SEN2COR_EXECUTABLE} not on PATH",
            "only for --atmcor sen2cor on L1C input: install Sen2Cor "
            "(https://step.esa.int/main/snap-supported-plugins/sen2cor/) and put its bin on PATH",
        )
    return Check(name, True, found)


def _check_geoid(model: str) -> Check:
    from sen_preproc.sentinel1.geoid import GEOID_MODELS, find_geoid_grid

    name = f"PROJ geoid grid {model.upper()}"
    grid = find_geoid_grid(model)
    if grid is None:
        names = GEOID_MODELS[model][1]
        return Check(
            name,
            False,
            f"{' / '.join(names)} not in PROJ's data folders",
            f"apt-get install proj-data, or projsync --file {names[-1]} (needed to convert "
            f"{model.upper()} DEM heights; or pass --no-geoid)",
        )
    return Check(name, True, str(grid))


def _check_gpu(env: Mapping[str, str], proc_root: Path) -> Check:
    name = "GPU for mccgan"
    torch = importlib.util.find_spec("torch") is not None
    smi = shutil.which("nvidia-smi", path=env.get("PATH", os.defpath))
    driver = None
    try:
        text = (proc_root / "driver" / "nvidia" / "version").read_text(errors="replace")
        driver = text.splitlines()[0].strip() if text.strip() else "present"
    except OSError:
        pass
    torch_text = "torch installed" if torch else "torch not installed"
    if driver is None and smi is None:
        return Check(
            name,
            False,
            f"no NVIDIA driver found; {torch_text}",
            "mccgan trains on the CPU (slow); install an NVIDIA driver and CUDA-enabled torch "
            "for a GPU" + ("" if torch else "; pip install 'senprep[model]'"),
        )
    gpu = driver or f"nvidia-smi at {smi}"
    if not torch:
        return Check(name, False, f"{gpu}; torch not installed", "pip install 'senprep[model]'")
    return Check(name, True, f"{gpu}; torch installed")


def run_checks(
    env: Mapping[str, str] = os.environ,
    *,
    home: Path | None = None,
    gpt: Path | None = None,
    default_locations: tuple[str, ...] | None = None,
    proc_root: Path = Path("/proc"),
    snappy_module: str = "esa_snappy",
    import_snappy: bool = True,
    total_ram_bytes: int | None = None,
) -> list[Check]:
    """Check the optional tools; never raises.

    Parameters
    ----------
    env : mapping
        Environment (``SENPREP_GPT``, ``SNAP_HOME``, ``PATH``).
    home : Path, optional
        User home (``~/.snap``); default the real one.
    gpt : Path, optional
        ``--gpt``.
    default_locations : tuple, optional
        Replaces the default SNAP install locations (tests).
    proc_root : Path
        ``/proc`` (NVIDIA driver version file).
    snappy_module : str
        Module name of SNAP's Python bridge.
    import_snappy : bool
        Try importing it (slow: starts a JVM) to see whether it is configured.
    total_ram_bytes : int, optional
        RAM; default this machine's.

    Returns
    -------
    list of Check
        SNAP gpt, Java heap, orbit files, DEM auxdata, esa_snappy, Sen2Cor, geoid grids, GPU.
    """
    user_home = Path(home) if home is not None else Path(env.get("HOME") or Path.home())
    ram = total_ram_bytes if total_ram_bytes is not None else gpt_mod.total_memory_bytes()
    install: gpt_mod.GptInstall | None = None
    error = ""
    try:
        install = gpt_mod.find_gpt(gpt, env, default_locations=default_locations)
    except Exception as err:  # GptNotFoundError, or anything unexpected
        error = str(err)
    checks = [
        _guarded("SNAP gpt", lambda: _check_gpt(install, error)),
        _guarded("Java heap (gpt.vmoptions)", lambda: _check_heap(install, ram)),
    ]
    try:
        auxdata = snap_auxdata.snap_auxdata_dir(user_home)
    except Exception:
        auxdata = user_home / ".snap" / "auxdata"
    checks += [
        _guarded("SNAP orbit files", lambda: _check_orbits(auxdata, user_home)),
        _guarded("SNAP DEM auxdata", lambda: _check_dem(auxdata)),
        _guarded("esa_snappy (optional)", lambda: _check_snappy(snappy_module, import_snappy)),
        _guarded("Sen2Cor (L2A_Process)", lambda: _check_sen2cor(env)),
        _guarded("PROJ geoid grid EGM96", lambda: _check_geoid("egm96")),
        _guarded("PROJ geoid grid EGM2008", lambda: _check_geoid("egm2008")),
        _guarded("GPU for mccgan", lambda: _check_gpu(env, proc_root)),
    ]
    return checks


def format_report(checks: list[Check]) -> str:
    """Aligned ``OK``/``missing`` lines, each failing one followed by its fix."""
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for check in checks:
        status = "OK" if check.ok else "missing"
        lines.append(f"{status:<8} {check.name:<{width}}  {check.detail}")
        if check.fix:
            lines.append(f"{'':<8} {'':<{width}}  fix: {check.fix}")
    return "\n".join(lines)
