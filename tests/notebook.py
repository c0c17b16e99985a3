"""Executing the project's notebooks in the tests, as a user would open them in `kedro jupyter`."""

from __future__ import annotations

from pathlib import Path

from tests.synthetic import REPO


def execute_notebook(name: str, data_dir: Path | None = None, parameters: dict | None = None) -> tuple[str, object]:
    """Run ``notebooks/<name>`` (committed without outputs) against ``data_dir`` or with ``parameters``.

    Returns what it printed and the executed notebook (its cells carry the outputs).

    Papermill-style cells are injected: with ``data_dir``, ``%reload_kedro --params=data_dir=<data_dir>``
    after ``%load_ext kedro.ipython`` points the catalog at a scratch data folder; with
    ``parameters``, assignments after the cell tagged ``parameters`` replace its values.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "strip outputs"
    if data_dir is not None:
        load = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "%load_ext kedro.ipython" in c.source)
        notebook.cells.insert(load + 1, nbformat.v4.new_code_cell(f"%reload_kedro --params=data_dir={data_dir}"))
    if parameters:
        tagged = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
        notebook.cells.insert(tagged + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items())))
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    return "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", [])), notebook
