#!/usr/bin/env python3
"""The main job's files through the `mudsc` tool: run the example (--quick
by default) with --export DIR, then `mudsc merge DIR/merge.yml`, and check
that the tool's merged model is byte for byte the example's own merge with
the same settings (MuDSC align at the alpha the example chose), and that the
report names the points and the sweeps.

Usage: check_cli.py FASHION_MNIST MUDSC [--full]
"""
import json
import os
import subprocess
import sys
import tempfile

example, tool = sys.argv[1], sys.argv[2]
quick = [] if "--full" in sys.argv[3:] else ["--quick"]
env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
with tempfile.TemporaryDirectory() as d:
    subprocess.run([example, *quick, "--export", d], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    r = subprocess.run([tool, "merge", os.path.join(d, "merge.yml")], env=env,
                       capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        sys.exit(f"mudsc merge exited with {r.returncode}")
    with open(os.path.join(d, "merged_cli.safetensors"), "rb") as f:
        cli = f.read()
    with open(os.path.join(d, "merged_example.safetensors"), "rb") as f:
        own = f.read()
    if cli != own:
        sys.exit("the tool's merge differs from the example's own merge")
    with open(os.path.join(d, "report.json")) as f:
        report = json.load(f)
    assert [p["name"] for p in report["points"]] == ["layers.0", "layers.1", "layers.2"], report
    assert report["sweeps"] >= 1 and len(report["objectives"]) == report["sweeps"], report
    print(f"mudsc merge {d}/merge.yml: {len(cli)} bytes, identical to the example's merge; "
          f"{report['sweeps']} sweeps")
