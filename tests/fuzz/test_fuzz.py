"""The hostile-input corpus: every case ends in a VcfMeasureError or a correct result.

Each case runs in a forked child under a time limit (5 s), a memory allowance (3x the
decoded image's bytes plus 32 MB, 256 MB for non-images; address space capped) and with
every warning recorded: a leaked RuntimeWarning fails the case. See ``harness.py``.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
import make_corpus  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork, /proc and rlimits")


@pytest.fixture(scope="module", autouse=True)
def _preloaded():
    harness.preload()


@pytest.mark.parametrize("make", make_corpus.CATEGORIES, ids=lambda f: f.__name__)
def test_every_case_fails_cleanly_or_succeeds(tmp_path, make):
    corpus = make_corpus.Corpus(tmp_path)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's remarks on the lies written on purpose
        make(corpus)
    assert corpus.cases
    results = [harness.run_case(case) for case in corpus.cases]
    bad = [f"{r['outcome']}: {r['id']}: {r['detail']}" for r in results
           if r["outcome"] not in harness.GOOD]
    assert not bad, "\n".join(bad)
    # the file-reading categories hold refusals; the batch ones hold checked results
    if make not in (make_corpus.not_an_image, make_corpus.filesystem):
        assert any(r["outcome"] == "error" for r in results)


def test_the_harness_catches_what_it_must(tmp_path):
    """A leak, a crash, a hang and a memory hog are told apart (the suite can fail)."""
    code = tmp_path / "bad.py"
    code.write_text("")
    cases = {
        "leak": "import warnings; warnings.warn('x', RuntimeWarning)",
        "crash": "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
        "hang": "import time; time.sleep(60)",
        "memory": "x = bytearray(400 * 2**20)",
        "foreign": "raise KeyError('k')",
    }
    for outcome, body in cases.items():
        case = {"id": outcome, "category": "self-test", "op": "python", "code": body,
                "path": "", "expect": "either", "decoded_bytes": None}
        assert harness.run_case(case, wall_s=3)["outcome"] == outcome
