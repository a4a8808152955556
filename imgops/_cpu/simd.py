"""Sixteen-lane float32 vector code for BM3D on the CPU: its per-block 2-D transforms and
its block matching (a column's squared differences for a whole row of window offsets,
the window sums, compare masks, their bit counts, and the gathering of candidates).

Numba leaves LLVM's SLP vectoriser off (it miscompiled in the past), and the loop
vectoriser does not take loops of 8, so the separable 8 x 8 transforms of a block run as
scalar code: 16 eight-point butterflies one value at a time. The two intrinsics here
emit them as vector code instead, two blocks at once (a group's blocks two by two, a
lone block with itself; in the Wiener stage the noisy and the basic block at one
position): row r of both blocks is one vector of 16 floats, block a in lanes 0-7 and
block b in lanes 8-15; one pass of 8 butterflies runs as a single butterfly on vectors,
and an 8 x 8 transpose of each half (shuffles) turns columns into rows between the
passes. Per block, on this machine's 512-bit registers: with eight-lane vectors of one
block the forward transform took 17 ns (55 ns scalar) and the inverse with its
accumulation 32 ns (83 ns); two blocks per vector made BM3D 6-14 % faster again on
512 x 512 photographs (astronaut: normal 225 -> 201 ms, fast 50 -> 43 ms). A transform
kind given as a constant (as the kernels give it) compiles alone, else both behind a
branch.

The butterflies are not written again here: the shared scalar functions
(:func:`imgops._shared.bm3d.dct8` and the others, plain Python arithmetic under
``@njit``) are *traced*, i.e. run once at compile time on :class:`_Traced` values whose
``+``, ``-`` and ``*`` emit the vector instructions. The operations, their order and
their float32 rounding are the scalar code's, lane by lane (no fused multiply-add: LLVM
does not contract without fast-math flags), so the results are bitwise those of
``fwd2_at`` and ``inv2`` followed by the scalar accumulation; the tests check it.

The matching's helpers emit the lane-wise arithmetic of the scalar distance (rows in
order, then the columns pairwise: the shared ``block_ssd``) on one vector lane per
window offset; the loop vectoriser cannot be given those lanes (the offsets are the
inner dimension of a loop over columns). Every helper runs from Python as well, as the
same float32 arithmetic in NumPy, for ``NUMBA_DISABLE_JIT``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

from .._shared.bm3d import BIOR, BLOCK, bior8, dct8, fwd2_at, ibior8, idct8, inv2

_FLT = ir.FloatType()
_VEC = ir.VectorType(_FLT, BLOCK)
_MASK = ir.VectorType(ir.IntType(32), BLOCK)  # shuffle masks


class _Traced:
    """A vector of float32 lanes (8 or 16) in the LLVM IR being built; arithmetic with another
    vector or a scalar constant (broadcast) emits the lane-wise instruction."""

    __array_ufunc__ = None  # numpy scalars defer to the reflected operators below

    def __init__(self, builder: ir.IRBuilder, value):
        self.b = builder
        self.v = value

    def _operand(self, other):
        if isinstance(other, _Traced):
            return other.v
        c = float(np.float32(other))  # the float32 constant the scalar code uses
        return ir.Constant(self.v.type, [c] * self.v.type.count)

    def __add__(self, other):
        return _Traced(self.b, self.b.fadd(self.v, self._operand(other)))

    def __radd__(self, other):
        return _Traced(self.b, self.b.fadd(self._operand(other), self.v))

    def __sub__(self, other):
        return _Traced(self.b, self.b.fsub(self.v, self._operand(other)))

    def __rsub__(self, other):
        return _Traced(self.b, self.b.fsub(self._operand(other), self.v))

    def __mul__(self, other):
        return _Traced(self.b, self.b.fmul(self.v, self._operand(other)))

    def __rmul__(self, other):
        return _Traced(self.b, self.b.fmul(self._operand(other), self.v))

    def __neg__(self):
        return _Traced(self.b, self.b.fneg(self.v))


def _butterfly(fn, builder, vecs):
    """Run the scalar 8-point function ``fn`` (a shared ``@njit`` one) on 8 vectors."""
    out = fn.py_func(*(_Traced(builder, v) for v in vecs))
    return [t.v for t in out]


def _transpose(builder, rows):
    """8 x 8 transpose of 8 vectors: three rounds of shuffles, round k swapping bit k of
    the row index with bit k of the lane index. Vectors of 16 lanes hold two blocks, one
    per half: each half is transposed on its own."""
    rows = list(rows)
    n = rows[0].type.count
    mask = ir.VectorType(ir.IntType(32), n)
    for k in range(3):
        bit = 1 << k
        # lane c = h + cc (h: the half's first lane); the second operand's lanes are n + c
        lo = [c if not c & bit else n + c - bit for c in range(n)]
        hi = [c + bit if not c & bit else n + c for c in range(n)]
        nxt = list(rows)
        for i in range(BLOCK):
            if i & bit:
                continue
            j = i | bit
            nxt[i] = builder.shuffle_vector(rows[i], rows[j], ir.Constant(mask, lo))
            nxt[j] = builder.shuffle_vector(rows[i], rows[j], ir.Constant(mask, hi))
        rows = nxt
    return rows


def _join(builder, a, b):
    """Two 8-lane vectors as one of 16 (a in lanes 0-7)."""
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(ir.IntType(32), 2 * BLOCK),
                                                    list(range(2 * BLOCK))))


def _half(builder, v, h):
    """Lanes 8 h .. 8 h + 7 of a 16-lane vector."""
    return builder.shuffle_vector(v, v, ir.Constant(_MASK, [BLOCK * h + c for c in range(BLOCK)]))


def _pointer(context, builder, aryty, ary, inds):
    """Pointer to the element ``inds`` (intp values) of the array ``ary``."""
    a = context.make_array(aryty)(context, builder, ary)
    shape = cgutils.unpack_tuple(builder, a.shape, aryty.ndim)
    strides = cgutils.unpack_tuple(builder, a.strides, aryty.ndim)
    return cgutils.get_item_pointer2(context, builder, a.data, shape, strides, aryty.layout,
                                     inds)


def _vptr(builder, p):
    """The float pointer ``p`` as a pointer to 8 floats (loads and stores: align 4)."""
    return builder.bitcast(p, _VEC.as_pointer())


def _intp(context, builder, value, ty):
    return context.cast(builder, value, ty, types.intp)


def _check(ty, ndim):
    if not (isinstance(ty, types.Array) and ty.dtype == types.float32 and ty.ndim == ndim
            and ty.layout == "C"):
        raise TypeError(f"expected a C-contiguous {ndim}-D float32 array; got {ty}")


def _by_kind(builder, kind, kind_type, emit):
    """Emit ``emit(bior)``: for the kind only, when ``kind`` is a compile-time constant
    (a literal: half the code to compile), else for both behind a branch on it."""
    if isinstance(kind_type, types.IntegerLiteral):
        emit(kind_type.literal_value == BIOR)
        return
    is_bior = builder.icmp_signed("==", kind, ir.Constant(kind.type, BIOR))
    with builder.if_else(is_bior) as (bior, dct):
        with bior:
            emit(True)
        with dct:
            emit(False)


@intrinsic(prefer_literal=True)
def _fwd2_pair_vec(typingctx, kind, src_a, ya, xa, dst_a, src_b, yb, xb, dst_b):
    for t in (src_a, src_b):
        _check(t, 2)
    for t in (dst_a, dst_b):
        _check(t, 1)

    def codegen(context, builder, sig, args):
        kind_v = args[0]
        halves = []
        for s_i, y_i, x_i in ((1, 2, 3), (5, 6, 7)):
            yi = _intp(context, builder, args[y_i], sig.args[y_i])
            xi = _intp(context, builder, args[x_i], sig.args[x_i])
            rows = []
            for r in range(BLOCK):
                p = _pointer(context, builder, sig.args[s_i], args[s_i],
                             [builder.add(yi, ir.Constant(yi.type, r)), xi])
                rows.append(builder.load(_vptr(builder, p), align=4))
            halves.append(rows)
        rows = [_join(builder, a, b) for a, b in zip(*halves, strict=True)]
        kind_i = _intp(context, builder, kind_v, sig.args[0])

        def emit(bior):
            f8 = bior8 if bior else dct8
            cols = _butterfly(f8, builder, rows)
            coef = _butterfly(f8, builder, _transpose(builder, cols))
            for k, vec in enumerate(_transpose(builder, coef)):
                for h, d_i in enumerate((4, 8)):
                    p = _pointer(context, builder, sig.args[d_i], args[d_i],
                                 [ir.Constant(cgutils.intp_t, BLOCK * k)])
                    builder.store(_half(builder, vec, h), _vptr(builder, p), align=4)

        _by_kind(builder, kind_i, sig.args[0], emit)
        return context.get_dummy_value()

    return types.none(kind, src_a, ya, xa, dst_a, src_b, yb, xb, dst_b), codegen


@intrinsic(prefer_literal=True)
def _inv2_acc_pair_vec(typingctx, kind, coef_a, coef_b, kwin, num, pya, pxa, pyb, pxb,
                       both):
    for t in (coef_a, coef_b, kwin):
        _check(t, 1)
    _check(num, 2)
    if not isinstance(both, types.Boolean):
        raise TypeError(f"expected a bool; got {both}")

    def codegen(context, builder, sig, args):
        kind_v, ca_v, cb_v, kwin_v, num_v = args[:5]
        crow = []
        for k in range(BLOCK):
            two = []
            for c_i in (1, 2):
                p = _pointer(context, builder, sig.args[c_i], args[c_i],
                             [ir.Constant(cgutils.intp_t, BLOCK * k)])
                two.append(builder.load(_vptr(builder, p), align=4))
            crow.append(_join(builder, *two))
        kind_i = _intp(context, builder, kind_v, sig.args[0])

        def emit(bior):
            f8 = ibior8 if bior else idct8
            rowinv = _butterfly(f8, builder, _transpose(builder, crow))
            pix = _butterfly(f8, builder, _transpose(builder, rowinv))
            def add(h, y_i, x_i):
                yi = _intp(context, builder, args[y_i], sig.args[y_i])
                xi = _intp(context, builder, args[x_i], sig.args[x_i])
                for i, vec in enumerate(pix):
                    pw = _pointer(context, builder, sig.args[3], kwin_v,
                                  [ir.Constant(cgutils.intp_t, BLOCK * i)])
                    w = builder.load(_vptr(builder, pw), align=4)
                    pn = _pointer(context, builder, sig.args[4], num_v,
                                  [builder.add(yi, ir.Constant(yi.type, i)), xi])
                    cur = builder.load(_vptr(builder, pn), align=4)
                    val = builder.fmul(w, _half(builder, vec, h))
                    builder.store(builder.fadd(cur, val), _vptr(builder, pn), align=4)

            # block a is added first, then block b (they may overlap), if ``both``
            add(0, 5, 6)
            with builder.if_then(args[9]):
                add(1, 7, 8)

        _by_kind(builder, kind_i, sig.args[0], emit)
        return context.get_dummy_value()

    return types.none(kind, coef_a, coef_b, kwin, num, pya, pxa, pyb, pxb, both), codegen


def fwd2_pair(kind, src_a, ya, xa, dst_a, src_b, yb, xb, dst_b):
    """Two blocks' 2-D transforms ``kind`` at once: ``dst_a[0:64]`` of the block
    ``src_a[ya:ya + 8, xa:xa + 8]`` and ``dst_b`` of ``src_b`` at ``(yb, xb)`` (float32,
    C-contiguous), coefficient (k, j) at ``8 k + j``: bitwise ``fwd2_at`` (columns, then
    rows) of each. Compiled: one pass of 16-lane vector code, a block per half; called
    from Python (and so under ``NUMBA_DISABLE_JIT``, as in the CUDA simulator's tests):
    ``fwd2_at`` itself."""
    fwd2_at(kind, src_a, ya, xa, dst_a)
    fwd2_at(kind, src_b, yb, xb, dst_b)


def _inv2_accumulate(kind, coef, kwin, num, py, px):
    """The scalar code: ``num[py:py + 8, px:px + 8] += kwin * inv2(kind, coef)``."""
    blk = np.empty(BLOCK * BLOCK, np.float32)
    inv2(kind, coef, blk)
    num[py:py + BLOCK, px:px + BLOCK] += (kwin * blk).reshape(BLOCK, BLOCK)


def inv2_accumulate_pair(kind, coef_a, coef_b, kwin, num, pya, pxa, pyb, pxb, both=True):
    """``num[pya:pya + 8, pxa:pxa + 8] += kwin * inv2(kind, coef_a)``, then, if ``both``,
    the same for ``coef_b`` at ``(pyb, pxb)`` (the blocks may overlap); ``coef_*`` and
    ``kwin``: 64 values, row-major; all float32, C-contiguous. Bitwise ``inv2`` (rows,
    then columns) followed by the scalar ``num += kwin * block``. Compiled: both inverse
    transforms in one pass of 16-lane vector code (``both=False`` serves a lone block:
    ``coef_b`` is transformed, not added); from Python: that scalar code."""
    _inv2_accumulate(kind, coef_a, kwin, num, pya, pxa)
    if both:
        _inv2_accumulate(kind, coef_b, kwin, num, pyb, pxb)


@overload(fwd2_pair, inline="always", prefer_literal=True)
def _fwd2_pair_jit(kind, src_a, ya, xa, dst_a, src_b, yb, xb, dst_b):
    def impl(kind, src_a, ya, xa, dst_a, src_b, yb, xb, dst_b):
        _fwd2_pair_vec(kind, src_a, ya, xa, dst_a, src_b, yb, xb, dst_b)
    return impl


@overload(inv2_accumulate_pair, inline="always", prefer_literal=True)
def _inv2_accumulate_pair_jit(kind, coef_a, coef_b, kwin, num, pya, pxa, pyb, pxb,
                              both=True):
    def impl(kind, coef_a, coef_b, kwin, num, pya, pxa, pyb, pxb, both=True):
        _inv2_acc_pair_vec(kind, coef_a, coef_b, kwin, num, pya, pxa, pyb, pxb, both)
    return impl


# ----------------------------------------------------------------------------- matching
# Block matching keeps one row of search-window offsets in the lanes: for a column x of
# a row of reference blocks and a window row, lane l holds the candidate at horizontal
# offset l - hw. A 39-wide window is two 16-lane vectors and one of 8 (lane 39 is spare).
def _lane_widths(n16: int, n8: int) -> list[int]:
    return [2 * BLOCK] * n16 + [BLOCK] * n8


def _vload(context, builder, aryty, ary, inds, width):
    p = _pointer(context, builder, aryty, ary, inds)
    return builder.load(builder.bitcast(p, ir.VectorType(_FLT, width).as_pointer()), align=4)


def _vstore(context, builder, aryty, ary, inds, vec):
    p = _pointer(context, builder, aryty, ary, inds)
    builder.store(vec, builder.bitcast(p, vec.type.as_pointer()), align=4)


def _splat(builder, scalar, width):
    """The float ``scalar`` in every one of ``width`` lanes."""
    i32 = ir.IntType(32)
    v = builder.insert_element(ir.Constant(ir.VectorType(_FLT, width), ir.Undefined), scalar,
                               ir.Constant(i32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, width), [0] * width))


def _literal_counts(n16, n8):
    if not (isinstance(n16, types.IntegerLiteral) and isinstance(n8, types.IntegerLiteral)):
        raise TypeError("the lane counts must be compile-time constants")
    return _lane_widths(n16.literal_value, n8.literal_value)


@intrinsic(prefer_literal=True)
def _column_ssd_vec(typingctx, img, y, x, pad, yc, cb, co, po, p2, ro, pair, n16, n8):
    for t in (img, pad):
        _check(t, 2)
    for t in (cb, p2):
        _check(t, 1)
    widths = _literal_counts(n16, n8)

    def codegen(context, builder, sig, args):
        st = sig.args

        def iv(k):
            return _intp(context, builder, args[k], st[k])

        yi, xi, yci, coi, poi, roi = iv(1), iv(2), iv(4), iv(6), iv(7), iv(9)

        def const(v):
            return ir.Constant(yi.type, v)

        avals = [builder.load(_pointer(context, builder, st[0], args[0],
                                       [builder.add(yi, const(u)), xi]))
                 for u in range(BLOCK)]
        sums = []
        off = 0
        for w in widths:
            t = None
            for u in range(BLOCK):  # rows in order, as the scalar code sums them
                row = _vload(context, builder, st[3], args[3],
                             [builder.add(yci, const(u)), builder.add(xi, const(off))], w)
                d = builder.fsub(_splat(builder, avals[u], w), row)
                sq = builder.fmul(d, d)
                t = sq if t is None else builder.fadd(t, sq)
            _vstore(context, builder, st[5], args[5], [builder.add(coi, const(off))], t)
            sums.append((off, w, t))
            off += w
        with builder.if_then(args[10]):
            for off, w, t in sums:
                prev = _vload(context, builder, st[5], args[5],
                              [builder.add(poi, const(off))], w)
                _vstore(context, builder, st[8], args[8], [builder.add(roi, const(off))],
                        builder.fadd(prev, t))
        return context.get_dummy_value()

    return types.none(img, y, x, pad, yc, cb, co, po, p2, ro, pair, n16, n8), codegen


@intrinsic(prefer_literal=True)
def _window_sums_vec(typingctx, p2, r0, r2, r4, r6, out, oo, n16, n8):
    for t in (p2, out):
        _check(t, 1)
    widths = _literal_counts(n16, n8)

    def codegen(context, builder, sig, args):
        st = sig.args
        rs = [_intp(context, builder, args[k], st[k]) for k in (1, 2, 3, 4)]
        ooi = _intp(context, builder, args[6], st[6])
        off = 0
        for w in widths:
            c = ir.Constant(ooi.type, off)
            v = [_vload(context, builder, st[0], args[0], [builder.add(r, c)], w) for r in rs]
            s = builder.fadd(builder.fadd(v[0], v[1]), builder.fadd(v[2], v[3]))
            _vstore(context, builder, st[5], args[5], [builder.add(ooi, c)], s)
            off += w
        return context.get_dummy_value()

    return types.none(p2, r0, r2, r4, r6, out, oo, n16, n8), codegen


def column_ssd(img, y, x, pad, yc, cb, co, po, p2, ro, pair, n16, n8):
    """One column of a row of reference blocks against a row of the search window, the
    window's offsets in lanes ``l < L = 16 n16 + 8 n8``::

        cb[co + l] = sum_{u < 8} (img[y + u, x] - pad[yc + u, x + l])^2   (u in order)
        if pair: p2[ro + l] = cb[po + l] + cb[co + l]

    (``pad``: the image shifted right by the window's half-width; ``cb[po:]`` holds the
    previous column's sums, so ``p2`` gets the sums of two adjacent columns). float32,
    C-contiguous; ``n16`` and ``n8`` compile-time constants. Compiled: 16- and 8-lane
    vector code; from Python: the same float32 arithmetic with NumPy."""
    n = 2 * BLOCK * n16 + BLOCK * n8
    d = img[y:y + BLOCK, x:x + 1] - pad[yc:yc + BLOCK, x:x + n]
    sq = d * d
    t = sq[0].copy()
    for u in range(1, BLOCK):
        t += sq[u]
    cb[co:co + n] = t
    if pair:
        p2[ro:ro + n] = cb[po:po + n] + t


def window_sums(p2, r0, r2, r4, r6, out, oo, n16, n8):
    """``out[oo + l] = (p2[r0 + l] + p2[r2 + l]) + (p2[r4 + l] + p2[r6 + l])`` for ``l <
    16 n16 + 8 n8``: four pair sums of columns make the 8-wide window's sum (the shared
    ``pair_sum8`` order). Compiled: vector code; from Python: NumPy."""
    n = 2 * BLOCK * n16 + BLOCK * n8
    out[oo:oo + n] = (p2[r0:r0 + n] + p2[r2:r2 + n]) + (p2[r4:r4 + n] + p2[r6:r6 + n])


@overload(column_ssd, inline="always", prefer_literal=True)
def _column_ssd_jit(img, y, x, pad, yc, cb, co, po, p2, ro, pair, n16, n8):
    def impl(img, y, x, pad, yc, cb, co, po, p2, ro, pair, n16, n8):
        _column_ssd_vec(img, y, x, pad, yc, cb, co, po, p2, ro, pair, n16, n8)
    return impl


@overload(window_sums, inline="always", prefer_literal=True)
def _window_sums_jit(p2, r0, r2, r4, r6, out, oo, n16, n8):
    def impl(p2, r0, r2, r4, r6, out, oo, n16, n8):
        _window_sums_vec(p2, r0, r2, r4, r6, out, oo, n16, n8)
    return impl


def _check_le16(a, lim):
    _check(a, 1)
    if lim != types.float32:
        raise TypeError(f"expected a float32 limit; got {lim}")


def _le16(context, builder, sig, args):
    """The <16 x i1> mask of ``a[base + i] <= lim`` (args: a, base, lim, ...)."""
    v = _vload(context, builder, sig.args[0], args[0],
               [_intp(context, builder, args[1], sig.args[1])], 2 * BLOCK)
    return builder.fcmp_ordered("<=", v, _splat(builder, args[2], 2 * BLOCK))


def _mask_bits(builder, mask):
    """A <16 x i1> mask as the low bits of an int64."""
    return builder.zext(builder.bitcast(mask, ir.IntType(2 * BLOCK)), ir.IntType(64))


def _ctpop_ir(builder, x):
    i64 = ir.IntType(64)
    fn = builder.module.declare_intrinsic("llvm.ctpop", [i64], ir.FunctionType(i64, [i64]))
    return builder.call(fn, [x])


@intrinsic
def _le_mask16_vec(typingctx, a, base, lim):
    _check_le16(a, lim)

    def codegen(context, builder, sig, args):
        return _mask_bits(builder, _le16(context, builder, sig, args))

    return types.int64(a, base, lim), codegen


def le_mask16(a, base, lim):
    """The 16-bit mask of ``a[base + i] <= lim`` for ``i < 16`` (bit i; false for NaN),
    as an int64. Compiled: one vector compare; from Python: NumPy."""
    bits = np.flatnonzero(a[base:base + 2 * BLOCK] <= lim)
    return int(sum(1 << int(i) for i in bits))


@overload(le_mask16, inline="always")
def _le_mask16_jit(a, base, lim):
    def impl(a, base, lim):
        return _le_mask16_vec(a, base, lim)
    return impl


@intrinsic
def _gather_le16_vec(typingctx, a, base, lim, out, k):
    _check_le16(a, lim)
    if not (isinstance(out, types.Array) and out.dtype == types.int32 and out.ndim == 1
            and out.layout == "C"):
        raise TypeError(f"expected a C-contiguous 1-D int32 array; got {out}")

    def codegen(context, builder, sig, args):
        st = sig.args
        i32 = ir.IntType(32)
        vt = ir.VectorType(i32, 2 * BLOCK)
        bi = _intp(context, builder, args[1], st[1])
        m = _le16(context, builder, sig, args)
        first = builder.insert_element(ir.Constant(vt, ir.Undefined), builder.trunc(bi, i32),
                                       ir.Constant(i32, 0))
        idx = builder.add(builder.shuffle_vector(first, first, ir.Constant(vt, [0] * 2 * BLOCK)),
                          ir.Constant(vt, list(range(2 * BLOCK))))
        dst = _pointer(context, builder, st[3], args[3], [_intp(context, builder, args[4],
                                                                st[4])])
        store = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [vt, i32.as_pointer(),
                                            ir.VectorType(ir.IntType(1), 2 * BLOCK)]),
            "llvm.masked.compressstore.v16i32")
        builder.call(store, [idx, dst, m])
        return _ctpop_ir(builder, _mask_bits(builder, m))

    return types.int64(a, base, lim, out, k), codegen


def gather_le16(a, base, lim, out, k):
    """Write the indices ``base + i`` (``i < 16``, in order) with ``a[base + i] <= lim``
    to ``out[k:]`` (int32) and return how many. Compiled: one vector compare and a
    compressing store (no branch per candidate); from Python: NumPy."""
    idx = base + np.flatnonzero(a[base:base + 2 * BLOCK] <= lim)
    out[k:k + idx.size] = idx
    return int(idx.size)


@overload(gather_le16, inline="always")
def _gather_le16_jit(a, base, lim, out, k):
    def impl(a, base, lim, out, k):
        return _gather_le16_vec(a, base, lim, out, k)
    return impl


@intrinsic
def _ctpop(typingctx, x):
    if x != types.int64:
        raise TypeError(f"expected an int64; got {x}")

    def codegen(context, builder, sig, args):
        return _ctpop_ir(builder, args[0])

    return types.int64(x), codegen


def popcount(x):
    """The number of set bits of the int64 ``x >= 0``. Compiled: LLVM's ``ctpop``."""
    return bin(int(x)).count("1")


@overload(popcount, inline="always")
def _popcount_jit(x):
    def impl(x):
        return _ctpop(x)
    return impl
