"""Training speed of the 36-site sign CNN: our jitted Adam steps against a PyTorch reference.

Times supervised training of the sign network (``make_model("dilated", triangular-6x6,
channels=(32, 32, 32), kernel_size=3, dilations=(1, 2, 3))``, sign head with 2 logits, float32)
through the driver's own jitted training function (:mod:`nqs_dilated.training.sign`: a
``lax.scan`` of Adam steps on the softmax cross-entropy, batches gathered from int8
configurations inside the scan, on CPU each gradient accumulated over micro-batches of
``sign_steps.CPU_MICRO_BATCH`` samples; the row "ours, whole batches" times the same steps
without micro-batches), on synthetic data: random ±1 configurations with Sz = 0 and
random class labels. After compilation, each timed call runs ``--samples / batch`` steps.

When ``torch`` is importable (optional extra ``bench``), the same network is built in PyTorch
(circular ``F.pad`` + ``Conv2d`` + ReLU per layer, mean over the grid, ``Linear``; Adam, lr 1e-3,
``cross_entropy``), loaded with the *same initial parameters* (its logits are compared with ours
before timing), and trained on batches of the same size, once with ``torch.set_num_threads`` = the
cores this process may use and once with 1 thread: on a machine whose cores are busy with other
jobs, OpenMP threads that wait for each other can make the multi-threaded figure many times slower
than the single-threaded one, and the ratio ("vs torch") is taken against the faster of the two. A
square float32 GEMM through XLA (``--gemm`` side) gives the attainable FLOP rate at the moment of
the run. All rows run interleaved (one timed call of each per repeat, in turn), so other jobs on a
shared machine slow them alike; the table gives the median over ``--repeats``, the spread, and the
samples per CPU-second of this process (``time.process_time``, which does not count other jobs).

FLOPs per sample are counted analytically: the multiply-adds of the convolutions
``N k^2 C_in C_out`` and of the head ``C_last * 2``, times 2 for a forward pass, times 3 for a
training step (forward + backward). GFLOP/s = that count x samples/s. It counts the useful work
of the network, not the operations an implementation executes.

Runs on a GPU when JAX sees one (the header and the device column say where each row ran; the
PyTorch row runs on CUDA when torch has it, otherwise on the CPU).

Usage: python benchmarks/sign_train.py [--batch 1024 8192] [--repeats 5] [--samples 16384]
    [--quick] [--no-torch] [--gemm 1024]
``--quick``: batch 256, 2 steps, 1 repeat, no GEMM: a smoke test.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time

# PyTorch's OpenMP threads otherwise spin for a while after each call and slow the next row,
# ours or torch's (measured: ours 10,000 instead of 14,300 samples/s at batch 1024 on 2 cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nqs_dilated.lattice import load_lattice
from nqs_dilated.models import make_model, n_params
from nqs_dilated.provenance import git_revision, package_versions
from nqs_dilated.training import sign_steps

LATTICE = "triangular-6x6"
CONFIG = dict(channels=(32, 32, 32), kernel_size=3, dilations=(1, 2, 3), head="sign", sign_logits=2)
LR = 1e-3


def flops_per_sample(n_sites: int, channels, kernel_size: int, n_out: int = 2) -> dict:
    """Analytic multiply-adds of one forward pass and FLOPs of one training step per sample."""
    c_in = [1, *channels[:-1]]
    conv = sum(n_sites * kernel_size**2 * a * b for a, b in zip(c_in, channels))
    head = channels[-1] * n_out
    forward = 2 * (conv + head)
    return {"conv_macs": conv, "head_macs": head, "forward": forward, "train": 3 * forward}


def synthetic_data(n: int, n_sites: int, seed: int = 0):
    """``n`` random ±1 configurations (int8, Sz = 0) and random class labels (int32)."""
    rng = np.random.default_rng(seed)
    ranks = np.argsort(rng.random((n, n_sites)), axis=1)
    x = np.where(ranks < n_sites // 2, 1, -1).astype(np.int8)
    return x, rng.integers(0, 2, n).astype(np.int32)


def driver_steps(model, optimizer, n: int, batch: int, micro: int | None):
    """The driver's jitted training function (``sign_steps._make_steps``) as
    ``f(params, opt_state, x, y) -> (params, opt_state, loss)``: ``n // batch`` Adam steps on the
    batches of one random permutation of the ``n`` samples, gradients accumulated over
    micro-batches of ``micro`` samples (None: whole batches)."""
    fn = sign_steps._make_steps(model, optimizer, micro)
    idx = np.random.default_rng(1).permutation(n).astype(np.int32)[: (n // batch) * batch]
    idx = jnp.asarray(idx.reshape(n // batch, batch))
    return lambda p, o, x, y: fn(p, o, x, y, idx)


class JaxRunner:
    """Timed calls of a jitted training function (state carried from call to call)."""

    def __init__(self, label, model, params, x, y, batch, micro):
        self.label = label
        optimizer = optax.adam(LR)
        self.fn, self.path = driver_steps(model, optimizer, len(x), batch, micro), "sign_steps._make_steps"
        self.state = (params, optimizer.init(params))
        self.x, self.y = jnp.asarray(x), jnp.asarray(y)
        self.device = jax.devices()[0].platform

    def __call__(self) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        p, o, loss = self.fn(*self.state, self.x, self.y)
        loss.block_until_ready()
        self.state = (p, o)
        return time.perf_counter() - w0, time.process_time() - c0


class TorchRunner:
    """The same network in PyTorch, trained with Adam on the same batches."""

    def __init__(self, torch, cluster, params, x, y, batch, threads):
        self.torch, self.batch, self.threads, self.path = torch, batch, threads, "torch"
        self.label = f"torch, {threads} thread{'s' if threads > 1 else ''}"
        F = torch.nn.functional
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dev, self.device = dev, str(dev)
        k, dils = CONFIG["kernel_size"], CONFIG["dilations"]
        p = jax.tree_util.tree_map(lambda a: np.array(a, copy=True), params["params"])

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                c_in = [1, *CONFIG["channels"][:-1]]
                self.convs = torch.nn.ModuleList(
                    torch.nn.Conv2d(a, b, k, dilation=d) for a, b, d in zip(c_in, CONFIG["channels"], dils)
                )
                self.pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) * 2 for d in dils]
                self.head = torch.nn.Linear(CONFIG["channels"][-1], 2)

            def forward(self, h):  # h: (B, 1, L1, L2)
                for conv, pad in zip(self.convs, self.pads):
                    h = torch.relu(conv(F.pad(h, pad, mode="circular")))
                return self.head(h.mean(dim=(2, 3)))

        net = Net()
        with torch.no_grad():  # same initial parameters: kernel (k, k, Cin, Cout) -> (Cout, Cin, k, k)
            for i, conv in enumerate(net.convs):
                conv.weight.copy_(torch.from_numpy(p[f"CircularConv_{i}"]["kernel"].transpose(3, 2, 0, 1).copy()))
                conv.bias.copy_(torch.from_numpy(p[f"CircularConv_{i}"]["bias"]))
            net.head.weight.copy_(torch.from_numpy(p["Readout_0"]["Dense_0"]["kernel"].T.copy()))
            net.head.bias.copy_(torch.from_numpy(p["Readout_0"]["Dense_0"]["bias"]))
        self.net = net.to(dev)
        self.n_params = sum(t.numel() for t in net.parameters())
        self.opt = torch.optim.Adam(self.net.parameters(), lr=LR)
        L1, L2 = cluster.extent
        on_grid = x[:, cluster.site_of.reshape(-1)].reshape(-1, 1, L1, L2)  # site order -> (n1, n2) grid
        self.x = torch.from_numpy(on_grid).to(dev)  # int8, cast per batch as ours does
        self.y = torch.from_numpy(y.astype(np.int64)).to(dev)
        self.gen = torch.Generator().manual_seed(1)

    def logits(self, x_grid_int8: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.net(self.torch.from_numpy(x_grid_int8).to(self.dev).float()).cpu().numpy()

    def __call__(self) -> tuple[float, float]:
        torch, F = self.torch, self.torch.nn.functional
        torch.set_num_threads(self.threads)
        w0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(len(self.y), generator=self.gen).to(self.dev)
        for s in range(len(self.y) // self.batch):
            ib = perm[s * self.batch : (s + 1) * self.batch]
            self.opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.net(self.x[ib].float()), self.y[ib])
            loss.backward()
            self.opt.step()
        float(loss.detach())  # synchronises
        return time.perf_counter() - w0, time.process_time() - c0


class GemmRunner:
    """A square float32 GEMM through XLA: the attainable FLOP rate on this device right now."""

    def __init__(self, size: int):
        self.label, self.path, self.size = f"XLA GEMM {size}^3", "jnp.matmul", size
        a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
        self.a, self.device = a, jax.devices()[0].platform
        self.fn = jax.jit(lambda a: a @ a)
        self.fn(a).block_until_ready()

    def __call__(self) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        self.fn(self.a).block_until_ready()
        return time.perf_counter() - w0, time.process_time() - c0


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def bench_batch(batch, args, cluster, model, params, torch, flops):
    """Interleaved timings of every runner at one batch size; returns the table rows."""
    n = max(batch, (args.samples // batch) * batch)
    x, y = synthetic_data(n, cluster.n_sites, seed=batch)
    micro = sign_steps.default_micro_batch()
    runners = [JaxRunner("ours (nqs_dilated)", model, params, x, y, batch, micro)]
    if micro is not None and micro < batch:  # what the micro-batches gain, in the same run
        runners.append(JaxRunner("ours, whole batches", model, params, x, y, batch, None))
    if torch is not None:
        cores = len(os.sched_getaffinity(0))
        for threads in sorted({cores, 1}, reverse=True):
            runners.append(TorchRunner(torch, cluster, params, x, y, batch, threads))
    for r in runners:  # compile / warm up
        r()
    times = {r.label: [] for r in runners}
    for _ in range(args.repeats):
        for r in runners:
            times[r.label].append(r())
    rows = []
    for r in runners:
        wall = [t for t, _ in times[r.label]]
        cpu = [c for _, c in times[r.label]]
        rate = n / statistics.median(wall)
        rows.append(
            dict(
                batch=batch,
                label=r.label,
                device=r.device,
                rate=rate,
                lo=n / max(wall),
                hi=n / min(wall),
                cpu_rate=n / statistics.median(cpu),
                gflops=rate * flops["train"] / 1e9,
                steps=n // batch,
            )
        )
    torch_rate = max((row["rate"] for row in rows if row["label"].startswith("torch")), default=None)
    for row in rows:
        row["ratio"] = row["rate"] / torch_rate if torch_rate else None
    return rows, runners


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=None, help="batch sizes (default 1024 8192)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per row (default 5)")
    parser.add_argument(
        "--samples",
        type=int,
        default=None,
        help="training samples per timed call, rounded down to whole batches (default 16384)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: batch 256, 2 steps, 1 repeat, no GEMM")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    parser.add_argument("--gemm", type=int, default=None, help="side of the reference GEMM (default 1024; 0: none)")
    args = parser.parse_args(argv)
    quick = dict(batch=[256], repeats=1, samples=512, gemm=0)
    full = dict(batch=[1024, 8192], repeats=5, samples=16384, gemm=1024)
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    torch = None if args.no_torch else import_torch()
    if torch is not None:
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    cluster = load_lattice(LATTICE)
    model = make_model("dilated", cluster, **CONFIG)
    x0, _ = synthetic_data(64, cluster.n_sites, seed=7)
    params = model.init(jax.random.key(0), x0[:1])
    flops = flops_per_sample(cluster.n_sites, CONFIG["channels"], CONFIG["kernel_size"])

    print(
        f"sign-network training speed, {LATTICE} ({cluster.n_sites} sites), float32, Adam lr {LR}, "
        f"softmax cross-entropy"
    )
    v = package_versions()
    print(
        f"nqs_dilated {v['nqs_dilated']} ({git_revision()}), jax {v['jax']}, flax {v['flax']}, optax {v['optax']}, backend {jax.default_backend()}, "
        f"devices {jax.devices()}"
    )
    if torch is None:
        print("torch: absent (not importable: pip install '.[bench]'; or --no-torch)")
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"cores this process may use: {len(os.sched_getaffinity(0))} (os.sched_getaffinity) of "
        f"{os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; {platform.processor() or platform.machine()}; "
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
    )
    print(
        f"model: channels {CONFIG['channels']}, {CONFIG['kernel_size']}x{CONFIG['kernel_size']} kernel on the "
        f"(L1, L2) = {tuple(cluster.extent)} grid (9 taps: the 6 nearest neighbours of the triangular lattice, "
        f"+-(a1 + a2), and the site itself, x dilation), dilations {CONFIG['dilations']}, ReLU, mean pool, Dense(2)"
    )
    print(f"parameters: ours {n_params(params)}", end="")
    xg0 = x0[:, cluster.site_of.reshape(-1)].reshape(-1, 1, *cluster.extent)
    if torch is not None:
        ref = TorchRunner(torch, cluster, params, x0, np.zeros(len(x0), np.int32), len(x0), 1)
        diff = np.max(np.abs(np.asarray(jax.jit(model.apply)(params, x0)) - ref.logits(xg0)))
        print(f", torch {ref.n_params}; max |logits ours - torch| with the same parameters = {diff:.1e}")
        del ref
    else:
        print()
    print(
        f"FLOPs per sample: forward {flops['forward'] / 1e6:.3f} M (conv {flops['conv_macs']} + head "
        f"{flops['head_macs']} multiply-adds), training step 3 x forward = {flops['train'] / 1e6:.3f} M"
    )
    print(
        f"timing: {args.repeats} interleaved repeats per row, each a jitted call of ~{args.samples} samples; "
        f"median samples/s (min-max), samples per CPU-second of this process"
    )
    micro = sign_steps.default_micro_batch()
    print(
        f"ours: the driver's steps, gradient accumulated over micro-batches of {micro} samples"
        if micro
        else "ours: the driver's steps, whole batches (no micro-batches off the CPU)"
    )
    print()

    gemm = GemmRunner(args.gemm) if args.gemm else None
    gemm_rates = []
    all_rows, paths = [], set()
    for batch in args.batch:
        rows, runners = bench_batch(batch, args, cluster, model, params, torch, flops)
        paths.update(r.path for r in runners)
        if gemm is not None:
            t = [gemm()[0] for _ in range(max(3, args.repeats))]
            gemm_rates.append(2 * args.gemm**3 / statistics.median(t) / 1e9)
        all_rows += rows
        del runners
        jax.clear_caches()

    head = f"{'batch':>6} {'implementation':20} {'device':10} {'samples/s':>10} {'(min-max)':>15} {'/cpu-s':>8} {'vs torch':>8} {'GFLOP/s':>8}"
    print(head)
    print("-" * len(head))
    for r in all_rows:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "n/a"
        spread = f"({r['lo']:.0f}-{r['hi']:.0f})"
        print(
            f"{r['batch']:>6} {r['label']:20} {r['device'][:10]:10} {r['rate']:10.0f} "
            f"{spread:>15} {r['cpu_rate']:8.0f} {ratio:>8} {r['gflops']:8.1f}"
        )
    if torch is None:
        print(f"{'':>6} {'torch reference':20} absent (torch not importable or --no-torch)")
    else:
        print("vs torch: samples/s over the faster of the torch rows at the same batch (median wall time)")
    print()
    if gemm_rates:
        print(
            f"attainable: XLA float32 GEMM {args.gemm}^3 on {gemm.device}: median {statistics.median(gemm_rates):.1f} "
            f"GFLOP/s (measured after each batch size: {', '.join(f'{g:.1f}' for g in gemm_rates)})"
        )
    print(f"training path timed: {', '.join(sorted(paths))}")
    print(f"peak RSS {peak_rss_gib():.2f} GiB")
    return all_rows


if __name__ == "__main__":
    main()
    sys.stdout.flush()
