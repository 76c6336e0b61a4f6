"""``pad_sequences``: equal-length integer sequences for Embedding / recurrent models."""

from compiler.keras.backend import xp

__all__ = ["pad_sequences"]


def pad_sequences(
    sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0
):
    """Pads (or truncates) each sequence to ``maxlen`` items, as ``keras.utils.pad_sequences``.

    Args:
        sequences: a list of sequences (lists or arrays; items may themselves be arrays).
        maxlen: output length; default the longest sequence.
        dtype: output dtype.
        padding: ``"pre"`` or ``"post"``: where the padding goes.
        truncating: ``"pre"`` or ``"post"``: which end long sequences lose.
        value: the padding value.

    Returns:
        An array of shape ``(len(sequences), maxlen) + item_shape``.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood')
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood')
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"`sequences` must be iterable. Received: {sequences!r}")
    lengths, sample_shape = [], None
    for item in sequences:
        if not hasattr(item, "__len__"):
            raise ValueError(
                f"`sequences` must be a list of iterables. Found non-iterable: {item!r}"
            )
        lengths.append(len(item))
        if sample_shape is None and len(item):
            sample_shape = xp.asarray(item).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if maxlen < 0:
        raise ValueError(f"`maxlen` must be non-negative. Received: maxlen={maxlen}")
    out = xp.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for index, item in enumerate(sequences):
        if not len(item):
            continue
        kept = item[-maxlen:] if truncating == "pre" else item[:maxlen]
        kept = xp.asarray(kept, dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(
                f"Shape of sample {kept.shape[1:]} of sequence at position {index} is different "
                f"from expected shape {tuple(sample_shape)}"
            )
        if padding == "post":
            out[index, : len(kept)] = kept
        else:
            out[index, -len(kept) :] = kept
    return out
