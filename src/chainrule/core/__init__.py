"""The data path: a model's forward and its one backward, the loss it meets, the optimiser and the fit loop.

    model.py       Sequential: build, forward, the one ``gradient``, predict, summary
    ensemble.py    the same model with a declared model axis (many networks at once)
    objective.py   where the loss meets the model: the fused output step and the penalty terms
    losses.py      one class per loss, with its fused partner (summed_losses.py: summed over the outputs)
    optimizers.py  updates over the flat parameter buffer; learning-rate schedules
    training.py    the one fit loop over batches and epochs; _guard.py watches it for divergence
    callbacks.py, checkpoint.py, predictions.py
"""
