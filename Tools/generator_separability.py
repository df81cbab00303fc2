#!/usr/bin/env python3
"""How separable the generated classes are from their true lesion masks (an upper bound for the classifier).

Reads the CSV that Tests/CTDatasetsTests/GeneratorSeparabilityProbe.swift writes:
    MASKNET_SEPARABILITY_CSV=/tmp/separability.csv swift test -c release --filter GeneratorSeparabilityProbe
    python3 Tools/generator_separability.py /tmp/separability.csv
and prints per-class lesion statistics and the 3-fold accuracy of a multinomial logistic regression and a
15-nearest-neighbour vote on (log GGO px, log consolidation px, consolidation fraction, lateral offset,
any lesion, their product). numpy only.
"""
import sys

import numpy as np


def fit_logistic(x, y, iterations=3000, rate=0.5):
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros((xb.shape[1], 3))
    for _ in range(iterations):
        z = xb @ w
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        w -= rate * xb.T @ p / len(y)
    return lambda q: (np.hstack([q, np.ones((len(q), 1))]) @ w).argmax(1)


def fit_knn(x, y, k=15):
    def predict(q):
        distances = ((q[:, None, :] - x[None]) ** 2).sum(-1)
        nearest = np.argsort(distances, 1)[:, :k]
        return np.array([np.bincount(y[row], minlength=3).argmax() for row in nearest])
    return predict


def main(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    y = data[:, 0].astype(int)
    ggo, consolidation, lateral = data[:, 1], data[:, 2], data[:, 3]
    lesion = ggo + consolidation
    for label, name in [(0, "control"), (1, "common pneumonia"), (2, "COVID-19")]:
        m = y == label
        print(f"{name}: {m.sum()} slices; no lesion {np.mean(lesion[m] == 0):.3f}, under 100 px "
              f"{np.mean(lesion[m] < 100):.3f}, more consolidation than GGO {np.mean(consolidation[m] > ggo[m]):.3f}")
    x = np.stack([np.log1p(ggo), np.log1p(consolidation), consolidation / (lesion + 1),
                  np.where(lesion > 0, lateral, 0) / 64, (lesion > 0) * 1.0,
                  np.log1p(ggo) * np.log1p(consolidation) / 50], 1)
    x = (x - x.mean(0)) / x.std(0)
    order = np.random.RandomState(0).permutation(len(y))
    folds = np.array_split(order, 3)
    for name, fit in [("logistic regression", fit_logistic), ("15-nearest neighbours", fit_knn)]:
        accuracies = []
        for fold in folds:
            train = np.setdiff1d(order, fold)
            accuracies.append(np.mean(fit(x[train], y[train])(x[fold]) == y[fold]))
        print(f"{name}: 3-fold accuracy " + " / ".join(f"{a:.3f}" for a in accuracies))


if __name__ == "__main__":
    main(sys.argv[1])
