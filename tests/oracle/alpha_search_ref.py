"""Alpha search, from docs/algorithm.md section 18, on top of the MuDSC
oracle mudsc_ref (never from the C code).

search_alpha(graph, models, activations, alphas, score, method, weights)
    -> (best_alpha, scores, merged_tensors): for each alpha in order, MuDSC
    (mudsc_ref.mudsc) with that alpha, the merged tensors
    (mudsc_ref.merged_tensors) and score(tensors, alpha); the first
    candidate with the largest score is kept.
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
