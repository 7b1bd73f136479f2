#!/usr/bin/env python3
"""The Guerguiev et al. (2017) segregated-dendrite network in batched float32
PyTorch, written the way a careful PyTorch user would for speed.

Written from design/ALGORITHMS.md §1 and the golden READMEs. B examples run
side by side, each with its own state (its own time line, carried from one
example to the next in its batch slot); the weight updates average over the
batch (batch 1 is the reference's online learning). No autograd, no Python
loop over examples: every op is an in-place or out= ATen call on
preallocated buffers, except torch.poisson, which allocates its result.

Non-spiking mode (§1.5): the 2-step phases collapse to one evaluation, since
within a phase nothing changes between the steps and the "average" is the
last step: B0 = X·W0ᵀ + b0 once per example, the output's forward and target
somata from one B1, and both apical potentials from one product
[r1f; r1t]·Yᵀ. Spiking mode: 50-step phases (optionally 50 + int(wald(2, 1)),
one draw per phase for the whole batch), conductance-based somata, Poisson
spikes per step, the PSP kernel over rings of the last 10 spike tensors
(one kappa-weighted product per ring and step), broadcast feedback from the
output spikes of the previous step, and running sums over the last 20 steps
of each phase in place of the reference's ring buffers of 20 columns.

    peer_torch.py --mode ns|sp --check          # batch 1 against the golden data (784-50-10)
    peer_torch.py --mode sp --batch 32 --threads 2 --examples 640   # timing, JSON on stdout
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402

F32 = torch.float32


class Net:
    def __init__(self, weights, batch, spiking, rand_phases=False, draw=None, dtype=F32):
        t = lambda a: torch.tensor(a, dtype=dtype)  # noqa: E731
        self.W0, self.W1, self.Y0 = t(weights["W0"]), t(weights["W1"]), t(weights["Y0"])
        self.b0, self.b1 = t(weights["b0"][:, 0]), t(weights["b1"][:, 0])
        self.W0T, self.W1T, self.Y0T = self.W0.t(), self.W1.t(), self.Y0.t()  # views: they follow the updates
        self.hidden, self.n_in = self.W0.shape
        self.n_out = self.W1.shape[0]
        self.B, self.spiking, self.rand_phases = batch, spiking, rand_phases
        self.draw = draw or torch.poisson
        self.trace = None  # when a dict, spiking steps append their values (for --check)
        B, n, ni, no = batch, self.hidden, self.n_in, self.n_out
        z = lambda *s: torch.zeros(*s, dtype=dtype)  # noqa: E731
        self.vt = z(B, no)  # t·E_E + (1 − t)·E_I
        self.ones = torch.ones(B, dtype=dtype)  # bias updates: b += lr·Eᵀ·1, one op, no allocation
        if not spiking:
            self.B0, self.r0, self.s0 = z(B, n), z(B, n), z(B, n)
            self.B1, self.C1, self.s1f = z(B, no), z(2, B, no), z(B, no)
            self.r1 = z(2, B, no)  # [forward, target] output rates
            self.A = z(2, B, n)  # [forward, target] apical potentials
            self.alpha = z(2, B, n)
            self.E0, self.E1 = z(B, n), z(B, no)
            return
        mem = c.SP["mem"]
        self.mem, self.T = mem, c.SP["integration"]
        # kr[p]: the kernel weights of the ring slots when slot p holds the
        # newest spikes (kappa(1)) and slot p+1 the oldest (kappa(mem)).
        k = np.array([[c.kappa(((p - s) % mem) + 1) for s in range(mem)] for p in range(mem)])
        self.kr = [torch.tensor(k[p], dtype=dtype).view(1, mem) for p in range(mem)]
        self.xring, self.hring, self.oring = z(mem, B, ni), z(mem, B, n), z(mem, B, no)
        # Views of the rings, made once: a flat (mem, B·n) one for the kernel
        # product and one per slot for the writes.
        self.flat = {id(r): r.view(mem, -1) for r in (self.xring, self.hring, self.oring)}
        self.xslot, self.hslot, self.oslot = self.xring.unbind(0), self.hring.unbind(0), self.oring.unbind(0)
        self.p = 0  # the ring slot this step writes
        self.psp_x, self.psp_h, self.psp_o = z(B, ni), z(B, n), z(B, no)
        self.B0, self.A0, self.C0, self.r0 = z(B, n), z(B, n), z(B, n), z(B, n)
        self.B1, self.C1, self.r1 = z(B, no), z(B, no), z(B, no)
        # Sums over the last T steps of a phase.
        self.sum_psp_x, self.sum_psp_h = z(B, ni), z(B, n)
        self.sum_C0f, self.sum_Af, self.sum_At = z(B, n), z(B, n), z(B, n)
        self.sum_C1f, self.sum_r1t = z(B, no), z(B, no)
        self.s0, self.s1, self.E0, self.E1 = z(B, n), z(B, no), z(B, n), z(B, no)

    # ---- non-spiking --------------------------------------------------------
    def train_ns(self, X, Tg):
        """One mini-batch: X (B, 784) rates, Tg (B, 10) one-hot targets."""
        B = X.shape[0]
        torch.addmm(self.b0, X, self.W0T, out=self.B0)
        torch.sigmoid(self.B0.mul_(c.K_B), out=self.s0)  # B0 now holds C0
        torch.mul(self.s0, c.LAMBDA_MAX, out=self.r0)
        torch.addmm(self.b1, self.r0, self.W1T, out=self.B1)
        # Output soma: forward k_D·B1; target (g_D·B1 + vt)/(g_L + g_D + 1).
        torch.mul(self.B1, c.K_D, out=self.C1[0])
        torch.mul(Tg, c.E_E - c.E_I, out=self.vt).add_(c.E_I)
        torch.add(self.vt, self.B1, alpha=c.G_D, out=self.C1[1]).div_(c.G_L + c.G_D + 1.0)
        torch.sigmoid(self.C1, out=self.r1)
        self.s1f.copy_(self.r1[0])
        self.r1.mul_(c.LAMBDA_MAX)
        # Apical potentials of both phases from one product. Forward step 2
        # sees the forward output rate of step 1, which equals step 2's.
        torch.mm(self.r1.view(2 * B, -1), self.Y0T, out=self.A.view(2 * B, -1))
        torch.sigmoid(self.A, out=self.alpha)
        # Output update: E1 = −(r1t − r1f)·k_D·λ·σ'(C1f).
        torch.sub(self.r1[1], self.r1[0], out=self.E1).mul_(-c.K_D * c.LAMBDA_MAX)
        self.E1.mul_(self.s1f).mul_(self.s1f.sub_(1.0).neg_())
        lr = -c.F_ETAS[1] * c.P_FINAL / B
        self.W1.addmm_(self.E1.t(), self.r0, alpha=lr)
        self.b1.addmv_(self.E1.t(), self.ones, alpha=lr)
        # Hidden update: E0 = −(α_t − α_f)·k_B·λ·σ'(C0).
        torch.sub(self.alpha[1], self.alpha[0], out=self.E0).mul_(-c.K_B * c.LAMBDA_MAX)
        self.E0.mul_(self.s0).mul_(self.s0.sub_(1.0).neg_())
        lr = -c.F_ETAS[0] * c.P_HIDDEN / B
        self.W0.addmm_(self.E0.t(), X, alpha=lr)
        self.b0.addmv_(self.E0.t(), self.ones, alpha=lr)

    # ---- spiking --------------------------------------------------------------
    def _psp(self, ring, p, out):
        torch.mm(self.kr[p], self.flat[id(ring)], out=out.view(1, -1))

    def _step(self, X, target, sums):
        p = self.p
        self.xslot[p].copy_(self.draw(X))
        self._psp(self.xring, p, self.psp_x)
        torch.addmm(self.b0, self.psp_x, self.W0T, out=self.B0)
        self._psp(self.oring, (p - 1) % self.mem, self.psp_o)  # output spikes up to the previous step
        torch.mm(self.psp_o, self.Y0T, out=self.A0)
        # C0 += dt·(−g_L·C0 + g_B·(B0 − C0))
        self.C0.mul_(1.0 - c.DT * (c.G_L + c.G_B)).add_(self.B0, alpha=c.DT * c.G_B)
        torch.sigmoid(self.C0, out=self.r0).mul_(c.LAMBDA_MAX)
        self.hslot[p].copy_(self.draw(self.r0))
        self._psp(self.hring, p, self.psp_h)
        torch.addmm(self.b1, self.psp_h, self.W1T, out=self.B1)
        if target:
            # I = g_E(E_E − C1) + g_I(E_I − C1) = vt − C1, since g_E + g_I = 1.
            self.C1.mul_(1.0 - c.DT * (c.G_L + c.G_D + 1.0)).add_(self.B1, alpha=c.DT * c.G_D)
            self.C1.add_(self.vt, alpha=c.DT)
        else:
            self.C1.mul_(1.0 - c.DT * (c.G_L + c.G_D)).add_(self.B1, alpha=c.DT * c.G_D)
        torch.sigmoid(self.C1, out=self.r1).mul_(c.LAMBDA_MAX)
        self.oslot[p].copy_(self.draw(self.r1))
        self.p = (p + 1) % self.mem
        if sums:
            if target:
                self.sum_At.add_(self.A0)
                self.sum_r1t.add_(self.r1)
            else:
                self.sum_Af.add_(self.A0)
                self.sum_C0f.add_(self.C0)
                self.sum_psp_x.add_(self.psp_x)
                self.sum_C1f.add_(self.C1)
                self.sum_psp_h.add_(self.psp_h)
        if self.trace is not None:
            self._record(target)

    def _record(self, target):
        p = (self.p - 1) % self.mem
        rows = dict(input_spikes=self.xring[p], hidden_spikes=self.hring[p], output_spikes=self.oring[p],
                    hidden_B=self.B0, hidden_A=self.A0, hidden_C=self.C0, hidden_lambda_C=self.r0,
                    hidden_PSP_A=self.psp_o, output_PSP_B=self.psp_h, output_B=self.B1,
                    output_C=self.C1, output_lambda_C=self.r1)
        for k, v in rows.items():
            self.trace.setdefault(k, []).append(v[0].double().numpy().copy())

    def train_sp(self, X, Tg):
        B, T = X.shape[0], self.T
        l_f, l_t = c.SP["l_f"], c.SP["l_t"]
        if self.rand_phases:
            l_f += int(np.random.wald(2, 1))
            l_t += int(np.random.wald(2, 1))
        for s in (self.sum_psp_x, self.sum_psp_h, self.sum_C0f, self.sum_Af, self.sum_At, self.sum_C1f,
                  self.sum_r1t):
            s.zero_()
        for i in range(l_f):
            self._step(X, False, i >= l_f - T)
        torch.mul(Tg, c.E_E - c.E_I, out=self.vt).add_(c.E_I)
        for i in range(l_t):
            self._step(X, True, i >= l_t - T)
        # Output update: E1 = −(avg r1t − λσ(avg C1f))·k_D·λ·σ'(avg C1f).
        torch.sigmoid(self.sum_C1f.div_(T), out=self.s1)
        torch.mul(self.s1, -c.LAMBDA_MAX, out=self.E1).add_(self.sum_r1t, alpha=1.0 / T)
        self.E1.mul_(-c.K_D * c.LAMBDA_MAX).mul_(self.s1).mul_(self.s1.sub_(1.0).neg_())
        lr = -c.F_ETAS[1] * c.P_FINAL / B
        self.W1.addmm_(self.E1.t(), self.sum_psp_h, alpha=lr / T)
        self.b1.addmv_(self.E1.t(), self.ones, alpha=lr)
        # Hidden update: E0 = −(σ(avg A_t) − σ(avg A_f))·k_B·λ·σ'(avg C0f).
        torch.sigmoid(self.sum_At.div_(T), out=self.sum_At)
        torch.sigmoid(self.sum_Af.div_(T), out=self.sum_Af)
        torch.sub(self.sum_At, self.sum_Af, out=self.E0).mul_(-c.K_B * c.LAMBDA_MAX)
        torch.sigmoid(self.sum_C0f.div_(T), out=self.s0)
        self.E0.mul_(self.s0).mul_(self.s0.sub_(1.0).neg_())
        lr = -c.F_ETAS[0] * c.P_HIDDEN / B
        self.W0.addmm_(self.E0.t(), self.sum_psp_x, alpha=lr / T)
        self.b0.addmv_(self.E0.t(), self.ones, alpha=lr)

    def train_batch(self, X, Tg):
        (self.train_sp if self.spiking else self.train_ns)(X, Tg)

    def weights(self):
        col = lambda v: v.double().numpy()[:, None]  # noqa: E731
        return dict(W0=self.W0.double().numpy(), b0=col(self.b0), W1=self.W1.double().numpy(), b1=col(self.b1),
                    Y0=self.Y0.double().numpy())


class Replay:
    """The spike columns recorded in the golden spiking trace, in order: input,
    hidden, output, then the next step's input..."""

    def __init__(self, d):
        cols = [np.load(os.path.join(d, f"ex001_trace_{k}_spikes.npy")) for k in ("input", "hidden", "output")]
        self.seq = [torch.tensor(cols[k][s][None, :], dtype=F32) for s in range(cols[0].shape[0]) for k in range(3)]
        self.i = 0

    def __call__(self, rate):
        v = self.seq[self.i]
        self.i += 1
        assert v.shape == rate.shape
        return v


def compare_weights(rep, d, prefix, net):
    want, got = c.load_weights(d, prefix), net.weights()
    for k, name in c.WEIGHT_FILES.items():
        rep.compare(f"{prefix}_{name}", got[k], want[k])


def check(mode, tol):
    d = c.golden_dir(mode)
    rep = c.Report(tol)
    init = c.load_weights(d, "init")
    g = lambda name: np.load(os.path.join(d, f"ex001_{name}.npy"))  # noqa: E731
    col = lambda v: v[0].double().numpy()[:, None]  # noqa: E731
    if mode == "ns":
        x, t = c.load_train(10)
        X = torch.tensor(x.T, dtype=F32).contiguous()
        Tg = torch.tensor(t.T, dtype=F32).contiguous()
        net = Net(init, batch=1, spiking=False)
        for i in range(10):
            net.train_batch(X[i:i + 1], Tg[i:i + 1])
            if i == 0:
                rep.compare("ex001_layer0_average_C_f", col(net.B0), g("layer0_average_C_f"))
                rep.compare("ex001_layer0_average_lambda_C_f", col(net.r0), g("layer0_average_lambda_C_f"))
                rep.compare("ex001_layer0_average_A_f", col(net.A[0]), g("layer0_average_A_f"))
                rep.compare("ex001_layer0_average_A_t", col(net.A[1]), g("layer0_average_A_t"))
                rep.compare("ex001_layer0_alpha_f", col(net.alpha[0]), g("layer0_alpha_f"))
                rep.compare("ex001_layer0_alpha_t", col(net.alpha[1]), g("layer0_alpha_t"))
                rep.compare("ex001_layer0_E", col(net.E0), g("layer0_E"))
                rep.compare("ex001_layer1_average_C_f", col(net.C1[0]), g("layer1_average_C_f"))
                rep.compare("ex001_layer1_average_C_t", col(net.C1[1]), g("layer1_average_C_t"))
                rep.compare("ex001_layer1_average_lambda_C_f", col(net.r1[0]), g("layer1_average_lambda_C_f"))
                rep.compare("ex001_layer1_average_lambda_C_t", col(net.r1[1]), g("layer1_average_lambda_C_t"))
                rep.compare("ex001_layer1_E", col(net.E1), g("layer1_E"))
                compare_weights(rep, d, "after001", net)
        compare_weights(rep, d, "after010", net)
    else:
        x, t = g("x_rate"), g("target")
        net = Net(init, batch=1, spiking=True, draw=Replay(d))
        net.trace = {}
        X = torch.tensor(x.T, dtype=F32).contiguous()
        Tg = torch.tensor(t.T, dtype=F32).contiguous()
        # train_sp turns the sums into averages (and the apical ones into alphas) in place.
        net.train_batch(X, Tg)
        for k, rows in net.trace.items():
            rep.compare(f"ex001_trace_{k}", np.stack(rows), g(f"trace_{k}"))
        # output_I is not kept by the peer (folded into C1's update); rebuild it from C1.
        C1 = np.stack(net.trace["output_C"])
        C1_before = np.vstack([np.zeros((1, C1.shape[1])), C1[:-1]])
        I = np.where(np.arange(100)[:, None] >= 50, (16.0 * t.T - 8.0) - C1_before, 0.0)
        rep.compare("ex001_trace_output_I (from C1)", I, g("trace_output_I"))
        T = c.SP["integration"]
        rep.compare("ex001_layer0_average_C_f", col(net.sum_C0f), g("layer0_average_C_f"))
        rep.compare("ex001_layer0_alpha_f", col(net.sum_Af), g("layer0_alpha_f"))
        rep.compare("ex001_layer0_alpha_t", col(net.sum_At), g("layer0_alpha_t"))
        rep.compare("ex001_layer0_average_PSP_B_f", col(net.sum_psp_x) / T, g("layer0_average_PSP_B_f"))
        rep.compare("ex001_layer0_E", col(net.E0), g("layer0_E"))
        rep.compare("ex001_layer1_average_C_f", col(net.sum_C1f), g("layer1_average_C_f"))
        rep.compare("ex001_layer1_average_lambda_C_t", col(net.sum_r1t) / T, g("layer1_average_lambda_C_t"))
        rep.compare("ex001_layer1_average_PSP_B_f", col(net.sum_psp_h) / T, g("layer1_average_PSP_B_f"))
        rep.compare("ex001_layer1_E", col(net.E1), g("layer1_E"))
        compare_weights(rep, d, "after001", net)
    batch_consistency(rep, mode, init)
    return rep.finish()


def batch_consistency(rep, mode, init, batch=4):
    """Batch semantics, in float64: one mini-batch of `batch` examples from
    fresh state must move the weights by the mean of the moves of `batch`
    batch-1 runs, one per example, from the same weights. Spiking mode uses
    the rates themselves as spike counts, so that the runs draw nothing."""
    x, t = c.load_train(batch)
    X, Tg = torch.tensor(x.T).contiguous(), torch.tensor(t.T).contiguous()
    draw = (lambda r: r.clone()) if mode == "sp" else None
    kw = dict(spiking=mode == "sp", draw=draw, dtype=torch.float64)
    net = Net(init, batch=batch, **kw)
    net.train_batch(X, Tg)
    moves = []
    for i in range(batch):
        one = Net(init, batch=1, **kw)
        one.train_batch(X[i:i + 1], Tg[i:i + 1])
        moves.append({k: v - init[k] for k, v in one.weights().items()})
    got = net.weights()
    for k, name in c.WEIGHT_FILES.items():
        if k == "Y0":
            continue
        want = np.mean([m[k] for m in moves], axis=0)
        rep.compare(f"batch {batch} move of {name} (float64)", got[k] - init[k], want)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("ns", "sp"), default="ns")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--examples", type=int, default=1000, help="timed examples (whole batches; one more batch warms up)")
    ap.add_argument("--rand-phases", action="store_true", help="spiking: phases of 50 + int(wald(2, 1)) steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", action="store_true", help="batch 1 against the golden data (784-50-10), then exit")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    if a.check:
        return check(a.mode, a.tol)

    nb = max(1, a.examples // a.batch)
    n = (nb + 1) * a.batch
    x, t = c.load_train(n, a.data_dir)
    X = torch.tensor(x.T, dtype=F32).contiguous()
    Tg = torch.tensor(t.T, dtype=F32).contiguous()
    net = Net(c.init_weights(x.shape[0], a.hidden), a.batch, a.mode == "sp", a.rand_phases)
    B = a.batch
    net.train_batch(X[:B], Tg[:B])  # warm-up: first-call costs of ATen and OpenBLAS
    start = time.perf_counter()
    for i in range(1, nb + 1):
        net.train_batch(X[i * B:(i + 1) * B], Tg[i * B:(i + 1) * B])
    seconds = time.perf_counter() - start
    c.emit(dict(impl="torch", mode=a.mode, batch=B, threads=a.threads, hidden=a.hidden, examples=nb * B,
                seconds=seconds, us_per_example=1e6 * seconds / (nb * B), torch=torch.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
