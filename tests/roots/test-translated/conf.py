extensions = ["elvit_sphinx"]
project = "elvit test"
exclude_patterns = ["_build"]
language = "fr"
locale_dirs = ["locale"]
