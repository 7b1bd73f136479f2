#!/usr/bin/env python3
"""The Guerguiev et al. (2017) segregated-dendrite network, one example at a
time in float64 numpy, in the style of the authors' `deep_learning.py`.

Written from design/ALGORITHMS.md §1 and the golden READMEs. It keeps the
reference's loop structure, because its cost is what this peer measures:
layer objects with column-vector state, spike histories as n×mem arrays
shifted by np.concatenate every step, PSPs as history·kappas matvecs, ring
buffers of `integration_time` columns written at a counter and averaged at
the end of each phase, and one Poisson draw per layer and step (the reference
draws them in non-spiking mode too, where nothing reads them).

    ref_numpy.py --mode ns|sp --check               # against the golden data (784-50-10)
    ref_numpy.py --mode sp --hidden 500 --examples 200   # timing, JSON on stdout

The only differences from the reference: sigma is 1/(1+exp(-x)) (the
reference uses scipy's expit, not installed here), and nothing is logged,
plotted or saved.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c  # noqa: E402


def sigma(x):
    return 1.0 / (1.0 + np.exp(-x))


def deriv_sigma(x):
    s = sigma(x)
    return s * (1.0 - s)


class Poisson:
    """Spike counts from numpy's global generator, as the reference draws them."""

    def input(self, x):
        return np.random.poisson(x)

    hidden = output = input


class Replay:
    """The spike columns recorded in the golden spiking trace, in order."""

    def __init__(self, d):
        self.cols = {k: np.load(os.path.join(d, f"ex001_trace_{k}_spikes.npy")) for k in ("input", "hidden", "output")}
        self.at = dict.fromkeys(self.cols, 0)

    def _next(self, kind):
        i = self.at[kind]
        self.at[kind] += 1
        return self.cols[kind][i][:, None]

    def input(self, x):
        return self._next("input")

    def hidden(self, r):
        return self._next("hidden")

    def output(self, r):
        return self._next("output")


class HiddenLayer:
    def __init__(self, net, size, f_input_size, b_input_size):
        self.net, self.size = net, size
        cfg = net.cfg
        self.A = np.zeros((size, 1))
        self.B = np.zeros((size, 1))
        self.C = np.zeros((size, 1))
        self.lambda_C = np.zeros((size, 1))
        self.S_hist = np.zeros((size, cfg["mem"]), dtype=np.int8)
        T = cfg["integration"]
        self.A_hist = np.zeros((size, T))
        self.PSP_A_hist = np.zeros((b_input_size, T))
        self.PSP_B_hist = np.zeros((f_input_size, T))
        self.C_hist = np.zeros((size, T))
        self.lambda_C_hist = np.zeros((size, T))
        self.integration_counter = 0
        self.average_C_f = np.zeros((size, 1))
        self.average_C_t = np.zeros((size, 1))
        self.average_A_f = np.zeros((size, 1))
        self.average_A_t = np.zeros((size, 1))
        self.average_lambda_C_f = np.zeros((size, 1))
        self.average_lambda_C_t = np.zeros((size, 1))
        self.average_PSP_B_f = np.zeros((f_input_size, 1))
        self.alpha_f = np.zeros((size, 1))
        self.alpha_t = np.zeros((size, 1))

    def update_B(self, f_input):
        net = self.net
        self.PSP_B = np.dot(f_input, net.kappas) if net.spiking else f_input
        self.PSP_B_hist[:, self.integration_counter % net.T] = self.PSP_B[:, 0]
        self.B = np.dot(net.W[0], self.PSP_B) + net.b[0]

    def update_A(self, b_input):
        net = self.net
        self.PSP_A = np.dot(b_input, net.kappas) if net.spiking else b_input
        self.PSP_A_hist[:, self.integration_counter % net.T] = self.PSP_A[:, 0]
        self.A = np.dot(net.Y[0], self.PSP_A)
        self.A_hist[:, self.integration_counter % net.T] = self.A[:, 0]

    def update_C(self):
        net = self.net
        if net.spiking:  # use_conductances
            self.C_dot = -c.G_L * self.C + c.G_B * (self.B - self.C)
            self.C += self.C_dot * c.DT
        else:
            self.C = c.K_B * self.B
        self.C_hist[:, self.integration_counter % net.T] = self.C[:, 0]
        self.lambda_C = c.LAMBDA_MAX * sigma(self.C)
        self.lambda_C_hist[:, self.integration_counter % net.T] = self.lambda_C[:, 0]

    def spike(self):
        self.S_hist = np.concatenate([self.S_hist[:, 1:], self.net.draws.hidden(self.lambda_C)], axis=-1)

    def out(self, f_input, b_input):
        self.update_B(f_input)
        self.update_A(b_input)
        self.update_C()
        self.spike()
        self.integration_counter = (self.integration_counter + 1) % self.net.T

    def plateau(self, phase):
        average_A = np.mean(self.A_hist, axis=-1)[:, np.newaxis]
        if phase == "forward":
            self.average_A_f, self.alpha_f = average_A, sigma(average_A)
        else:
            self.average_A_t, self.alpha_t = average_A, sigma(average_A)

    def calc_averages(self, phase):
        if phase == "forward":
            self.average_C_f = np.mean(self.C_hist, axis=-1)[:, np.newaxis]
            self.average_lambda_C_f = np.mean(self.lambda_C_hist, axis=-1)[:, np.newaxis]
            self.average_PSP_B_f = np.mean(self.PSP_B_hist, axis=-1)[:, np.newaxis]
        else:
            self.average_C_t = np.mean(self.C_hist, axis=-1)[:, np.newaxis]
            self.average_lambda_C_t = np.mean(self.lambda_C_hist, axis=-1)[:, np.newaxis]

    def update_W(self):
        net = self.net
        self.E = (self.alpha_t - self.alpha_f) * -c.K_B * c.LAMBDA_MAX * deriv_sigma(self.average_C_f)
        self.delta_W = np.dot(self.E, self.average_PSP_B_f.T)
        net.W[0] += -net.f_etas[0] * c.P_HIDDEN * self.delta_W
        self.delta_b = self.E
        net.b[0] += -net.f_etas[0] * c.P_HIDDEN * self.delta_b

    def reset_averages(self):
        for a in (self.average_C_f, self.average_C_t, self.average_PSP_B_f, self.average_A_f,
                  self.average_A_t, self.average_lambda_C_f):
            a *= 0


class FinalLayer:
    def __init__(self, net, size, f_input_size):
        self.net, self.size = net, size
        cfg = net.cfg
        self.B = np.zeros((size, 1))
        self.I = np.zeros((size, 1))
        self.C = np.zeros((size, 1))
        self.lambda_C = np.zeros((size, 1))
        self.S_hist = np.zeros((size, cfg["mem"]), dtype=np.int8)
        T = cfg["integration"]
        self.PSP_B_hist = np.zeros((f_input_size, T))
        self.C_hist = np.zeros((size, T))
        self.lambda_C_hist = np.zeros((size, T))
        self.integration_counter = 0
        self.average_C_f = np.zeros((size, 1))
        self.average_C_t = np.zeros((size, 1))
        self.average_lambda_C_f = np.zeros((size, 1))
        self.average_lambda_C_t = np.zeros((size, 1))
        self.average_PSP_B_f = np.zeros((f_input_size, 1))

    def update_B(self, f_input):
        net = self.net
        self.PSP_B = np.dot(f_input, net.kappas) if net.spiking else f_input
        self.PSP_B_hist[:, self.integration_counter % net.T] = self.PSP_B[:, 0]
        self.B = np.dot(net.W[1], self.PSP_B) + net.b[1]

    def update_I(self, b_input):
        if b_input is None:
            self.I *= 0
            return
        g_E = b_input
        g_I = -g_E + 1
        if self.net.spiking:  # use_conductances
            self.I = g_E * (c.E_E - self.C) + g_I * (c.E_I - self.C)
        else:
            self.k_D2 = c.G_D / (c.G_L + c.G_D + g_E + g_I)
            self.k_E = g_E / (c.G_L + c.G_D + g_E + g_I)
            self.k_I = g_I / (c.G_L + c.G_D + g_E + g_I)

    def update_C(self, phase):
        net = self.net
        if net.spiking:
            if phase == "forward":
                self.C_dot = -c.G_L * self.C + c.G_D * (self.B - self.C)
            else:
                self.C_dot = -c.G_L * self.C + c.G_D * (self.B - self.C) + self.I
            self.C += self.C_dot * c.DT
        elif phase == "forward":
            self.C = c.K_D * self.B
        else:
            self.C = self.k_D2 * self.B + self.k_E * c.E_E + self.k_I * c.E_I
        self.C_hist[:, self.integration_counter % net.T] = self.C[:, 0]
        self.lambda_C = c.LAMBDA_MAX * sigma(self.C)
        self.lambda_C_hist[:, self.integration_counter % net.T] = self.lambda_C[:, 0]

    def spike(self):
        self.S_hist = np.concatenate([self.S_hist[:, 1:], self.net.draws.output(self.lambda_C)], axis=-1)

    def out(self, f_input, b_input, phase):
        self.update_B(f_input)
        self.update_I(b_input)
        self.update_C(phase)
        self.spike()
        self.integration_counter = (self.integration_counter + 1) % self.net.T

    def calc_averages(self, phase):
        if phase == "forward":
            self.average_C_f = np.mean(self.C_hist, axis=-1)[:, np.newaxis]
            self.average_lambda_C_f = np.mean(self.lambda_C_hist, axis=-1)[:, np.newaxis]
            self.average_PSP_B_f = np.mean(self.PSP_B_hist, axis=-1)[:, np.newaxis]
        else:
            self.average_C_t = np.mean(self.C_hist, axis=-1)[:, np.newaxis]
            self.average_lambda_C_t = np.mean(self.lambda_C_hist, axis=-1)[:, np.newaxis]

    def update_W(self):
        net = self.net
        self.E = ((self.average_lambda_C_t - c.LAMBDA_MAX * sigma(self.average_C_f))
                  * -c.K_D * c.LAMBDA_MAX * deriv_sigma(self.average_C_f))
        self.delta_W = np.dot(self.E, self.average_PSP_B_f.T)
        net.W[1] += -net.f_etas[1] * c.P_FINAL * self.delta_W
        self.delta_b = self.E
        net.b[1] += -net.f_etas[1] * c.P_FINAL * self.delta_b

    def reset_averages(self):
        for a in (self.average_C_f, self.average_C_t, self.average_PSP_B_f, self.average_lambda_C_f,
                  self.average_lambda_C_t):
            a *= 0


class Network:
    """784-hidden-10 with broadcast feedback (Y[0] carries the output layer to
    the hidden apical dendrites)."""

    def __init__(self, weights, spiking, draws=None, rand_phases=False):
        self.spiking = spiking
        self.cfg = c.SP if spiking else c.NS
        self.T = self.cfg["integration"]
        self.kappas = c.kappas(self.cfg["mem"])
        self.W = [weights["W0"].copy(), weights["W1"].copy()]
        self.b = [weights["b0"].copy(), weights["b1"].copy()]
        self.Y = [weights["Y0"].copy()]
        self.f_etas = c.F_ETAS
        self.draws = draws or Poisson()
        self.rand_phases = rand_phases
        n_in, hidden, n_out = self.W[0].shape[1], self.W[0].shape[0], self.W[1].shape[0]
        self.l = [HiddenLayer(self, hidden, n_in, n_out), FinalLayer(self, n_out, hidden)]
        self.x_hist = np.zeros((n_in, self.cfg["mem"]))
        self.trace = None  # when a dict, every step appends its values (for --check)
        self.snapshots = None  # when a list, every example appends its averages and E
        self.num_correct = 0

    def step(self, phase):
        # The input history is drawn even where the rates feed the layers
        # (non-spiking mode), as in the reference.
        self.x_hist = np.concatenate([self.x_hist[:, 1:], self.draws.input(self.x)], axis=-1)
        hid, out = self.l
        if self.spiking:
            hid.out(self.x_hist, out.S_hist)
            out.out(hid.S_hist, self.t if phase == "target" else None, phase)
        else:
            hid.out(self.x, out.lambda_C)
            out.out(hid.lambda_C, self.t if phase == "target" else None, phase)
        if self.trace is not None:
            self.record()

    def record(self):
        hid, out = self.l
        rows = dict(input_spikes=self.x_hist[:, -1], hidden_spikes=hid.S_hist[:, -1],
                    output_spikes=out.S_hist[:, -1], hidden_B=hid.B, hidden_A=hid.A, hidden_C=hid.C,
                    hidden_lambda_C=hid.lambda_C, hidden_PSP_A=hid.PSP_A, output_PSP_B=out.PSP_B,
                    output_B=out.B, output_I=out.I, output_C=out.C, output_lambda_C=out.lambda_C)
        for k, v in rows.items():
            self.trace.setdefault(k, []).append(np.array(v, dtype=np.float64).ravel())

    def train_example(self, x, t):
        self.x, self.t = x, t
        l_f, l_t = self.cfg["l_f"], self.cfg["l_t"]
        if self.rand_phases:
            l_f += int(np.random.wald(2, 1))
            l_t += int(np.random.wald(2, 1))
        hid, out = self.l

        for _ in range(l_f):
            self.step("forward")
        hid.plateau("forward")
        for layer in (out, hid):
            layer.calc_averages("forward")
        if int(np.argmax(out.average_C_f)) == int(np.argmax(t)):  # the reference's training error
            self.num_correct += 1

        for _ in range(l_t):
            self.step("target")
        hid.plateau("target")
        for layer in (out, hid):
            layer.calc_averages("target")
            layer.update_W()
        self.loss = ((out.average_lambda_C_t - c.LAMBDA_MAX * sigma(out.average_C_f)) ** 2).mean()

        if self.snapshots is not None:
            self.snapshots.append(self.snapshot())
        for layer in (out, hid):
            layer.reset_averages()

    def snapshot(self):
        hid, out = self.l
        s = {f"layer0_{k}": np.array(getattr(hid, k)) for k in (
            "average_C_f", "average_C_t", "average_lambda_C_f", "average_lambda_C_t", "average_A_f",
            "average_A_t", "alpha_f", "alpha_t", "E", "average_PSP_B_f")}
        s.update({f"layer1_{k}": np.array(getattr(out, k)) for k in (
            "average_C_f", "average_C_t", "average_lambda_C_f", "average_lambda_C_t", "E", "average_PSP_B_f")})
        s["loss"] = np.array([self.loss])
        return s

    def weights(self):
        return dict(W0=self.W[0], b0=self.b[0], W1=self.W[1], b1=self.b[1], Y0=self.Y[0])


def compare_weights(rep, d, prefix, net):
    want = c.load_weights(d, prefix)
    got = net.weights()
    for k in c.WEIGHT_FILES:
        rep.compare(f"{prefix}_{c.WEIGHT_FILES[k]}", got[k], want[k])


def compare_snapshot(rep, d, snap):
    for k, v in snap.items():
        p = os.path.join(d, f"ex001_{k}.npy")
        if os.path.exists(p):
            rep.compare(f"ex001_{k}", v, np.load(p))


def check(mode, tol):
    d = c.golden_dir(mode)
    rep = c.Report(tol)
    init = c.load_weights(d, "init")
    if mode == "ns":
        x, t = c.load_train(10)
        rep.compare("ex001_x_input", x[:, :1], np.load(os.path.join(d, "ex001_x_input.npy")))
        rep.compare("train_targets_onehot[:, :10]", t, np.load(os.path.join(d, "train_targets_onehot.npy"))[:, :10])
        net = Network(init, spiking=False)
        net.snapshots = []
        for i in range(10):
            net.train_example(x[:, i:i + 1], t[:, i:i + 1])
            if i == 0:
                compare_snapshot(rep, d, net.snapshots[0])
                compare_weights(rep, d, "after001", net)
        compare_weights(rep, d, "after010", net)
    else:
        x = np.load(os.path.join(d, "ex001_x_rate.npy"))
        t = np.load(os.path.join(d, "ex001_target.npy"))
        xs, _ = c.load_train(1)
        rep.compare("ex001_x_rate (from the IDX file)", xs, x)
        rep.compare("kappas", c.kappas(10), np.load(os.path.join(d, "kappas.npy")))
        net = Network(init, spiking=True, draws=Replay(d))
        net.trace, net.snapshots = {}, []
        net.train_example(x, t)
        for k, rows in net.trace.items():
            rep.compare(f"ex001_trace_{k}", np.stack(rows), np.load(os.path.join(d, f"ex001_trace_{k}.npy")))
        compare_snapshot(rep, d, net.snapshots[0])
        compare_weights(rep, d, "after001", net)
    return rep.finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=("ns", "sp"), default="ns")
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--rand-phases", action="store_true", help="spiking: phases of 50 + int(wald(2, 1)) steps")
    ap.add_argument("--seed", type=int, default=0, help="numpy's global seed (Poisson draws)")
    ap.add_argument("--check", action="store_true", help="reproduce the golden data (784-50-10) and exit")
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    if a.check:
        return check(a.mode, a.tol)

    x, t = c.load_train(a.examples, a.data_dir)
    net = Network(c.init_weights(x.shape[0], a.hidden), spiking=a.mode == "sp", rand_phases=a.rand_phases)
    np.random.seed(a.seed)
    start = time.perf_counter()
    for i in range(a.examples):
        net.train_example(x[:, i:i + 1], t[:, i:i + 1])
    seconds = time.perf_counter() - start
    c.emit(dict(impl="numpy-ref", mode=a.mode, batch=1, threads=1, hidden=a.hidden, examples=a.examples,
                seconds=seconds, us_per_example=1e6 * seconds / a.examples,
                train_accuracy=net.num_correct / a.examples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
