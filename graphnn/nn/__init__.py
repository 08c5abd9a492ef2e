"""graphnn.nn: training networks with graphnn.

Layers and models declare graphs; the training step compiles forward pass, loss, gradients
(`gn.grad`) and the optimizer's update into one native call; `fit` runs epochs of it.

>>> import numpy as np
>>> from graphnn import nn
>>> x, y = nn.datasets.xor()
>>> model = nn.Sequential([nn.Dense(2, "sigmoid"), nn.Dense(1, "sigmoid")], input_shape=(2,),
...                       seed=4)
>>> model.output_shape
(1,)
"""

from graphnn.nn import datasets, init
from graphnn.nn.attention import (
    LayerNorm,
    MultiHeadAttention,
    TransformerEncoderLayer,
    multi_head_attention,
)
from graphnn.nn.errors import ModelError, ParameterFileError
from graphnn.nn.evaluation import evaluate, predict
from graphnn.nn.fit import fit
from graphnn.nn.gradients import step_gradient_norms
from graphnn.nn.history import History
from graphnn.nn.layers import (
    Activation,
    AvgPool2D,
    Conv2D,
    Dense,
    Flatten,
    LeakyReLU,
    MaxPool2D,
    Maxout,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from graphnn.nn.losses import (
    MSE,
    BinaryCrossEntropy,
    Loss,
    SoftmaxCrossEntropy,
    one_hot,
    sequence_cross_entropy,
    sequence_labels,
)
from graphnn.nn.model import Build, Forward, Layer, Parameter, Sequential
from graphnn.nn.optimizers import SGD, Adam, Momentum, Optimizer
from graphnn.nn.recurrent import GRU, LSTM, RNN, gru, lstm, rnn
from graphnn.nn.regularization import BatchNorm, Dropout
from graphnn.nn.saving import load, save
from graphnn.nn.sequence import Embedding, GlobalAveragePool1D, LastStep, PositionalEncoding
from graphnn.nn.step import StepGraph, TrainStep
from graphnn.nn.torch_weights import load_torch_state, torch_state

__all__ = [
    "GRU", "LSTM", "MSE", "RNN", "SGD", "Activation", "Adam", "AvgPool2D", "BatchNorm",
    "BinaryCrossEntropy", "Build", "Conv2D", "Dense", "Dropout", "Embedding", "Flatten",
    "Forward", "GlobalAveragePool1D", "History", "LastStep", "Layer", "LayerNorm", "LeakyReLU",
    "Loss", "MaxPool2D", "Maxout", "ModelError", "Momentum", "MultiHeadAttention", "Optimizer",
    "Parameter", "ParameterFileError", "PositionalEncoding", "ReLU", "Sequential", "Sigmoid",
    "Softmax", "SoftmaxCrossEntropy", "StepGraph", "Tanh", "TrainStep",
    "TransformerEncoderLayer", "datasets", "evaluate", "fit", "gru", "init", "load",
    "load_torch_state", "lstm", "multi_head_attention", "one_hot", "predict", "rnn", "save",
    "sequence_cross_entropy", "sequence_labels", "step_gradient_norms", "torch_state",
]
