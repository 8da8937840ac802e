"""The seed project's planar problem (Gaussian quantiles, 200 points): a tanh MLP draws a circular boundary."""

import chainrule as cr
from chainrule import datasets

data = datasets.load("planar", seed=0)
pre = datasets.Preprocessor.fit(data)  # standardisation fitted on the training split only

model = cr.Sequential(cr.Dense(2, 32), cr.Tanh(), cr.Dense(32, 32), cr.Tanh(), cr.Dense(32, 2), seed=0)
model.fit(
    pre.transform(data.X_train),
    data.y_train,
    loss="softmax_cross_entropy",
    optimizer=cr.Adam(lr=0.01),
    epochs=300,
    batch_size=32,
)

accuracy = (model.predict_classes(pre.transform(data.X_test)) == data.y_test).mean()
print(f"{data!r}\ntest accuracy {accuracy:.3f}")
