"""The benchmark harness (``make bench``): raw limits of this machine, then hallwatch's
stages measured against them in the same run. Entry point: ``bench/run.py``."""
