"""Our ages and the labels against independent catalogues (SPEC 8; issue 18, item 1).

Every test runs on purpose-built tables with known answers, but the last one, which reads the
real catalogue folder (``../shared/data/external``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from tess_cluster_age import external
from tess_cluster_age.catalogues import name_keys
from tess_cluster_age.config import BootstrapConfig, ExternalValidationConfig, ParameterError
from tess_cluster_age.external import (
    ExternalCatalogueError,
    external_validation,
    label_scatter,
    match_catalogue,
    match_external,
    read_external_catalogues,
    three_cornered_hat,
)
from tests.conftest import _real_data

LMC_RA, LMC_DEC = 80.0, -69.0
MW_RA, MW_DEC = 120.0, 10.0


def clusters(*rows) -> pd.DataFrame:
    """Our clusters: (name, galaxy, ra, dec)."""
    return pd.DataFrame(rows, columns=["name", "galaxy", "ra", "dec"])


def catalogue(*rows, name: str = "cat") -> pd.DataFrame:
    """One catalogue: (name, galaxy, ra, dec, log_age)."""
    table = pd.DataFrame(rows, columns=["name", "galaxy", "ra", "dec", "log_age"])
    return table.assign(catalogue=name, e_log_age=np.nan)


# ------------------------------------------------------------------------------------ names
@pytest.mark.parametrize(("ours", "theirs"), [
    ("NGC 2516", "ngc-2516"),
    ("NGC_2516", "NGC2516"),
    ("FSR 0154", "FSR_154"),                 # leading zeros
    ("[SL63] 116", "SL116"),                 # SIMBAD's bracketed acronym, without its year
    ("[H86] 170", "H86-170"),                # ... and with it
    ("[RZ2005] 10", "RZ2005 10"),
    ("Bruck 47", "B47"),                     # DESIGNATION_SYNONYMS
    ("Cl Kron 47", "K47"),
    ("Cl Lindsay 1", "L1"),
    ("VDBERGH-HAGEN 92", "VDBH 92,BH 92"),   # one of several designations of an entry
    ("NGC 1850", "NGC1850.SL261"),
    ("SL 261", "NGC1850.SL261"),
])
def test_names_that_designate_the_same_cluster_share_a_key(ours, theirs):
    assert name_keys(ours) & name_keys(theirs)


@pytest.mark.parametrize(("ours", "theirs"), [
    ("ESO 130-13", "ESO 13-013"),            # the runs stay apart
    ("NGC 1850", "NGC 1850A"),
    ("NGC 185", "NGC 1850"),
    ("[SL63] 116", "SL 63"),
    ("Bruck 47", "B 470"),
    ("Berkeley 47", "B47"),                  # only Bruck is B
])
def test_different_clusters_share_no_key(ours, theirs):
    assert not name_keys(ours) & name_keys(theirs)


def test_name_keys_are_spelt_out():
    assert name_keys("  [SL63] 0116 ") == {"SL 63 116", "SL 116"}
    assert name_keys("VDBERGH-HAGEN 92") == {"VDBH 92"}
    assert name_keys(None) == frozenset() and name_keys(float("nan")) == frozenset() and name_keys("") == frozenset()


# ------------------------------------------------------------------------------------ matching
def test_a_cluster_is_found_by_name_before_a_nearer_row():
    ours = clusters(("NGC 1850", "LMC", LMC_RA, LMC_DEC))
    theirs = catalogue(("SL 99", "LMC", LMC_RA, LMC_DEC + 0.001, 7.0),       # nearer, another name
                       ("NGC1850.SL261", "LMC", LMC_RA, LMC_DEC + 0.05, 8.0))  # the same name, beyond the radius
    match = match_catalogue(ours, theirs)
    assert match[["name", "catalogue_name", "catalogue_log_age", "matched_by"]].values.tolist() == \
        [["NGC 1850", "NGC1850.SL261", 8.0, "name"]]
    assert match["separation_deg"].iloc[0] == pytest.approx(0.05, rel=1e-6)
    assert list(match.columns) == external.MATCH_COLUMNS


def test_a_cluster_is_found_by_position_when_no_name_matches():
    ours = clusters(("KMHK 955", "LMC", LMC_RA, LMC_DEC))
    theirs = catalogue(("BSDL1924", "LMC", LMC_RA, LMC_DEC + 0.007, 8.2))
    match = match_catalogue(ours, theirs)
    assert match[["catalogue_name", "matched_by"]].values.tolist() == [["BSDL1924", "position"]]
    assert match["separation_deg"].iloc[0] == pytest.approx(0.007, rel=1e-6)


@pytest.mark.parametrize(("galaxy", "ra", "dec", "radius"), [("LMC", LMC_RA, LMC_DEC, 0.02), ("MW", MW_RA, MW_DEC, 0.1)])
def test_a_row_just_inside_the_radius_matches_and_one_just_outside_never_does(galaxy, ra, dec, radius):
    # separations along a meridian are exactly the declination offsets
    ours = clusters(("inside", galaxy, ra, dec), ("outside", galaxy, ra + 10, dec))
    theirs = catalogue(("A", galaxy, ra, dec + 0.99 * radius, 8.0), ("B", galaxy, ra + 10, dec - 1.01 * radius, 9.0))
    match = match_catalogue(ours, theirs)
    assert match[["name", "catalogue_name"]].values.tolist() == [["inside", "A"]]
    # the radius is the configured one
    wider = {**ExternalValidationConfig().radius_deg, galaxy: 1.05 * radius}
    assert match_catalogue(ours, theirs, wider)["name"].tolist() == ["inside", "outside"]


def test_the_nearest_of_two_rows_is_picked():
    ours = clusters(("X", "LMC", LMC_RA, LMC_DEC))
    theirs = catalogue(("far", "LMC", LMC_RA, LMC_DEC + 0.015, 9.0), ("near", "LMC", LMC_RA + 0.01, LMC_DEC, 7.0))
    match = match_catalogue(ours, theirs)
    assert match["catalogue_name"].tolist() == ["near"]
    assert match["separation_deg"].iloc[0] == pytest.approx(0.01 * math.cos(math.radians(LMC_DEC)), rel=1e-4)


def test_of_two_rows_with_the_name_the_nearest_is_picked():
    ours = clusters(("NGC 2009", "LMC", LMC_RA, LMC_DEC))
    theirs = catalogue(("NGC2009.SL534", "LMC", LMC_RA, LMC_DEC + 0.01, 8.0), ("NGC2009.SL534", "LMC", LMC_RA, LMC_DEC + 0.002, 8.5))
    assert match_catalogue(ours, theirs)["catalogue_log_age"].tolist() == [8.5]


def test_only_rows_of_the_clusters_galaxy_match():
    ours = clusters(("X", "SMC", LMC_RA, LMC_DEC), ("NGC 1", "MW", MW_RA, MW_DEC))
    theirs = catalogue(("Y", "LMC", LMC_RA, LMC_DEC, 8.0), ("NGC 1", "LMC", MW_RA, MW_DEC, 8.0))
    assert match_catalogue(ours, theirs).empty


def test_a_row_taken_by_name_is_not_given_to_a_neighbour_by_position():
    ours = clusters(("NGC 1850", "LMC", LMC_RA, LMC_DEC), ("NGC 1850A", "LMC", LMC_RA, LMC_DEC + 0.005))
    theirs = catalogue(("NGC 1850", "LMC", LMC_RA, LMC_DEC + 0.004, 8.0), ("other", "LMC", LMC_RA, LMC_DEC + 0.015, 7.0))
    match = match_catalogue(ours, theirs).set_index("name")
    assert match.loc["NGC 1850", "catalogue_name"] == "NGC 1850"
    assert match.loc["NGC 1850A", ["catalogue_name", "matched_by"]].tolist() == ["other", "position"]


def test_match_external_gives_one_row_per_cluster_and_catalogue():
    ours = clusters(("X", "LMC", LMC_RA, LMC_DEC), ("Y", "MW", MW_RA, MW_DEC))
    cat_a = catalogue(("X", "LMC", LMC_RA, LMC_DEC, 8.0), ("X", "LMC", LMC_RA, LMC_DEC + 0.01, 8.4), name="a")
    cat_b = catalogue(("p", "MW", MW_RA, MW_DEC + 0.01, 9.0), ("q", "MW", MW_RA, MW_DEC + 0.02, 9.5), ("r", "LMC", 0.0, 0.0, 7.0), name="b")
    matches = match_external(ours, pd.concat([cat_a, cat_b], ignore_index=True))
    assert matches[["catalogue", "name", "catalogue_log_age"]].values.tolist() == [["a", "X", 8.0], ["b", "Y", 9.0]]
    assert not matches.duplicated(["catalogue", "name"]).any()


# ------------------------------------------------------------------------------------ three-cornered hat
def test_the_three_cornered_hat_recovers_known_scatters():
    rng = np.random.default_rng(18)
    n = 20_000
    true_age = rng.uniform(6.5, 10.0, n)
    a = true_age + rng.normal(0.0, 0.1, n)
    b = true_age + 0.3 + rng.normal(0.0, 0.2, n)      # offsets do not count: only the scatter
    c = true_age - 0.2 + rng.normal(0.0, 0.3, n)
    estimate = three_cornered_hat(a, b, c)
    # tolerances: 3 x the relative spread over 200 seeds at this n (2.5 %, 0.75 %, 0.6 %)
    assert estimate.sigma_a == pytest.approx(0.1, rel=0.075)
    assert estimate.sigma_b == pytest.approx(0.2, rel=0.025)
    assert estimate.sigma_c == pytest.approx(0.3, rel=0.02)
    assert (estimate.n, estimate.note) == (n, "")


def test_a_negative_variance_estimate_is_nan_with_a_reason():
    pattern = np.array([1.0, -1.0, 1.0, -1.0])   # sample variance 4/3
    a, b, c = np.zeros(4), 0.1 * pattern, 0.5 * pattern
    # var(a-b) = 0.01 k, var(a-c) = 0.25 k, var(b-c) = 0.16 k with k = 4/3
    estimate = three_cornered_hat(a, b, c)
    assert estimate.sigma_a == pytest.approx(math.sqrt((0.01 + 0.25 - 0.16) / 2 * 4 / 3))
    assert math.isnan(estimate.sigma_b)
    assert estimate.sigma_c == pytest.approx(math.sqrt((0.25 + 0.16 - 0.01) / 2 * 4 / 3))
    # var(e_b) = (0.01 + 0.16 - 0.25) / 2 * 4/3 = -0.0533
    assert "var(e_b) estimate -0.0533 dex^2 < 0" in estimate.note and "sigma_b is NaN" in estimate.note


def test_fewer_than_three_shared_clusters_give_nan():
    estimate = three_cornered_hat([1.0, 2.0, np.nan], [1.1, 2.2, 3.0], [0.9, 2.1, 3.1])
    assert np.isnan(estimate[:3]).all() and estimate.n == 2 and "at least 3" in estimate.note


def test_label_scatter_recovers_the_labels_scatter_per_galaxy():
    rng = np.random.default_rng(7)
    n = 20_000
    names = [f"C{i}" for i in range(n)]
    true_age = rng.uniform(7.0, 9.5, n)
    labels = pd.DataFrame({"name": names, "galaxy": "SMC", "log_age": true_age + rng.normal(0.0, 0.25, n)})
    labels.loc[0, "log_age"] = np.nan   # unlabelled: not used

    def matched(catalogue_name, sigma, count):
        return pd.DataFrame({"name": names[:count], "galaxy": "SMC", "catalogue": catalogue_name,
                             "catalogue_log_age": true_age[:count] + rng.normal(0.0, sigma, count)})

    matches = pd.concat([matched("b", 0.1, n), matched("c", 0.15, n), matched("few", 0.1, 9), matched("twin_of_b", 0.1, n)])
    table = label_scatter(labels, matches, min_shared=10, exclude_pairs=[("twin_of_b", "b"), ("twin_of_b", "c")])
    assert list(table.columns) == external.HAT_COLUMNS
    row = table.set_index(["catalogue_b", "catalogue_c"]).loc[("b", "c")]
    assert table[["catalogue_b", "catalogue_c"]].values.tolist() == [["b", "c"]]   # "few" has 8 shared clusters; the twin is excluded
    assert (row["catalogue_a"], row["n"]) == ("labels", n - 1)
    assert row["sigma_a"] == pytest.approx(0.25, rel=0.02)
    assert row["sigma_b"] == pytest.approx(0.1, rel=0.08) and row["sigma_c"] == pytest.approx(0.15, rel=0.05)


# ------------------------------------------------------------------------------------ validation
def validation_example():
    """3 LMC clusters and 1 SMC cluster, matched in one catalogue; one model on 2 fold seeds."""
    labels = pd.DataFrame({"name": ["a", "b", "c", "d", "e", "f"], "galaxy": ["LMC", "LMC", "LMC", "SMC", "LMC", "LMC"],
                           "log_age": [8.3, 7.6, 8.0, 9.5, np.nan, 8.0]})
    matches = pd.DataFrame({"name": ["a", "b", "c", "d", "e"], "galaxy": ["LMC", "LMC", "LMC", "SMC", "LMC"], "catalogue": "cat",
                            "catalogue_log_age": [8.0, 8.0, 8.0, 9.1, 8.0]})
    mu = {0: {"a": 8.1, "b": 8.0, "c": 7.8, "d": 9.0, "e": 8.0, "f": 9.0},
          1: {"a": 8.0, "b": 8.2, "c": 8.0, "d": 9.0, "e": 8.0, "f": 9.0}}
    cluster_rows = pd.DataFrame([{"model": "forest", "level": "cluster", "seed": s, "name": k, "mu": v}
                                 for s, by_name in mu.items() for k, v in by_name.items()])
    segment_rows = cluster_rows.assign(level="segment", mu=0.0)   # never used
    return pd.concat([cluster_rows, segment_rows], ignore_index=True), labels, matches


def test_external_validation_by_hand():
    predictions, labels, matches = validation_example()
    table = external_validation(predictions, labels, matches, BootstrapConfig(n=4000, seed=3))
    assert list(table.columns) == external.VALIDATION_COLUMNS
    assert table[["model", "galaxy", "catalogue", "n"]].values.tolist() == [["forest", "LMC", "cat", 3], ["forest", "SMC", "cat", 1]]
    lmc, smc = table.iloc[0], table.iloc[1]
    # LMC, against 8.0 everywhere: seed 0 errors (0.1, 0, -0.2), seed 1 (0, 0.2, 0); labels (0.3, -0.4, 0)
    rmse = (math.sqrt(0.05 / 3) + math.sqrt(0.04 / 3)) / 2
    label_rmse = math.sqrt(0.25 / 3)
    assert (lmc["rmse"], lmc["label_rmse"]) == (pytest.approx(rmse), pytest.approx(label_rmse))
    assert lmc["rmse_minus_label_rmse"] == pytest.approx(rmse - label_rmse)
    # the 95 % CI of 3 clusters: every one of the 27 resamples has probability 1/27 > 2.5 %, so the
    # percentile interval runs from the smallest resampled difference to the largest
    errors = {"a": ((0.1, 0.0), 0.3), "b": ((0.0, 0.2), -0.4), "c": ((-0.2, 0.0), 0.0)}

    def difference(sample):
        ours = np.mean([math.sqrt(np.mean([errors[k][0][s] ** 2 for k in sample])) for s in (0, 1)])
        return ours - math.sqrt(np.mean([errors[k][1] ** 2 for k in sample]))

    every = [difference(sample) for sample in itertools.product("abc", repeat=3)]
    assert (lmc["lo95"], lmc["hi95"]) == (pytest.approx(min(every)), pytest.approx(max(every)))
    # SMC, one cluster: |9.0 - 9.1| = 0.1 against |9.5 - 9.1| = 0.4; every resample is the same
    assert smc[["rmse", "label_rmse", "rmse_minus_label_rmse", "lo95", "hi95"]].tolist() == \
        pytest.approx([0.1, 0.4, -0.3, -0.3, -0.3])


def test_the_bootstrap_is_reproducible_for_a_seed():
    rng = np.random.default_rng(1)
    n = 40
    names = [f"C{i}" for i in range(n)]
    labels = pd.DataFrame({"name": names, "galaxy": "LMC", "log_age": rng.normal(8.0, 0.5, n)})
    matches = pd.DataFrame({"name": names, "galaxy": "LMC", "catalogue": "cat", "catalogue_log_age": rng.normal(8.0, 0.5, n)})
    predictions = pd.DataFrame({"model": "m", "seed": 0, "name": names, "mu": rng.normal(8.0, 0.5, n)})
    first, again, other = (external_validation(predictions, labels, matches, BootstrapConfig(n=500, seed=s)) for s in (5, 5, 6))
    pd.testing.assert_frame_equal(first, again)
    assert (first[["lo95", "hi95"]].to_numpy() != other[["lo95", "hi95"]].to_numpy()).all()
    assert first["lo95"].iloc[0] < first["rmse_minus_label_rmse"].iloc[0] < first["hi95"].iloc[0]


# ------------------------------------------------------------------------------------ reading
def write(path, text: str):
    path.write_text(text)
    return path


def test_reading_keeps_independent_rows_only(tmp_path):
    write(tmp_path / "baumgardt2013_lmc.csv", "name,ra,dec,log_age,galaxy,e_log_age,age_source,catalogue\n"
          "A,80,-69,8.0,LMC,0.1,1,baumgardt2013_lmc\nB,81,-69,8.5,LMC,0.2,2,baumgardt2013_lmc\nC,82,-69,9.0,LMC,0.05,4,baumgardt2013_lmc\n")
    write(tmp_path / "gaia_mw.csv", "name,ra,dec,log_age,galaxy,catalogue\nNGC 1,10,20,7.5,MW,gaia_mw\nNGC 2,11,20,,MW,gaia_mw\n")
    write(tmp_path / "README.md", "not a catalogue")
    table = read_external_catalogues(tmp_path)
    assert list(table.columns) == [*external.REQUIRED_COLUMNS, *external.OPTIONAL_COLUMNS]
    assert table["name"].tolist() == ["B", "C", "NGC 1"]        # source 1 (= the labels) and the row without an age go
    assert table["age_source"].tolist()[:2] == [2.0, 4.0] and np.isnan(table["e_log_age"].iloc[2])
    everything = read_external_catalogues(tmp_path, ExternalValidationConfig(exclude_rows={}))
    assert everything["name"].tolist() == ["A", "B", "C", "NGC 1"]
    without = read_external_catalogues(tmp_path, ExternalValidationConfig(exclude_catalogues=("gaia_mw",)))
    assert without["catalogue"].unique().tolist() == ["baumgardt2013_lmc"]


@pytest.mark.parametrize(("text", "expected"), [
    ("name,ra,dec,galaxy,catalogue\nA,1,2,MW,x\n", r"broken\.csv: missing column\(s\) \['log_age'\]"),
    ("name,ra,dec,log_age,galaxy,catalogue\nA,1,2,8.0,MW,x\nB,north,2,8.0,MW,x\n",
     r"broken\.csv: column 'ra' holds a non-numeric value \('north' on line 3\)"),
    ("name,ra,dec,log_age,galaxy,catalogue\nA,1,2,8.0,M31,x\n", r"broken\.csv: galaxy 'M31' on line 2 is not one of"),
    ("name,ra,dec,log_age,galaxy,catalogue\nA,1,2,8.0,LMC,baumgardt2013_lmc\n",
     r"broken\.csv: exclude_rows\.baumgardt2013_lmc filters on column 'age_source', which this file does not have"),
])
def test_a_bad_catalogue_is_refused_naming_the_file_and_the_problem(tmp_path, text, expected):
    write(tmp_path / "good.csv", "name,ra,dec,log_age,galaxy,catalogue\nA,1,2,8.0,MW,good\n")
    write(tmp_path / "broken.csv", text)
    with pytest.raises(ExternalCatalogueError, match=expected):
        read_external_catalogues(tmp_path)


def test_a_folder_without_catalogues_is_refused(tmp_path):
    with pytest.raises(ExternalCatalogueError, match="no catalogue"):
        read_external_catalogues(tmp_path)


# ------------------------------------------------------------------------------------ configuration
def test_the_configuration_defaults_and_checks():
    config = ExternalValidationConfig()
    assert config.radius_deg == {"MW": 0.1, "LMC": 0.02, "SMC": 0.02}
    assert config.exclude_rows == {"baumgardt2013_lmc": {"age_source": (1,)}}
    assert ExternalValidationConfig.from_params({"bootstrap": {"n": 10, "seed": 4}}).bootstrap == BootstrapConfig(10, 4)
    with pytest.raises(ParameterError, match=r"needs one radius for each of \['MW', 'LMC', 'SMC'\] \(missing \['LMC', 'SMC'\]"):
        ExternalValidationConfig.from_params({"radius_deg": {"MW": 0.2}})
    with pytest.raises(ParameterError, match=r"every radius must be > 0 deg"):
        ExternalValidationConfig.from_params({"radius_deg": {"MW": 0.1, "LMC": 0.0, "SMC": 0.02}})
    with pytest.raises(ParameterError, match=r"unknown external_validation parameter\(s\) \['radius'\]"):
        ExternalValidationConfig.from_params({"radius": 0.1})
    with pytest.raises(ParameterError, match="hat_min_shared must be >= 3"):
        ExternalValidationConfig.from_params({"hat_min_shared": 2})


# ------------------------------------------------------------------------------------ the real catalogues
@pytest.fixture(scope="module")
def external_dir():
    """The real catalogue folder; missing, it skips, or fails under CI (the conftest rule)."""
    return _real_data("external")


def test_the_real_catalogues_are_read_without_baumgardt_source_1(external_dir):
    table = read_external_catalogues(external_dir)
    raw = {path.stem: pd.read_csv(path) for path in external_dir.glob("*.csv")}
    assert len(raw) == 11 and set(table["catalogue"]) == set(raw)
    baumgardt = raw["baumgardt2013_lmc"]
    source_1 = int((baumgardt["age_source"] == 1).sum())
    assert source_1 > 0
    assert not ((table["catalogue"] == "baumgardt2013_lmc") & (table["age_source"] == 1)).any()
    assert len(table) == sum(len(t) for t in raw.values()) - source_1
    assert set(table["galaxy"]) == {"MW", "LMC", "SMC"}
    # a real cluster is found by its catalogue name; a position 0.03 deg away (beyond 0.02) is not matched
    row = baumgardt[baumgardt["age_source"] == 4].iloc[0]
    ours = clusters((row["name"], "LMC", row["ra"], row["dec"]), ("elsewhere", "LMC", row["ra"] + 0.001, row["dec"] + 0.03))
    match = match_external(ours, table[table["catalogue"] == "baumgardt2013_lmc"])
    assert match[["name", "catalogue_log_age", "matched_by"]].values.tolist() == [[row["name"], row["log_age"], "name"]]
