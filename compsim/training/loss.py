"""Softmax cross-entropy, the read-out loss."""
import numpy as np


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of ``softmax(logits)`` (B, C) against integer ``labels`` (B,), and its gradient
    with respect to the logits: ``(softmax - onehot) / B``."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    prob = exp / exp.sum(axis=1, keepdims=True)
    rows = np.arange(labels.size)
    loss = -np.mean(np.log(prob[rows, labels] + 1e-300))
    grad = prob
    grad[rows, labels] -= 1.0
    return float(loss), grad / labels.size
