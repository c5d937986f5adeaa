import re

import amrs


def test_version_matches_the_project():
    import os
    cmake = open(os.path.join(os.environ["AMRS_SOURCE_DIR"], "CMakeLists.txt")).read()
    version = re.search(r"project\(amrs VERSION ([0-9.]+)", cmake).group(1)
    assert amrs.__version__ == version
