"""The ``tess-cluster-age`` command: date new clusters, list the trained models, build the report.

``tess-cluster-age predict PATH... --out FILE`` reads the files (:mod:`tess_cluster_age.reading`)
and dates them through :func:`tess_cluster_age.api.date_light_curves`, the path of the Python API,
which runs :func:`tess_cluster_age.dating.date_clusters` as the ``predict`` pipeline's node does.
It starts no Kedro session: the models are read from their files and the ``predict`` parameters
from ``conf/`` (:mod:`tess_cluster_age.project`). ``tess-cluster-age models`` lists the trained
models with their cross-validated skill; ``tess-cluster-age report`` runs the registered
``reporting`` pipeline.

Exit codes: 0 every input was dated (or the report was built), 1 some input was not dated, a
trained model is missing or the report failed, 2 a usage error.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pandas as pd

from tess_cluster_age.project import find_project
from tess_cluster_age.provenance import package_versions
from tess_cluster_age.schema import GALAXIES

EXIT_OK, EXIT_NOT_DATED, EXIT_USAGE = 0, 1, 2

_PREDICT_HELP = """Date the star clusters in light-curve files.

PATHS are files or folders (read recursively): ELK files (.fits, .fits.gz), TESS light-curve FITS
files (SPOC, TESS-SPOC, QLP, lightkurve's to_fits), or CSV/ECSV tables with time (BTJD d), flux
and flux_err (e/s) and an optional sector. The models learned from ELK integrated light curves:
another light curve is meaningful only if it is the integrated light of the whole cluster, made
the same way (the elk package, or an aperture over the cluster); a single star's light curve is
not. A file's host galaxy comes from the nearest enclosing folder named MW, LMC or SMC, else
from --galaxy. A LOG_AGE in a file's header is shown beside the prediction and never used.

Segments and features are rebuilt with the parameters stored in the trained models. The models
are the newest in the project's data/06_models/ (`kedro run` trains them), or in --models DIR.
By default each cluster is dated with its galaxy's recommended model (the lowest cross-validated
cluster NLL there; the rule is predict.recommend_by in conf/); --model all dates with every model.

Prints the age in Myr with its 68 % interval (16th-84th percentile of the cluster's predicted age
distribution), log age and sigma (dex), and a warning for every galaxy where a model does not
beat that galaxy's mean age in cross-validation. --out writes every column: CSV, ECSV (with units
and the provenance and versions in its meta) or Parquet, chosen by the file extension.

\b
Exit codes:
  0  every input was dated
  1  some were not (listed, with the reason), or no trained model was found
  2  usage error (bad option, path that does not exist, unknown model or galaxy)

\b
Examples:
  tess-cluster-age predict ../shared/data/unlabelled --out predictions.ecsv
  tess-cluster-age predict lc.csv --galaxy LMC --model all --out ages.csv --pdf ages_pdf.csv
  tess-cluster-age predict cluster.fits.gz --galaxy SMC --models ~/shared/06_models --out age.parquet
"""

OUTPUT_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".parquet": "parquet"}
"""Extensions of --out and --pdf, and the astropy table format each is written in. A CSV holds no
units or metadata, so it is written from the pandas table (without importing astropy's tables,
a quarter of a second of dating one cluster); ECSV and Parquet keep the units and provenance."""


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



@contextlib.contextmanager
def _quiet(verbose: bool):
    """Logging of a command that starts no Kedro session: the progress log on stderr with
    ``--verbose``, else only warnings (and no line per file: the problems are listed at the end);
    the caller's logger levels are restored on leaving."""
    with _kept_logger_levels([name for name, _ in _QUIET_LEVELS]):
        handler = None
        if verbose:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
            logging.getLogger("tess_cluster_age").addHandler(handler)
            logging.getLogger("tess_cluster_age").setLevel(logging.INFO)
        else:
            for name, level in _QUIET_LEVELS:
                logging.getLogger(name).setLevel(max(level, logging.ERROR) if name.startswith("tess_cluster_age") else level)
        try:
            yield
        finally:
            if handler is not None:
                logging.getLogger("tess_cluster_age").removeHandler(handler)


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


def _output(ctx: click.Context, path: Path | None, option: str) -> Path | None:
    if path is not None and path.suffix.lower() not in OUTPUT_FORMATS:
        raise click.BadParameter(f"{path.name}: use a {', '.join(OUTPUT_FORMATS)} file", ctx=ctx, param_hint=option)
    return path.resolve() if path is not None else None


def _load_models(ctx: click.Context, models_dir: Path | None):
    """The trained models (--models DIR, else the project's), or exit 1 naming what is missing."""
    from tess_cluster_age.api import load_models

    try:
        return load_models(models_dir if models_dir is not None else _project(ctx))
    except FileNotFoundError as exc:
        click.echo(f"Error: {exc}. Train the models with `kedro run` in the project (or give --models DIR).", err=True)
        ctx.exit(EXIT_NOT_DATED)


def _write(frame: pd.DataFrame, path: Path, table: Callable[[], Any]) -> None:
    """Write a table in the format of ``path``'s extension, atomically (temporary file, then rename):
    a CSV from ``frame``, ECSV or Parquet from the astropy table that ``table()`` makes (units, meta)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial{path.suffix}")
    if path.suffix.lower() == ".csv":
        frame.to_csv(temporary, index=False)
    else:
        table().write(temporary, format=OUTPUT_FORMATS[path.suffix.lower()], overwrite=True)
    os.replace(temporary, path)


@cli.command(help=_PREDICT_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--galaxy", type=click.Choice(GALAXIES), default=None,
              help="Host galaxy of the files that are not in an MW, LMC or SMC folder.")
@click.option("--model", "model", default="recommended", show_default=True, metavar="recommended|all|NAME",
              help="recommended: each galaxy's recommended model; all: every trained model; or a model name "
                   "(see `tess-cluster-age models`).")
@click.option("--models", "models_dir", type=click.Path(exists=True, path_type=Path), default=None,
              help="A folder of trained model files (data/06_models of a project, or a copy of it), or one model file; "
                   "default: the project's.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write, by extension: .csv, .ecsv (units and provenance kept) or .parquet. One row per "
                   "cluster (and model): log ages in log10 yr, widths in dex, age_myr in Myr.")
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write each cluster's age distribution on a log-age grid (name, model, log_age, density per dex).")
@click.option("--problems", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the problems (inputs not read or not dated, skipped sectors, dropped samples) to this CSV.")
@click.pass_context
def predict(ctx: click.Context, paths: tuple[str, ...], galaxy: str | None, model: str, models_dir: Path | None, out: Path,
            pdf: Path | None, problems: Path | None) -> None:
    from tess_cluster_age import api, dating, parallel
    from tess_cluster_age.reading import read_light_curves

    out, pdf = _output(ctx, out, "--out"), _output(ctx, pdf, "--pdf")
    problems = problems.resolve() if problems is not None else None
    with _quiet(ctx.obj["verbose"]):
        models = _load_models(ctx, models_dir)
        if len(paths) > 1 or any(Path(p).is_dir() for p in paths):   # likely several clusters: workers start while reading
            parallel.start_workers(models.config.execution.workers, ["tess_cluster_age.features.extract"])
        read = read_light_curves(paths, galaxy, strict=False, config=dating.reading_config(models.trained))
        try:
            result = api.date_light_curves(read, models, model)
        except dating.MissingModelError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_NOT_DATED)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param_hint="--model") from None
        finally:
            parallel.shutdown_pools()   # the features are computed: the worker processes are no longer needed

    def predictions_table():
        table = api.predictions_table(result, models, distributions=False)
        table.meta["tess_cluster_age"]["versions_when_dated"] = package_versions()
        return table

    _write(result.predictions[list(dating.PREDICTION_COLUMNS)], out, predictions_table)
    if pdf is not None:
        grid = distribution_grid(result)
        _write(grid, pdf, lambda: distribution_table(grid))
    if problems is not None:
        problems.parent.mkdir(parents=True, exist_ok=True)
        result.problems.to_csv(problems, index=False)
    predictions = result.predictions
    click.echo(format_table(predictions))
    for line in skill_warnings(predictions):
        click.echo(line)
    if predictions["out_of_range"].astype(bool).any():
        flagged = predictions[predictions["out_of_range"].astype(bool)].drop_duplicates("name")
        click.echo(f"Note: {len(flagged)} cluster(s) marked * have features outside the training range "
                   f"({', '.join(sorted(set(';'.join(flagged['out_of_range_features']).split(';'))))}): "
                   "their ages are extrapolations.")
    undated = dating.undated_inputs(result.problems)
    for row in undated.itertuples():
        click.echo(f"Not dated: {row.file}{f' ({row.name})' if isinstance(row.name, str) else ''}: {row.reason}", err=True)
    n_dated = predictions["name"].nunique()
    n_models = predictions["model"].nunique()
    click.echo(f"Dated {n_dated} cluster(s) with {n_models} model(s); {len(undated)} input(s) not dated. Wrote {out}"
               + (f" and {pdf}" if pdf is not None else ""))
    ctx.exit(EXIT_NOT_DATED if len(undated) or n_dated == 0 else EXIT_OK)


def distribution_grid(result: Any) -> pd.DataFrame:
    """Each predicted row's age distribution on a log-age grid: ``name, model, log_age`` (log10 yr)
    and ``density`` (probability per dex)."""
    rows = {"name": [], "model": [], "log_age": [], "density": []}
    for (name, model), distribution in result.distributions.items():
        if not ((result.predictions["name"] == name) & (result.predictions["model"] == model)).any():
            continue
        log_age, density = distribution.grid()
        rows["name"] += [name] * len(log_age)
        rows["model"] += [model] * len(log_age)
        rows["log_age"] += list(log_age)
        rows["density"] += list(density)
    return pd.DataFrame(rows)


def distribution_table(grid: pd.DataFrame) -> Any:
    """:func:`distribution_grid` as an astropy table with units."""
    from astropy.table import Table

    table = Table.from_pandas(grid)
    table["log_age"].unit, table["density"].unit = "dex(yr)", "1 / dex"
    return table


@cli.command()
@click.option("--models", "models_dir", type=click.Path(exists=True, path_type=Path), default=None,
              help="A folder of trained model files, or one model file; default: the project's data/06_models.")
@click.pass_context
def models(ctx: click.Context, models_dir: Path | None) -> None:
    """List the trained models with their cross-validated skill per galaxy.

    For each model and galaxy: the cluster RMSE (dex), NLL, 68 % and 95 % coverage, the RMSE minus
    the galaxy-mean baseline's with its 95 % paired-bootstrap CI, the verdict, and which model
    `predict` recommends there (predict.recommend_by in conf/).

    \b
    Exit codes: 0 listed, 1 no trained model found, 2 usage error.
    """
    with _quiet(ctx.obj["verbose"]):
        found = _load_models(ctx, models_dir)
        skill = found.skill()
    click.echo(f"Trained models in {found.source}:")
    shown = skill.assign(
        rmse=skill["rmse"].map("{:.3f}".format), nll=skill["nll"].map("{:.3f}".format),
        cov68=skill["cov68"].map("{:.2f}".format), cov95=skill["cov95"].map("{:.2f}".format),
        **{"rmse - galaxy mean (95 % CI)": [f"{d:+.3f} ({lo:+.3f}, {hi:+.3f})" for d, lo, hi in
                                            zip(skill["rmse_minus_galaxy_mean"], skill["lo95"], skill["hi95"])]},
        recommended=skill["recommended"].map({True: "yes", False: ""}),
    )[["model", "pipeline", "galaxy", "rmse", "nll", "cov68", "cov95", "rmse - galaxy mean (95 % CI)", "skill_vs_galaxy_mean", "recommended"]]
    click.echo(shown.to_string(index=False))


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
    if not path.is_file():
        click.echo(f"Error: the reporting pipeline ran but wrote no report.html ({path})", err=True)
        ctx.exit(EXIT_NOT_DATED)
    click.echo(str(path))


REPORT_DATASET = "report_html"
"""The catalog entry that writes the report page (``conf/base/catalog.yml``)."""


def report_path(catalog: Any, project: Path) -> Path:
    """The file the catalog's :data:`REPORT_DATASET` entry writes; a relative path is taken from ``project``.

    Raises:
        click.ClickException: the catalog has no such entry, or it names no file.
    """
    if REPORT_DATASET not in catalog:
        raise click.ClickException(f"the project's catalog has no {REPORT_DATASET!r} entry, so the report's file is unknown")
    filepath = catalog[REPORT_DATASET]._describe().get("filepath")
    if not filepath:
        raise click.ClickException(f"the catalog entry {REPORT_DATASET!r} names no filepath")
    path = Path(str(filepath))
    return path if path.is_absolute() else project / path


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
