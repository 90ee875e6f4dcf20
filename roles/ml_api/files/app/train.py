"""Train the model at image build time: a softmax (multinomial logistic) regression on the
iris data (iris.csv, from scikit-learn's bundled copy of Fisher's data set), with numpy
only, saved next to the service as model.json with its test accuracy."""
import csv
import json

import numpy as np

with open("iris.csv") as f:
    rows = list(csv.DictReader(f))
features = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
classes = sorted({r["species"] for r in rows})
x = np.array([[float(r[c]) for c in features] for r in rows])
y = np.array([classes.index(r["species"]) for r in rows])

rng = np.random.default_rng(42)
order = rng.permutation(len(x))
test, train = order[:30], order[30:]
mean, std = x[train].mean(axis=0), x[train].std(axis=0)


def design(v):
    z = (v - mean) / std
    return np.hstack([z, np.ones((len(z), 1))])


xt, yt = design(x[train]), np.eye(len(classes))[y[train]]
w = np.zeros((xt.shape[1], len(classes)))
for _ in range(2000):
    logits = xt @ w
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    w -= 0.5 * (xt.T @ (p - yt) / len(xt) + 1e-3 * w)

accuracy = float(((design(x[test]) @ w).argmax(axis=1) == y[test]).mean())
with open("model.json", "w") as f:
    json.dump({"kind": "softmax-regression", "features": features, "classes": classes,
               "mean": mean.tolist(), "std": std.tolist(), "weights": w.tolist(),
               "test_accuracy": accuracy}, f)
print(f"trained softmax regression on iris: test accuracy {accuracy:.3f}")
