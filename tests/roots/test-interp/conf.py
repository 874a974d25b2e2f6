extensions = ["elvit_sphinx"]
project = "elvit interpretation views"
exclude_patterns = ["_build"]

# The reader's own images: one good, one missing, one that is not an image, one not a path.
elvit_images = [
    "images/extra.png",
    "images/missing.png",
    "images/broken.png",
    3,
]
