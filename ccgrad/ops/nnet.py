"""Neural-net helpers as Theano's T.nnet has them: sigmoid, softplus, relu, softmax and
log_softmax over the last axis, categorical and binary cross-entropy."""

from __future__ import annotations
