extensions = ["elvit_sphinx"]
project = "elvit test"
exclude_patterns = ["_build"]
