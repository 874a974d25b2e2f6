"""The recorded forward pass and training step as data: which model, which image, the
cache, and the spawned compute process that makes them. No Sphinx, no torch here
(torch lives in ``elvit_sphinx.compute``), so notebooks and the Sphinx process can use it."""
