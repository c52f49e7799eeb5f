"""The package as a whole: public names, light import, CI runs the README's command."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import vcfmeasure as vm

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    tests_cmd = [b for b in blocks if "pytest" in b]
    assert len(tests_cmd) == 1, "the README must show one test command"
    assert tests_cmd[0].strip() in ci.splitlines()


def test_import_is_light():
    code = (
        "import sys, vcfmeasure\n"
        "heavy = {'matplotlib', 'pandas', 'dask', 'highdicom', 'pydicom', 'skimage', 'scipy'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "name",
    ["load_image", "Radiograph", "Landmarks", "read_landmarks", "write_landmarks", "measure",
     "Morphometry", "grade", "Grades", "compare", "Restoration", "detect_landmarks",
     "refine_landmarks", "plot_landmarks", "place_landmarks", "VcfMeasureError", "POINT_NAMES",
     "LEVELS"],
)
def test_api_md_names_are_public(name):
    assert name in vm.__all__
    assert getattr(vm, name) is not None


def test_conventions():
    assert vm.POINT_NAMES == ("sp", "sm", "sa", "ia", "im", "ip")
    assert vm.LEVELS[0] == "C2" and vm.LEVELS[-1] == "S1" and len(vm.LEVELS) == 24
    assert issubclass(vm.VcfMeasureError, ValueError)
    for err in (vm.LandmarkError, vm.SpacingError, vm.ImageError, vm.DicomError,
                vm.FileFormatError, vm.MissingDependencyError):
        assert issubclass(err, vm.VcfMeasureError)


def test_missing_optional_dependency_names_the_extra():
    from vcfmeasure._errors import require

    with pytest.raises(vm.MissingDependencyError, match=r"pip install 'vcfmeasure\[sr\]'"):
        require("no_such_module_xyz", extra="sr", feature="DICOM SR export")
