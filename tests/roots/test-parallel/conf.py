extensions = ["elvit_sphinx"]
project = "elvit parallel"
exclude_patterns = ["_build"]
