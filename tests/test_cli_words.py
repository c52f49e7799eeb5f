"""Command-line messages name options, not Python keywords; counts and spacings read well."""

import re

import numpy as np
import pytest
from dicom_factory import image, write

import vcfmeasure as vm
from vcfmeasure.cli import _cli_words, _plural, main
from vcfmeasure.io.landmark_files import guess_format, read_landmarks
from vcfmeasure.io.results import write_results

PY_KEYWORD = re.compile(r"\b(?:format|spacing|levels|anchor|landmarks|detect|image|"
                        r"allow_incomplete|label_map|point_order)=")


def _library_messages(tmp_path):
    """Real messages of the library whose advice names Python keywords."""
    out = []
    for call in (lambda: guess_format(tmp_path / "x.dat"),
                 lambda: guess_format(tmp_path / "x.json", "[1]"),
                 lambda: guess_format(tmp_path / "x.txt", "hello"),
                 lambda: write_results(vm.measure(vm.Landmarks({})), tmp_path / "r.xyz")):
        with pytest.raises(vm.VcfMeasureError) as exc:
            call()
        out.append(str(exc.value))
    two = tmp_path / "two.csv"
    two.write_text("image,level,point,x,y\n" + "".join(
        f"{im},L1,{p},{x},{y}\n" for im in "ab" for p, (x, y) in zip(
            vm.POINT_NAMES, [(0, 0), (5, 0), (10, 0), (10, 9), (5, 9), (0, 10)])))
    with pytest.raises(vm.VcfMeasureError) as exc:
        read_landmarks(two)
    out.append(str(exc.value))
    part = tmp_path / "part.csv"
    part.write_text("image,level,point,x,y\na,L1,sp,0,0\n")
    with pytest.raises(vm.VcfMeasureError) as exc:
        read_landmarks(part)
    out.append(str(exc.value))
    return out


def test_library_advice_is_rewritten_in_cli_terms(tmp_path):
    messages = _library_messages(tmp_path)
    assert all(PY_KEYWORD.search(m) for m in messages)  # the library speaks Python
    rewritten = [_cli_words(m) for m in messages]
    assert [m for m in rewritten if PY_KEYWORD.search(m)] == []
    assert "give --to FORMAT" in rewritten[0]
    assert "give --from FORMAT" in rewritten[1] and "give --from FORMAT (one of" in rewritten[2]
    assert "choose one with --image NAME" in rewritten[4]


@pytest.mark.parametrize(
    ("library", "cli"),
    [("use Pixel Spacing: pass spacing=(0.14, 0.14) to accept it", "give --spacing 0.14,0.14"),
     ("unknown size; pass spacing= or calibrate_spacing() with a known length",
      "unknown size; give --spacing MM"),
     ("(spacing unknown); measure with spacing= (a Radiograph, or mm per pixel)",
      "(spacing unknown); give --spacing MM"),
     ("pass landmarks=FOLDER or FILE, a manifest with a landmarks column, or detect=True",
      "give --landmarks FOLDER or FILE, a manifest with a landmarks column, or --detect"),
     ("12 bodies found, more than T1-L5: give levels= to name them", "give --levels"),
     ("check the anchor or give anchor='cranial'/'caudal'", "every level in view with --levels")],
)
def test_cli_words_cases(library, cli):
    assert cli in _cli_words(library)
    assert not PY_KEYWORD.search(_cli_words(library))


def test_convert_error_names_the_option(tmp_path, capsys):
    src = tmp_path / "a.csv"
    src.write_text("image,level,point,x,y\n" + "".join(
        f"a,L1,{p},{x},{y}\n" for p, (x, y) in zip(
            vm.POINT_NAMES, [(0, 0), (5, 0), (10, 0), (10, 9), (5, 9), (0, 10)])))
    assert main(["convert", str(src), str(tmp_path / "b.dat")]) == 1
    err = capsys.readouterr().err
    assert "--to FORMAT" in err and "format=" not in err


def test_plural_forms():
    assert [_plural(n, "patient") for n in (0, 1, 2)] == ["0 patients", "1 patient", "2 patients"]
    assert _plural(1, "vertebra", "vertebrae") == "1 vertebra"


def test_measure_prints_singular_for_one_vertebra(tmp_path, capsys):
    box = np.array([[0, 0], [5, 0], [10, 0], [10, 9], [5, 9], [0, 10]], float)
    path = tmp_path / "one.json"
    vm.write_landmarks(vm.Landmarks({"L1": box}), path)
    assert main(["measure", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 vertebra," in out and "1 vertebrae" not in out


def test_info_rounds_the_spacing(tmp_path, capsys):
    ds = image(np.zeros((8, 8), np.uint16), ImagerPixelSpacing=[0.15, 0.15],
               EstimatedRadiographicMagnificationFactor=1.15)
    path = write(ds, tmp_path / "a.dcm")
    assert main(["info", str(path)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines()
                if ln.strip().startswith("spacing "))
    assert line.split(None, 1)[1] == "0.1304 x 0.1304 mm (row x column)"
