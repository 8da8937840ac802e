"""Iris (the seed project's multiclass example): 4 features, 3 species, softmax cross-entropy."""

import chainrule as cr
from chainrule import datasets

data = datasets.load("iris", seed=1)
pre = datasets.Preprocessor.fit(data)

model = cr.Sequential(cr.Dense(4, 16), cr.Tanh(), cr.Dense(16, 3), seed=1)
history = model.fit(
    pre.transform(data.X_train),
    data.y_train,
    loss="softmax_cross_entropy",
    optimizer=cr.Adam(lr=0.01),
    epochs=150,
    batch_size=32,
    metrics=["accuracy"],
)

predicted = model.predict_classes(pre.transform(data.X_test))
print(f"train accuracy {history['accuracy'][-1]:.3f}, test accuracy {(predicted == data.y_test).mean():.3f}")
for name, k in zip(data.classes, range(3)):
    print(f"{name:<11} {(predicted[data.y_test == k] == k).mean():.2f} recall")
