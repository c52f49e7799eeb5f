import os

import matplotlib
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
