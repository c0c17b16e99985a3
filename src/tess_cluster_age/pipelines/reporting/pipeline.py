"""The reporting pipeline: the model pipelines' tables -> figures (PNG, through the catalog) -> a context -> one HTML page."""

from kedro.pipeline import Pipeline, node, pipeline

from tess_cluster_age.schema import MODEL_PIPELINES

from .nodes import (
    build_report_context,
    collect_figures,
    collect_training_records,
    combine_cluster_predictions,
    combine_importances,
    combine_model_tables,
    coverage_by_predicted_age,
    data_overview,
    independent_catalogues,
    label_scatter,
    match_independent_ages,
    model_comparison,
    plot_calibration_figures,
    plot_control_figures,
    plot_data_figures,
    plot_external_figures,
    plot_importance_figures,
    plot_light_curve_figures,
    plot_per_galaxy_figures,
    recommended_models,
    render_report,
    report_coverage_section,
    report_external_section,
    validate_against_independent_ages,
)

FIGURE_SECTIONS = ("data", "per_galaxy", "external", "calibration", "controls", "importances", "light_curves")
"""Figure folders of the page (``report_figures_<section>``, one catalog entry pattern)."""


def _from_each(output: str) -> dict[str, str]:
    """One dataset of every model pipeline, in :data:`MODEL_PIPELINES` order (a baseline is kept from the first)."""
    return {name: f"{name}.{output}" for name in MODEL_PIPELINES}


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline([
        node(combine_model_tables, inputs=_from_each("metrics"), outputs="report_metrics", name="combine_metrics_node"),
        node(combine_cluster_predictions, inputs=_from_each("oof"), outputs="report_cluster_predictions",
             name="combine_cluster_predictions_node"),
        node(combine_importances, inputs=_from_each("importances"), outputs="report_importances", name="combine_importances_node"),
        # The bundles themselves (estimators not loaded), not the predict_trained_models view: reading them orders this node after every
        # train_final_models_node, so a full `kedro run` never reports on the models of a previous run.
        node(collect_training_records, inputs=_from_each("trained_models"), outputs="report_training",
             name="collect_training_records_node"),
        node(model_comparison, inputs="report_metrics", outputs="model_comparison", name="model_comparison_node"),
        node(data_overview, inputs=["clusters", "sectors", "segments", "ingestion_report", "ingestion_problems"],
             outputs=["report_data_per_galaxy", "report_ingestion_problems"], name="data_overview_node"),
        node(plot_data_figures, inputs=["clusters", "sectors"], outputs="report_figures_data", name="plot_data_figures_node"),
        node(plot_per_galaxy_figures, inputs=["report_cluster_predictions", "report_metrics", "params:reporting", "params:evaluation"],
             outputs="report_figures_per_galaxy", name="plot_per_galaxy_figures_node"),
        node(plot_calibration_figures, inputs="report_cluster_predictions", outputs="report_figures_calibration",
             name="plot_calibration_figures_node"),
        node(plot_control_figures, inputs="model_comparison", outputs="report_figures_controls", name="plot_control_figures_node"),
        node(plot_importance_figures, inputs=["report_importances", "params:reporting"], outputs="report_figures_importances",
             name="plot_importance_figures_node"),
        node(plot_light_curve_figures,
             inputs=["clusters", "segments", "sector_light_curves", "periodograms_classic", "params:reporting", "params:evaluation"],
             outputs="report_figures_light_curves", name="plot_light_curve_figures_node"),
        # Independent ages (SPEC 8): evaluation only; nothing here feeds a model.
        node(independent_catalogues, inputs=["external_catalogue_files", "params:external_validation"], outputs="external_catalogues",
             name="independent_catalogues_node"),
        node(match_independent_ages, inputs=["clusters", "external_catalogues", "params:external_validation"], outputs="external_matches",
             name="match_independent_ages_node"),
        node(validate_against_independent_ages,
             inputs=["report_cluster_predictions", "clusters", "external_matches", "params:external_validation"],
             outputs="external_validation", name="validate_against_independent_ages_node"),
        node(label_scatter, inputs=["clusters", "external_matches", "params:external_validation"], outputs="label_scatter",
             name="label_scatter_node"),
        node(recommended_models, inputs={"predict_params": "params:predict", **_from_each("trained_models")},
             outputs="report_recommended_models", name="recommended_models_node"),
        node(plot_external_figures,
             inputs=["report_cluster_predictions", "external_matches", "external_validation", "report_recommended_models",
                     "params:reporting"],
             outputs="report_figures_external", name="plot_external_figures_node"),
        node(report_external_section,
             inputs=["external_catalogues", "external_matches", "external_validation", "label_scatter", "report_recommended_models",
                     "params:external_validation"],
             outputs="report_external", name="report_external_section_node"),
        # Coverage where a user reads an interval: by predicted age (the sigma calibration's bins), beside true age.
        node(coverage_by_predicted_age, inputs=["report_cluster_predictions", "params:evaluation"], outputs="coverage_by_predicted_age",
             name="coverage_by_predicted_age_node"),
        node(report_coverage_section,
             inputs=["report_cluster_predictions", "coverage_by_predicted_age", "report_recommended_models", "params:reporting",
                     "params:evaluation"],
             outputs="report_coverage", name="report_coverage_section_node"),
        node(collect_figures, inputs={section: f"report_figures_{section}" for section in FIGURE_SECTIONS}, outputs="report_figure_images",
             name="collect_figures_node"),
        node(build_report_context,
             inputs=["report_data_per_galaxy", "report_ingestion_problems", "model_comparison", "report_metrics", "last_predictions",
                     "report_figure_images", "report_training", "report_external", "report_coverage", "params:reporting",
                     "params:evaluation", "params:external_validation"],
             outputs="report_context", name="build_report_context_node"),
        node(render_report, inputs="report_context", outputs="report_html", name="render_report_node"),
    ])
