"""Learning from search (expert iteration): the search's trees become datasets (`traces`), the
datasets train a small linear policy and value (`features`, `model`, `fit`), and `loop` repeats
search -> traces -> fit -> evaluate. The engine never imports this package; it imports the engine.
scikit-learn (a core dependency) fits the models; a saved model is numpy arrays and JSON, and
using one needs numpy and scipy.sparse only."""
