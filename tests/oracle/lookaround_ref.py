"""Reference Lookaround (Zhang et al., NeurIPS 2023), written from the
paper's description and the observable behaviour of the authors' public
optimizer, independent of bindings/python/mudsc/torch_lookaround.py: no
torch.optim, no libmudsc; plain tensor arithmetic on explicit head copies.

Rule.  K heads start at the same weights.  Step t (t = 0, 1, ...) belongs
to head r = t mod K: the gradient g of the loss at head r's weights on
step t's batch (the caller feeds the loaders in turn) updates head r only,
by SGD with head r's own momentum buffer b_r:
    g <- g + weight_decay * w
    b_r <- g                                  (head r's first step)
    b_r <- momentum * b_r + (1 - dampening) * g   (later steps)
    g <- g + momentum * b_r   if nesterov, else g <- b_r   (momentum > 0)
    w <- w - lr * g
After every K * frequency steps (each head took `frequency` steps) all heads
are replaced by their mean, computed in float64 and rounded once to the
weights' dtype.  Momentum buffers are never averaged nor reset.  The
network evaluated at step t is head t mod K, so after the last step of a
cycle it holds the mean.  K = 1 is plain SGD.
"""
import torch


class LookaroundRef:
    def __init__(self, weights, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, heads=3, frequency=1):
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.k, self.f = heads, frequency
        self.heads = [[w.detach().clone() for w in weights] for _ in range(heads)]
        self.bufs = [[None] * len(weights) for _ in range(heads)]
        self.t = 0

    def current(self):
        """The weights the next step's gradient is taken at (head t mod K)."""
        return self.heads[self.t % self.k]

    def step(self, grads):
        """One step of head t mod K with the gradients taken at current()."""
        r = self.t % self.k
        for i, (w, g) in enumerate(zip(self.heads[r], grads)):
            g = g.detach().clone()
            if self.weight_decay:
                g = g + self.weight_decay * w
            if self.momentum:
                b = self.bufs[r][i]
                b = g.clone() if b is None else self.momentum * b + (1 - self.dampening) * g
                self.bufs[r][i] = b
                g = g + self.momentum * b if self.nesterov else b
            self.heads[r][i] = w - self.lr * g
        self.t += 1
        if self.t % (self.k * self.f) == 0:
            for i in range(len(self.heads[0])):
                mean = sum(h[i].double() for h in self.heads) / self.k
                for h in self.heads:
                    h[i] = mean.to(h[i].dtype)
