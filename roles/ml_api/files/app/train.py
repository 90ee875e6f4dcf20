"""Train the model at image build time: a small classifier on the iris data that ships
with scikit-learn (no download), saved next to the service as model.pkl."""
import json
import pickle

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

data = load_iris()
x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.25, random_state=42)
model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
score = model.score(x_test, y_test)
with open("model.pkl", "wb") as f:
    pickle.dump({"model": model, "classes": list(data.target_names), "features": list(data.feature_names)}, f)
with open("metrics.json", "w") as f:
    json.dump({"accuracy": score}, f)
print(f"trained LogisticRegression on iris: test accuracy {score:.3f}")
