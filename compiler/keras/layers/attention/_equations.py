"""The einsum equations of MultiHeadAttention, built the way Keras 3 builds them.

Projections (``_build_proj_equation``): ``free`` input axes kept, ``bound`` axes contracted
with the kernel, ``output`` axes produced: ``"abc,cde->abde"`` for a (B, T, dim) query
projected to (heads, key_dim). Attention (``_build_attention_equation``): projected tensors
``(batch, <attention axes>, heads, channels)``; scores ``(batch, heads, <query axes>, <key
axes>)``; for rank 4: ``"aecd,abcd->acbe"`` (key, query) and ``"acbe,aecd->abcd"``.
"""

import string

__all__ = ["projection_equation", "attention_equations"]


def projection_equation(free_dims: int, bound_dims: int, output_dims: int):
    """``(equation, bias_axes, output_rank)`` of a projection, as Keras builds it."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims : free_dims + bound_dims]
    outs = letters[free_dims + bound_dims : free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{outs}->{free}{outs}", outs, free_dims + output_dims


def attention_equations(rank: int, attn_axes: tuple[int, ...]):
    """``(dot_product_equation, combine_equation, scores_rank)`` for projected tensors of
    ``rank`` (batch, <attention axes>, heads, channels), as Keras builds them."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch_dims = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source, offset = "", rank
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += letters[offset]
            offset += 1
    product = "".join(
        [target[i] for i in batch_dims]
        + [target[i] for i in attn_axes]
        + [source[i] for i in attn_axes]
    )
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)
