extensions = ["elvit_sphinx"]
project = "elvit code graph test"
exclude_patterns = ["_build"]
