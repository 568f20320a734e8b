import time, gc, sys, numpy as np, numba as nb
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from llvmlite import ir

@intrinsic
def prefetch(typingctx, arr, idx):
    sig = types.void(arr, idx)
    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p, ir.IntType(32), ir.IntType(32), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        i32 = ir.IntType(32)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return sig, codegen

@nb.njit(parallel=True, nogil=True)
def mv_pf(tile_ptr, entries, nblk, panel_rows, block_bits, code_bits, coef, d1, d2, j1, j2, inv_w, u, x, y, D):
    R = x.shape[0]
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
            k0 = tile_ptr[t]; k1 = tile_ptr[t + 1]
            kpf = min(k1, k0 + D)
            for k in range(k0, kpf):
                prefetch(u, ub + np.int64(entries[k] & colmask))
            for k in range(k0, k1):
                if k + D < k1:
                    prefetch(u, ub + np.int64(entries[k + D] & colmask))
                e = entries[k]
                r += e >> dsh
                y[r] += coef[(e >> col_bits) & codemask] * u[ub + (e & colmask)]
        for a in range(r0, r1):
            iw = inv_w[a]
            if iw == 0.0:
                y[a] = 0.0
            else:
                y[a] = (j1 * d1[a] + j2 * d2[a]) * x[a] + iw * y[a]

from nqs_dilated.lattice import load_lattice
from nqs_dilated.symmetry import space_group
from nqs_dilated.ed.basis import SymmetricBasis
from nqs_dilated.ed.operator import SymmetricStructure, _scale, _matvec_tiled
name = sys.argv[1] if len(sys.argv) > 1 else "triangular-6x6"
c = load_lattice(name); g = space_group(c)
t = time.perf_counter(); b = SymmetricBasis(c, g); print(f"basis {time.perf_counter()-t:.1f} s", flush=True)
x = np.random.default_rng(0).standard_normal(b.n_reps)
for bb in [int(v) for v in sys.argv[2].split(",")]:
    t = time.perf_counter(); s = SymmetricStructure(b, block_bits=bb)
    print(f"block {bb}: build {time.perf_counter()-t:.1f} s, entries {s.entries.nbytes/2**30:.2f} GiB, tiles {s.n_panels}x{s.n_blocks}", flush=True)
    op = s.sector_operator(g.sectors()[0], 1.0); y = np.empty_like(x); y2 = np.empty_like(x)
    op.matvec(x, y)
    u = np.empty_like(x); _scale(op.w, x, u)
    args = (s.tile_ptr, s.entries, s.n_blocks, s.panel_rows, s.block_bits, s.code_bits, op.coef, s.d1, s.d2, op.j1, op.j2, op.inv_w, u, x)
    for D in [0, 16, 64]:
        mv_pf(*args, y2, max(D, 1))
        assert np.max(np.abs(y2 - y)) < 1e-10
    for rep in range(2):
        ts = []
        for _ in range(2):
            t0 = time.perf_counter(); op.matvec(x, y); ts.append(time.perf_counter() - t0)
        line = f"  base {['%.2f' % v for v in ts]}"
        for D in [8, 32, 96]:
            t0 = time.perf_counter(); mv_pf(*args, y2, D); line += f"  pf{D} {time.perf_counter() - t0:.2f}"
        print(line, flush=True)
    del op, s, u; gc.collect()
