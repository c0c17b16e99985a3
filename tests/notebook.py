"""Executing the project's notebooks in the tests, as a user would open them in `kedro jupyter`."""

from __future__ import annotations

from pathlib import Path

from tests.synthetic import REPO


def execute_notebook(name: str, data_dir: Path) -> tuple[str, object]:
    """Run ``notebooks/<name>`` (committed without outputs) against ``data_dir``.

    Returns what it printed and the executed notebook (its cells carry the outputs).

    A papermill-style cell is injected after ``%load_ext kedro.ipython``:
    ``%reload_kedro --params=data_dir=<data_dir>`` points the catalog at a scratch data folder.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "strip outputs"
    load = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "%load_ext kedro.ipython" in c.source)
    notebook.cells.insert(load + 1, nbformat.v4.new_code_cell(f"%reload_kedro --params=data_dir={data_dir}"))
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    return "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", [])), notebook
