"""Every citation of the domain reference points at a page that ships with the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference.md"


def _sources():
    for pattern in ("vcfmeasure/**/*.py", "docs/*.md", "README.md", "notebooks/*.ipynb",
                    "benchmarks/*.py", "tests/*.py"):
        for path in ROOT.glob(pattern):
            rel = path.relative_to(ROOT).as_posix()
            if path.name != "test_docs_reference.py":
                yield rel, path.read_text(encoding="utf-8")


def test_no_citation_of_a_file_outside_the_repository():
    bad = [rel for rel, text in _sources() if "REFERENCE.md" in text or "../shared" in text]
    assert bad == []


def test_every_cited_section_exists():
    headings = set(re.findall(r"^## (\d+)\. ", REFERENCE.read_text(encoding="utf-8"), re.M))
    assert headings == {str(n) for n in range(1, 8)}
    cited = set()
    for _, text in _sources():
        for m in re.finditer(r"reference\.md\)? (?:section|sections|§) ?(\d+)", text):
            cited.add(m.group(1))
        for m in re.finditer(r"reference\.md\)? §(\d+)(?:, §(\d+))?", text):
            cited.update(g for g in m.groups() if g)
    assert cited and cited <= headings


def test_reference_states_the_chosen_defaults_and_sources():
    text = REFERENCE.read_text(encoding="utf-8")
    for needed in ("Genant", "RadElement", "Buckens", "LOVBH", "posterior_height_reduced",
                   "LEVEL_GROWTH", "outside_genant_range", "neighbour_mean", "Lieberman",
                   "Yu 2017", "(0018,1164)", "(0028,0030)", "magnification-corrected"):
        assert needed in text, needed
    # every section tags what it states: a source [S]/[C] or a vcfmeasure default [D]
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        assert re.search(r"\*\*\[(S|C|D)\]\*\*", section), section[:40]


def test_measurement_docs_readme_example_numbers_are_what_the_code_gives(tmp_path):
    import vcfmeasure as vm
    from vcfmeasure import synthetic

    pre, post = synthetic.make_pre_post(["T11", "T12", "L1", "L2", "L3"], seed=7,
                                        deformities={"L1": ("wedge", 0.35)}, restoration=0.6)
    pre.write_dicom(tmp_path / "pre.dcm")
    post.write_dicom(tmp_path / "post.dcm")
    rg, rg_post = vm.load_image(tmp_path / "pre.dcm"), vm.load_image(tmp_path / "post.dcm")
    m = vm.measure(vm.detect_landmarks(rg, levels="L3"), spacing=rg)
    m_post = vm.measure(vm.detect_landmarks(rg_post, levels="L3"), spacing=rg_post)
    l1 = vm.grade(m).to_records()[2]
    mean = vm.compare(m, m_post).to_records()[2]
    rad = vm.compare(m, m_post, reference="radelement").to_records()[2]
    doc = (ROOT / "docs" / "measurement.md").read_text(encoding="utf-8")
    shown = {
        f"`height_loss` {l1['height_loss']:.3f}", f"`preop_loss_a` {mean['preop_loss_a']:.3f}",
        f"**{mean['restored_a']:.2f}**", f"**{rad['restored_a']:.2f}**",
        f"{l1['expected_ha']:.2f} mm", f"+{mean['delta_ha']:.2f} mm",
    }
    assert {s for s in shown if s not in doc} == set()
    assert (round(mean["restored_a"], 2), round(rad["restored_a"], 2)) == (0.85, 0.60)
