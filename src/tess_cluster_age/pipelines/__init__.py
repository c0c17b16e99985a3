"""The project's pipelines; each sub-package holds nodes.py, pipeline.py and a README."""
