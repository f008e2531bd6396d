"""Side-by-side benchmarks of aster and its peers; run ``python -m bench --help``."""
