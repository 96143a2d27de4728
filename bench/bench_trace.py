"""Tracing time of the ten torchvision 0.14 models of issue 14
(mudsc.torch.trace_graph: torch.fx plus one forward pass on the input
shown), medians of --repeat runs after one warm-up, one torch thread, with
the load (uptime) before and after.  Prints one JSON line per model.
Usage: python3 bench/bench_trace.py [--repeat 3] [model ...]"""
import argparse
import json
import os
import statistics
import time

import torch
import torchvision

import mudsc.torch as mt

# the inputs of tests/python/test_trace.py
SIDES = {"resnet18": 32, "resnet50": 32, "resnext50_32x4d": 32, "vgg11_bn": 32,
         "mobilenet_v2": 32, "efficientnet_b0": 32, "densenet121": 32, "convnext_tiny": 32,
         "vit_b_16": 224, "swin_t": 32}


def load():
    return os.getloadavg()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("models", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name in args.models or SIDES:
        model = getattr(torchvision.models, name)().eval()
        x = torch.randn(1, 3, SIDES[name], SIDES[name])
        mt.trace_graph(model, x)  # warm-up: imports, first-call costs
        before, times = load(), []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            g = mt.trace_graph(model, x)
            times.append(time.perf_counter() - t0)
        print(json.dumps({"model": name, "input": SIDES[name], "points": len(g),
                          "trace_s_median": round(statistics.median(times), 3),
                          "trace_s": [round(t, 3) for t in times],
                          "load_before": before, "load_after": load()}), flush=True)


if __name__ == "__main__":
    main()
