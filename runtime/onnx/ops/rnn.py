"""LSTM, GRU and RNN (onnx.ai/onnx/operators/onnx__LSTM.html, onnx__GRU.html, onnx__RNN.html).

Gate order: LSTM i, o, f, c; GRU z, r, h. The input projection X·Wᵀ + Wb is one matmul over all
time steps; the loop over time is the only Python loop. ``sequence_lens`` is honoured per batch
entry: steps past a sequence's end leave its state unchanged and write zeros to Y, and the
reverse direction starts from each sequence's own last step.
"""

import functools

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError


def _in_float32(op):
    """Run ``op`` in float32 for float16 tensors and round its outputs back: numpy's float16
    arithmetic is emulated element by element (ten times slower), and onnxruntime computes
    float16 recurrences in float32 too."""

    @functools.wraps(op)
    def run(*args, **attrs):
        if args and isinstance(args[0], np.ndarray) and args[0].dtype == np.float16:
            wide = [
                a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float16 else a
                for a in args
            ]
            return tuple(y.astype(np.float16) for y in op(*wide, **attrs))
        return op(*args, **attrs)

    return run


def _affine(x, a, b):
    return a * x + b


# name -> (function(x, alpha, beta), how many of activation_alpha / activation_beta it takes)
_ACTIVATIONS = {
    "Sigmoid": (lambda x, a, b: 1 / (1 + np.exp(-x)), 0),
    "Tanh": (lambda x, a, b: np.tanh(x), 0),
    "Relu": (lambda x, a, b: np.maximum(x, 0), 0),
    "Affine": (_affine, 2),
    "LeakyRelu": (lambda x, a, b: np.where(x >= 0, x, a * x), 1),
    "ThresholdedRelu": (lambda x, a, b: np.where(x > a, x, 0), 1),
    "ScaledTanh": (lambda x, a, b: a * np.tanh(b * x), 2),
    "HardSigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), 2),
    "Elu": (lambda x, a, b: np.where(x >= 0, x, a * (np.exp(np.minimum(x, 0)) - 1)), 1),
    "Softsign": (lambda x, a, b: x / (1 + np.abs(x)), 0),
    "Softplus": (lambda x, a, b: np.log1p(np.exp(x)), 0),
}
_DEFAULT_ALPHA = {
    "LeakyRelu": 0.01,
    "ThresholdedRelu": 1.0,
    "HardSigmoid": 0.2,
    "Elu": 1.0,
    "Affine": 1.0,
    "ScaledTanh": 1.0,
}
_DEFAULT_BETA = {"HardSigmoid": 0.5, "Affine": 0.0, "ScaledTanh": 1.0}


def _activations(op, names, alphas, betas, defaults, num_directions):
    """One tuple of bound activation functions per direction (attributes: the same for every
    run of a node, so bound once per distinct set)."""
    return _bound_activations(
        op,
        None if names is None else tuple(names),
        tuple(alphas or ()),
        tuple(betas or ()),
        tuple(defaults),
        num_directions,
    )


@functools.lru_cache(maxsize=64)
def _bound_activations(op, names, alphas, betas, defaults, num_directions):
    names = list(names) if names else list(defaults) * num_directions
    if len(names) != len(defaults) * num_directions:
        raise InvalidModelError(
            f"{op}: needs {len(defaults) * num_directions} activations; received {names}"
        )
    alphas, betas = list(alphas), list(betas)
    bound = []
    for name in names:
        key = _ACTIVATION_NAMES.get(str(name).lower())
        if key is None:
            raise UnsupportedOpError(f"{op}: activation {name!r} is not supported")
        fn, count = _ACTIVATIONS[key]
        a = alphas.pop(0) if count >= 1 and alphas else _DEFAULT_ALPHA.get(key, 0.0)
        b = betas.pop(0) if count >= 2 and betas else _DEFAULT_BETA.get(key, 0.0)
        bound.append(lambda x, fn=fn, a=a, b=b: fn(x, a, b).astype(x.dtype, copy=False))
    n = len(defaults)
    keys = tuple(_ACTIVATION_NAMES[str(name).lower()] for name in names)
    plain = keys == tuple(defaults) * num_directions
    return tuple(tuple(bound[d * n : (d + 1) * n]) for d in range(num_directions)), plain


_ACTIVATION_NAMES = {k.lower(): k for k in _ACTIVATIONS}


def _setup(op, X, W, R, B, sequence_lens, initial, gates, direction, layout, hidden_size):
    if layout:
        X = X.transpose(1, 0, 2)
        initial = [None if h is None else h.transpose(1, 0, 2) for h in initial]
    if X.ndim != 3:
        raise InvalidModelError(f"{op}: X must be 3-D; received {list(X.shape)}")
    directions = {"forward": 1, "reverse": 1, "bidirectional": 2}
    if direction not in directions:
        raise InvalidModelError(f"{op}: direction {direction!r} is not one of {list(directions)}")
    nd = directions[direction]
    seq, batch, _ = X.shape
    hidden = R.shape[-1]
    if hidden_size is not None and hidden_size != hidden:
        raise InvalidModelError(f"{op}: hidden_size {hidden_size} != R's last dim {hidden}")
    if W.shape[:2] != (nd, gates * hidden) or R.shape != (nd, gates * hidden, hidden):
        raise InvalidModelError(
            f"{op}: W {list(W.shape)} / R {list(R.shape)} do not match "
            f"{nd} directions x {gates} gates x hidden {hidden}"
        )
    if B is None:
        B = np.zeros((nd, 2 * gates * hidden), dtype=X.dtype)
    elif B.shape != (nd, 2 * gates * hidden):
        raise InvalidModelError(f"{op}: B {list(B.shape)} is not {[nd, 2 * gates * hidden]}")
    lens = None  # (every sequence whole)
    if sequence_lens is not None:
        lens = sequence_lens.astype(np.int64).reshape(-1)
        if lens.shape != (batch,) or lens.min(initial=0) < 0 or lens.max(initial=0) > seq:
            raise InvalidModelError(f"{op}: sequence_lens {lens.tolist()} do not fit {seq} steps")
        if (lens == seq).all():
            lens = None
    states = []
    for h in initial:
        if h is None:
            h = np.zeros((nd, batch, hidden), X.dtype)
        elif h.shape != (nd, batch, hidden):
            raise InvalidModelError(
                f"{op}: an initial state is {list(h.shape)}; expected {[nd, batch, hidden]}"
            )
        states.append(h)
    return X, B, lens, nd, hidden, states


def _time_index(t, lens, reverse):
    """Per batch entry: which time step is read at loop step t, and whether it is active."""
    active = t < lens
    index = np.where(active, (lens - 1 - t) if reverse else t, 0)
    return index, active


def _projected(X, W, bias):
    """X·Wᵀ + bias for every direction and time step, as [directions, seq, batch, gates]
    (one matmul per direction: einsum's own set-up costs more than a small model's step)."""
    seq, batch, size = X.shape
    rows = X.reshape(seq * batch, size)
    if len(W) == 1:
        out = np.matmul(rows, W[0].T).reshape(1, seq, batch, -1)
    else:
        out = np.stack([np.matmul(rows, w.T) for w in W]).reshape(len(W), seq, batch, -1)
    out += bias[:, None, None, :]
    return out


def _run(op, X, lens, nd, direction, step, states, hidden):
    """Loop over time for each direction; ``step(d, x_t, states) -> (h, new_states)``."""
    seq, batch = X.shape[:2]
    Y = np.zeros((seq, nd, batch, hidden), dtype=X.dtype)
    finals = [s.copy() for s in states]
    if lens is None:
        # Every sequence is whole: step t reads step t of every batch entry, none is masked.
        for d in range(nd):
            reverse = direction == "reverse" or d == 1
            state = [s[d] for s in states]
            for t in range(seq - 1, -1, -1) if reverse else range(seq):
                h, state = step(d, t, slice(None), state)
                Y[t, d] = h
            for f, s in zip(finals, state, strict=True):
                f[d] = s
        return Y, finals
    rows = np.arange(batch)
    for d in range(nd):
        reverse = direction == "reverse" or d == 1
        state = [s[d] for s in states]
        for t in range(seq):
            index, active = _time_index(t, lens, reverse)
            h, new = step(d, index, rows, state)
            mask = active[:, None]
            state = [np.where(mask, n, s) for n, s in zip(new, state, strict=True)]
            Y[index[active], d, rows[active]] = h[active]
        for f, s in zip(finals, state, strict=True):
            f[d] = s
    return Y, finals


def _outputs(Y, finals, layout):
    if layout:
        return (Y.transpose(2, 0, 1, 3),) + tuple(f.transpose(1, 0, 2) for f in finals)
    return (Y,) + tuple(finals)


@_in_float32
def LSTM(
    X,
    W,
    R,
    B=None,
    sequence_lens=None,
    initial_h=None,
    initial_c=None,
    P=None,
    *,
    activation_alpha=None,
    activation_beta=None,
    activations=None,
    clip=None,
    direction="forward",
    hidden_size=None,
    input_forget=0,
    layout=0,
):
    X, B, lens, nd, hidden, (h0, c0) = _setup(
        "LSTM", X, W, R, B, sequence_lens, [initial_h, initial_c], 4, direction, layout, hidden_size
    )
    acts, plain = _activations(
        "LSTM", activations, activation_alpha, activation_beta, ["Sigmoid", "Tanh", "Tanh"], nd
    )
    if P is not None and P.shape != (nd, 3 * hidden):
        raise InvalidModelError(f"LSTM: P {list(P.shape)} is not {[nd, 3 * hidden]}")
    if plain and clip is None and not input_forget and lens is None:
        # Both biases added once to the input projection, not at every step.
        xw = _projected(X, W, B[:, : 4 * hidden] + B[:, 4 * hidden :])
        Y, finals = _lstm_whole(xw, R, P, h0, c0, direction)
        return _outputs(Y, finals, layout)
    xw = _projected(X, W, B[:, : 4 * hidden])
    rb = B[:, 4 * hidden :]
    P = np.zeros((nd, 3 * hidden), X.dtype) if P is None else P
    peep = [tuple(P[d, k * hidden : (k + 1) * hidden] for k in range(3)) for d in range(nd)]
    lim = None if clip is None else np.asarray(clip, X.dtype)
    one = np.ones((), X.dtype)
    H = hidden

    def step(d, index, rows, state):
        h, c = state
        gates = xw[d][index, rows] + h @ R[d].T + rb[d]
        if lim is not None:
            gates = np.clip(gates, -lim, lim)
        gi, go, gf, gc = (
            gates[:, :H],
            gates[:, H : 2 * H],
            gates[:, 2 * H : 3 * H],
            gates[:, 3 * H :],
        )
        pi, po, pf = peep[d]
        f, g, hh = acts[d]
        i = f(gi + pi * c)
        forget = one - i if input_forget else f(gf + pf * c)
        c_new = forget * c + i * g(gc)
        o = f(go + po * c_new)
        h_new = o * hh(c_new)
        return h_new, [h_new, c_new]

    Y, finals = _run("LSTM", X, lens, nd, direction, step, [h0, c0], hidden)
    return _outputs(Y, finals, layout)


def _sigmoid_in_place(v, one):
    """1 / (1 + exp(-v)) written into ``v``: the general path's Sigmoid, the same ufuncs
    (``one``: 1 as a 0-d array of v's dtype; a Python number is converted at every call)."""
    np.negative(v, out=v)
    np.exp(v, out=v)
    np.add(v, one, out=v)
    return np.reciprocal(v, out=v)


def _lstm_whole(xw, R, P, h0, c0, direction):
    """The LSTM of the default activations (Sigmoid, Tanh, Tanh), no clip and no coupled
    input and forget gates, over whole sequences: the step's equations evaluated into the
    step's own gate array (``xw``: the input projection plus both biases)."""
    nd, seq, batch, four = xw.shape
    H = four // 4
    Y = np.empty((seq, nd, batch, H), dtype=xw.dtype)
    Y_h, Y_c = h0.copy(), c0.copy()
    one = np.ones((), xw.dtype)
    for d in range(nd):
        rt = R[d].T
        h, c = h0[d], c0[d]
        pi = po = pf = None
        if P is not None:
            pi, po, pf = P[d, :H], P[d, H : 2 * H], P[d, 2 * H :]
        reverse = direction == "reverse" or d == 1
        for t in range(seq - 1, -1, -1) if reverse else range(seq):
            gates = np.dot(h, rt)  # (2-D: matmul's product, with less set-up)
            gates += xw[d, t]
            gi, go, gf, gc = (
                gates[:, :H],
                gates[:, H : 2 * H],
                gates[:, 2 * H : 3 * H],
                gates[:, 3 * H :],
            )
            if P is None:
                _sigmoid_in_place(gates[:, : 3 * H], one)  # i, o, f in one pass
            else:
                gi += pi * c
                _sigmoid_in_place(gi, one)
                gf += pf * c
                _sigmoid_in_place(gf, one)
            np.tanh(gc, out=gc)
            c = gf * c
            c += gi * gc
            if P is not None:
                go += po * c
                _sigmoid_in_place(go, one)
            h = np.tanh(c)
            h *= go
            Y[t, d] = h
        Y_h[d] = h
        Y_c[d] = c
    return Y, [Y_h, Y_c]


@_in_float32
def GRU(
    X,
    W,
    R,
    B=None,
    sequence_lens=None,
    initial_h=None,
    *,
    activation_alpha=None,
    activation_beta=None,
    activations=None,
    clip=None,
    direction="forward",
    hidden_size=None,
    layout=0,
    linear_before_reset=0,
):
    X, B, lens, nd, hidden, (h0,) = _setup(
        "GRU", X, W, R, B, sequence_lens, [initial_h], 3, direction, layout, hidden_size
    )
    acts, _ = _activations(
        "GRU", activations, activation_alpha, activation_beta, ["Sigmoid", "Tanh"], nd
    )
    xw = _projected(X, W, B[:, : 3 * hidden])
    rb = B[:, 3 * hidden :]
    lim = None if clip is None else np.asarray(clip, X.dtype)

    def clipped(v):
        return v if lim is None else np.clip(v, -lim, lim)

    def step(d, index, rows, state):
        (h,) = state
        x = xw[d][index, rows]
        xz, xr, xh = np.split(x, 3, axis=1)
        rz, rr, rh = np.split(R[d], 3, axis=0)
        bz, br, bh = np.split(rb[d], 3)
        f, g = acts[d]
        z = f(clipped(xz + h @ rz.T + bz))
        r = f(clipped(xr + h @ rr.T + br))
        if linear_before_reset:
            cand = g(clipped(xh + r * (h @ rh.T + bh)))
        else:
            cand = g(clipped(xh + (r * h) @ rh.T + bh))
        h_new = (1 - z) * cand + z * h
        return h_new, [h_new]

    Y, finals = _run("GRU", X, lens, nd, direction, step, [h0], hidden)
    return _outputs(Y, finals, layout)


@_in_float32
def RNN(
    X,
    W,
    R,
    B=None,
    sequence_lens=None,
    initial_h=None,
    *,
    activation_alpha=None,
    activation_beta=None,
    activations=None,
    clip=None,
    direction="forward",
    hidden_size=None,
    layout=0,
):
    X, B, lens, nd, hidden, (h0,) = _setup(
        "RNN", X, W, R, B, sequence_lens, [initial_h], 1, direction, layout, hidden_size
    )
    acts, _ = _activations("RNN", activations, activation_alpha, activation_beta, ["Tanh"], nd)
    xw = _projected(X, W, B[:, :hidden] + B[:, hidden:])
    lim = None if clip is None else np.asarray(clip, X.dtype)

    def step(d, index, rows, state):
        (h,) = state
        pre = xw[d][index, rows] + h @ R[d].T
        if lim is not None:
            pre = np.clip(pre, -lim, lim)
        h_new = acts[d][0](pre)
        return h_new, [h_new]

    Y, finals = _run("RNN", X, lens, nd, direction, step, [h0], hidden)
    return _outputs(Y, finals, layout)
