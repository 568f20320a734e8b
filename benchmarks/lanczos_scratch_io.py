"""Cost of keeping pass-1 Lanczos vectors on disk, by I/O mode, at the 36-site vector size.

Usage:
    python benchmarks/lanczos_scratch_io.py [--n 31554903] [--count 84] [--ballast-gib 8]
        [--dir DIR] [--modes buffered,direct,staged]

For each mode, ``count`` vectors of ``n`` float64 (36 sites: 84 vectors of 252 MB, 21 GB) are
appended with :class:`nqs_dilated.ed.lanczos._KeptVectors` while a ``ballast`` of anonymous memory
(the 36-site structure, ~8 GiB) is held, then the Ritz combination is read back. Modes:
``buffered`` (every vector through the page cache), ``direct`` (every vector by direct I/O),
``staged`` (the default of the Lanczos: through the page cache while the available memory lasts,
then direct). Printed per mode:
wall time of the appends (the writes run on a background thread; this waits for each), the
process CPU time they cost (user + system, i.e. what the writes take from the matvec threads),
and the read-back wall time. The modes are compared in one run on one machine. Data read back
seconds after it was written may still be in the VM host's cache: the 36-site Lanczos read its
direct-I/O vectors back at 160 MB/s where this benchmark reads at GB/s, so the write figures are
the representative ones here.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from nqs_dilated.ed import lanczos
    from nqs_dilated.ed.store import store_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=31_554_903)
    ap.add_argument("--count", type=int, default=84)
    ap.add_argument("--ballast-gib", type=float, default=8.0)
    ap.add_argument("--dir", default=None, help="scratch directory (default: the ED store directory)")
    ap.add_argument("--modes", default="buffered,direct,staged")
    args = ap.parse_args()
    scratch = args.dir or str(store_dir())
    ballast = np.ones(int(args.ballast_gib * 2**30) // 8)  # touched: resident
    n = args.n
    print(
        f"vectors: {args.count} x {8 * n / 1e6:.0f} MB = {args.count * 8 * n / 1e9:.1f} GB in {scratch}; "
        f"ballast {ballast.nbytes / 2**30:.1f} GiB",
        flush=True,
    )
    vs = [lanczos._aligned_empty(n) for _ in range(2)]
    for v in vs:
        v[:] = np.random.default_rng(0).standard_normal(n)
    out = lanczos._aligned_empty(n)
    buf = lanczos._aligned_empty(n)
    s = np.full(args.count, 1.0 / args.count)
    for mode in args.modes.split(","):
        kw = {
            "buffered": dict(direct=False, cache_budget=0),
            "direct": dict(direct=True, cache_budget=0),
            "staged": dict(direct=True),
        }[mode]
        kept = lanczos._KeptVectors(n, 0, scratch, **kw)
        c0, t0 = _cpu(), time.perf_counter()
        for j in range(args.count):
            kept.append(vs[j % 2])
            kept._wait()
        t_w, c_w = time.perf_counter() - t0, _cpu() - c0
        c0, t0 = _cpu(), time.perf_counter()
        counts = list(kept.counts)
        kept.ritz(s, out, buf)
        t_r, c_r = time.perf_counter() - t0, _cpu() - c0
        kept.drop()
        expect = 0.5 * (vs[0] + vs[1]) if args.count % 2 == 0 else None
        ok = "" if expect is None else f", Ritz combination correct: {np.allclose(out, expect)}"
        print(
            f"{mode:>10}: write {t_w:6.1f} s wall ({t_w / args.count:.3f} s per vector), {c_w:6.1f} s CPU; "
            f"read-back {t_r:6.1f} s wall, {c_r:6.1f} s CPU; page-cache/other file {counts}{ok}",
            flush=True,
        )


if __name__ == "__main__":
    main()
