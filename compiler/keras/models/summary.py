"""``Model.summary()``: Keras 3's table of layers, output shapes and parameter counts."""

__all__ = ["print_summary"]


def _fmt_shape(shape):
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def _fmt_bytes(n):
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.2f} B"


def _rows(model):
    nodes = getattr(getattr(model, "_functional", None), "_nodes", None)
    if nodes is None:
        nodes = getattr(model, "_nodes", None)
    functional = hasattr(model, "_nodes")
    rows = []
    if nodes is None:  # subclassed or unbuilt model: no shapes known
        for layer in model.layers:
            rows.append((f"{layer.name} ({type(layer).__name__})", "?", layer.count_params(), ""))
        return rows, False
    if functional:
        for t in model.inputs:
            layer = t._keras_history[0]
            rows.append((f"{layer.name} ({type(layer).__name__})", _fmt_shape(t.shape), 0, "-"))
    seen = set()
    for node in nodes:
        layer = node.layer
        shapes = [t.shape for t in node.output_tensors]
        shape = _fmt_shape(shapes[0] if len(shapes) == 1 else shapes)
        params = layer.count_params() if id(layer) not in seen else 0
        seen.add(id(layer))
        parents = []
        for t in node.input_tensors:
            parent, index, tensor_index = t._keras_history
            parents.append(f"{parent.name}[{index}][{tensor_index}]")
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, params, ", ".join(parents)))
    return rows, functional


def print_summary(model, line_length=None, print_fn=None, show_trainable=False):
    print_fn = print_fn or print
    rows, functional = _rows(model)
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    widths = [
        max(31, *(len(r[0]) + 1 for r in rows)),
        max(22, *(len(r[1]) + 1 for r in rows)),
        13,
    ] + ([max(17, *(len(r[3]) + 1 for r in rows))] if functional else [])

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, sep):
        out = []
        for i, (v, w) in enumerate(zip(values, widths, strict=False)):
            out.append(f" {v:>{w}} " if i == 2 else f" {v:<{w}} ")
        return sep + sep.join(out) + sep

    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "┳", "┓", "━"))
    print_fn(cells(headers, "┃"))
    print_fn(line("┡", "╇", "┩", "━"))
    for i, row in enumerate(rows):
        values = [row[0], row[1], f"{row[2]:,}"] + ([row[3]] if functional else [])
        print_fn(cells(values, "│"))
        if i < len(rows) - 1:
            print_fn(line("├", "┼", "┤", "─"))
    print_fn(line("└", "┴", "┘", "─"))
    trainable = sum(w.size for w in model.trainable_weights)
    non_trainable = sum(w.size for w in model.non_trainable_weights)
    total_bytes = sum(w.data.nbytes for w in model.weights)
    trainable_bytes = sum(w.data.nbytes for w in model.trainable_weights)
    print_fn(f" Total params: {trainable + non_trainable:,} ({_fmt_bytes(total_bytes)})")
    print_fn(f" Trainable params: {trainable:,} ({_fmt_bytes(trainable_bytes)})")
    print_fn(
        f" Non-trainable params: {non_trainable:,} ({_fmt_bytes(total_bytes - trainable_bytes)})"
    )
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(optimizer, "variables", None):
        opt_vars = optimizer.variables
        opt_params = sum(int(v.size) for v in opt_vars)
        opt_bytes = sum(v.data.nbytes for v in opt_vars)
        print_fn(f" Optimizer params: {opt_params:,} ({_fmt_bytes(opt_bytes)})")
