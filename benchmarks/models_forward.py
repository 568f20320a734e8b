"""Forward time of the invariant dilated CNN on CPU: gather-conv vs flax nn.Conv, float32 vs float64.

Times ``jax.jit(model.apply)`` on a batch of ``1024 * 55`` random ±1 configurations (the ~55
network evaluations per sample of a VMC step with 1024 samples) on the given cluster, after one
warm-up call; prints the best and median of ``--repeat`` calls, for the whole batch at once and in
``lax.map`` chunks of ``--chunk`` configurations (what ``MCState(chunk_size=...)`` does). The nn.Conv reference uses the same
parameters on the ``(L1, L2)`` grid (identical outputs, tested in tests/test_models.py).

Usage: python benchmarks/models_forward.py [--lattice triangular-6x6] [--batch 56320] [--repeat 3] [--chunk 1024]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from nqs_dilated.lattice import load_lattice
from nqs_dilated.models import make_model, n_params


class GridConvReference(nn.Module):
    """Same network as InvariantDilatedCNN (sign head) built from nn.Conv(padding="CIRCULAR")."""

    site_of: tuple
    channels: tuple
    kernel_size: int
    dilations: tuple
    param_dtype: object

    @nn.compact
    def __call__(self, x):
        site_of = np.asarray(self.site_of)
        h = jnp.asarray(x, self.param_dtype)[..., site_of][..., None]  # (..., L1, L2, 1)
        for i, (c, d) in enumerate(zip(self.channels, self.dilations)):
            conv = nn.Conv(
                c,
                (self.kernel_size,) * 2,
                kernel_dilation=d,
                padding="CIRCULAR",
                param_dtype=self.param_dtype,
                name=f"CircularConv_{i}",
            )
            h = nn.relu(conv(h))
        h = jnp.mean(h, axis=(-3, -2))
        return nn.Dense(2, param_dtype=self.param_dtype, name="Dense_0")(h)


def timed(fn, *args, repeat):
    jax.block_until_ready(fn(*args))  # compile + warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lattice", default="triangular-6x6")
    parser.add_argument("--batch", type=int, default=1024 * 55)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=1024, help="chunk size of the lax.map run (divides batch)")
    args = parser.parse_args()

    cluster = load_lattice(args.lattice)
    cfg = dict(channels=(32, 32, 32), kernel_size=3, dilations=(1, 2, 3))
    x = np.random.default_rng(0).choice(np.array([-1, 1], np.int8), size=(args.batch, cluster.n_sites))
    print(
        f"jax {jax.__version__}, backend {jax.default_backend()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{args.lattice}: batch {args.batch} x {cluster.n_sites} sites, config {cfg}")
    for dtype in (jnp.float32, jnp.float64):
        model = make_model("dilated", cluster, param_dtype=dtype, **cfg)
        params = model.init(jax.random.key(0), x[:1])
        reference = GridConvReference(
            tuple(map(tuple, cluster.site_of)), cfg["channels"], cfg["kernel_size"], cfg["dilations"], dtype
        )
        p = dict(params["params"])
        ref_params = {"params": {**p, "Dense_0": p.pop("Readout_0")["Dense_0"]}}
        gather = jax.jit(model.apply)
        grid = jax.jit(reference.apply)
        diff = np.max(np.abs(np.asarray(gather(params, x[:256])) - np.asarray(grid(ref_params, x[:256]))))
        chunk = args.chunk
        chunked = jax.jit(
            lambda q, x, model=model, chunk=chunk: jax.lax.map(
                lambda xc: model.apply(q, xc), x.reshape(-1, chunk, x.shape[-1])
            ).reshape(-1, 2)
        )
        runs = (
            ("gather-conv", gather, params),
            (f"gather, chunks {chunk}", chunked, params),
            ("nn.Conv CIRCULAR", grid, ref_params),
        )
        for label, fn, q in runs:
            best, med = timed(fn, q, x, repeat=args.repeat)
            print(
                f"{jnp.dtype(dtype).name:8s} {label:20s} {n_params(params)} params: best {best:.3f} s, "
                f"median {med:.3f} s, {args.batch / best / 1e3:.1f} k configs/s "
                f"(max |gather - nn.Conv| = {diff:.1e})"
            )


if __name__ == "__main__":
    main()
