"""sen_preproc.snap.gpt against a fake ``gpt`` (no SNAP needed).

The fake is a Python script written into ``<tmp>/snap/bin/gpt`` with ``sys.executable`` as
interpreter. A JSON control file named by ``$FAKE_GPT_CONTROL`` drives it: ``mode`` (or
``modes``, one per call), ``record`` (JSON-lines file receiving the argument list and the graph
after gpt-like ``-P`` substitution), ``version`` (printed by ``--diag``), ``pid_file``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from sen_preproc.errors import (
    GptError,
    GptMemoryError,
    GptNotFoundError,
    GptOrbitError,
    GptOutputError,
    GptTimeoutError,
    GraphError,
    OptionError,
    OrbitError,
)
from sen_preproc.raster_io import raster_summary
from sen_preproc.snap import auxdata as aux
from sen_preproc.snap import gpt as gm
from sen_preproc.snap import gpt_log
from sen_preproc.snap import install as inst
from sen_preproc.snap.version import SnapVersion

FAKE_GPT = r"""
import json, os, re, signal, subprocess, sys, time
import xml.etree.ElementTree as ET

control = {}
if os.environ.get("FAKE_GPT_CONTROL") and os.path.exists(os.environ["FAKE_GPT_CONTROL"]):
    with open(os.environ["FAKE_GPT_CONTROL"]) as handle:
        control = json.load(handle)
args = sys.argv[1:]
out = sys.stdout


def say(text, err=False):
    stream = sys.stderr if err else sys.stdout
    stream.write(text)
    stream.flush()


if args[:1] == ["--diag"]:
    if control.get("diag_marker"):
        open(control["diag_marker"], "w").close()
    if control.get("diag") == "none":
        say("something went wrong\n")
        sys.exit(1)
    say("SNAP Release version %s\n" % control.get("version", "10.0.0"))
    say("SNAP home: %s\n" % os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    say("Java version: 11.0.19\nProcessors: 2\nMax memory: 8.0 GB\nCache size: 1.0 GB\n")
    say("\nTo configure your gpt memory usage:\nEdit snap/bin/gpt.vmoptions\n")
    sys.exit(0)

record = control.get("record")
call = 0
if record and os.path.exists(record):
    with open(record) as handle:
        call = sum(1 for _ in handle)
modes = control.get("modes")
mode = modes[call] if modes else control.get("mode", "success")

graph_path = args[0]
params = {}
for arg in args[1:]:
    if arg.startswith("-P"):
        name, _, value = arg[2:].partition("=")
        params[name] = value
with open(graph_path, encoding="utf-8") as handle:
    text = handle.read()
# gpt's TemplateReader: ${name} and bare $name, unknown variables left verbatim
text = re.sub(
    r"\$\{([\w.]+)\}|\$([A-Za-z_][\w.]*)",
    lambda m: params.get(m.group(1) or m.group(2), m.group(0)),
    text,
)
if record:
    with open(record, "a") as handle:
        handle.write(json.dumps({"argv": args, "graph": text, "mode": mode}) + "\n")
try:
    root = ET.fromstring(text)
except ET.ParseError as err:
    say("\nError: cannot parse graph: %s\n" % err, err=True)
    sys.exit(1)
write_file, read_files = None, []
for node in root.iter("node"):
    operator = node.findtext("operator")
    file = node.findtext("parameters/file")
    if operator == "Write":
        write_file = file
    elif operator == "Read":
        read_files.append(file)
for file in read_files:
    if file and not os.path.exists(file):
        say("\nError: [NodeId: Read] '%s' file didn't exist\n" % file, err=True)
        sys.exit(1)


def write_output(path, kind="random"):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    data = np.random.default_rng(1).random((1, 16, 16)).astype("float32")
    if kind == "constant":
        data[:] = 0.25
    elif kind == "nodata":
        data[:] = np.nan
    profile = dict(width=16, height=16, count=1, dtype="float32", nodata=float("nan"),
                   crs="EPSG:32633", transform=from_origin(300000, 5000000, 10, 10))
    if path.lower().endswith(".dim"):
        data_dir = path[:-4] + ".data"
        os.makedirs(data_dir, exist_ok=True)
        with open(path, "w") as handle:
            handle.write("<Dimap_Document/>\n")
        with rasterio.open(os.path.join(data_dir, "Sigma0_VV.img"), "w", driver="ENVI",
                           **profile) as dst:
            dst.write(data)
    else:
        with rasterio.open(path, "w", driver="GTiff", **profile) as dst:
            dst.write(data)


def progress(stop=90):
    say("Executing processing graph\n")
    for pct in range(10, stop + 1, 10):
        say("...." + "%d%%" % pct)
        time.sleep(0.003)


if mode == "success":
    say("INFO: org.esa.snap.core.gpf.operators.tooladapter.ToolAdapterIO: Initializing\n", err=True)
    progress()
    write_output(write_file)
    say(" done.\n")
    say("Processing time: 0.1 s\n")
elif mode == "garbage":
    progress(40)
    sys.stdout.buffer.write(b"\nWARNING: caf\xe9 \xff\xfe\x80 bad bytes \xc3(\n")
    sys.stdout.flush()
    progress()
    write_output(write_file)
    say(" done.\n")
elif mode == "constant":
    progress()
    write_output(write_file, "constant")
    say(" done.\n")
elif mode == "nodata":
    progress()
    write_output(write_file, "nodata")
    say(" done.\n")
elif mode == "no_output":
    progress()
    say(" done.\n")
elif mode == "empty":
    progress()
    open(write_file, "w").close()
    say(" done.\n")
elif mode == "no_intersection":
    say("WARNING: org.esa.snap.core.gpf.common.SubsetOp: No intersection with source product "
        "boundary S1A_IW_GRDH_1SDV_20210119T031653\n", err=True)
    progress()
    open(write_file, "w").close()
    say(" done.\n")
elif mode == "unknown_element":
    write_output(write_file)
    say("\nError: [NodeId: Speckle-Filter] Operator 'SpeckleFilterOp': Unknown element 'foo'\n",
        err=True)
    sys.exit(1)
elif mode in ("oom", "killed"):
    progress(30)
    write_output(write_file)
    if mode == "oom":
        say("\nException in thread \"pool-1\" java.lang.OutOfMemoryError: Java heap space\n",
            err=True)
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "heap_reserve":
    say("Error occurred during initialization of VM\n"
        "Could not reserve enough space for 33554432KB object heap\n", err=True)
    sys.exit(1)
elif mode == "orbit":
    write_output(write_file)
    say("Executing processing graph\n")
    say("WARNING: eu.esa.sar.orbits.gpf.ApplyOrbitFileOp: No valid orbit file found for "
        "19-JAN-2021 03:16:53.000000\nOrbit files may be downloaded from "
        "https://step.esa.int/auxdata/orbits/Sentinel-1/POEORB/\nand placed in "
        "/home/user/.snap/auxdata/Orbits/Sentinel-1/POEORB/S1A/2021/01\n", err=True)
    say("\nError: [NodeId: Apply-Orbit-File] No valid orbit file found for 19-JAN-2021 "
        "03:16:53.000000\n", err=True)
    sys.exit(1)
elif mode == "network":
    say("Executing processing graph\n")
    say("SEVERE: java.net.UnknownHostException: step.esa.int\n", err=True)
    say("\nError: [NodeId: Terrain-Correction] cannot download DEM tile\n", err=True)
    sys.exit(1)
elif mode == "fail":
    progress(20)
    write_output(write_file)
    say("\nError: [NodeId: Calibration] something broke in calibration\n", err=True)
    say("\tat org.esa.snap.core.gpf.Operator.execute(Operator.java:1)\n", err=True)
    sys.exit(1)
elif mode == "sleep":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(control["pid_file"], "w") as handle:
        json.dump([os.getpid(), child.pid], handle)
    progress(10)
    time.sleep(120)
else:
    say("\nError: unknown fake mode %s\n" % mode, err=True)
    sys.exit(2)
sys.exit(0)
"""

GRAPH = """<graph id="test">
  <version>1.0</version>
  <node id="Read">
    <operator>Read</operator>
    <parameters><file>${input}</file></parameters>
  </node>
  <node id="Speckle-Filter">
    <operator>Speckle-Filter</operator>
    <sources><sourceProduct refid="Read"/></sources>
    <parameters><filter>$filter</filter></parameters>
  </node>
  <node id="Write">
    <operator>Write</operator>
    <sources><sourceProduct refid="Speckle-Filter"/></sources>
    <parameters><file>${output}</file><formatName>GeoTIFF</formatName></parameters>
  </node>
</graph>
"""


def make_gpt(folder: Path, *, vmoptions: str | None = "-Xms512m\n-Xmx4G\n") -> Path:
    """A fake SNAP install ``folder/bin/gpt`` (+ ``gpt.vmoptions``)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    gpt = bin_dir / "gpt"
    gpt.write_text(f"#!{sys.executable}\n{FAKE_GPT}")
    gpt.chmod(gpt.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if vmoptions is not None:
        (bin_dir / "gpt.vmoptions").write_text(vmoptions)
    return gpt


class Fake:
    """Test handle on the fake gpt: its install, control file and records."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.gpt = make_gpt(root / "snap")
        self.install = inst.GptInstall(self.gpt, SnapVersion(9, 0, 0), root / "snap")
        self.control_path = root / "control.json"
        self.record_path = root / "record.jsonl"
        self.control: dict[str, Any] = {"record": str(self.record_path)}
        monkeypatch.setenv("FAKE_GPT_CONTROL", str(self.control_path))
        self.set()
        self.input = root / "in.tif"
        self.input.write_bytes(b"input")
        self.graph = root / "graph.xml"
        self.graph.write_text(GRAPH)

    def set(self, **control: Any) -> None:
        self.control.update(control)
        self.control_path.write_text(json.dumps(self.control))

    def records(self) -> list[dict[str, Any]]:
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in self.record_path.read_text().splitlines()]

    def params(self, output: Path) -> list[str]:
        return [f"input={self.input}", f"output={output}", "filter=Lee Sigma"]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fake:
    return Fake(tmp_path, monkeypatch)


class Recorder:
    """A :class:`sen_preproc.progress.Progress` recording the fraction done after each advance."""

    def __init__(self) -> None:
        self.seen: list[float] = []
        self.tasks: list[tuple[str, float | None, str]] = []
        self.closed = 0

    def record(self, fraction: float) -> None:
        self.seen.append(fraction)

    def start(self, desc: str, total: float | None, unit: str) -> Any:
        self.tasks.append((desc, total, unit))
        recorder, state = self, {"done": 0.0}

        class Task:
            def advance(self, amount: float = 1.0) -> None:
                state["done"] += amount
                recorder.record(round(state["done"] / (total or 1.0), 6))

            def close(self) -> None:
                recorder.closed += 1

        return Task()


def run(fake: Fake, output: Path, **kwargs: Any) -> gm.GptResult:
    kwargs.setdefault("cache_size", "512M")
    kwargs.setdefault("parallelism", 2)
    return gm.run_gpt(
        fake.install,
        fake.graph,
        fake.params(output),
        log_path=fake.root / "gpt.log",
        expected_outputs=[output],
        **kwargs,
    )


# --------------------------------------------------------------------------------------------
# find_gpt


def test_find_gpt_search_order(tmp_path: Path) -> None:
    explicit = make_gpt(tmp_path / "explicit")
    env_gpt = make_gpt(tmp_path / "env")
    home_gpt = make_gpt(tmp_path / "home")
    path_gpt = make_gpt(tmp_path / "onpath")
    default_gpt = make_gpt(tmp_path / "default")
    env = {
        "SENPREP_GPT": str(env_gpt),
        "SNAP_HOME": str(tmp_path / "home"),
        "PATH": str(path_gpt.parent),
        "HOME": str(tmp_path),
    }
    defaults = [str(tmp_path / "missing" / "bin" / "gpt"), "~/default/bin/gpt"]

    def find(explicit_path: Path | None, environment: dict[str, str]) -> Path:
        found = inst.find_gpt(
            explicit_path, environment, default_locations=defaults, probe_version=False
        )
        return found.path

    assert find(explicit, env) == explicit
    assert find(None, env) == env_gpt
    del env["SENPREP_GPT"]
    assert find(None, env) == home_gpt
    del env["SNAP_HOME"]
    assert find(None, env) == path_gpt
    env["PATH"] = str(tmp_path / "nothing")
    assert find(None, env) == default_gpt  # "~" expanded with env HOME
    install = inst.find_gpt(None, env, default_locations=defaults, probe_version=False)
    assert install.snap_home == tmp_path / "default"
    assert install.vmoptions == tmp_path / "default" / "bin" / "gpt.vmoptions"


def test_find_gpt_explicit_folder_and_symlink(tmp_path: Path) -> None:
    gpt = make_gpt(tmp_path / "esa-snap")
    found = inst.find_gpt(tmp_path / "esa-snap", {}, default_locations=[], probe_version=False)
    assert found.path == gpt
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    (link_dir / "gpt").symlink_to(gpt)
    found = inst.find_gpt(None, {"PATH": str(link_dir)}, default_locations=[], probe_version=False)
    assert found.path == link_dir / "gpt"
    assert found.snap_home == tmp_path / "esa-snap"  # resolved through the symlink


def test_find_gpt_bad_explicit_and_env_paths(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "gpt"
    with pytest.raises(GptNotFoundError, match=r"--gpt points to .*nope/gpt, which does not"):
        inst.find_gpt(missing, {}, probe_version=False)
    not_exec = tmp_path / "gpt"
    not_exec.write_text("#!/bin/sh\n")
    not_exec.chmod(0o644)
    with pytest.raises(GptNotFoundError, match="not an executable file"):
        inst.find_gpt(not_exec, {}, probe_version=False)
    with pytest.raises(GptNotFoundError, match=r"\$SENPREP_GPT points to .*nope/gpt"):
        inst.find_gpt(None, {"SENPREP_GPT": str(missing)}, probe_version=False)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(GptNotFoundError, match="folder without bin/gpt"):
        inst.find_gpt(empty_dir, {}, probe_version=False)


def test_find_gpt_nothing_found_lists_places_and_fixes(tmp_path: Path) -> None:
    not_snap = tmp_path / "sbin"  # like macOS's /usr/sbin/gpt: on PATH but not SNAP's
    not_snap.mkdir()
    (not_snap / "gpt").write_text("#!/bin/sh\n")
    (not_snap / "gpt").chmod(0o755)
    env = {"PATH": str(not_snap), "HOME": str(tmp_path)}
    with pytest.raises(GptNotFoundError) as info:
        inst.find_gpt(None, env, default_locations=["~/esa-snap/bin/gpt"], probe_version=False)
    message = str(info.value)
    for part in (
        "$SENPREP_GPT (not set)",
        "$SNAP_HOME (not set)",
        "is not SNAP's gpt",
        str(tmp_path / "esa-snap" / "bin" / "gpt"),
        "install ESA SNAP",
        "--gpt",
        "set SENPREP_GPT",
        "--engine python",
    ):
        assert part in message


def test_default_locations_cover_platforms() -> None:
    linux = inst.DEFAULT_GPT_LOCATIONS["linux"]
    assert "~/snap/bin/gpt" in linux and "/opt/esa-snap/bin/gpt" in linux
    assert "/Applications/esa-snap/bin/gpt" in inst.DEFAULT_GPT_LOCATIONS["darwin"]
    assert r"C:\Program Files\snap\bin\gpt.exe" in inst.DEFAULT_GPT_LOCATIONS["win32"]


# --------------------------------------------------------------------------------------------
# version, memory, command


def test_detect_version_from_diag(fake: Fake) -> None:
    fake.set(version="9.0.0")
    assert inst.detect_version(fake.gpt) == SnapVersion(9, 0, 0)
    install = inst.find_gpt(fake.gpt, {})
    assert install.version == SnapVersion(9, 0, 0)
    assert install.describe().endswith("(SNAP 9.0.0)")


def test_detect_version_from_version_file_first(fake: Fake) -> None:
    marker = fake.root / "diag-ran"
    fake.set(version="9.0.0", diag_marker=str(marker))
    (fake.root / "snap" / "VERSION.txt").write_text("11.0.0\n")
    assert inst.detect_version(fake.gpt) == SnapVersion(11, 0, 0)
    assert not marker.exists()  # the cheap file was enough: gpt --diag not run
    assert inst.detect_version(fake.gpt.parent / "gpt") == SnapVersion(11, 0, 0)
    (fake.root / "snap" / "VERSION.txt").unlink()
    assert inst.detect_version(fake.gpt) == SnapVersion(9, 0, 0)
    assert marker.exists()


def test_detect_version_unreadable(fake: Fake, caplog: pytest.LogCaptureFixture) -> None:
    fake.set(diag="none")
    (fake.root / "snap" / "VERSION.txt").write_text("[no version]\n")
    assert inst.detect_version(fake.gpt) is None
    assert "SNAP version unknown" in caplog.text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("-Xmx8G\n", 8 << 30),
        ("-Xms1G\n-Xmx8192m\n", 8192 << 20),
        ("-Xmx1048576k", 1 << 30),
        ("-Xmx12345\n", 12345),
        ("-Xmx2g\n# -Xmx64G\n-Xmx3g\n", 3 << 30),
        ("-XX:MaxHeapSize=2G\n", 2 << 30),
        ("-Xms512m\n-Dsnap.mainClass=x\n", None),
        ("", None),
    ],
)
def test_read_vmoptions(tmp_path: Path, content: str, expected: int | None) -> None:
    gpt = make_gpt(tmp_path / "snap", vmoptions=content)
    assert inst.read_vmoptions(inst.GptInstall(gpt, None, tmp_path / "snap")) == expected


def test_read_vmoptions_missing_file(tmp_path: Path) -> None:
    gpt = make_gpt(tmp_path / "snap", vmoptions=None)
    assert inst.read_vmoptions(gpt) is None
    assert inst.vmoptions_path(gpt) == tmp_path / "snap" / "bin" / "gpt.vmoptions"


def test_cache_size_and_parallelism() -> None:
    assert inst.default_cache_size(8 << 30, 16 << 30) == "5324M"  # 65 % of the heap
    assert inst.default_cache_size(None, 16 << 30) == "2662M"  # JVM default heap: RAM / 4
    assert inst.default_cache_size(64 << 30, 8 << 30) == "5324M"  # heap capped to the RAM
    assert inst.default_cache_size(None, None) == inst.FALLBACK_CACHE
    assert 1 <= inst.default_parallelism() <= (os.cpu_count() or 1)


def test_build_command(fake: Fake) -> None:
    command = inst.build_command(
        fake.install,
        fake.graph,
        ["input=/data/a&b <c>.zip", 'aoi=POLYGON(("x"))', "empty="],
        cache_size="2048m",
        parallelism=3,
    )
    assert isinstance(command, list) and all(isinstance(a, str) for a in command)
    assert command[:2] == [str(fake.gpt), str(fake.graph)]
    assert command[command.index("-c") + 1] == "2048M"
    assert command[command.index("-q") + 1] == "3"
    assert "-Pinput=/data/a&amp;b &lt;c&gt;.zip" in command
    assert "-Paoi=POLYGON((&quot;x&quot;))" in command
    assert "-Pempty=" in command
    mapping = inst.build_command(
        fake.install,
        fake.graph,
        {"flag": True, "bands": ["VV", "VH"], "none": None},
        cache_size=None,
        parallelism=None,
    )
    assert {"-Pflag=true", "-Pbands=VV,VH", "-Pnone="} <= set(mapping)
    assert mapping[mapping.index("-c") + 1] == inst.default_cache_size(
        4 << 30, inst.total_memory_bytes()
    )


def test_build_command_refusals(fake: Fake) -> None:
    with pytest.raises(GraphError, match=r"must end in \.xml"):
        inst.build_command(fake.install, fake.root / "graph", [], cache_size="1G", parallelism=1)
    with pytest.raises(GraphError, match="not name=value"):
        inst.build_command(fake.install, fake.graph, ["oops"], cache_size="1G", parallelism=1)
    with pytest.raises(GraphError, match="name 'a b' is invalid"):
        inst.build_command(fake.install, fake.graph, ["a b=1"], cache_size="1G", parallelism=1)
    with pytest.raises(OptionError, match="cache size"):
        inst.build_command(fake.install, fake.graph, [], cache_size="1.5G", parallelism=1)
    with pytest.raises(OptionError, match="parallelism"):
        inst.build_command(fake.install, fake.graph, [], cache_size="1G", parallelism=0)


# --------------------------------------------------------------------------------------------
# running


def test_progress_parser_handles_split_chunks() -> None:
    seen: list[float] = []
    log = io.StringIO()
    sink = gpt_log.GptOutput(log, seen.append, offset=0.5, span=0.5)
    for chunk in (b"Executing processing graph\n...", b".1", b"0%....2", b"0%..", b"..30% do"):
        sink.feed(chunk)
    sink.feed(b"ne.\nINFO: 50% of nothing\n", final=True)
    assert seen == [0.55, 0.6, 0.65, 1.0]
    assert log.getvalue().endswith("INFO: 50% of nothing\n")


def test_run_gpt_success(fake: Fake) -> None:
    out_dir = fake.root / "out & co"  # '&' must reach the XML escaped
    out_dir.mkdir()
    output = out_dir / "result.tif"
    recorder = Recorder()
    result = run(fake, output, progress=recorder, cache_size="1G", parallelism=2)
    seen = recorder.seen
    assert recorder.tasks == [("gpt", 100.0, "%")] and recorder.closed == 1
    assert result.returncode == 0 and result.outputs == (output,)
    assert raster_summary(output).width == 16
    (record,) = fake.records()
    argv = record["argv"]
    assert argv[0] == str(fake.graph)
    assert argv[argv.index("-c") + 1] == "1G" and argv[argv.index("-q") + 1] == "2"
    assert f"-Poutput={out_dir}/result.tif".replace("&", "&amp;") in argv
    assert f"<file>{fake.input}</file>" in record["graph"]
    assert "<filter>Lee Sigma</filter>" in record["graph"]  # bare $filter substituted
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert len(seen) >= 9 and seen[-1] == 1.0
    log = (fake.root / "gpt.log").read_text()
    for part in ("# senprep: ", "Executing processing graph", "....90%", " done.", "# exit 0"):
        assert part in log
    assert "ToolAdapterIO" in log and "Processing time" in log  # stderr merged


def test_run_gpt_undecodable_output(fake: Fake) -> None:
    fake.set(mode="garbage")
    output = fake.root / "result.tif"
    result = run(fake, output)
    assert output.exists()
    log = (fake.root / "gpt.log").read_text(encoding="utf-8")
    assert "\ufffd" in log and "bad bytes" in log
    assert any("bad bytes" in w for w in result.warnings)


FAILURES: list[tuple[str, type[Exception], list[str]]] = [
    (
        "unknown_element",
        GraphError,
        [
            "SNAP 9.0.0 does not know parameter 'foo'",
            "Operator 'SpeckleFilterOp'",
            "node 'Speckle-Filter'",
            "render the graph for this version",
            "--snap-version",
        ],
    ),
    (
        "oom",
        GptMemoryError,
        ["Java heap space", "-Xmx", "bin/gpt.vmoptions", "now -Xmx4096m", "-c", "--split-graph"],
    ),
    ("killed", GptMemoryError, ["exit -9", "SIGKILL", "gpt.vmoptions", "-c", "--split-graph"]),
    ("heap_reserve", GptMemoryError, ["Could not reserve enough space", "lower it"]),
    ("no_intersection", GptOutputError, ["does not intersect", "No intersection", "--aoi"]),
    ("constant", GptOutputError, ["exit 0", "is constant", "0.25"]),
    ("nodata", GptOutputError, ["all nodata"]),
    ("no_output", GptOutputError, ["was not written"]),
    ("empty", GptOutputError, ["is empty (0 bytes)"]),
    (
        "orbit",
        GptOrbitError,
        [
            "No valid orbit file found",
            "/home/user/.snap/auxdata/Orbits/Sentinel-1/POEORB/S1A/2021/01/",
            "--orbit-file",
            ".EOF",
        ],
    ),
    ("network", GptError, ["network", "UnknownHostException", "--orbit-file", "--dem"]),
    ("fail", GptError, ["exit 1", "something broke in calibration"]),
]


@pytest.mark.parametrize(("mode", "error", "parts"), FAILURES, ids=[f[0] for f in FAILURES])
def test_run_gpt_failures(fake: Fake, mode: str, error: type[Exception], parts: list[str]) -> None:
    fake.set(mode=mode)
    output = fake.root / "result.tif"
    with pytest.raises(error) as info:
        run(fake, output, cache_size="768M")
    message = str(info.value)
    for part in [*parts, str(fake.root / "gpt.log")]:
        assert part in message, (part, message)
    assert not output.exists()
    assert not output.with_name("result.tif.aux.xml").exists()
    assert (fake.root / "gpt.log").stat().st_size > 0


def test_orbit_error_without_folder_names_the_month(fake: Fake) -> None:
    scan = gpt_log.LogScan(
        orbit="No valid orbit file found for 01-MAR-2022 05:00:00", orbit_month=(2022, 3)
    )
    error = gpt_log.failure(
        1,
        False,
        scan,
        install=fake.install,
        graph_file=fake.graph,
        log_path=fake.root / "gpt.log",
        timeout_s=None,
        cache="1G",
    )
    assert isinstance(error, GptOrbitError)
    assert ".snap/auxdata/Orbits/Sentinel-1/POEORB/<S1A|S1B|S1C>/2022/03/" in str(error)


def test_dimap_output_removed_on_failure(fake: Fake) -> None:
    fake.set(mode="fail")
    output = fake.root / "result.dim"
    with pytest.raises(GptError):
        run(fake, output)
    assert not output.exists() and not output.with_suffix(".data").exists()


def test_dimap_output_checked(fake: Fake) -> None:
    output = fake.root / "result.dim"
    run(fake, output)
    assert (output.with_suffix(".data") / "Sigma0_VV.img").exists()
    fake.set(mode="constant")
    with pytest.raises(GptOutputError, match=r"holds no information: Sigma0_VV\.img is constant"):
        run(fake, output)
    assert not output.with_suffix(".data").exists()


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return state in ("Z", "X")


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
def test_timeout_kills_the_process_group(fake: Fake) -> None:
    pid_file = fake.root / "pids.json"
    fake.set(mode="sleep", pid_file=str(pid_file))
    output = fake.root / "result.tif"
    started = time.monotonic()
    with pytest.raises(GptTimeoutError) as info:
        run(fake, output, timeout_s=2.0)
    assert time.monotonic() - started < 15
    assert "within 2 s" in str(info.value) and "--timeout" in str(info.value)
    assert str(fake.root / "gpt.log") in str(info.value)
    assert isinstance(info.value, TimeoutError)
    pids = json.loads(pid_file.read_text())
    deadline = time.monotonic() + 5
    while not all(_dead(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [p for p in pids if not _dead(p)]
    for pid in alive:  # do not leave strays behind if the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert alive == []
    assert "....10%" in (fake.root / "gpt.log").read_text()


def test_progress_callback_error_stops_gpt(fake: Fake) -> None:
    class Boom(Recorder):
        def record(self, fraction: float) -> None:
            raise KeyboardInterrupt

    output = fake.root / "result.tif"
    with pytest.raises(KeyboardInterrupt):
        run(fake, output, progress=Boom())
    assert not output.exists()


def test_missing_graph_file(fake: Fake) -> None:
    with pytest.raises(GraphError, match="graph file not found"):
        gm.run_gpt(fake.install, fake.root / "none.xml", [], log_path=fake.root / "gpt.log")


# --------------------------------------------------------------------------------------------
# split graphs


def _parts(fake: Fake) -> tuple[list[Path], list[list[str]], Path, Path]:
    part1 = fake.root / "part1.xml"
    part2 = fake.root / "part2.xml"
    part1.write_text(GRAPH)
    part2.write_text(GRAPH)
    intermediate = fake.root / "tmp_part1.dim"
    final = fake.root / "final.tif"
    params = [
        [f"input={fake.input}", f"output={intermediate}", "filter=Lee"],
        [f"input={intermediate}", f"output={final}", "filter=Lee"],
    ]
    return [part1, part2], params, intermediate, final


def test_run_graph_parts_in_order_and_cleans_intermediates(fake: Fake) -> None:
    graphs, params, intermediate, final = _parts(fake)
    recorder = Recorder()
    result = gm.run_graph_parts(
        fake.install,
        graphs,
        params,
        log_path=fake.root / "split.log",
        intermediates=[intermediate],
        expected_outputs=[final],
        cache_size="1G",
        parallelism=1,
        progress=recorder,
    )
    seen = recorder.seen
    assert [r["argv"][0] for r in fake.records()] == [str(g) for g in graphs]
    assert final.exists() and result.outputs == (final,)
    assert not intermediate.exists() and not intermediate.with_suffix(".data").exists()
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert any(0.4 < f <= 0.5 for f in seen)  # first part ends at one half
    log = (fake.root / "split.log").read_text()
    assert log.index("part 1/2: ") < log.index("part 2/2: ")
    assert log.count("Executing processing graph") == 2


def test_run_graph_parts_failure_cleans_everything(fake: Fake) -> None:
    graphs, params, intermediate, final = _parts(fake)
    fake.set(modes=["success", "fail"])
    with pytest.raises(GptError, match=r"part 2/2 \(part2.xml\): gpt failed \(exit 1\)") as info:
        gm.run_graph_parts(
            fake.install,
            graphs,
            params,
            log_path=fake.root / "split.log",
            intermediates=[intermediate],
            expected_outputs=[final],
            cache_size="1G",
            parallelism=1,
        )
    assert str(fake.root / "split.log") in str(info.value)
    assert len(fake.records()) == 2
    assert not intermediate.exists() and not intermediate.with_suffix(".data").exists()
    assert not final.exists()


def test_run_graph_parts_needs_one_parameter_set_per_part(fake: Fake) -> None:
    with pytest.raises(OptionError, match="one parameter set per part"):
        gm.run_graph_parts(
            fake.install, [fake.graph], [], log_path=fake.root / "x.log", intermediates=[]
        )


# --------------------------------------------------------------------------------------------
# orbit files


def write_eof(
    folder: Path,
    name: str = "S1A_OPER_AUX_POEORB_OPOD_20210208T121234_V20210118T225942_20210120T005942.EOF",
    mission: str = "Sentinel-1A",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    osvs = "".join(
        f"<OSV><UTC>UTC=2021-01-19T00:00:{s:02d}.000000</UTC><X>7000000.{s}</X><Y>1.0</Y>"
        f"<Z>2.0</Z><VX>1.0</VX><VY>7000.0</VY><VZ>3.0</VZ></OSV>"
        for s in range(0, 60, 10)
    )
    stem = name.split(".")[0]
    text = (
        f"<Earth_Explorer_File><Earth_Explorer_Header><Fixed_Header><File_Name>{stem}"
        f"</File_Name><Mission>{mission}</Mission><File_Type>AUX_POEORB</File_Type>"
        "<Validity_Period><Validity_Start>UTC=2021-01-18T22:59:42</Validity_Start>"
        "<Validity_Stop>UTC=2021-01-20T00:59:42</Validity_Stop></Validity_Period>"
        "</Fixed_Header></Earth_Explorer_Header><Data_Block><List_of_OSVs>"
        f"{osvs}</List_of_OSVs></Data_Block></Earth_Explorer_File>"
    )
    path = folder / name
    path.write_text(text)
    return path


def test_place_orbit_file_exact_destination(tmp_path: Path) -> None:
    eof = write_eof(tmp_path / "downloads")
    auxdata = tmp_path / "auxdata"
    dest = aux.place_orbit_file(eof, auxdata, acquisition_time=datetime(2021, 1, 19, 3, 16, 53))
    assert dest == auxdata / "Orbits/Sentinel-1/POEORB/S1A/2021/01" / eof.name
    assert dest.read_bytes() == eof.read_bytes()
    assert aux.place_orbit_file(eof, auxdata) == dest  # idempotent; middle of validity: Jan


def test_place_orbit_file_month_boundary(tmp_path: Path) -> None:
    name = "S1B_OPER_AUX_POEORB_OPOD_20210221T111142_V20210131T225942_20210202T005942.EOF"
    eof = write_eof(tmp_path / "dl", name, mission="Sentinel-1B")
    dest = aux.place_orbit_file(eof, tmp_path / "aux")
    base = tmp_path / "aux/Orbits/Sentinel-1/POEORB/S1B/2021"
    assert dest == base / "02" / name  # SNAP searches the acquisition's month: Feb 1
    assert (base / "01" / name).exists()  # and an acquisition on Jan 31 after 22:59
    on_31st = aux.place_orbit_file(
        eof, tmp_path / "aux2", acquisition_time=datetime(2021, 1, 31, 23, 30)
    )
    assert on_31st == tmp_path / "aux2/Orbits/Sentinel-1/POEORB/S1B/2021/01" / name
    assert not (tmp_path / "aux2/Orbits/Sentinel-1/POEORB/S1B/2021/02").exists()


def test_place_orbit_file_resorb_zip_and_properties(tmp_path: Path) -> None:
    name = "S1C_OPER_AUX_RESORB_OPOD_20250301T101010_V20250301T050000_20250301T081000.EOF.zip"
    src = tmp_path / name
    src.write_bytes(b"PK zipped")
    home = tmp_path / "home"
    (home / ".snap" / "etc").mkdir(parents=True)
    (home / ".snap" / "etc" / "snap.auxdata.properties").write_text(
        "# SNAP auxdata\nAuxDataPath = ${user.home}/big\\ disk/aux\n"
    )
    assert aux.snap_auxdata_dir(home) == home / "big disk" / "aux"
    dest = aux.place_orbit_file(src, home=home, check_content=False)
    assert dest == home / "big disk/aux/Orbits/Sentinel-1/RESORB/S1C/2025/03" / name


def test_place_orbit_file_orbit_path_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".snap" / "etc").mkdir(parents=True)
    (home / ".snap" / "etc" / "snap.auxdata.properties").write_text(
        "OrbitFiles.sentinel1POEOrbitPath=${AuxDataPath}/MyOrbits/POE\n"
    )
    eof = write_eof(tmp_path / "dl")
    dest = aux.place_orbit_file(eof, home=home)
    assert dest == home / ".snap/auxdata/MyOrbits/POE/S1A/2021/01" / eof.name


def test_place_orbit_file_refusals(tmp_path: Path) -> None:
    bad = tmp_path / "orbit.EOF"
    bad.write_text("<x/>")
    with pytest.raises(OrbitError, match="not a Sentinel-1 orbit file name"):
        aux.place_orbit_file(bad, tmp_path / "aux")
    eof = write_eof(tmp_path / "dl")
    with pytest.raises(OrbitError, match="does not cover the acquisition"):
        aux.place_orbit_file(eof, tmp_path / "aux", acquisition_time=datetime(2021, 3, 1))
    wrong = write_eof(
        tmp_path / "dl2",
        "S1B_OPER_AUX_POEORB_OPOD_20210208T121234_V20210118T225942_20210120T005942.EOF",
        mission="Sentinel-1A",
    )
    with pytest.raises(OrbitError, match="holds a S1A orbit but is named S1B"):
        aux.place_orbit_file(wrong, tmp_path / "aux")
    garbage = tmp_path / "g" / eof.name
    garbage.parent.mkdir()
    garbage.write_text("not xml")
    with pytest.raises(OrbitError):
        aux.place_orbit_file(garbage, tmp_path / "aux")
    assert not (tmp_path / "aux").exists()


# --------------------------------------------------------------------------------------------
# raster_summary (the output check)


def _tif(path: Path, data: np.ndarray[Any, Any], **extra: Any) -> Path:
    profile: dict[str, Any] = dict(
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=str(data.dtype),
        crs="EPSG:32633",
        transform=from_origin(0, 0, 10, 10),
        tiled=True,
        blockxsize=256,
        blockysize=256,
    )
    profile.update(extra)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


@pytest.mark.parametrize(
    ("fill", "check"),
    [
        (lambda a: a, lambda s: not s.constant and not s.all_nodata),
        (lambda a: np.full_like(a, np.nan), lambda s: s.all_nodata and s.constant),
        (lambda a: np.full_like(a, 3.0), lambda s: s.constant and s.value == 3.0),
    ],
)
def test_raster_summary(
    tmp_path: Path,
    fill: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]],
    check: Callable[[Any], bool],
) -> None:
    data = fill(np.random.default_rng(0).random((2, 300, 200)).astype("float32"))
    summary = raster_summary(_tif(tmp_path / "x.tif", data, nodata=float("nan")))
    assert (summary.width, summary.height, summary.count) == (200, 300, 2)
    assert check(summary)


def test_raster_summary_small_valid_area_not_missed(tmp_path: Path) -> None:
    data = np.zeros((1, 2048, 2048), dtype="uint16")
    data[0, 1001:1003, 1001:1003] = [[5, 6], [7, 8]]  # between the decimated samples
    summary = raster_summary(_tif(tmp_path / "x.tif", data, nodata=0), max_size=64)
    assert not summary.all_nodata and not summary.constant
