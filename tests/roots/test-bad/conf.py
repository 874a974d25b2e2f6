extensions = ["elvit_sphinx"]
project = "elvit bad input"
exclude_patterns = ["_build"]
