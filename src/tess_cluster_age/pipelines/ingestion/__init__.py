"""Ingestion: ELK light-curve files -> validated cluster and light-curve tables."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
