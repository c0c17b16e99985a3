"""``python -m tess_cluster_age`` = the ``tess-cluster-age`` command (see :mod:`tess_cluster_age.cli`)."""

import sys

from tess_cluster_age.cli import main

if __name__ == "__main__":
    sys.exit(main())
