"""mlinterview: a live data-modeling interview environment built on JupyterHub.

The folders of the repository map into this package:

- ``mlinterview.scenarios``  scenario pack format, loading, materialization, calibration
- ``mlinterview.kernels``    candidate kernelspecs and the IPython kernel extension
- ``mlinterview.extension``  jupyter-server cell-history extension and the hub-side interview service
- ``mlinterview.graders``    nbclient replay grading, history schema, probes, reports

and ``mlinterview.safe_files`` (this folder) holds the file operations the hub and the grader use in
folders a candidate can write (nothing planted there is followed).
"""

__version__ = "0.1.0"
