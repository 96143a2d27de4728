#!/usr/bin/env python3
"""A Llama-shaped pair merged by weight matching: time and peak RSS.

Two random Llama-style checkpoints (Hugging Face names, float16
safetensors written tensor by tensor, never held whole in memory) of the
shape of one slice of a 7B model: d = 4096, MLP 11008, 32 heads (no GQA),
vocabulary 32000, `--layers` decoder layers (default 2).  A child process
maps both (mudsc_model_load), builds mudsc_graph_build_llama's graph,
matches by weight matching (align, the library's defaults but
`--max-iter` sweeps, no memory budget) and writes the merged model: streamed
(Matcher.merge_to_file, mudsc_matcher_merge_to_file) when the library has
it, else merged in memory and saved (mudsc_model_save; also with
--in-memory).  The child reports its phases' wall seconds, its peak RSS
(getrusage) and the library's own figure for run (the message of a
matcher refused with a 1-byte budget).  The
figure to compare: 1.2 x (both models' bytes + the largest point's
similarity), the bound of issue 13, with the similarity as align holds it
since algorithm.md section 25: the (N-1) C^2 doubles of the anchor blocks
("bound_bytes"); the bound with a dense NC x NC similarity, as this bench
stated it before, is printed beside it ("bound_dense_bytes").  The files live in
--dir (default a fresh folder under /tmp) and are deleted at the end
unless --keep.

The models are independent random draws, not permuted copies: weight
matching does the same work on them.  Run it niced; the load average is
printed with the figures (RSS does not depend on the load, times do).
With --timeline FILE the parent samples the child's VmRSS and VmHWM every
0.2 s into FILE and the child adds the library's log lines (sweeps) and
the bench's phases with their time and VmRSS, so the peak can be placed.
The full slice peaked at 3.80 GB (its bound 4.36 GB; CHANGELOG.md issue
13, mem13b) since the blocks of columns and rows of algorithm.md section
25, in ~280 CPU s a sweep; meson's benchmark
`llama-slice` runs it at half the widths:

    MUDSC_LIBRARY=build/lib/libmudsc.so.0 nice -n 10 /usr/bin/python3 \\
        bench/bench_llama_slice.py [--layers 2] [--max-iter 1] [--reps 1] [--timeline F]
"""
import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))


def llama_tensors(d, layers, mlp, vocab, tied=False):
    """(name, shape) of a LlamaForCausalLM checkpoint, no GQA."""
    out = [("model.embed_tokens.weight", (vocab, d))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (d,))]
        out += [(p + f"self_attn.{x}_proj.weight", (d, d)) for x in "qkvo"]
        out += [(p + "post_attention_layernorm.weight", (d,)),
                (p + "mlp.gate_proj.weight", (mlp, d)), (p + "mlp.up_proj.weight", (mlp, d)),
                (p + "mlp.down_proj.weight", (d, mlp))]
    out += [("model.norm.weight", (d,))]
    if not tied:
        out += [("lm_head.weight", (vocab, d))]
    return out


def write_random_safetensors(path, tensors, seed, chunk=1 << 24):
    """A float16 safetensors file of random N(0, 0.02^2) tensors (norm
    weights near 1), written in chunks of `chunk` elements."""
    header, offset = {}, 0
    for name, shape in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape in tensors:
            left = int(np.prod(shape))
            while left:
                k = min(left, chunk)
                x = rng.standard_normal(k, dtype=np.float32)
                x = 1.0 + 0.1 * x if len(shape) == 1 else 0.02 * x
                f.write(x.astype(np.float16).tobytes())
                left -= k
    return offset + 8 + len(raw)


def vm_status(pid="self"):
    """VmRSS and VmHWM of a process in bytes (Linux /proc), or None."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) * 1024
    except OSError:
        return None
    return out


def child(args):
    """The measured process: map, match, merge, save."""
    import mudsc
    if args.timeline:  # the library's log lines, with the time and VmRSS, as phase marks
        t_start = time.perf_counter()

        def mark(level, message):
            v = vm_status() or {}
            print(f"MARK {time.perf_counter() - t_start:.2f} {v.get('VmRSS', 0)} "
                  f"{v.get('VmHWM', 0)} {message}", file=sys.stderr, flush=True)
        mudsc.set_log_callback(mark, "debug")
    else:
        def mark(level, message):
            pass
    t = {"rss_after_import_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    t0 = time.perf_counter()
    a = mudsc.Model.load(args.a)
    b = mudsc.Model.load(args.b)
    t["load_s"] = time.perf_counter() - t0
    mark("bench", "phase: models mapped")
    g = mudsc.Graph.llama(args.dim, args.layers, args.heads, args.mlp)
    # the library's own figure for run (mudsc_matcher_new refuses a budget of
    # 1 byte with a message naming what run would allocate)
    try:
        mudsc.Matcher(g, [a, b], method="align", max_memory=1).close()
    except mudsc.MudscError as e:
        t["library_run_estimate"] = str(e)
    t1 = time.perf_counter()
    m = mudsc.Matcher(g, [a, b], method="align", max_memory=0, threads=args.threads,
                      max_iter=args.max_iter or None)
    t["matcher_new_s"] = time.perf_counter() - t1
    mark("bench", "phase: matcher made, run starts")
    t1 = time.perf_counter()
    m.run()
    mark("bench", "phase: run done")
    t["run_s"] = time.perf_counter() - t1
    t["sweeps"] = m.sweeps
    ru = resource.getrusage(resource.RUSAGE_SELF)
    t["rss_after_run_bytes"] = ru.ru_maxrss * 1024
    t["cpu_s_after_run"] = ru.ru_utime + ru.ru_stime
    print(json.dumps(t), file=sys.stderr, flush=True)
    t1 = time.perf_counter()
    if hasattr(m, "merge_to_file") and not args.in_memory:
        # streamed output (issue 13): written tensor by tensor
        t["output"] = "streamed"
        m.merge_to_file(args.out)
        t["merge_s"] = time.perf_counter() - t1
        t["save_s"] = 0.0
    else:
        t["output"] = "in memory + save"
        merged = m.merge()
        t["merge_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        merged.save(args.out)
        t["save_s"] = time.perf_counter() - t1
    mark("bench", "phase: output written")
    t["total_s"] = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    t["peak_rss_bytes"] = ru.ru_maxrss * 1024
    t["cpu_s"] = ru.ru_utime + ru.ru_stime
    print(json.dumps(t))


def run_sampled(cmd, timeline):
    """subprocess.run(cmd), and with `timeline` (a file name) the child's
    VmRSS / VmHWM sampled every 0.2 s into that file (seconds, bytes,
    bytes), with the child's MARK lines (its log) between the samples."""
    if not timeline:
        return subprocess.run(cmd, capture_output=True, text=True)
    err = tempfile.TemporaryFile(mode="w+")
    out = tempfile.TemporaryFile(mode="w+")
    p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
    t0 = time.perf_counter()
    with open(timeline, "a") as f:  # written as it goes: a stopped run keeps its samples
        f.write("# seconds VmRSS VmHWM (samples) / MARK seconds VmRSS VmHWM message\n")
        while p.poll() is None:
            v = vm_status(p.pid)
            if v:
                f.write(f"{time.perf_counter() - t0:.2f} {v.get('VmRSS', 0)} "
                        f"{v.get('VmHWM', 0)}\n")
                f.flush()
            time.sleep(0.2)
        err.seek(0)
        stderr = err.read()
        f.write("\n".join(l for l in stderr.splitlines() if l.startswith("MARK")) + "\n")
    out.seek(0)
    return subprocess.CompletedProcess(cmd, p.returncode, out.read(), stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--mlp", type=int, default=11008)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--max-iter", type=int, default=0,
                    help="most sweeps (0: the library's default, 100 with patience 5)")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--in-memory", action="store_true",
                    help="merge in memory and save even when merge_to_file exists")
    ap.add_argument("--timeline", nargs="?", const=True, default=None,
                    help="append the child's VmRSS/VmHWM every 0.2 s and its log lines "
                         "(phase marks) to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--a"), ap.add_argument("--b"), ap.add_argument("--out")
    args = ap.parse_args()
    if args.child:
        return child(args)

    folder = args.dir or tempfile.mkdtemp(prefix="mudsc-llama-slice-", dir="/tmp")
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"{x}.safetensors") for x in ("a", "b", "merged")]
    try:
        tensors = llama_tensors(args.dim, args.layers, args.mlp, args.vocab)
        t0 = time.perf_counter()
        sizes = [write_random_safetensors(p, tensors, seed)
                 for p, seed in zip(paths[:2], (1, 2))]
        gen_s = time.perf_counter() - t0
        N, C = 2, max(args.dim, args.mlp)
        similarity = (N - 1) * C * C * 8  # align's anchor blocks (section 25)
        bound = 1.2 * (sum(sizes) + similarity)
        bound_dense = 1.2 * (sum(sizes) + (N * C) ** 2 * 8)
        runs = []
        for _ in range(args.reps):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--a", paths[0],
                   "--b", paths[1], "--out", paths[2], "--dim", str(args.dim),
                   "--layers", str(args.layers), "--heads", str(args.heads),
                   "--mlp", str(args.mlp), "--threads", str(args.threads),
                   "--max-iter", str(args.max_iter)] + (["--in-memory"] if args.in_memory else [])
            load_before = os.getloadavg()
            if args.timeline:
                cmd.append("--timeline")
            r = run_sampled(cmd, args.timeline)
            if r.returncode != 0:  # report how far it got and why it stopped
                run = {"returncode": r.returncode, "stderr": r.stderr[-4000:]}
            else:
                run = json.loads(r.stdout.strip().splitlines()[-1])
            run["load_before"] = load_before
            run["load_after"] = os.getloadavg()
            runs.append(run)
        done = sorted(r["peak_rss_bytes"] for r in runs if "peak_rss_bytes" in r)
        rss = done[len(done) // 2] if done else float("nan")
        print(json.dumps({
            "max_iter": args.max_iter or "default", "cpus": os.cpu_count(),
            "shape": {"dim": args.dim, "layers": args.layers, "heads": args.heads,
                      "mlp": args.mlp, "vocab": args.vocab, "dtype": "F16"},
            "file_bytes": sizes, "generate_s": gen_s,
            "largest_point_similarity_bytes": similarity,
            "bound_bytes": bound, "bound_dense_bytes": bound_dense,
            "median_peak_rss_bytes": rss,
            "rss_over_bound": rss / bound, "runs": runs}, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
