"""NumPy measurements over recorded traces that views and chapters share: the
interpretation chapter's similarities, predictions and attention rollout, composite
images and the object regions of example images. No Sphinx, no torch."""
