"""mudsc.torch.collect_activations(group=...) across two torch.distributed
processes (gloo, torch.multiprocessing, init_method file:// in a temporary
folder): each rank streams its shard of the batches; both ranks end with
the same set bytes, equal to the single-process set to 1e-12 relative, and
the merged network is the single-process one."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

import mudsc  # noqa: E402
import mudsc.torch as mt  # noqa: E402

WORLD = 2


def graph():
    return mudsc.Graph.mlp([12, 10], layer_template="{i}", index_step=2)


def make_nets():
    nets = []
    for seed in (3, 4):
        torch.manual_seed(seed)
        nets.append(torch.nn.Sequential(
            torch.nn.Linear(8, 12), torch.nn.ReLU(), torch.nn.Linear(12, 10), torch.nn.ReLU(),
            torch.nn.Linear(10, 3)).double())
    return nets


def batches():
    g = torch.Generator().manual_seed(11)
    # means away from 0 against a spread of 1: the shift matters
    return [3.0 + torch.randn(16, 8, generator=g, dtype=torch.float64) for _ in range(8)]


def worker(rank, init_file, out_dir):
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank,
                            world_size=WORLD)
    try:
        nets, data = make_nets(), batches()
        k = len(data) // WORLD
        stats = mt.collect_activations(nets, graph(), data[rank * k:(rank + 1) * k],
                                       group=dist.group.WORLD)
        with open(os.path.join(out_dir, f"stats{rank}.bin"), "wb") as f:
            f.write(stats.to_bytes())
        merged, _ = mt.merge(nets, graph(), activations=stats)
        torch.save(merged.state_dict(), os.path.join(out_dir, f"merged{rank}.pt"))
        direct, _ = mt.merge(nets, graph(), batches=data[rank * k:(rank + 1) * k],
                             group=dist.group.WORLD)
        torch.save(direct.state_dict(), os.path.join(out_dir, f"direct{rank}.pt"))
        if rank == 1:  # a rank of another graph: every rank raises alike
            other = mudsc.Graph.mlp([12, 9], layer_template="{i}", index_step=2)
            bad = torch.nn.Sequential(
                torch.nn.Linear(8, 12), torch.nn.ReLU(), torch.nn.Linear(12, 9),
                torch.nn.ReLU(), torch.nn.Linear(9, 3)).double()
            args = ([bad, bad], other)
        else:
            args = (nets, graph())
        try:
            mt.collect_activations(*args, data[:1], group=dist.group.WORLD)
            outcome = "no error"
        except mudsc.MismatchError as e:
            outcome = "MismatchError " + str(e)
        with open(os.path.join(out_dir, f"mismatch{rank}.txt"), "w") as f:
            f.write(outcome)
    finally:
        dist.destroy_process_group()


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_two_ranks_equal_one_process(tmp_path):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    g = graph()
    nets = make_nets()
    single = mt.collect_activations(nets, g, batches())
    single_merged, _ = mt.merge(nets, g, activations=single)

    torch.multiprocessing.spawn(worker, args=(str(tmp_path / "init"), str(tmp_path)),
                                nprocs=WORLD, join=True)

    raw = [(tmp_path / f"stats{r}.bin").read_bytes() for r in range(WORLD)]
    assert raw[0] == raw[1]  # the same bytes on every rank
    got = mudsc.Stats.from_bytes(raw[0], g)
    for name in g.point_names:
        a, b = got[name], single[name]
        assert a.count() == b.count() == 8 * 16
        assert rel(a.covariance(), b.covariance()) <= 1e-12, name
        assert rel(a.means(), b.means()) <= 1e-12, name
    want = single_merged.state_dict()
    for r in range(WORLD):
        for what in ("merged", "direct"):  # mt.merge(batches=, group=) too
            sd = torch.load(tmp_path / f"{what}{r}.pt")
            assert list(sd) == list(want)
            for k in want:
                assert torch.equal(sd[k], want[k]), (what, r, k)
    for r in range(WORLD):
        text = (tmp_path / f"mismatch{r}.txt").read_text()
        assert text.startswith("MismatchError"), (r, text)
