"""Ingestion pipeline: ELK files -> clusters, sector light curves, ingestion report."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import build_ingestion_report, cross_check_ages, read_clusters


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                read_clusters,
                inputs=["elk_light_curves", "params:ingestion"],
                outputs=["clusters_read", "sectors", "sector_light_curves", "ingestion_problems"],
                name="read_clusters_node",
            ),
            node(
                cross_check_ages,
                inputs=[
                    "clusters_read",
                    "published_sector_features",
                    "mw_age_catalogue",
                    "lmc_age_catalogue",
                    "smc_age_catalogue",
                    "params:ingestion",
                ],
                outputs="clusters",
                name="cross_check_ages_node",
            ),
            node(
                build_ingestion_report,
                inputs=["clusters", "sectors", "ingestion_problems"],
                outputs="ingestion_report",
                name="build_ingestion_report_node",
            ),
        ]
    )
