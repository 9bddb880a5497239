"""sen_preproc.doctor: reports what is installed, never raises (fake gpt, fake home)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sen_preproc import doctor
from sen_preproc.doctor import Check, format_report, run_checks
from sen_preproc.snap import auxdata as aux

FAKE_DIAG = """
import sys
if sys.argv[1:] == ["--diag"]:
    print("SNAP Release version 10.0.0")
    print("Max memory: 4.0 GB")
    sys.exit(0)
print("Error: this fake gpt only answers --diag", file=sys.stderr)
sys.exit(1)
"""


def make_gpt(folder: Path, *, vmoptions: str | None = "-Xmx4G\n") -> Path:
    """A fake SNAP install ``folder/bin/gpt`` answering ``--diag`` (SNAP 10.0.0)."""
    (folder / "bin").mkdir(parents=True, exist_ok=True)
    gpt = folder / "bin" / "gpt"
    gpt.write_text(f"#!{sys.executable}\n{FAKE_DIAG}")
    gpt.chmod(0o755)
    if vmoptions is not None:
        (folder / "bin" / "gpt.vmoptions").write_text(vmoptions)
    return gpt


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


@pytest.fixture
def bare(tmp_path: Path) -> dict[str, str]:
    """An environment without SNAP: empty PATH, empty home."""
    (tmp_path / "empty-bin").mkdir()
    (tmp_path / "home").mkdir()
    return {"PATH": str(tmp_path / "empty-bin"), "HOME": str(tmp_path / "home")}


def test_without_snap_reports_missing_with_fixes(tmp_path: Path, bare: dict[str, str]) -> None:
    checks = run_checks(
        bare,
        home=tmp_path / "home",
        default_locations=(),
        proc_root=tmp_path / "proc",
        import_snappy=False,
        total_ram_bytes=8 << 30,
    )
    names = [c.name for c in checks]
    assert names[:4] == [
        "SNAP gpt",
        "Java heap (gpt.vmoptions)",
        "SNAP orbit files",
        "SNAP DEM auxdata",
    ]
    assert {"esa_snappy (optional)", "Sen2Cor (L2A_Process)", "GPU for mccgan"} <= set(names)
    assert {"PROJ geoid grid EGM96", "PROJ geoid grid EGM2008"} <= set(names)
    found = by_name(checks)
    gpt = found["SNAP gpt"]
    assert not gpt.ok and "not found" in gpt.detail
    assert "install ESA SNAP" in gpt.fix and "--engine python" in gpt.fix and "--gpt" in gpt.fix
    assert not found["Java heap (gpt.vmoptions)"].ok
    orbits = found["SNAP orbit files"]
    assert not orbits.ok and "--orbit-file" in orbits.fix
    assert str(tmp_path / "home" / ".snap" / "auxdata" / "Orbits") in orbits.detail
    assert not found["Sen2Cor (L2A_Process)"].ok
    gpu = found["GPU for mccgan"]
    assert not gpu.ok and "no NVIDIA driver" in gpu.detail
    report = format_report(checks)
    assert report.splitlines()[0].startswith("missing  SNAP gpt")
    assert "fix: install ESA SNAP" in report
    # the detail column is aligned
    starts = {
        line.index(c.detail)
        for c in checks
        for line in report.splitlines()
        if c.detail and line.endswith(c.detail)
    }
    assert len(starts) == 1


def test_with_fake_gpt(tmp_path: Path, bare: dict[str, str]) -> None:
    gpt = make_gpt(tmp_path / "esa-snap", vmoptions="-Xms1G\n-Xmx4G\n")
    home = tmp_path / "home"
    poe = home / ".snap" / "auxdata" / "Orbits" / "Sentinel-1" / "POEORB" / "S1A" / "2021" / "01"
    poe.mkdir(parents=True)
    for name in ("a.EOF", "b.EOF", "c.EOF.zip"):
        (poe / name).write_text("x")
    (poe / "notes.txt").write_text("x")
    (home / ".snap" / "auxdata" / "dem" / "SRTM 3Sec").mkdir(parents=True)
    proc = tmp_path / "proc" / "driver" / "nvidia"
    proc.mkdir(parents=True)
    (proc / "version").write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14\n")
    env = {**bare, "SENPREP_GPT": str(gpt)}
    checks = by_name(
        run_checks(
            env,
            home=home,
            proc_root=tmp_path / "proc",
            import_snappy=False,
            total_ram_bytes=16 << 30,
        )
    )
    assert checks["SNAP gpt"].ok
    assert checks["SNAP gpt"].detail == f"{gpt} (SNAP 10.0.0)"
    heap = checks["Java heap (gpt.vmoptions)"]
    assert heap.ok and "-Xmx 4.0 GiB of 16.0 GiB RAM" in heap.detail
    assert str(gpt.parent / "gpt.vmoptions") in heap.detail and "-c 2662M" in heap.detail
    orbits = checks["SNAP orbit files"]
    assert orbits.ok and "3 POEORB" in orbits.detail
    dem = checks["SNAP DEM auxdata"]
    assert dem.ok and "SRTM 3Sec" in dem.detail
    gpu = checks["GPU for mccgan"]
    assert "550.54.14" in gpu.detail


def test_heap_larger_than_ram_and_newer_snap(tmp_path: Path, bare: dict[str, str]) -> None:
    gpt = make_gpt(tmp_path / "snap", vmoptions="-Xmx64G\n")
    (tmp_path / "snap" / "VERSION.txt").write_text("99.0.0\n")
    checks = by_name(
        run_checks(
            {**bare, "SENPREP_GPT": str(gpt)},
            home=tmp_path / "home",
            proc_root=tmp_path / "proc",
            import_snappy=False,
            total_ram_bytes=8 << 30,
        )
    )
    assert checks["SNAP gpt"].ok and "newer than the catalogue" in checks["SNAP gpt"].detail
    heap = checks["Java heap (gpt.vmoptions)"]
    assert not heap.ok and "larger than the RAM" in heap.detail and "lower -Xmx" in heap.fix


def test_bad_senprep_gpt_is_reported(tmp_path: Path, bare: dict[str, str]) -> None:
    checks = by_name(
        run_checks(
            {**bare, "SENPREP_GPT": str(tmp_path / "nope")},
            home=tmp_path / "home",
            proc_root=tmp_path / "proc",
            import_snappy=False,
        )
    )
    assert not checks["SNAP gpt"].ok
    assert "$SENPREP_GPT points to" in checks["SNAP gpt"].detail


def test_snappy_installed_but_broken(
    tmp_path: Path, bare: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "fake_snappy_broken.py").write_text("raise SystemExit('no jpy config')\n")
    (tmp_path / "mods" / "fake_snappy_ok.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    common = dict(home=tmp_path / "home", default_locations=(), proc_root=tmp_path / "proc")
    broken = by_name(run_checks(bare, snappy_module="fake_snappy_broken", **common))  # type: ignore[arg-type]
    snappy = broken["esa_snappy (optional)"]
    assert not snappy.ok and "not usable" in snappy.detail and "no jpy config" in snappy.detail
    assert "esa-snappy-conf" in snappy.fix
    good = by_name(run_checks(bare, snappy_module="fake_snappy_ok", **common))  # type: ignore[arg-type]
    assert good["esa_snappy (optional)"].ok
    missing = by_name(run_checks(bare, snappy_module="esa_snappy_absent_xyz", **common))  # type: ignore[arg-type]
    assert "not installed" in missing["esa_snappy (optional)"].detail
    assert "senprep[snap]" in missing["esa_snappy (optional)"].fix


def test_a_failing_check_never_raises(
    tmp_path: Path, bare: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> Check:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(doctor, "_check_dem", explode)
    monkeypatch.setattr(aux, "snap_auxdata_dir", explode)
    checks = by_name(
        run_checks(
            bare,
            home=tmp_path / "home",
            default_locations=(),
            proc_root=tmp_path / "proc",
            import_snappy=False,
        )
    )
    dem = checks["SNAP DEM auxdata"]
    assert not dem.ok and "disk on fire" in dem.detail


def test_sen2cor_on_path(tmp_path: Path, bare: dict[str, str]) -> None:
    exe = Path(bare["PATH"]) / "L2A_Process"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    checks = by_name(
        run_checks(
            bare,
            home=tmp_path / "home",
            default_locations=(),
            proc_root=tmp_path / "proc",
            import_snappy=False,
        )
    )
    assert checks["Sen2Cor (L2A_Process)"].ok and checks["Sen2Cor (L2A_Process)"].detail == str(exe)


def test_doctor_never_imports_torch(tmp_path: Path, bare: dict[str, str]) -> None:
    had_torch = "torch" in sys.modules
    run_checks(
        bare,
        home=tmp_path / "home",
        default_locations=(),
        proc_root=tmp_path / "proc",
        import_snappy=False,
    )
    assert had_torch or "torch" not in sys.modules
