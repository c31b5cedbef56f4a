"""Neural-network building blocks: Modules with Parameters, and `course.nn.functional`."""
from course.nn import functional
from course.nn.modules import (AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Module, Parameter,
                               ReLU, Sequential, Sigmoid, Tanh, kaiming_uniform)

__all__ = ["functional", "Module", "Parameter", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d",
           "ReLU", "Tanh", "Sigmoid", "Flatten", "Sequential", "kaiming_uniform"]
