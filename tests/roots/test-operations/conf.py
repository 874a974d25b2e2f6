extensions = ["elvit_sphinx"]
project = "elvit test: attention and GELU views"
exclude_patterns = ["_build"]
