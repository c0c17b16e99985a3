"""Matching our clusters to the age catalogues the labels came from (built tables, known answers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tess_cluster_age.catalogues import ages_agree, catalogue_ages

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


def test_ages_agree_within_the_tolerance_with_every_reference_that_exists():
    log_age = pd.Series([8.0, 8.0, 8.0, np.nan, 7.0], index=list("abcde"))
    references = pd.DataFrame({"published": [8.1, 8.1, np.nan, 8.0, np.nan], "catalogue": [7.85, 8.5, np.nan, 8.0, 7.25]},
                              index=log_age.index)
    agrees = ages_agree(log_age, references, tolerance_dex=0.2)
    assert agrees.index.equals(log_age.index) and str(agrees.dtype) == "boolean"
    assert agrees["a"] and not agrees["b"]                 # both within 0.2 dex; one of two 0.5 dex off
    assert agrees["c"] is pd.NA and agrees["d"] is pd.NA    # no reference age; no header age
    assert ages_agree(log_age, references, tolerance_dex=0.25)["e"]        # 0.25 dex off: at the tolerance agrees
    assert not agrees["e"]                                                  # and past it does not
