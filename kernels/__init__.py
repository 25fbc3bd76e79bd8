"""Candidate kernelspecs (cpu, gpu) and the IPython kernel extension: preload, constraint guard, status panel."""
