"""The mudsc command-line tool (tools/mudsc) end to end: `mudsc merge` gives
the bytes of the Python binding's merge (align and zip, with statistics
shards, from YAML, JSON and flags), every subcommand's bad inputs have their
exit code and a message naming the file / field / argument and leave no
output, the progress line in a real terminal (tmux), no control characters
on a pipe, and Ctrl-C leaves no file."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

import mudsc

BUILD = os.environ.get("MUDSC_BUILD_DIR", "build")
TOOL = os.path.join(BUILD, "tools", "mudsc")
HIDDEN = [16, 12]
D_IN, D_OUT = 8, 4

pytestmark = pytest.mark.skipif(not os.path.exists(TOOL), reason="mudsc tool not built")

# exit codes (tools/mudsc/cli.h, docs/cli.md)
USAGE, CONFIG, INPUT, FORMAT, MISMATCH, OUTPUT, CANCELLED = 2, 3, 4, 5, 6, 7, 130


def mlp(seed, widths=(D_IN, *HIDDEN, D_OUT)):
    rng = np.random.default_rng(seed)
    m = {}
    for k in range(len(widths) - 1):
        m[f"layers.{k}.weight"] = (rng.standard_normal((widths[k + 1], widths[k]))
                                   / np.sqrt(widths[k])).astype(np.float32)
        m[f"layers.{k}.bias"] = (0.1 * rng.standard_normal(widths[k + 1])).astype(np.float32)
    m["steps"] = np.array([seed], dtype=np.int64)
    return m


def features(model, x):
    h1 = x @ model["layers.0.weight"].T.astype(np.float64) + model["layers.0.bias"]
    h2 = np.maximum(h1, 0) @ model["layers.1.weight"].T.astype(np.float64) + model["layers.1.bias"]
    return {"layers.0": h1, "layers.1": h2}


@pytest.fixture
def files(tmp_path):
    """Two models, a graph file and two statistics shards in tmp_path."""
    models = [mlp(1), mlp(2)]
    for name, m in zip("ab", models):
        mudsc.Model.from_numpy(m).save(tmp_path / f"{name}.safetensors")
    g = mudsc.Graph.mlp(HIDDEN)
    g.save(tmp_path / "graph.json")
    x = np.random.default_rng(7).standard_normal((200, D_IN))
    for shard, rows in enumerate([slice(0, 120), slice(120, 200)]):
        s = mudsc.Stats(g, 2)
        for i, m in enumerate(models):
            for point, h in features(m, x[rows]).items():
                s.update(point, i, h)
        s.save(tmp_path / f"stats{shard}.safetensors")
    return tmp_path


def run(*args, cwd=None, **kw):
    return subprocess.run([os.path.abspath(TOOL), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, **kw)


def python_merge(d, method, weights=None, stats=True, **opts):
    g = mudsc.Graph.mlp(HIDDEN)
    models = [mudsc.Model.load(d / "a.safetensors"), mudsc.Model.load(d / "b.safetensors")]
    m = mudsc.Matcher(g, models, method=method, **opts)
    if stats:
        s = mudsc.Stats.load(d / "stats0.safetensors", g)
        s.merge(mudsc.Stats.load(d / "stats1.safetensors", g))
        m.set_stats(s)
    m.run()
    m.merge(weights=weights).save(d / "python.safetensors")
    return (d / "python.safetensors").read_bytes()


YAML = """\
# two MLPs merged with activations
models:
  - path: a.safetensors
    weight: 0.6
  - path: b.safetensors
    weight: 0.4
graph:
  builder: mlp
  options:
    hidden: [16, 12]
statistics:
  - stats0.safetensors
  - stats1.safetensors
method: {method}
alpha: 0.3
zip: {{r: 0.5, a: 0.5, b: 1}}
seed: 3
output: out/merged.safetensors
report: out/report.json
"""


@pytest.mark.parametrize("method", ["align", "zip", "cca"])
def test_merge_yaml_is_bit_identical_to_python(files, method):
    (files / "out").mkdir()
    text = YAML.format(method=method)
    opts = {}
    if method == "cca":
        text += "cca_ridge: 0.05\n"
        opts["cca_ridge"] = 0.05
    (files / "merge.yml").write_text(text)
    r = run("merge", "--quiet", files / "merge.yml", cwd="/")  # paths relative to the config
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    want = python_merge(files, method, weights=[0.6, 0.4], alpha=0.3, seed=3, **opts)
    assert (files / "out" / "merged.safetensors").read_bytes() == want
    rep = json.loads((files / "out" / "report.json").read_text())
    assert [p["name"] for p in rep["points"]] == ["layers.0", "layers.1"]
    assert rep["method"] == method
    assert rep["sweeps"] == 0 if method == "cca" else rep["sweeps"] >= 1  # CCA: no sweeps
    assert len(rep["objectives"]) == rep["sweeps"]
    assert rep["unbound_tensors"] == ["layers.2.bias", "steps"] or "steps" in rep["unbound_tensors"]
    assert set(rep["timings"]) >= {"load_s", "match_s", "write_s", "total_s"}


def test_merge_json_config_and_flags(files):
    cfg = {"models": ["a.safetensors", "b.safetensors"], "graph": "graph.json",
           "output": "m.safetensors", "method": "align"}
    (files / "merge.json").write_text(json.dumps(cfg))
    r = run("merge", "-q", files / "merge.json")
    assert r.returncode == 0, r.stderr
    want = python_merge(files, "align", stats=False)
    assert (files / "m.safetensors").read_bytes() == want
    # the same with flags only, and flags overriding the config (zip)
    r = run("merge", "-q", "-m", files / "a.safetensors", "-m", files / "b.safetensors",
            "-b", "mlp", "-O", "hidden=16,12", "-o", files / "f.safetensors")
    assert r.returncode == 0, r.stderr
    assert (files / "f.safetensors").read_bytes() == want
    r = run("merge", "-q", files / "merge.json", "--method", "zip", "-o", files / "z.safetensors",
            "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "zip"
    assert (files / "z.safetensors").read_bytes() == python_merge(files, "zip", stats=False)


def test_merge_sweep_order(files):
    # --sweep-order / sweep_order: the bytes of the binding's merge with the
    # same option; a bad value is refused naming the choices
    r = run("merge", "-q", "-m", files / "a.safetensors", "-m", files / "b.safetensors",
            "-b", "mlp", "-O", "hidden=16,12", "-o", files / "g.safetensors",
            "--sweep-order", "graph_first", "--seed", "2", "--json")
    assert r.returncode == 0, r.stderr
    assert (files / "g.safetensors").read_bytes() == python_merge(
        files, "align", stats=False, seed=2, sweep_order="graph_first")
    objectives = {}
    for order in ("graph_first", "random"):
        m = mudsc.Matcher(mudsc.Graph.mlp(HIDDEN), [mudsc.Model.load(files / f"{x}.safetensors")
                                                    for x in "ab"], seed=2, sweep_order=order)
        m.run()
        objectives[order] = m.objectives
    assert json.loads(r.stdout)["objectives"] == pytest.approx(objectives["graph_first"],
                                                              rel=1e-12)
    assert objectives["graph_first"][0] != objectives["random"][0]
    r = run("merge", "-q", "-m", files / "a.safetensors", "-m", files / "b.safetensors",
            "-b", "mlp", "-O", "hidden=16,12", "-o", files / "h.safetensors",
            "--sweep-order", "network")
    assert r.returncode != 0 and "random or graph_first" in r.stderr, r.stderr
    assert not (files / "h.safetensors").exists()


def assert_fails(r, code, *subs):
    assert r.returncode == code, (r.returncode, r.stderr)
    for s in subs:
        assert s in r.stderr, (s, r.stderr)
    assert "hint:" in r.stderr or code == USAGE


def listing(d):
    return sorted(p.name for p in d.iterdir())


def test_merge_bad_inputs(files):
    before = listing(files)
    cfg = files / "c.yml"

    def merge_cfg(text, *extra):
        cfg.write_text(text)
        return run("merge", "-q", cfg, *extra)

    base = "models: [a.safetensors, b.safetensors]\ngraph: graph.json\noutput: o.safetensors\n"
    # bad YAML: line and column
    assert_fails(merge_cfg("models: [a.safetensors\ngraph: x\n"), CONFIG, "c.yml:")
    r = merge_cfg("models:\n  - a.safetensors\n - b.safetensors\n")
    assert_fails(r, CONFIG, "c.yml:3:2:")
    # unknown field, bad value, with line
    assert_fails(merge_cfg(base + "alpah: 0.5\n"), CONFIG, "c.yml:4:1", "unknown field 'alpah'")
    assert_fails(merge_cfg(base + "alpha: 2\n"), CONFIG, "c.yml:4:8", "'alpha'", "[0, 1]")
    assert_fails(merge_cfg(base + "method: [align]\n"), CONFIG, "field 'method'")
    assert_fails(merge_cfg(base + "method: pca\n"), CONFIG, "'method'", "align, zip or cca")
    assert_fails(merge_cfg(base + "method: cca\n"), CONFIG, "method cca needs activation statistics")
    assert_fails(merge_cfg(base + "cca_ridge: -1\n"), CONFIG, "'cca_ridge'", ">= 0")
    assert_fails(merge_cfg("models: [a.safetensors]\ngraph: graph.json\noutput: o.safetensors\n"),
                 CONFIG, "1 model given")
    # missing model file, missing graph, wrong graph, mismatched models
    assert_fails(merge_cfg(base.replace("b.safetensors", "nope.safetensors")), INPUT,
                 "model 1", "nope.safetensors")
    assert_fails(merge_cfg(base.replace("graph.json", "nope.json")), INPUT, "nope.json")
    (files / "bad.json").write_text('{"points": [}')
    assert_fails(merge_cfg(base.replace("graph.json", "bad.json")), FORMAT, "bad.json")
    mudsc.Graph.mlp([16, 13]).save(files / "wrong.json")
    assert_fails(merge_cfg(base.replace("graph.json", "wrong.json")), MISMATCH, "graph")
    mudsc.Model.from_numpy(mlp(3, (D_IN, 16, 13, D_OUT))).save(files / "c.safetensors")
    assert_fails(merge_cfg(base.replace("b.safetensors", "c.safetensors")), MISMATCH, "model 1")
    assert_fails(merge_cfg(base + "graph: {builder: mlp}\n"), CONFIG,
                 "c.yml:4:1", "field 'graph' given twice (first at line 2)")
    assert_fails(merge_cfg(base.replace("graph: graph.json",
                                        "graph: {builder: mlp, options: {hiden: [16, 12]}}")),
                 CONFIG, "c.yml:2:", "'hiden'")
    # statistics of another graph
    g2 = mudsc.Graph.mlp([16, 13])
    s = mudsc.Stats(g2, 2)
    for i in range(2):
        s.update(0, i, np.ones((3, 16)) * np.arange(16) * (i + 1))
        s.update(1, i, np.ones((3, 13)) * np.arange(13) * (i + 2))
    s.save(files / "other.stats")
    assert_fails(merge_cfg(base + "statistics: other.stats\n"), MISMATCH, "other.stats")
    assert_fails(merge_cfg(base + "statistics: a.safetensors\n"), FORMAT, "a.safetensors")
    # unwritable output: the folder is missing / not writable
    assert_fails(merge_cfg(base.replace("o.safetensors", "no/such/o.safetensors")), OUTPUT,
                 "no/such")
    # an output the library cannot create after the matching ran (even as root): no file
    assert_fails(merge_cfg(base, "-o", "/proc/mudsc-test.safetensors"), OUTPUT,
                 "/proc/mudsc-test.safetensors", "MUDSC_E_IO")
    assert not os.path.exists("/proc/mudsc-test.safetensors")
    # usage errors
    assert_fails(run("merge", "--bogus"), USAGE, "--bogus")
    assert_fails(run("merge", cfg, "--alpha"), USAGE, "needs a value")
    assert_fails(run("merge", cfg, "--alpha", "x"), USAGE, "flag --alpha", "'x'")
    assert_fails(run("merge", files / "missing.yml"), INPUT, "missing.yml")
    assert_fails(run("frobnicate"), USAGE, "unknown command 'frobnicate'")
    assert_fails(run("average"), USAGE, "0 models")  # average and distance have landed
    assert_fails(run("distance", "a", "b"), INPUT, "'a'")
    assert listing(files) == sorted(before + ["bad.json", "c.safetensors", "c.yml", "other.stats",
                                              "wrong.json"])


def test_unwritable_output_folder(files):
    if os.geteuid() == 0:
        pytest.skip("root writes everywhere")
    ro = files / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = run("merge", "-q", "-m", files / "a.safetensors", "-m", files / "b.safetensors",
                "-g", files / "graph.json", "-o", ro / "o.safetensors")
        assert_fails(r, OUTPUT, "cannot be written")
        assert listing(ro) == []
    finally:
        ro.chmod(0o755)


def test_inspect(files):
    r = run("inspect", files / "a.safetensors", files / "graph.json", files / "stats0.safetensors")
    assert r.returncode == 0, r.stderr
    assert "layers.0.weight" in r.stdout and "F32" in r.stdout and "[16, 8]" in r.stdout
    assert "graph, 2 points" in r.stdout and "width     16" in r.stdout
    assert "observations 120" in r.stdout
    r = run("inspect", "--json", "-g", files / "graph.json", files / "a.safetensors",
            files / "b.safetensors")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["graph_check"]["valid"]
    assert sorted(out["graph_check"]["unbound_tensors"][str(files / "a.safetensors")]) == \
        ["layers.2.bias", "steps"]
    mudsc.Graph.mlp([16, 13]).save(files / "wrong.json")
    assert_fails(run("inspect", "-g", files / "wrong.json", files / "a.safetensors"), MISMATCH,
                 "layers.1")
    assert_fails(run("inspect", files / "none.safetensors"), INPUT, "none.safetensors")
    (files / "junk.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    assert_fails(run("inspect", files / "junk.safetensors"), FORMAT, "junk.safetensors")
    assert_fails(run("inspect"), USAGE, "no file")


def test_graph(files):
    r = run("graph", "mlp", "hidden=16,12")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(mudsc.Graph.mlp(HIDDEN).to_json())
    r = run("graph", "resnet", "preset=resnet20", "width_multiplier=2", "-o", files / "r.json")
    assert r.returncode == 0, r.stderr
    want = mudsc.Graph.resnet(preset="resnet20", width_multiplier=2).to_json()
    assert (files / "r.json").read_text() == want
    assert_fails(run("graph", "mlp"), CONFIG, "needs the option 'hidden'")
    assert_fails(run("graph", "mlp", "hidden=a,b"), CONFIG, "'hidden'", "'a,b'")
    assert_fails(run("graph", "mlp", "hidden=4", "colour=red"), CONFIG, "no option 'colour'")
    assert_fails(run("graph", "lstm"), CONFIG, "unknown graph builder 'lstm'")
    assert_fails(run("graph", "resnet", "preset=resnet7"), CONFIG, "resnet7")
    assert_fails(run("graph", "mlp", "hidden=4", "-o", files / "no" / "g.json"), OUTPUT, "no/g.json")
    assert not (files / "no").exists()


def test_stats(files):
    r = run("stats", "merge", "-o", files / "all.stats", files / "stats0.safetensors",
            files / "stats1.safetensors", "-q")
    assert r.returncode == 0, r.stderr
    g = mudsc.Graph.mlp(HIDDEN)
    s = mudsc.Stats.load(files / "stats0.safetensors", g)
    s.merge(mudsc.Stats.load(files / "stats1.safetensors", g))
    assert (files / "all.stats").read_bytes() == s.to_bytes()
    r = run("stats", "info", "--json", files / "all.stats")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)[0]
    assert info["n_models"] == 2 and [p["count"] for p in info["points"]] == [200, 200]
    s2 = mudsc.Stats(mudsc.Graph.mlp([16, 13]), 2)
    for i in range(2):
        s2.update(0, i, np.ones((3, 16)) * np.arange(16) * (i + 1))
        s2.update(1, i, np.ones((3, 13)) * np.arange(13) * (i + 2))
    s2.save(files / "other.stats")
    assert_fails(run("stats", "merge", "-o", files / "x.stats", files / "stats0.safetensors",
                     files / "other.stats"), MISMATCH, "other.stats")
    assert_fails(run("stats", "merge", "-o", "/proc/mudsc-test.stats", files / "stats0.safetensors"),
                 OUTPUT, "/proc/mudsc-test.stats")
    assert_fails(run("stats", "info", files / "a.safetensors"), FORMAT, "not a statistics file")
    assert_fails(run("stats", "info", files / "gone.stats"), INPUT, "gone.stats")
    assert_fails(run("stats", "merge", files / "stats0.safetensors"), USAGE, "-o OUT")
    assert_fails(run("stats", "split"), USAGE, "unknown stats command 'split'")
    assert not (files / "x.stats").exists()


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and "merge" in r.stdout and "Exit codes" in r.stdout
    for cmd in ["merge", "inspect", "graph", "stats", "average", "distance"]:
        r = run(cmd, "--help")
        assert r.returncode == 0 and r.stdout.startswith("Usage: mudsc " + cmd), cmd
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("mudsc " + mudsc.version())


def big_pair(d, width=384):
    """Models wide enough that matching takes a visible while."""
    for name, seed in [("a", 1), ("b", 2)]:
        mudsc.Model.from_numpy(mlp(seed, (64, width, width, width, 10))).save(d / f"{name}.safetensors")
    return ["-m", d / "a.safetensors", "-m", d / "b.safetensors", "-b", "mlp",
            "-O", f"hidden={width},{width},{width}"]


def test_progress_on_a_pipe_has_no_control_characters(files):
    r = run("merge", *big_pair(files, 64), "-o", files / "o.safetensors")
    assert r.returncode == 0, r.stderr
    assert "sweep 1/100: objective" in r.stderr and "wrote" in r.stderr
    assert not any(ord(c) < 32 and c != "\n" for c in r.stderr), repr(r.stderr)


def tmux(*args):
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30)


class Pane:
    """A command in a detached tmux terminal (150 x 50, TERM=xterm); the shell
    around it survives Ctrl-C (trap) to print the command's exit status."""

    def __init__(self, command):
        self.sock = f"mudsc-test-{os.getpid()}-{id(self)}"
        # A history long enough that no line scrolls away: a sweep can take
        # under a millisecond, so thousands of lasting lines pass between polls.
        tmux("-L", self.sock, "-f", "/dev/null", "start-server", ";",
             "set-option", "-g", "history-limit", "10000000", ";",
             "new-session", "-d", "-x", "150", "-y", "50", "-s", "t",
             f"env TERM=xterm sh -c 'trap : INT; {command}; echo EXIT=$?; sleep 60'")

    def text(self):
        """Everything the terminal showed, the scrolled-away history included."""
        return tmux("-L", self.sock, "capture-pane", "-p", "-S", "-", "-t", "t").stdout

    def wait_for(self, pred, timeout=300):  # generous: CI machines are busy
        deadline = time.time() + timeout
        while time.time() < deadline:
            pane = self.text()
            if pred(pane):
                return pane
            time.sleep(0.05)
        raise AssertionError("timed out; the pane:\n" + self.text())

    def keys(self, *k):
        tmux("-L", self.sock, "send-keys", "-t", "t", *k)

    def close(self):
        tmux("-L", self.sock, "kill-server")


def lines(pane):
    return [ln for ln in pane.splitlines() if ln.strip()]


LIVE = re.compile(r"^sweep \d+/100000: point [1-3]/3 layers\.[0-2], score -?\d\.\d{6}$")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="no tmux")
def test_progress_live_line_in_a_terminal_and_ctrl_c(files):
    # wide enough that a poll often lands inside a sweep, where the live line shows
    flags = " ".join(map(str, big_pair(files, 384)))
    out = files / "o.safetensors"
    # a run that does not stop by itself: the live line, then Ctrl-C from the keyboard
    pane = Pane(f"{os.path.abspath(TOOL)} merge {flags} -o {out} --sweeps 100000 "
                "--patience 100000")
    try:
        # The live line of a later sweep, under sweep 1's lasting line (waiting
        # for both: on a loaded machine sweep 1 can take longer than a poll).
        text = pane.wait_for(lambda t: "sweep 1/100000: objective" in t
                             and any(LIVE.match(ln) for ln in lines(t)))
        live = [ln for ln in lines(text) if LIVE.match(ln)]
        assert len(live) == 1 and lines(text)[-1] == live[0], text  # one line, at the bottom
        pane.keys("C-c")
        text = pane.wait_for(lambda t: "EXIT=" in t)
        final = lines(text)
        assert final[-1] == "EXIT=130", text
        assert final[-2].startswith("mudsc merge: error: interrupted: nothing was written"), text
        assert not any(LIVE.match(ln) for ln in final), text  # the live line was erased
        assert not out.exists() and not [n for n in listing(files) if n.startswith(".")]
    finally:
        pane.close()
    # a run to its end: lasting lines only, the live line gone
    pane = Pane(f"{os.path.abspath(TOOL)} merge {flags} -o {out} --sweeps 3")
    try:
        final = lines(pane.wait_for(lambda t: "EXIT=" in t))
        assert final[-1] == "EXIT=0" and final[-2].startswith(f"wrote {out} (3 sweeps"), final
        assert [ln.split(":")[0] for ln in final if ln.startswith("sweep")] == \
            ["sweep 1/3", "sweep 2/3", "sweep 3/3"], final
        assert not any("point " in ln and "score" in ln for ln in final), final
        assert out.exists()
    finally:
        pane.close()


def test_ctrl_c_leaves_no_file(files):
    args = big_pair(files, 512)
    out = files / "o.safetensors"
    p = subprocess.Popen([TOOL, "merge", *map(str, args), "-o", str(out), "--sweeps", "100000",
                          "--patience", "100000"], stderr=subprocess.PIPE, text=True)
    # wait for the first sweep, then interrupt
    line = ""
    deadline = time.time() + 60
    while "matching" not in line and time.time() < deadline:
        line = p.stderr.readline()
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    err = p.stderr.read()
    assert p.wait(timeout=60) == CANCELLED, err
    assert "interrupted: nothing was written" in err
    assert not out.exists()
    assert not [n for n in listing(files) if n.startswith(".")]


# ---- mudsc average (issue 17) and mudsc distance (issue 16) ----

def tensors(model):
    """name -> (dtype, shape, bytes) of every tensor of a Model."""
    return {n: (np.asarray(model[n]).dtype, np.asarray(model[n]).shape, model.bits(n).tobytes())
            for n in model.names()}


def three_models(d):
    paths = []
    for i, seed in enumerate([1, 2, 3]):
        p = d / f"m{i}.safetensors"
        mudsc.Model.from_numpy(mlp(seed)).save(p)
        paths.append(p)
    return paths


@pytest.mark.parametrize("weights", [None, [0.25, 0.75], [0.5, 0.2, 0.3], [1.5, -0.25, -0.25]])
def test_average_is_bit_identical_to_python(files, weights):
    paths = three_models(files)[:2 if weights is None or len(weights) == 2 else 3]
    args = [a for p in paths for a in ("-m", p)]
    if weights is not None:
        args += ["-w", ",".join(repr(w) for w in weights)]
    out = files / "avg.safetensors"
    r = run("average", "-q", *args, "-o", out)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and r.stdout == ""
    want = mudsc.average([mudsc.Model.load(p) for p in paths], weights=weights)
    got = mudsc.Model.load(out)
    assert tensors(got) == tensors(want)
    assert np.asarray(got["steps"]).tolist() == [1]  # non-float tensors from model 0


def test_average_weights_repeated_flags_and_threads(files):
    paths = three_models(files)
    out = files / "avg.safetensors"
    r = run("average", "-q", "-m", paths[0], "-m", paths[1], "-m", paths[2],
            "-w", "0.5", "-w", "0.2,0.3", "--threads", "2", "-o", out)
    assert r.returncode == 0, r.stderr
    want = mudsc.average([mudsc.Model.load(p) for p in paths], weights=[0.5, 0.2, 0.3])
    assert tensors(mudsc.Model.load(out)) == tensors(want)


@pytest.mark.parametrize("weights", [None, [0.6, 0.4], [0.2, 0.3, 0.5]])
def test_aligned_average_is_bit_identical_to_python(files, weights):
    paths = three_models(files)[:3 if weights is not None and len(weights) == 3 else 2]
    args = [a for p in paths for a in ("-m", p)]
    if weights is not None:
        args += ["--weights=" + ",".join(map(str, weights))]
    want = mudsc.average([mudsc.Model.load(p) for p in paths], weights=weights,
                         align=mudsc.Graph.mlp(HIDDEN))
    plain = mudsc.average([mudsc.Model.load(p) for p in paths], weights=weights)
    assert tensors(want) != tensors(plain)  # the alignment changes something
    for graph in [["-g", files / "graph.json"], ["-b", "mlp", "-O", "hidden=16,12"]]:
        out = files / "aligned.safetensors"
        r = run("average", "-q", "--align", *graph, *args, "-o", out)
        assert r.returncode == 0, r.stderr
        assert tensors(mudsc.Model.load(out)) == tensors(want)
        out.unlink()
    r = run("average", "--align", "-g", files / "graph.json", *args, "-o", out)
    assert r.returncode == 0 and "aligning" in r.stderr and "wrote" in r.stderr, r.stderr


def test_average_bad_inputs(files):
    a, b = files / "a.safetensors", files / "b.safetensors"
    out = files / "x.safetensors"
    before = listing(files)
    other = mlp(5, widths=(D_IN, 16, 10, D_OUT))
    mudsc.Model.from_numpy(other).save(files / "other.safetensors")
    fewer = mlp(6)
    del fewer["layers.2.bias"]
    mudsc.Model.from_numpy(fewer).save(files / "fewer.safetensors")
    (files / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    before = listing(files)
    assert_fails(run("average", "-m", a, "-m", files / "other.safetensors", "-o", out),
                 MISMATCH, "layers.1.weight")
    assert_fails(run("average", "-m", a, "-m", files / "fewer.safetensors", "-o", out), MISMATCH)
    assert_fails(run("average", "--align", "-g", files / "graph.json", "-m", a,
                     "-m", files / "other.safetensors", "-o", out), MISMATCH)
    assert_fails(run("average", "-m", a, "-m", files / "gone.safetensors", "-o", out),
                 INPUT, "gone.safetensors")
    assert_fails(run("average", "-m", a, "-m", files / "junk.safetensors", "-o", out),
                 FORMAT, "junk.safetensors")
    assert_fails(run("average", "-m", a, "-m", b, "-w", "0.5,0.6", "-o", out), CONFIG, "weights")
    assert_fails(run("average", "-m", a, "-m", b, "-w", "0.5", "-o", out), USAGE, "1 weights for 2")
    assert_fails(run("average", "-m", a, "-m", b, "-w", "x", "-o", out), USAGE, "'x'")
    assert_fails(run("average", "-m", a, "-m", b), USAGE, "-o OUT")
    assert_fails(run("average", "-o", out), USAGE, "0 models")
    assert_fails(run("average", "--align", "-m", a, "-m", b, "-o", out), USAGE, "graph")
    assert_fails(run("average", "-g", files / "graph.json", "-m", a, "-m", b, "-o", out),
                 USAGE, "--align")
    assert_fails(run("average", "--align", "-m", a, "-o", out, "-g", files / "graph.json"),
                 USAGE, "1 model")
    assert_fails(run("average", "--align", "-g", files / "gone.json", "-m", a, "-m", b,
                     "-o", out), INPUT, "gone.json")
    assert_fails(run("average", "--bogus"), USAGE, "--bogus")
    assert_fails(run("average", "-m", a, "-m", b, "-o", files / "no" / "x.safetensors"),
                 OUTPUT, "does not exist")
    assert_fails(run("average", "-m", a, "-m", b, "-o", "/proc/mudsc-avg.safetensors"), OUTPUT)
    assert listing(files) == before


def field_shards(d, n=3, dim=6, steps=4, rule=None, seed=0, sizes=(5, 3, 4)):
    """Field shards of n linear-ish 'models' (random gradients), saved; the
    Python fields are returned too."""
    rng = np.random.default_rng(seed)
    fields, paths = [], []
    for s, b in enumerate(sizes):
        f = mudsc.Field(n, dim, steps=steps, **({} if rule is None else {"rule": rule}))
        f.begin(rng.standard_normal((b, dim)))
        for k in range(steps):
            for i in range(n):
                f.update(i, rng.standard_normal((b, dim)).astype(np.float32))
        p = d / f"field{seed}.{s}.gif"
        f.save(p)
        fields.append(f)
        paths.append(p)
    return fields, paths


def test_distance_equals_python_field(files):
    _, paths = field_shards(files)
    want = mudsc.Field.load(paths[0])
    for p in paths[1:]:
        want.merge(mudsc.Field.load(p))
    w = want.distances()
    r = run("distance", "--json", *paths)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert np.array(got["distances"]).tobytes() == w.tobytes()  # bit for bit
    assert got["n_models"] == 3 and got["input_size"] == 6 and got["steps"] == 4
    assert got["inputs"] == 12 and got["rule"] == "gauss-legendre"
    assert got["shards"] == [str(p) for p in paths]
    # the table
    r = run("distance", *paths)
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    assert "3 models" in rows[0] and "12 inputs" in rows[0] and "3 shards" in rows[0]
    table = np.array([[float(v) for v in row.split()[1:]] for row in rows[2:]])
    assert np.allclose(table, w, atol=1e-6, rtol=0)
    # -o FILE: JSON or CSV, atomically; one shard alone
    r = run("distance", "-q", "-o", files / "d.json", *paths)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert np.array(json.loads((files / "d.json").read_text())["distances"]).tobytes() == w.tobytes()
    r = run("distance", "-q", "-o", files / "d.csv", *paths)
    assert r.returncode == 0, r.stderr
    csv = np.array([[float(v) for v in line.split(",")]
                    for line in (files / "d.csv").read_text().splitlines()])
    assert csv.tobytes() == w.tobytes()
    r = run("distance", "-q", "--format", "csv", "-o", files / "d.txt", paths[0])
    assert r.returncode == 0, r.stderr
    one = np.array([[float(v) for v in line.split(",")]
                    for line in (files / "d.txt").read_text().splitlines()])
    assert one.tobytes() == mudsc.Field.load(paths[0]).distances().tobytes()


def test_distance_bad_shards(files):
    _, paths = field_shards(files)
    _, other_n = field_shards(files, n=4, seed=1, sizes=(2,))
    _, other_d = field_shards(files, dim=5, seed=2, sizes=(2,))
    _, other_rule = field_shards(files, rule="riemann-left", seed=3, sizes=(2,))
    corrupt = files / "corrupt.gif"
    data = bytearray(paths[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    (files / "short.gif").write_bytes(paths[0].read_bytes()[:20])
    out = files / "d.json"
    before = listing(files)
    assert_fails(run("distance", "-o", out, paths[0], files / "gone.gif"), INPUT, "gone.gif")
    assert_fails(run("distance", "-o", out, paths[0], corrupt), FORMAT, "corrupt.gif")
    assert_fails(run("distance", "-o", out, files / "short.gif"), FORMAT, "short.gif")
    assert_fails(run("distance", "-o", out, files / "a.safetensors"), FORMAT, "a.safetensors")
    for bad in (other_n, other_d, other_rule):
        r = run("distance", "-o", out, paths[0], paths[1], bad[0])
        assert_fails(r, MISMATCH, str(bad[0]))
    assert_fails(run("distance"), USAGE, "no field shards")
    assert_fails(run("distance", "--format", "xml", "-o", out, paths[0]), USAGE, "xml")
    assert_fails(run("distance", "--bogus", paths[0]), USAGE, "--bogus")
    assert_fails(run("distance", "-o", files / "no" / "d.json", paths[0]), OUTPUT, "d.json")
    r = run("distance", "--json", paths[0], files / "gone.gif")
    assert r.returncode == INPUT and r.stdout == ""
    assert listing(files) == before


def test_average_and_distance_help():
    r = run("--help")
    assert "average" in r.stdout and "distance" in r.stdout
    for cmd in ["average", "distance"]:
        r = run(cmd, "--help")
        assert r.returncode == 0 and r.stdout.startswith("Usage: mudsc " + cmd), cmd
