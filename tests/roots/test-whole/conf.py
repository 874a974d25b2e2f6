extensions = ["elvit_sphinx"]
project = "elvit whole-model views"
exclude_patterns = ["_build"]
