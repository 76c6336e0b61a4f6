"""The one table from layer class name to lowering function."""

from __future__ import annotations

from compiler.lower._activations import lower_elu, lower_leaky_relu, lower_prelu, lower_relu
from compiler.lower._attention import (
    lower_attention,
    lower_einsum_dense,
    lower_multi_head_attention,
)
from compiler.lower._conv import lower_conv2d, lower_depthwise_conv2d, lower_separable_conv2d
from compiler.lower._conv_transpose import lower_conv2d_transpose
from compiler.lower._core import (
    lower_activation,
    lower_dense,
    lower_dropout,
    lower_identity,
    lower_permute,
    lower_rescaling,
    lower_softmax,
)
from compiler.lower._dot import lower_dot
from compiler.lower._layer_norm import (
    lower_group_normalization,
    lower_layer_normalization,
    lower_layer_scale,
    lower_stochastic_depth,
    lower_unit_normalization,
)
from compiler.lower._merging import lower_concatenate, lower_elementwise
from compiler.lower._normalization import lower_batch_normalization
from compiler.lower._one_d import (
    lower_conv1d,
    lower_depthwise_conv1d,
    lower_global_average_pooling1d,
    lower_global_max_pooling1d,
    lower_pool1d,
    lower_separable_conv1d,
    lower_up_sampling1d,
)
from compiler.lower._pooling import (
    lower_global_average_pooling2d,
    lower_global_max_pooling2d,
    lower_pool2d,
)
from compiler.lower._preprocessing import (
    lower_center_crop,
    lower_normalization,
    lower_resizing,
)
from compiler.lower._recurrent import (
    lower_bidirectional,
    lower_embedding,
    lower_gru,
    lower_lstm,
    lower_simple_rnn,
)
from compiler.lower._reshaping import (
    lower_cropping1d,
    lower_cropping2d,
    lower_repeat_vector,
    lower_reshape,
    lower_up_sampling2d,
    lower_zero_padding1d,
    lower_zero_padding2d,
)

__all__ = ["LOWERINGS"]

LOWERINGS = {
    "Dense": lower_dense,
    "Activation": lower_activation,
    "ReLU": lower_relu,
    "LeakyReLU": lower_leaky_relu,
    "PReLU": lower_prelu,
    "Softmax": lower_softmax,
    "ELU": lower_elu,
    "Identity": lower_identity,
    "EinsumDense": lower_einsum_dense,
    "MultiHeadAttention": lower_multi_head_attention,
    "GroupedQueryAttention": lower_multi_head_attention,
    "Attention": lower_attention,
    "AdditiveAttention": lower_attention,
    "Rescaling": lower_rescaling,
    "Permute": lower_permute,
    "Maximum": lower_elementwise,
    "Minimum": lower_elementwise,
    "Dropout": lower_dropout,
    "SpatialDropout1D": lower_dropout,
    "SpatialDropout2D": lower_dropout,
    "GaussianNoise": lower_dropout,
    "GaussianDropout": lower_dropout,
    "AlphaDropout": lower_dropout,
    "Conv2D": lower_conv2d,
    "Conv2DTranspose": lower_conv2d_transpose,
    "Dot": lower_dot,
    "DepthwiseConv2D": lower_depthwise_conv2d,
    "SeparableConv2D": lower_separable_conv2d,
    "MaxPooling2D": lower_pool2d,
    "AveragePooling2D": lower_pool2d,
    "GlobalAveragePooling2D": lower_global_average_pooling2d,
    "GlobalMaxPooling2D": lower_global_max_pooling2d,
    "Flatten": lower_reshape,
    "Reshape": lower_reshape,
    "ZeroPadding2D": lower_zero_padding2d,
    "ZeroPadding1D": lower_zero_padding1d,
    "Cropping2D": lower_cropping2d,
    "Cropping1D": lower_cropping1d,
    "UpSampling2D": lower_up_sampling2d,
    "RepeatVector": lower_repeat_vector,
    "UpSampling1D": lower_up_sampling1d,
    "Conv1D": lower_conv1d,
    "DepthwiseConv1D": lower_depthwise_conv1d,
    "SeparableConv1D": lower_separable_conv1d,
    "MaxPooling1D": lower_pool1d,
    "AveragePooling1D": lower_pool1d,
    "GlobalAveragePooling1D": lower_global_average_pooling1d,
    "GlobalMaxPooling1D": lower_global_max_pooling1d,
    "Add": lower_elementwise,
    "Subtract": lower_elementwise,
    "Multiply": lower_elementwise,
    "Average": lower_elementwise,
    "Concatenate": lower_concatenate,
    "BatchNormalization": lower_batch_normalization,
    "LayerNormalization": lower_layer_normalization,
    "GroupNormalization": lower_group_normalization,
    "UnitNormalization": lower_unit_normalization,
    "LayerScale": lower_layer_scale,
    "StochasticDepth": lower_stochastic_depth,
    "Normalization": lower_normalization,
    "Resizing": lower_resizing,
    "CenterCrop": lower_center_crop,
    "Embedding": lower_embedding,
    "LSTM": lower_lstm,
    "GRU": lower_gru,
    "SimpleRNN": lower_simple_rnn,
    "Bidirectional": lower_bidirectional,
}
