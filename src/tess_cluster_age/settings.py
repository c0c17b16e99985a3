"""Project settings (see https://docs.kedro.org/en/stable/configure/configuration_basics/)."""

from kedro.config import OmegaConfigLoader

# Telemetry cannot reach anything from the machines this project runs on, and asks nothing useful.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry",)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}

from tess_cluster_age.hooks import ParameterValidationHook  # noqa: E402

# Every parameter section is validated before any node runs (tess_cluster_age.config).
HOOKS = (ParameterValidationHook(),)
