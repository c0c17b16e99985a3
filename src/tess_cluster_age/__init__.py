"""tess-cluster-age."""
__version__ = "0.1.0"
