"""Partial zipping, from docs/algorithm.md section 19, on top of the MuDSC
oracle mudsc_ref (never from the C code).

prefix_doc(doc, depth): the graph description (dict) of the first depth points.
trunk_names(doc, names): the trunk tensors among names: those bound OUT to a
    point of doc, and every tensor of such a tensor's module (the name up to
    its last '.').
partial_merge(doc, models, corr, weights): trunk tensors from
    mudsc_ref.merged_tensors, then for each model i every other tensor of
    model 0's order as "heads.<i>.<name>" from mudsc_ref.transformed_tensors.
"""
import mudsc_ref as ref


def prefix_doc(doc, depth):
    out = dict(doc)
    out["points"] = doc["points"][:depth]
    used = {b["tensor"] for p in out["points"] for b in p["bindings"] if "part" in b}
    out["splits"] = [s for s in doc.get("splits", []) if s["tensor"] in used]
    return out


def _module(name):
    return name.rsplit(".", 1)[0] if "." in name else None


def trunk_names(doc, names):
    outs = {b["tensor"] for p in doc["points"] for b in p["bindings"] if b["role"] == "out"}
    modules = {_module(t) for t in outs} - {None}
    return {n for n in names if n in outs or _module(n) in modules}


def partial_merge(doc, models, corr, weights=None):
    graph = ref.load_graph(doc)
    names = list(models[0])
    trunk = trunk_names(doc, names)
    merged = ref.merged_tensors(graph, models, corr, weights=weights)
    out = {n: merged[n] for n in names if n in trunk}
    for i in range(len(models)):
        t = ref.transformed_tensors(graph, models, corr, i)
        for n in names:
            if n not in trunk:
                out[f"heads.{i}.{n}"] = ref.from_f64(t[n], ref.dtype_name(models[i][n])) \
                    if ref.is_float(models[i][n]) else t[n]
    return out
