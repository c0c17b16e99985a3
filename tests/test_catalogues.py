"""Matching our clusters to the age catalogues the labels came from (built tables, known answers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tess_cluster_age.catalogues import catalogue_ages

COLUMNS = {"MW": {"name": "Cluster", "ra": "RA", "dec": "DE", "log_age": "logAge", "match": "name"},
           "LMC": {"name": "Cluster", "ra": "RA", "dec": "DE", "log_age": "logAge"}}


def test_a_name_match_uses_the_designation_rules_of_the_independent_catalogues():
    """Spelling (case, spaces, hyphens, leading zeros, listed aliases) does not matter; the numbers do."""
    catalogue = pd.DataFrame({"Cluster": ["ngc-2516", "FSR 154", "ESO 13-013", "NGC1850.SL261"],
                              "RA": [0.0, 10.0, 20.0, 30.0], "DE": [0.0] * 4, "logAge": [8.1, 9.2, 7.5, 7.9]})
    clusters = pd.DataFrame({"name": ["NGC 2516", "FSR 0154", "ESO 130-13", "SL 261"], "galaxy": "MW",
                             "ra": [50.0] * 4, "dec": [50.0] * 4})
    matched = catalogue_ages(clusters, {"MW": catalogue}, COLUMNS, max_separation_arcmin=1.0)
    assert matched["catalogue_name"].tolist() == ["ngc-2516", "FSR 154", None, "NGC1850.SL261"]
    np.testing.assert_array_equal(matched["catalogue_log_age"], [8.1, 9.2, np.nan, 7.9])
    assert (matched["catalogue_sep_arcmin"].dropna() > 60).all()     # far on the sky: the name decides, the separation is reported


def test_a_position_match_never_goes_beyond_the_radius():
    catalogue = pd.DataFrame({"Cluster": ["A", "B"], "RA": [80.0, 81.0], "DE": [-69.0, -69.0], "logAge": [8.0, 9.0]})
    clusters = pd.DataFrame({"name": ["x", "y"], "galaxy": "LMC", "ra": [80.0 + 0.5 / 60 / np.cos(np.radians(69)), 82.0],
                             "dec": [-69.0, -69.0]})
    matched = catalogue_ages(clusters, {"LMC": catalogue}, COLUMNS, max_separation_arcmin=1.0)
    assert matched["catalogue_name"].tolist() == ["A", None]
    assert abs(matched["catalogue_sep_arcmin"].iloc[0] - 0.5) < 1e-3     # arcmin
    assert np.isnan(matched["catalogue_log_age"].iloc[1])
