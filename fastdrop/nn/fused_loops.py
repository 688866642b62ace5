"""Numba loops of the fused layers (fused.py): the fused element passes of dense (B, F)
and conv (GEMM rows -> (B, C, L)) layers. The mask and Gaussian draws are in fused_draw.py.

Each element pass is written once as an inlined loop and compiled once per (activation,
dropout mode) pair through the entry points at the end, where both are constants: LLVM
folds the branches on them away and the loop is branch-free (selects) and vectorises. One
generic loop with those branches inside ran ReLU as a real, data-dependent branch: 58 us
instead of 11 us for 10^4 elements, measured (NOTES.md).
"""

from __future__ import annotations

import math

from numba import njit

from .loops import SELU_ALPHA, SELU_LAMBDA

ACT_NONE, ACT_RELU, ACT_SELU = 0, 1, 2
# what a kept element becomes: x*s (inverted, spatial), x (standard), a*x + b (alpha),
# x*f (gaussian, f = 1 + sigma*z), x*s always (standard at inference); NONE: no dropout
D_NONE, D_SCALE, D_COPY, D_AFFINE, D_GAUSS, D_MULT = range(6)


# ---------------------------------------------------------------------------------------
# element steps (inlined): the same expressions as loops.py's activations and cpu.py's
# dropout, so the fused values are the unfused ones bit for bit
# ---------------------------------------------------------------------------------------


@njit(inline="always")
def _act(v, act, zero):
    """ReLU and SELU as loops.py computes them (0 in x's dtype: a float64 literal would
    widen the select and stop the loop vectorising)."""
    if act == ACT_RELU:
        return v if not v <= zero else zero
    if act == ACT_SELU:
        return SELU_LAMBDA * v if v > 0 else SELU_LAMBDA * SELU_ALPHA * (math.exp(v) - 1.0)
    return v


@njit(inline="always")
def _act_grad(d, a, act, zero):
    """Gradient through the activation from its output a (a > 0 exactly when x > 0)."""
    if act == ACT_RELU:
        return d if a > zero else zero
    if act == ACT_SELU:
        return d * SELU_LAMBDA if a > 0 else d * (a + SELU_LAMBDA * SELU_ALPHA)
    return d


@njit(inline="always")
def _drop(a, kb8, m, f, i, mode, s, beta, dval, zero):
    """Dropout of a, mask entry m, element i. kb8 is read only by the masked modes and f
    only by gaussian (a pass without them gets one-element stand-ins)."""
    if mode == D_SCALE:
        v = a * s
        return v if kb8[m] != 0 else zero
    if mode == D_COPY:
        return a if kb8[m] != 0 else zero
    if mode == D_AFFINE:
        v = s * a + beta
        return v if kb8[m] != 0 else dval
    if mode == D_GAUSS:
        return a * f[i]
    if mode == D_MULT:
        return a * s
    return a


@njit(inline="always")
def _drop_grad(d, kb8, m, f, i, mode, s, zero):
    if mode == D_SCALE or mode == D_AFFINE:  # alpha's backward: a*dy (s holds a)
        v = d * s
        return v if kb8[m] != 0 else zero
    if mode == D_COPY:
        return d if kb8[m] != 0 else zero
    if mode == D_GAUSS:
        return d * f[i]
    if mode == D_MULT:
        return d * s
    return d


@njit(inline="always")
def _row(v, n, width):
    """Row n of a flat per-element array as a slice (a stand-in of one element stays
    whole: its pass never reads it)."""
    if v.size <= 1:
        return v
    return v[n * width:(n + 1) * width]


# ---------------------------------------------------------------------------------------
# the fused passes: dense (B, F) and conv (GEMM rows (B*L, C) -> (B, C, L))
# ---------------------------------------------------------------------------------------


@njit(inline="always")
def _dense_forward_loop(z, b, act, mode, kb8, f, s, beta, dval, zero, y):
    """z (B, F) = x W on entry; on exit z holds act(z + b) (for backward) and
    y = dropout(act(z + b)) (y may be z when mode is D_NONE). Mask entry = element.
    Rows as 1-D slices: contiguous inner loops, which LLVM vectorises."""
    B, F = z.shape
    for n in range(B):
        zr, yr, kr, fr = z[n], y[n], _row(kb8, n, F), _row(f, n, F)
        for j in range(F):
            zr[j] = _act(zr[j] + b[j], act, zero)
            if mode != D_NONE:  # D_NONE: y is z (a store to itself would stop vectorising)
                yr[j] = _drop(zr[j], kr, j, fr, j, mode, s, beta, dval, zero)


@njit(inline="always")
def _dense_backward_loop(dy, a, act, mode, kb8, f, s, zero, dz):
    """dz = act'(a) * dropout'(dy) for dense_forward's output a = act(z + b)."""
    B, F = dy.shape
    for n in range(B):
        dr, ar, zr, kr, fr = dy[n], a[n], dz[n], _row(kb8, n, F), _row(f, n, F)
        for j in range(F):
            zr[j] = _drop_grad(dr[j], kr, j, fr, j, mode, s, zero)
            zr[j] = _act_grad(zr[j], ar[j], act, zero)


@njit(inline="always")
def _conv_forward_loop(y2, b, act, mode, spatial, kb8, f, s, beta, dval, zero, a, y):
    """a[n, c, l] = act(y2[n*L + l, c] + b[c]); y = dropout(a). The mask entry of
    element (n, c, l) is its flat index, or its channel n*C + c when spatial.

    Element dropout runs as a second, flat pass over a: the first pass reads the GEMM rows
    transposed (stride C), which does not vectorise, while the flat one does, as the dense
    pass (10^4 - 5*10^4 elements: a stays in L1/L2 between the two; NOTES.md)."""
    B, C, L = a.shape
    for n in range(B):
        for c in range(C):
            bc = b[c]
            ch = n * C + c
            for l in range(L):
                a[n, c, l] = _act(y2[n * L + l, c] + bc, act, zero)
                if spatial:
                    y[n, c, l] = _drop(a[n, c, l], kb8, ch, f, 0, mode, s, beta, dval, zero)
    if mode != D_NONE and not spatial:
        af, yf = a.reshape(a.size), y.reshape(y.size)
        for i in range(af.size):
            yf[i] = _drop(af[i], kb8, i, f, i, mode, s, beta, dval, zero)


@njit(inline="always")
def _conv_backward_loop(dy, a, act, mode, spatial, kb8, f, s, zero, dz, dy2, db):
    """dz = act'(a) * dropout'(dy) written as GEMM rows dy2[n*L + l, c], and db[c] = the
    sum of dz over n, l (in loops.ncl_to_rows' order). dz: (B, C, L) scratch, computed
    by a flat pass (it vectorises; see _conv_forward_loop) unless spatial."""
    B, C, L = dy.shape
    if not spatial:
        dyf, af, dzf = dy.reshape(dy.size), a.reshape(a.size), dz.reshape(dz.size)
        for i in range(dzf.size):
            dzf[i] = _drop_grad(dyf[i], kb8, i, f, i, mode, s, zero)
            dzf[i] = _act_grad(dzf[i], af[i], act, zero)
    for c in range(C):
        db[c] = 0
    for n in range(B):
        for c in range(C):
            ch = n * C + c
            acc = db[c]
            for l in range(L):
                if spatial:
                    dz[n, c, l] = _drop_grad(dy[n, c, l], kb8, ch, f, 0, mode, s, zero)
                    dz[n, c, l] = _act_grad(dz[n, c, l], a[n, c, l], act, zero)
                v = dz[n, c, l]
                dy2[n * L + l, c] = v
                acc += v
            db[c] = acc


# --- entry points: act and mode constant in each call, so each loop is specialised ---


@njit(cache=True, error_model="numpy")
def dense_forward(z, b, act, mode, kb8, f, s, beta, dval, zero, y):
    """Fused forward of a dense layer (see _dense_forward_loop)."""
    if act == ACT_NONE:
        if mode == D_NONE:
            _dense_forward_loop(z, b, ACT_NONE, D_NONE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_SCALE:
            _dense_forward_loop(z, b, ACT_NONE, D_SCALE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_COPY:
            _dense_forward_loop(z, b, ACT_NONE, D_COPY, kb8, f, s, beta, dval, zero, y)
        elif mode == D_AFFINE:
            _dense_forward_loop(z, b, ACT_NONE, D_AFFINE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_GAUSS:
            _dense_forward_loop(z, b, ACT_NONE, D_GAUSS, kb8, f, s, beta, dval, zero, y)
        elif mode == D_MULT:
            _dense_forward_loop(z, b, ACT_NONE, D_MULT, kb8, f, s, beta, dval, zero, y)
    elif act == ACT_RELU:
        if mode == D_NONE:
            _dense_forward_loop(z, b, ACT_RELU, D_NONE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_SCALE:
            _dense_forward_loop(z, b, ACT_RELU, D_SCALE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_COPY:
            _dense_forward_loop(z, b, ACT_RELU, D_COPY, kb8, f, s, beta, dval, zero, y)
        elif mode == D_AFFINE:
            _dense_forward_loop(z, b, ACT_RELU, D_AFFINE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_GAUSS:
            _dense_forward_loop(z, b, ACT_RELU, D_GAUSS, kb8, f, s, beta, dval, zero, y)
        elif mode == D_MULT:
            _dense_forward_loop(z, b, ACT_RELU, D_MULT, kb8, f, s, beta, dval, zero, y)
    elif act == ACT_SELU:
        if mode == D_NONE:
            _dense_forward_loop(z, b, ACT_SELU, D_NONE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_SCALE:
            _dense_forward_loop(z, b, ACT_SELU, D_SCALE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_COPY:
            _dense_forward_loop(z, b, ACT_SELU, D_COPY, kb8, f, s, beta, dval, zero, y)
        elif mode == D_AFFINE:
            _dense_forward_loop(z, b, ACT_SELU, D_AFFINE, kb8, f, s, beta, dval, zero, y)
        elif mode == D_GAUSS:
            _dense_forward_loop(z, b, ACT_SELU, D_GAUSS, kb8, f, s, beta, dval, zero, y)
        elif mode == D_MULT:
            _dense_forward_loop(z, b, ACT_SELU, D_MULT, kb8, f, s, beta, dval, zero, y)


@njit(cache=True, error_model="numpy")
def dense_backward(dy, a, act, mode, kb8, f, s, zero, dz):
    """Fused backward of a dense layer (see _dense_backward_loop)."""
    if act == ACT_NONE:
        if mode == D_NONE:
            _dense_backward_loop(dy, a, ACT_NONE, D_NONE, kb8, f, s, zero, dz)
        elif mode == D_SCALE:
            _dense_backward_loop(dy, a, ACT_NONE, D_SCALE, kb8, f, s, zero, dz)
        elif mode == D_COPY:
            _dense_backward_loop(dy, a, ACT_NONE, D_COPY, kb8, f, s, zero, dz)
        elif mode == D_AFFINE:
            _dense_backward_loop(dy, a, ACT_NONE, D_AFFINE, kb8, f, s, zero, dz)
        elif mode == D_GAUSS:
            _dense_backward_loop(dy, a, ACT_NONE, D_GAUSS, kb8, f, s, zero, dz)
        elif mode == D_MULT:
            _dense_backward_loop(dy, a, ACT_NONE, D_MULT, kb8, f, s, zero, dz)
    elif act == ACT_RELU:
        if mode == D_NONE:
            _dense_backward_loop(dy, a, ACT_RELU, D_NONE, kb8, f, s, zero, dz)
        elif mode == D_SCALE:
            _dense_backward_loop(dy, a, ACT_RELU, D_SCALE, kb8, f, s, zero, dz)
        elif mode == D_COPY:
            _dense_backward_loop(dy, a, ACT_RELU, D_COPY, kb8, f, s, zero, dz)
        elif mode == D_AFFINE:
            _dense_backward_loop(dy, a, ACT_RELU, D_AFFINE, kb8, f, s, zero, dz)
        elif mode == D_GAUSS:
            _dense_backward_loop(dy, a, ACT_RELU, D_GAUSS, kb8, f, s, zero, dz)
        elif mode == D_MULT:
            _dense_backward_loop(dy, a, ACT_RELU, D_MULT, kb8, f, s, zero, dz)
    elif act == ACT_SELU:
        if mode == D_NONE:
            _dense_backward_loop(dy, a, ACT_SELU, D_NONE, kb8, f, s, zero, dz)
        elif mode == D_SCALE:
            _dense_backward_loop(dy, a, ACT_SELU, D_SCALE, kb8, f, s, zero, dz)
        elif mode == D_COPY:
            _dense_backward_loop(dy, a, ACT_SELU, D_COPY, kb8, f, s, zero, dz)
        elif mode == D_AFFINE:
            _dense_backward_loop(dy, a, ACT_SELU, D_AFFINE, kb8, f, s, zero, dz)
        elif mode == D_GAUSS:
            _dense_backward_loop(dy, a, ACT_SELU, D_GAUSS, kb8, f, s, zero, dz)
        elif mode == D_MULT:
            _dense_backward_loop(dy, a, ACT_SELU, D_MULT, kb8, f, s, zero, dz)


@njit(cache=True, error_model="numpy")
def conv_forward(y2, b, act, mode, spatial, kb8, f, s, beta, dval, zero, a, y):
    """Fused forward of a conv layer (see _conv_forward_loop)."""
    if act == ACT_NONE:
        if mode == D_NONE:
            _conv_forward_loop(y2, b, ACT_NONE, D_NONE, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_SCALE:
            _conv_forward_loop(y2, b, ACT_NONE, D_SCALE, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_COPY:
            _conv_forward_loop(y2, b, ACT_NONE, D_COPY, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_AFFINE:
            _conv_forward_loop(y2, b, ACT_NONE, D_AFFINE, spatial,
                               kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_GAUSS:
            _conv_forward_loop(y2, b, ACT_NONE, D_GAUSS, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_MULT:
            _conv_forward_loop(y2, b, ACT_NONE, D_MULT, spatial, kb8, f, s, beta, dval, zero, a, y)
    elif act == ACT_RELU:
        if mode == D_NONE:
            _conv_forward_loop(y2, b, ACT_RELU, D_NONE, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_SCALE:
            _conv_forward_loop(y2, b, ACT_RELU, D_SCALE, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_COPY:
            _conv_forward_loop(y2, b, ACT_RELU, D_COPY, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_AFFINE:
            _conv_forward_loop(y2, b, ACT_RELU, D_AFFINE, spatial,
                               kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_GAUSS:
            _conv_forward_loop(y2, b, ACT_RELU, D_GAUSS, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_MULT:
            _conv_forward_loop(y2, b, ACT_RELU, D_MULT, spatial, kb8, f, s, beta, dval, zero, a, y)
    elif act == ACT_SELU:
        if mode == D_NONE:
            _conv_forward_loop(y2, b, ACT_SELU, D_NONE, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_SCALE:
            _conv_forward_loop(y2, b, ACT_SELU, D_SCALE, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_COPY:
            _conv_forward_loop(y2, b, ACT_SELU, D_COPY, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_AFFINE:
            _conv_forward_loop(y2, b, ACT_SELU, D_AFFINE, spatial,
                               kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_GAUSS:
            _conv_forward_loop(y2, b, ACT_SELU, D_GAUSS, spatial, kb8, f, s, beta, dval, zero, a, y)
        elif mode == D_MULT:
            _conv_forward_loop(y2, b, ACT_SELU, D_MULT, spatial, kb8, f, s, beta, dval, zero, a, y)


@njit(cache=True, error_model="numpy")
def conv_backward(dy, a, act, mode, spatial, kb8, f, s, zero, dz, dy2, db):
    """Fused backward of a conv layer (see _conv_backward_loop)."""
    if act == ACT_NONE:
        if mode == D_NONE:
            _conv_backward_loop(dy, a, ACT_NONE, D_NONE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_SCALE:
            _conv_backward_loop(dy, a, ACT_NONE, D_SCALE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_COPY:
            _conv_backward_loop(dy, a, ACT_NONE, D_COPY, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_AFFINE:
            _conv_backward_loop(dy, a, ACT_NONE, D_AFFINE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_GAUSS:
            _conv_backward_loop(dy, a, ACT_NONE, D_GAUSS, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_MULT:
            _conv_backward_loop(dy, a, ACT_NONE, D_MULT, spatial, kb8, f, s, zero, dz, dy2, db)
    elif act == ACT_RELU:
        if mode == D_NONE:
            _conv_backward_loop(dy, a, ACT_RELU, D_NONE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_SCALE:
            _conv_backward_loop(dy, a, ACT_RELU, D_SCALE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_COPY:
            _conv_backward_loop(dy, a, ACT_RELU, D_COPY, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_AFFINE:
            _conv_backward_loop(dy, a, ACT_RELU, D_AFFINE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_GAUSS:
            _conv_backward_loop(dy, a, ACT_RELU, D_GAUSS, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_MULT:
            _conv_backward_loop(dy, a, ACT_RELU, D_MULT, spatial, kb8, f, s, zero, dz, dy2, db)
    elif act == ACT_SELU:
        if mode == D_NONE:
            _conv_backward_loop(dy, a, ACT_SELU, D_NONE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_SCALE:
            _conv_backward_loop(dy, a, ACT_SELU, D_SCALE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_COPY:
            _conv_backward_loop(dy, a, ACT_SELU, D_COPY, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_AFFINE:
            _conv_backward_loop(dy, a, ACT_SELU, D_AFFINE, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_GAUSS:
            _conv_backward_loop(dy, a, ACT_SELU, D_GAUSS, spatial, kb8, f, s, zero, dz, dy2, db)
        elif mode == D_MULT:
            _conv_backward_loop(dy, a, ACT_SELU, D_MULT, spatial, kb8, f, s, zero, dz, dy2, db)
