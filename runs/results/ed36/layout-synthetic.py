"""Measured 2026-12-01: synthetic random structures of the 36-site size (Poisson entries, uniform columns):
A = the previous tiled layout (row panels x 2^18 column blocks, output streamed per tile),
B = row blocks with entries sorted by column (input streamed per block). out2 is the rerun with
the count and fill passes drawing the same random numbers; its A figures ran beside another job."""

import sys
import time

import numba as nb
import numpy as np

R = 31_554_903
NNZ_ROW = 1_752_657_800 / R
CODE_BITS = 5
rng_seed = 0


@nb.njit(parallel=True, cache=True)
def gen_A(R, panel_rows, block_bits, lam, counts_only, tile_ptr, out):
    nblk = (R + (1 << block_bits) - 1) >> block_bits
    npan = (R + panel_rows - 1) // panel_rows
    ntile = npan * nblk
    col_bits = 32 - CODE_BITS - 6
    for t in nb.prange(ntile):
        np.random.seed(t + 1)
        p = t // nblk
        b = t % nblk
        r0 = p * panel_rows
        r1 = min(R, r0 + panel_rows)
        bsz = min(1 << block_bits, R - (b << block_bits))
        pos = tile_ptr[t]
        last = r0
        cnt = 0
        for r in range(r0, r1):
            n = np.random.poisson(lam)
            for _ in range(n):
                d = r - last
                while d >= 63:
                    if not counts_only:
                        out[pos] = np.uint32(63) << 26 | np.uint32(16) << col_bits
                    pos += 1
                    cnt += 1
                    d -= 63
                c = np.random.randint(0, bsz)
                code = np.random.randint(0, 16)
                if not counts_only:
                    out[pos] = (np.uint32(d) << 26) | (np.uint32(code) << col_bits) | np.uint32(c)
                pos += 1
                cnt += 1
                last = r
        if counts_only:
            tile_ptr[t + 1] = cnt


@nb.njit(parallel=True, cache=True, nogil=True)
def mv_A(tile_ptr, entries, nblk, panel_rows, block_bits, code_bits, coef, inv_w, u, y):
    R = y.shape[0]
    npan = (R + panel_rows - 1) // panel_rows
    col_bits = np.uint32(32 - code_bits - 6)
    dsh = np.uint32(32 - 6)
    colmask = np.uint32((1 << col_bits) - 1)
    codemask = np.uint32((1 << code_bits) - 1)
    for p in nb.prange(npan):
        r0 = p * panel_rows
        r1 = min(R, r0 + panel_rows)
        for a in range(r0, r1):
            y[a] = 0.0
        for b in range(nblk):
            ub = b << block_bits
            r = r0
            t = p * nblk + b
            for k in range(tile_ptr[t], tile_ptr[t + 1]):
                e = entries[k]
                r += e >> dsh
                y[r] += coef[(e >> col_bits) & codemask] * u[ub + (e & colmask)]
        for a in range(r0, r1):
            y[a] = inv_w[a] * y[a]


@nb.njit(parallel=True, cache=True)
def gen_B(R, block_bits, lam, counts_only, blk_ptr, out):
    nblk = (R + (1 << block_bits) - 1) >> block_bits
    dbits = 32 - CODE_BITS - block_bits
    dmax = (1 << dbits) - 1
    for b in nb.prange(nblk):
        np.random.seed(b + 1)
        bsz = min(1 << block_bits, R - (b << block_bits))
        pos = blk_ptr[b]
        last = 0
        cnt = 0
        for c in range(R):
            n = np.random.poisson(lam)
            for _ in range(n):
                d = c - last
                while d >= dmax:
                    if not counts_only:
                        out[pos] = (np.uint32(dmax) << (32 - dbits)) | (np.uint32(16) << block_bits)
                    pos += 1
                    cnt += 1
                    d -= dmax
                rr = np.random.randint(0, bsz)
                code = np.random.randint(0, 16)
                if not counts_only:
                    out[pos] = (np.uint32(d) << (32 - dbits)) | (np.uint32(code) << block_bits) | np.uint32(rr)
                pos += 1
                cnt += 1
                last = c
        if counts_only:
            blk_ptr[b + 1] = cnt


@nb.njit(parallel=True, cache=True, nogil=True)
def mv_B(blk_ptr, entries, block_bits, code_bits, coef, inv_w, u, y):
    R = y.shape[0]
    nblk = (R + (1 << block_bits) - 1) >> block_bits
    dsh = np.uint32(code_bits + block_bits)
    rowmask = np.uint32((1 << block_bits) - 1)
    codemask = np.uint32((1 << code_bits) - 1)
    for b in nb.prange(nblk):
        r0 = b << block_bits
        r1 = min(R, r0 + (1 << block_bits))
        yb = y[r0:r1]
        yb[:] = 0.0
        c = 0
        for k in range(blk_ptr[b], blk_ptr[b + 1]):
            e = entries[k]
            c += e >> dsh
            yb[e & rowmask] += coef[(e >> block_bits) & codemask] * u[c]
        for a in range(r0, r1):
            y[a] = inv_w[a] * y[a]


def run(which, bits, panel_rows=1 << 23, reps=6):
    u = np.random.default_rng(0).standard_normal(R)
    inv_w = np.ones(R)
    y = np.empty(R)
    coef = np.random.default_rng(1).standard_normal(32)
    coef[16:] = 0
    lam = NNZ_ROW * (1 << bits) / R
    nblk = -(-R // (1 << bits))
    t = time.perf_counter()
    if which == "A":
        npan = -(-R // panel_rows)
        ptr = np.zeros(npan * nblk + 1, np.int64)
        gen_A(R, panel_rows, bits, lam, True, ptr, np.empty(1, np.uint32))
        np.cumsum(ptr, out=ptr)
        ent = np.empty(ptr[-1], np.uint32)
        gen_A(R, panel_rows, bits, lam, False, ptr, ent)
    else:
        ptr = np.zeros(nblk + 1, np.int64)
        gen_B(R, bits, lam, True, ptr, np.empty(1, np.uint32))
        np.cumsum(ptr, out=ptr)
        ent = np.empty(ptr[-1], np.uint32)
        gen_B(R, bits, lam, False, ptr, ent)
    tg = time.perf_counter() - t
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        if which == "A":
            mv_A(ptr, ent, nblk, panel_rows, bits, CODE_BITS, coef, inv_w, u, y)
        else:
            mv_B(ptr, ent, bits, CODE_BITS, coef, inv_w, u, y)
        ts.append(time.perf_counter() - t)
    print(
        f"{which} bits={bits} panel={panel_rows if which == 'A' else '-'} entries={ent.size / 1e9:.3f}G gen {tg:.0f}s matvec "
        + " ".join(f"{x:.2f}" for x in ts),
        flush=True,
    )
    del ent


if __name__ == "__main__":
    for spec in sys.argv[1:]:
        w, b = spec.split(":")
        run(w, int(b))
