"""Project settings (see https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

# Telemetry cannot reach anything from the machines this project runs on, and asks nothing useful.
# kedro-mlflow's hook is registered below (hooks.TrackingHook), not by the plugin.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry", "kedro_mlflow")  # distribution names

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # ${oc.env:NAME,default} in any configuration file (conf/base/mlflow.yml: where runs are stored).
    "custom_resolvers": {"oc.env": oc.env},
}

from tess_cluster_age.hooks import ParameterValidationHook, TrackingHook  # noqa: E402

# Every parameter section is validated before any node runs (tess_cluster_age.config), and before
# a run of experiment tracking opens (a hook registered earlier is called later); the model
# pipelines are tracked with kedro-mlflow (conf/base/mlflow.yml).
HOOKS = (TrackingHook(), ParameterValidationHook())
