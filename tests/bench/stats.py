"""Small statistics the benchmarks share."""


def percentile(values, p):
    """The p-th percentile (0-100) of `values` by nearest rank, None if empty."""
    v = sorted(values)
    if not v:
        return None
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
