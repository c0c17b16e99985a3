"""The ``tess-cluster-age`` command: date new clusters, build the report.

``tess-cluster-age predict PATH... --out FILE.csv`` runs :func:`tess_cluster_age.dating.date_clusters`,
the function the ``predict`` pipeline's node calls, with the project's configuration (the
``predict`` parameters and the ``predict_trained_models`` catalog entry) loaded through a
``KedroSession``; ``tess-cluster-age report`` runs the registered ``reporting`` pipeline.

Exit codes: 0 every input was dated (or the report was built), 1 some input was not dated, a
trained model is missing or the report failed, 2 a usage error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd

from tess_cluster_age.schema import GALAXIES

EXIT_OK, EXIT_NOT_DATED, EXIT_USAGE = 0, 1, 2

_PREDICT_HELP = """Date the star clusters in ELK light-curve files (.fits or .fits.gz).

PATHS are files or folders (read recursively). A file's host galaxy comes from the nearest
enclosing folder named MW, LMC or SMC, else from --galaxy; a file with neither is listed as not
dated. A LOG_AGE in a file's header is shown beside the prediction and never used.

Segments and features are rebuilt with the parameters stored in the trained models, so a new
cluster gets exactly the features the models were trained on. The models are the latest ones
in data/06_models/ (train them with `kedro run --pipeline=random_forest`, `regression`,
`gaussian_nn`, or `kedro run` for the whole project).

Prints one row per cluster and model: the age in Myr with its 68 % interval (16th-84th
percentile of the cluster's predicted age distribution), log age and sigma (dex), and a warning
for every galaxy where a model does not beat that galaxy's mean age in cross-validation (in the
Milky Way no model does: there an age is essentially the MW prior). Writes every column to --out
(see the predict pipeline's README).

\b
Exit codes:
  0  every input file was dated
  1  some were not (listed, with the reason), or a trained model is missing
  2  usage error (bad option, path that does not exist, unknown model)

\b
Examples:
  tess-cluster-age predict ../shared/data/unlabelled --out predictions.csv
  tess-cluster-age predict cluster.fits.gz --galaxy LMC --model random_forest --out age.csv
"""


def find_project(start: Path | None = None) -> Path | None:
    """The Kedro project folder: ``start`` (default the working folder) or the first parent with a
    ``pyproject.toml`` that has a ``[tool.kedro]`` table; else the source checkout this package
    is installed from (editable installs); else None."""
    candidates = [p for p in [(start or Path.cwd()).resolve(), *(start or Path.cwd()).resolve().parents]]
    candidates.append(Path(__file__).resolve().parents[2])
    for folder in candidates:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.kedro]" in pyproject.read_text(errors="ignore"):
            return folder
    return None


@contextlib.contextmanager
def _in_folder(folder: Path):
    """Work in the project folder (the catalog's data paths are relative to it), then come back."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


_QUIET_LEVELS: tuple[tuple[str, int], ...] = (
    ("kedro", logging.WARNING), ("tess_cluster_age", logging.WARNING),
    # every file's problem is in the printed list: no log line per file
    ("tess_cluster_age.reading", logging.ERROR), ("py.warnings", logging.ERROR),
)
"""Logger levels of a command run without ``--verbose``."""


@contextlib.contextmanager
def _kept_logger_levels(names: list[str]):
    """Put the level of each named logger back as it was on leaving, so that a notebook or a test
    that calls the command keeps its own logging (Kedro's first ``bootstrap_project`` in a process
    also resets the project's loggers)."""
    previous = [(logger, logger.level) for logger in map(logging.getLogger, names)]
    try:
        yield
    finally:
        for logger, level in previous:
            logger.setLevel(level)


@contextlib.contextmanager
def _session(project_dir: Path, verbose: bool, runtime_params: dict[str, Any] | None = None):
    """A KedroSession of the project, with quiet logging unless ``verbose``; the levels of the
    loggers it quietens are restored when the session closes."""
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    with _kept_logger_levels([name for name, _ in _QUIET_LEVELS]):
        disabled = logging.root.manager.disable
        try:
            if not verbose:
                logging.disable(logging.INFO)      # kedro's start-up messages
            from kedro.framework.session import KedroSession
            from kedro.framework.startup import bootstrap_project

            bootstrap_project(project_dir)
        finally:
            logging.disable(disabled)
        if not verbose:
            for name, level in _QUIET_LEVELS:
                logging.getLogger(name).setLevel(level)
        with KedroSession.create(project_path=project_dir, runtime_params=runtime_params) as session:
            yield session


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--project-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="The tess-cluster-age project folder (configuration, data/06_models). "
                   "Default: the working folder or its first parent that is a Kedro project.")
@click.option("-v", "--verbose", is_flag=True, help="Show the pipeline's progress log.")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path | None, verbose: bool) -> None:
    """Ages of star clusters from their integrated TESS (ELK) light curves.

    \b
    Commands:
      predict  date clusters from ELK files and write a CSV
      report   build data/08_reporting/report.html and print its path

    Run `tess-cluster-age COMMAND --help` for each command's options.
    """
    ctx.ensure_object(dict)
    ctx.obj["project_dir"] = project_dir
    ctx.obj["verbose"] = verbose


def _project(ctx: click.Context) -> Path:
    project = ctx.obj.get("project_dir") or find_project()
    if project is None:
        raise click.UsageError("not inside a tess-cluster-age project: run from the project folder or give --project-dir")
    return Path(project)


@cli.command(help=_PREDICT_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--galaxy", type=click.Choice(GALAXIES), default=None,
              help="Host galaxy of the files that are not in an MW, LMC or SMC folder.")
@click.option("--model", "model", default="all", show_default=True, metavar="NAME|all",
              help="A trained model name (e.g. random_forest_per_galaxy, regression, nn_mse), or all: every model "
                   "found in data/06_models (a model pipeline not trained yet is skipped with a warning).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV to write: one row per cluster and model (log ages in log10 yr, widths in dex, age_myr in Myr).")
@click.option("--problems", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the problems (unusable files and sectors, undated clusters) to this CSV.")
@click.pass_context
def predict(ctx: click.Context, paths: tuple[str, ...], galaxy: str | None, model: str, out: Path, problems: Path | None) -> None:
    from tess_cluster_age import dating
    from tess_cluster_age.config import PredictConfig
    from tess_cluster_age.models.config import ModelPipelineConfig
    from tess_cluster_age.reading import read_light_curves

    project = _project(ctx)
    out = out.resolve()
    problems = problems.resolve() if problems is not None else None
    with _in_folder(project), _session(project, ctx.obj["verbose"]) as session:
        context = session.load_context()
        config = dataclasses.replace(PredictConfig.from_params(context.params["predict"]), galaxy=galaxy,
                                     models=model if model == "all" else (model,))
        trained = context.catalog.load("predict_trained_models")
        try:
            configured = {p: [n for n, spec in ModelPipelineConfig.from_params(context.params[p], p).models.items() if spec.save]
                          for p in trained if p in context.params}
            models = dating.select_models(trained, model, configured)
        except dating.MissingModelError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_NOT_DATED)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--model") from None
        read = read_light_curves(paths, galaxy, strict=False, config=dating.reading_config(models))
        result = dating.date_clusters(read, models, config)
        table, problem_table = result.predictions, result.problems
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    if problems is not None:
        problems.parent.mkdir(parents=True, exist_ok=True)
        problem_table.to_csv(problems, index=False)
    click.echo(format_table(table))
    for line in skill_warnings(table):
        click.echo(line)
    undated = dating.undated_inputs(problem_table)
    if table["out_of_range"].astype(bool).any():
        flagged = table[table["out_of_range"].astype(bool)].drop_duplicates("name")
        click.echo(f"Note: {len(flagged)} cluster(s) marked * have features outside the training range "
                   f"({', '.join(sorted(set(';'.join(flagged['out_of_range_features']).split(';'))))}): "
                   "their ages are extrapolations.")
    for row in undated.itertuples():
        click.echo(f"Not dated: {row.file}{f' ({row.name})' if isinstance(row.name, str) else ''}: {row.reason}", err=True)
    n_dated = table["name"].nunique()
    click.echo(f"Dated {n_dated} cluster(s) with {len(models)} model(s); {len(undated)} input(s) not dated. Wrote {out}")
    ctx.exit(EXIT_NOT_DATED if len(undated) or n_dated == 0 else EXIT_OK)


def _myr(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def format_table(table: pd.DataFrame) -> str:
    """The predictions as a fixed-width text table (age in Myr with its 68 % interval)."""
    header = ["cluster", "galaxy", "model", "age [Myr]", "68 % interval [Myr]", "log age ± sigma", "header", "skill vs galaxy mean"]
    rows = []
    for r in table.itertuples():
        rows.append([
            f"{r.name}{' *' if r.out_of_range else ''}", r.galaxy, r.model, _myr(r.age_myr),
            f"{_myr(10 ** (r.lo68 - 6))} - {_myr(10 ** (r.hi68 - 6))}", f"{r.log_age_pred:.2f} ± {r.sigma:.2f}",
            "-" if pd.isna(r.log_age_header) else f"{r.log_age_header:.2f}", r.skill_vs_galaxy_mean,
        ])
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def skill_warnings(table: pd.DataFrame) -> list[str]:
    """One plain warning per galaxy where a model does not beat the galaxy's mean age (cross-validated)."""
    lines = []
    for galaxy in [g for g in GALAXIES if g in set(table["galaxy"])]:
        rows = table[table["galaxy"] == galaxy].drop_duplicates("model")
        weak = rows[rows["skill_vs_galaxy_mean"] != "better"]
        if weak.empty:
            continue
        details = ", ".join(
            f"{r.model} {r.cv_rmse_minus_galaxy_mean:+.2f} dex (95 % CI {r.cv_rmse_minus_galaxy_mean_lo95:+.2f} to "
            f"{r.cv_rmse_minus_galaxy_mean_hi95:+.2f})" if r.skill_vs_galaxy_mean != "unknown" else f"{r.model} (no metrics stored)"
            for r in weak.itertuples())
        if len(weak) == len(rows):
            who, ages = "no model beats", f"Those {galaxy} ages are"
        else:
            names = ", ".join(weak["model"])
            who = f"{names} {'does' if len(weak) == 1 else 'do'} not beat"
            ages = f"The {galaxy} ages of {names} are"
        lines.append(f"Warning ({galaxy}): {who} the {galaxy} mean age in cross-validation (cluster RMSE minus the "
                     f"galaxy mean's: {details}). {ages} essentially the {galaxy} average age with its spread, not a measurement.")
    return lines


@cli.command()
@click.pass_context
def report(ctx: click.Context) -> None:
    """Build the report (data/08_reporting/report.html) and print its path.

    Runs the project's `reporting` pipeline (as `kedro run --pipeline=reporting` does) on the
    outputs of the model pipelines and of the last predict run.

    \b
    Exit codes: 0 the report was built, 1 the pipeline failed, 2 usage error.
    """
    project = _project(ctx)
    with _in_folder(project), _session(project, ctx.obj["verbose"]) as session:
        try:
            session.run(pipeline_name="reporting")
        except Exception as exc:  # noqa: BLE001 - one line for the user, the traceback with --verbose
            if ctx.obj["verbose"]:
                raise
            click.echo(f"Error: the reporting pipeline failed: {exc}", err=True)
            ctx.exit(EXIT_NOT_DATED)
        path = report_path(session.load_context().catalog, project)
    if path is None or not path.is_file():
        click.echo(f"Error: the reporting pipeline ran but wrote no report.html ({path})", err=True)
        ctx.exit(EXIT_NOT_DATED)
    click.echo(str(path))


def report_path(catalog: Any, project: Path) -> Path | None:
    """The file of the catalog entry that writes ``report.html``, else ``data/08_reporting/report.html``."""
    for name in catalog.keys() if hasattr(catalog, "keys") else catalog.list():
        try:
            described = catalog[name]._describe()
        except Exception:  # noqa: BLE001 - factory patterns and exotic datasets
            continue
        filepath = str(described.get("filepath", ""))
        if filepath.endswith("report.html"):
            path = Path(filepath)
            return path if path.is_absolute() else project / path
    return project / "data" / "08_reporting" / "report.html"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tess-cluster-age`` console script; returns the exit code."""
    try:
        result = cli.main(args=argv, prog_name="tess-cluster-age", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return result if isinstance(result, int) else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
