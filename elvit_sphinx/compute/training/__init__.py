"""Pieces of the training script (:mod:`elvit_sphinx.compute.train`) that stand on their own."""
