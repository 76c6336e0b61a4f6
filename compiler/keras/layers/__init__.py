"""Keras 3 layers (``keras.layers``)."""

from compiler.keras.layers.activations.activation import ELU, Activation, LeakyReLU, ReLU, Softmax
from compiler.keras.layers.activations.prelu import PReLU
from compiler.keras.layers.attention.additive_attention import AdditiveAttention
from compiler.keras.layers.attention.attention import Attention
from compiler.keras.layers.attention.grouped_query_attention import GroupedQueryAttention
from compiler.keras.layers.attention.multi_head_attention import MultiHeadAttention
from compiler.keras.layers.convolutional.base_conv import BaseConv
from compiler.keras.layers.convolutional.conv1d import Conv1D
from compiler.keras.layers.convolutional.conv2d import Conv2D
from compiler.keras.layers.convolutional.conv2d_transpose import Conv2DTranspose
from compiler.keras.layers.convolutional.depthwise_conv2d import DepthwiseConv1D, DepthwiseConv2D
from compiler.keras.layers.convolutional.separable_conv2d import SeparableConv1D, SeparableConv2D
from compiler.keras.layers.core.dense import Dense
from compiler.keras.layers.core.einsum_dense import EinsumDense
from compiler.keras.layers.core.embedding import Embedding
from compiler.keras.layers.core.identity import Identity
from compiler.keras.layers.core.masking import Masking
from compiler.keras.layers.input_layer import Input, InputLayer
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.layers.merging.arithmetic import (
    Add,
    Average,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    maximum,
    minimum,
    multiply,
    subtract,
)
from compiler.keras.layers.merging.concatenate import Concatenate, concatenate
from compiler.keras.layers.merging.dot import Dot, dot
from compiler.keras.layers.normalization.batch_normalization import BatchNormalization
from compiler.keras.layers.normalization.group_normalization import GroupNormalization
from compiler.keras.layers.normalization.layer_normalization import LayerNormalization
from compiler.keras.layers.normalization.unit_normalization import UnitNormalization
from compiler.keras.layers.pooling.average_pooling import AveragePooling1D, AveragePooling2D
from compiler.keras.layers.pooling.global_pooling import (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
)
from compiler.keras.layers.pooling.max_pooling import MaxPooling1D, MaxPooling2D
from compiler.keras.layers.preprocessing.center_crop import CenterCrop
from compiler.keras.layers.preprocessing.normalization import Normalization
from compiler.keras.layers.preprocessing.rescaling import Rescaling
from compiler.keras.layers.preprocessing.resizing import Resizing
from compiler.keras.layers.regularization.dropout import Dropout
from compiler.keras.layers.regularization.gaussian_noise import GaussianNoise
from compiler.keras.layers.reshaping.cropping import Cropping1D, Cropping2D
from compiler.keras.layers.reshaping.flatten import Flatten
from compiler.keras.layers.reshaping.permute import Permute, RepeatVector
from compiler.keras.layers.reshaping.reshape import Reshape
from compiler.keras.layers.reshaping.up_sampling import UpSampling1D, UpSampling2D
from compiler.keras.layers.reshaping.zero_padding import ZeroPadding1D, ZeroPadding2D
from compiler.keras.layers.rnn import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    TimeDistributed,
)

# Keras 3 exports (and saves) GroupedQueryAttention as GroupQueryAttention.
GroupQueryAttention = GroupedQueryAttention

__all__ = [
    "Layer",
    "InputSpec",
    "InputLayer",
    "Input",
    "Dense",
    # Non-recurrent layers (convolution, pooling, reshaping, merging, normalization...)
    "ELU",
    "Activation",
    "LeakyReLU",
    "PReLU",
    "ReLU",
    "Softmax",
    "BaseConv",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "EinsumDense",
    "Attention",
    "AdditiveAttention",
    "MultiHeadAttention",
    "GroupQueryAttention",
    "Identity",
    "Masking",
    "Add",
    "Average",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
    "Concatenate",
    "concatenate",
    "Dot",
    "dot",
    "BatchNormalization",
    "GroupNormalization",
    "LayerNormalization",
    "UnitNormalization",
    "AveragePooling1D",
    "AveragePooling2D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "Rescaling",
    "Normalization",
    "Resizing",
    "CenterCrop",
    "Dropout",
    "GaussianNoise",
    "Cropping1D",
    "Cropping2D",
    "Flatten",
    "Permute",
    "RepeatVector",
    "Reshape",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    # Recurrent layers
    "Embedding",
    "RNN",
    "SimpleRNNCell",
    "SimpleRNN",
    "LSTMCell",
    "LSTM",
    "GRUCell",
    "GRU",
    "Bidirectional",
    "TimeDistributed",
]
