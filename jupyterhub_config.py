"""The embedded default hub: real JupyterHub + configurable-http-proxy on 127.0.0.1, SQLite, local spawner.

Run it with ``mlinterview hub`` (or ``jupyterhub -f jupyterhub_config.py``). Settings come from a
small TOML file named by ``$MLINTERVIEW_HUB_SETTINGS`` (see hub.example.toml) and
``MLINTERVIEW_HUB_<FIELD>`` environment variables; ``mlinterview.extension.hub_settings`` turns
them into the configuration below (``embedded_hub_config``). Add your own ``c.…`` lines after the
``merge`` to override.
"""

from mlinterview.extension.hub_settings import embedded_hub_config
from traitlets.log import get_logger

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
c.merge(embedded_hub_config(log=get_logger()))
