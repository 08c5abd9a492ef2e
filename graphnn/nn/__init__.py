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
from graphnn.nn.errors import ModelError, ParameterFileError
from graphnn.nn.evaluation import evaluate, predict
from graphnn.nn.fit import fit
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
from graphnn.nn.losses import MSE, BinaryCrossEntropy, Loss, SoftmaxCrossEntropy, one_hot
from graphnn.nn.model import Build, Forward, Layer, Parameter, Sequential
from graphnn.nn.optimizers import SGD, Adam, Momentum, Optimizer
from graphnn.nn.regularization import BatchNorm, Dropout
from graphnn.nn.saving import load, save
from graphnn.nn.step import StepGraph, TrainStep

__all__ = [
    "Activation", "Adam", "AvgPool2D", "BatchNorm", "BinaryCrossEntropy", "Build", "Conv2D",
    "Dense", "Dropout", "Flatten", "Forward", "History", "Layer", "LeakyReLU", "Loss", "MSE",
    "MaxPool2D", "Maxout", "ModelError", "Momentum", "Optimizer", "Parameter",
    "ParameterFileError", "ReLU", "SGD", "Sequential", "Sigmoid", "Softmax",
    "SoftmaxCrossEntropy", "StepGraph", "Tanh", "TrainStep", "datasets", "evaluate", "fit",
    "init", "load", "one_hot", "predict", "save",
]
