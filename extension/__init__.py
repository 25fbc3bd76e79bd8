"""The jupyter-server cell-history extension and the hub-side interview service."""
