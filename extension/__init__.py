"""The jupyter-server cell-history extension and the hub-side interview service."""


def _jupyter_server_extension_points():
    """jupyter-server's entry point: the cell-history extension app (imported only when a server loads it)."""
    from .serverextension import HistoryExtensionApp

    return [{"module": "mlinterview.extension.serverextension", "app": HistoryExtensionApp}]
