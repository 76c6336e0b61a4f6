"""The result as an aligned text table (with the inputs above and footnotes below) or JSON."""

from __future__ import annotations

import json

import numpy as np

from compiler.verify._compare import Row

_COLUMNS = (
    "file",
    "output",
    "compared",
    "criterion",
    "max |diff|",
    "int8 differ",
    "max LSB",
    "top-1 agree",
    "status",
)


def _cells(row: Row) -> list[str]:
    differ = "-" if row.int8_differ is None else f"{row.int8_differ}/{row.size}"
    return [
        row.file,
        row.output,
        row.compared,
        row.criterion,
        "-" if row.max_abs_diff is None else f"{row.max_abs_diff:.3g}",
        differ,
        "-" if row.max_lsb is None else str(row.max_lsb),
        "-" if row.top1_agree is None else f"{100 * row.top1_agree:.1f}%",
        row.status,
    ]


def format_table(rows: list[Row], inputs: dict) -> str:
    """The table as aligned text, with the inputs above it and the footnotes below."""
    cells = [list(_COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(_COLUMNS))]
    numeric = {4, 5, 6, 7}

    def line(c):
        parts = [
            v.rjust(w) if i in numeric else v.ljust(w) for i, (v, w) in enumerate(zip(c, widths))
        ]
        return "  ".join(parts).rstrip()

    lines = [describe_inputs(inputs), line(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [line(c) for c in cells[1:]]
    lines.append("")
    if any(r.compared.endswith("¹") for r in rows):
        lines.append(
            "¹ LiteRT's default kernels (XNNPACK, optimized builtins) are reported, not required "
            "to match: they differ from the reference kernels by a few LSB by design."
        )
    lines.append(
        "int8 differ / max LSB: values more than half an LSB apart, in units of the output's "
        "int8 scale; max |diff| in dequantized float."
    )
    lines.append(
        "top-1 agree: samples whose highest-scoring classes coincide (classes tied at the "
        "output's int8 resolution all count as highest; an output with all classes tied has "
        "none)."
    )
    return "\n".join(lines)


def describe_inputs(inputs: dict) -> str:
    """The line above the table: where the inputs came from and how they were matched."""
    n = inputs["samples"]
    samples = f"{n} sample" if n == 1 else f"{n} samples"
    if inputs["data"] is None:
        return f"inputs: random, {samples} (seed {inputs['seed']})"
    pairs = ", ".join(
        name if key == name else f"{key} -> {name}"
        for key, name in zip(inputs["keys"], inputs["names"])
    )
    ignored = f"; ignored {', '.join(inputs['ignored'])}" if inputs["ignored"] else ""
    return f"inputs: {inputs['data']}, {samples} ({inputs['matched']}: {pairs}{ignored})"


def _to_json(rows: list[Row], inputs: dict, code: int) -> str:
    keys = (
        "file",
        "output",
        "compared",
        "criterion",
        "required",
        "max_abs_diff",
        "int8_differ",
        "size",
        "max_lsb",
        "top1_agree",
        "status",
    )
    items = [{k: getattr(r, k) for k in keys} for r in rows]
    for item in items:
        item["compared"] = item["compared"].rstrip("¹")
        # NaN against a number is an infinite difference; JSON has no literal for it.
        if item["max_abs_diff"] is not None and not np.isfinite(item["max_abs_diff"]):
            item["max_abs_diff"] = str(item["max_abs_diff"])
    return json.dumps({"inputs": inputs, "rows": items, "ok": code == 0}, indent=2)
