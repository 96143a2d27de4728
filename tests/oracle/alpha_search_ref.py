"""Alpha search, from docs/algorithm.md section 18, on top of the MuDSC
oracle mudsc_ref (never from the C code).

search_alpha(graph, models, activations, alphas, score, method, weights)
    -> (best_alpha, scores, merged_tensors): for each alpha in order, MuDSC
    (mudsc_ref.mudsc) with that alpha, the merged tensors
    (mudsc_ref.merged_tensors) and score(tensors, alpha); the first
    candidate with the largest score is kept.

search_point_alphas(graph, models, activations, alphas, score, rounds,
                    method, weights)
    -> (per-point alphas, best score, merged_tensors, every score in order):
    docs/algorithm.md section 24: the global search above, then up to
    `rounds` coordinate rounds; in each, for every point p in graph order,
    every other value of alphas tried at p (the other points fixed), the
    first best kept when strictly better than the best so far; a round
    without a change ends the search.
"""
import mudsc_ref as ref


def search_alpha(graph, models, activations, alphas, score, method="align", weights=None):
    scores, best, best_tensors = [], None, None
    for k, alpha in enumerate(alphas):
        res = ref.mudsc(graph, models, activations=activations, method=method, alpha=alpha)
        tensors = ref.merged_tensors(graph, models, res.corr, weights=weights)
        s = float(score(tensors, alpha))
        scores.append(s)
        if best is None or s > scores[best]:
            best, best_tensors = k, tensors
    return alphas[best], scores, best_tensors


def search_point_alphas(graph, models, activations, alphas, score, rounds=1, method="align",
                        weights=None):
    best_alpha, scores, tensors = search_alpha(graph, models, activations, alphas, score,
                                               method, weights)
    all_scores = list(scores)
    a = [best_alpha] * len(graph.points)
    best = max(scores)
    for _ in range(rounds):
        changed = False
        for p in range(len(graph.points)):
            pick, pick_s, pick_t = a[p], best, None
            for v in alphas:
                if v == a[p]:
                    continue
                trial = list(a)
                trial[p] = v
                res = ref.mudsc(graph, models, activations=activations, method=method,
                                alpha=trial)
                t = ref.merged_tensors(graph, models, res.corr, weights=weights)
                s = float(score(t, v))
                all_scores.append(s)
                if s > pick_s:
                    pick, pick_s, pick_t = v, s, t
            if pick != a[p]:
                a[p], best, tensors, changed = pick, pick_s, pick_t, True
        if not changed:
            break
    return a, best, tensors, all_scores
