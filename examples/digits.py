"""Handwritten 8x8 digits (1,797 images): a 64-128-10 ReLU MLP with Adam, as `chainrule train` does by default."""

import time

import chainrule as cr
from chainrule import datasets

data = datasets.load("digits", seed=0)
pre = datasets.Preprocessor.fit(data)
X_train, X_test = pre.transform(data.X_train), pre.transform(data.X_test)

model = cr.Sequential(cr.Dense(64, 128), cr.ReLU(), cr.Dense(128, 10), seed=0)
start = time.perf_counter()
history = model.fit(
    X_train,
    data.y_train,
    loss="softmax_cross_entropy",
    optimizer=cr.Adam(lr=0.003),
    epochs=30,
    batch_size=32,
    validation_data=(X_test, data.y_test),
    metrics=["accuracy"],
)
print(f"{time.perf_counter() - start:.1f} s, test accuracy {history['val_accuracy'][-1]:.3f}")
