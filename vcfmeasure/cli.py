"""The ``vcfmeasure`` command line: demo, grade, compare, measure, detect, convert, info.

Exit codes (every command): 0 all inputs processed, 1 some inputs failed (their rows
carry an ``error``; single-input commands print it), 2 usage error, 130 interrupted
(Ctrl-C or SIGTERM; the outputs hold every input finished so far).

argparse (standard library) rather than click or typer: the console script then costs no
dependency, starts without importing anything heavy, and ``main(argv)`` returns an exit
code that tests call directly. See ``docs/batch.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ._errors import VcfMeasureError
from .grading import REFERENCE_STRATEGIES

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_EPILOG = (
    "exit codes: 0 all good, 1 some inputs failed, 2 usage error, 130 interrupted "
    "(outputs keep what was finished). Documentation: docs/batch.md"
)

_TABLE_COLUMNS = ("level", "unit", "ha", "hm", "hp", "wedge_ratio", "biconcavity_ratio",
                  "crush_ratio", "wedge_angle", "grade", "deformity", "height_loss",
                  "provenance")


class _UsageError(Exception):
    """A usage problem found after parsing (reported like argparse's own, exit 2)."""


def _size(text: str) -> int:
    """``"4G"``, ``"512M"``, ``"1048576"`` -> bytes."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 4G or 512M") from None


def _spacing(text: str) -> float | tuple[float, float]:
    try:
        parts = [float(p) for p in text.replace(",", " ").split()]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or any(p <= 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give mm per pixel, one number or 'ROW,COL' (e.g. 0.15 or 0.15,0.14)"
        )
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def _levels(text: str) -> list[str]:
    from .levels import normalize_level

    try:
        return [normalize_level(p) for p in text.replace(",", " ").split()]
    except VcfMeasureError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 1")
    return value


def _add_run_options(p: argparse.ArgumentParser, default_out: str) -> None:
    src = p.add_argument_group("landmarks")
    how = src.add_mutually_exclusive_group()
    how.add_argument("--landmarks", metavar="PATH",
                     help="folder of landmark files matched by image stem, or one landmark "
                          "file (default: <image stem>.json etc. beside each image; a "
                          "manifest's landmarks column wins)")
    how.add_argument("--detect", action="store_true",
                     help="detect landmarks automatically instead of reading them")
    src.add_argument("--levels", type=_levels, metavar="LIST",
                     help="with --detect: levels in view, e.g. 'T11,T12,L1,L2', or one anchor")
    meas = p.add_argument_group("measurement")
    meas.add_argument("--spacing", type=_spacing, metavar="MM",
                      help="mm per pixel for every image, overriding the files ('ROW,COL' "
                           "for anisotropic pixels)")
    meas.add_argument("--reference", default="radelement",
                      choices=tuple(REFERENCE_STRATEGIES),
                      help="expected-height strategy for grading (default radelement)")
    meas.add_argument("--require-spacing", action="store_true",
                      help="an image without a usable pixel spacing is an error row (by "
                           "default its rows are in px and say so in 'warnings')")
    out = p.add_argument_group("output")
    out.add_argument("--out", "-o", default=default_out, metavar="FILE",
                     help=f"CSV (or .parquet) output (default {default_out}); with --shard, "
                          "'{shard}' in the name becomes 'I-of-N', else '.shard-I-of-N' is "
                          "added")
    out.add_argument("--no-parquet", dest="parquet", action="store_false", default=None,
                     help="do not write the .parquet twin of a .csv output")
    out.add_argument("--resume", action="store_true",
                     help="keep the rows already in --out and process only the inputs that "
                          "are missing or failed")
    run = p.add_argument_group("execution")
    run.add_argument("--jobs", "-j", type=_positive, default=1, metavar="N",
                     help="worker processes (default 1)")
    run.add_argument("--shard", metavar="I/N",
                     help="process only shard I of N (1-based), e.g. "
                          "--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="run on a Dask cluster (tcp://host:8786); needs vcfmeasure[dask]")
    run.add_argument("--max-memory", type=_size, metavar="SIZE",
                     help="address-space limit per worker process, e.g. 4G (a larger image "
                          "fails with an error row instead of exhausting the machine)")
    run.add_argument("--max-tasks-per-worker", type=_positive, default=100, metavar="N",
                     help="replace each worker process after N submissions (inputs are "
                          "sent in batches of up to 16; default 100)")
    bar = run.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar (default: only on a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``vcfmeasure`` command.

    Examples
    --------
    >>> build_parser().parse_args(["grade", "scans/", "--jobs", "4"]).jobs
    4
    """
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="vcfmeasure",
        description="Vertebral height loss on lateral spine radiographs: six-point "
                    "morphometry, Genant grading, kyphoplasty restoration.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"vcfmeasure {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", epilog=_EPILOG,
                       help="run the whole pipeline on built-in examples (no network)",
                       description="Generate a spine with fractures and a pre/post "
                                   "kyphoplasty pair, find their landmarks, measure, grade "
                                   "and compare; print the grade table and write CSV files "
                                   "and overlay PNGs.")
    p.add_argument("--out", "-o", default=".", metavar="DIR",
                   help="folder for the outputs (default: the current folder)")
    p.add_argument("--seed", type=int, default=7, help="seed of the examples (default 7)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("grade", epilog=_EPILOG, help="grade many images: one row per vertebra",
                       description="Grade every image: files, folders (recursive), glob "
                                   "patterns or CSV manifests (image, landmarks, patient, "
                                   "time_point). One row per vertebra; a failed input is an "
                                   "error row and never stops the run.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image file, folder, glob pattern ('scans/**/*.dcm') or manifest CSV")
    _add_run_options(p, "grades.csv")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("compare", epilog=_EPILOG,
                       help="compare pre/post(/follow-up) images of each patient",
                       description="Height restoration and kyphosis correction of each "
                                   "patient in a manifest with image, patient and "
                                   "time_point (pre, post, follow_up) columns (optional: "
                                   "landmarks, treated, procedure such as 'kyphoplasty' "
                                   "or 'L1=kyphoplasty; L2=implant'). Writes the cement "
                                   "and leak columns of the post image and, with a "
                                   "follow-up, new fractures next to the treated levels.")
    p.add_argument("inputs", nargs="+", metavar="MANIFEST", help="manifest CSV file(s)")
    _add_run_options(p, "compare.csv")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("measure", epilog=_EPILOG,
                       help="measure one image or landmark file and print the table",
                       description="Heights, ratios and angles of every vertebra of one "
                                   "image (with its landmark file) or of a landmark file "
                                   "alone (pixels unless --spacing).")
    p.add_argument("input", metavar="INPUT", help="image or landmark file")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--landmarks", metavar="FILE", help="landmark file of the image")
    how.add_argument("--detect", action="store_true", help="detect the landmarks")
    p.add_argument("--levels", type=_levels, metavar="LIST", help="with --detect: levels")
    p.add_argument("--spacing", type=_spacing, metavar="MM", help="mm per pixel")
    p.add_argument("--reference", default="radelement",
                   choices=tuple(REFERENCE_STRATEGIES))
    p.add_argument("--out", "-o", metavar="FILE", help="also write every column to this CSV")
    p.set_defaults(func=_cmd_measure)

    p = sub.add_parser("detect", epilog=_EPILOG,
                       help="detect landmarks and write landmark files",
                       description="Find the vertebral bodies and place six points on each; "
                                   "write one landmark file per image.")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--levels", type=_levels, metavar="LIST",
                   help="levels in view (any order), or one anchor for the lowest body")
    p.add_argument("--spacing", type=_spacing, metavar="MM",
                   help="mm per pixel, for images without one (JPEG/PNG exports); without "
                        "it such images are scaled from the body sizes, with a warning")
    p.add_argument("--out", "-o", default=".", metavar="DIR",
                   help="folder for the landmark files (default: current folder)")
    p.add_argument("--format", default="json",
                   choices=("json", "csv", "slicer", "labelme", "coco", "cvat"))
    p.set_defaults(func=_cmd_detect)

    p = sub.add_parser("convert", epilog=_EPILOG, help="convert landmark files between formats",
                       description="Read a landmark file and write it in another format "
                                   "(json, csv, slicer, labelme, coco, cvat); formats are "
                                   "guessed from the names unless given.")
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", metavar="DST")
    p.add_argument("--from", dest="from_format", metavar="FORMAT")
    p.add_argument("--to", dest="to_format", metavar="FORMAT")
    p.add_argument("--image", metavar="NAME",
                   help="for a multi-image source: convert only this image")
    p.add_argument("--map", dest="label_map", action="append", type=_label_map_item,
                   metavar="LABEL=TARGET",
                   help="labelme files with other labels: read shapes labelled LABEL as "
                        "TARGET, a point ('p1=L1-sa') or one polygon per level, top of the "
                        "image first ('c=C2,C3,C4'); repeat for more labels")
    p.add_argument("--point-order", type=_point_order, metavar="LIST",
                   help="with --map for polygons: the point name of each vertex in file "
                        "order, '-' to skip one, e.g. 'sp,sa,ia,ip'")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("info", epilog=_EPILOG,
                       help="pixel spacing and metadata of images (no pixel decoding)",
                       description="Summarise each image: format, size, pixel spacing and "
                                   "where it came from (docs/reference.md section 7), UIDs.")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    p.set_defaults(func=_cmd_info)
    _add_review_parsers(sub)
    return parser


def _add_review_parsers(sub: Any) -> None:
    """The ``agree`` and ``report`` commands (reader agreement, QC report)."""
    p = sub.add_parser("agree", epilog=_EPILOG,
                       help="agreement statistics of two or more readers of the same images",
                       description="Compare readers (landmark folders, landmark files or "
                                   "`vcfmeasure grade` CSVs of the same images, matched by "
                                   "file name and level): Bland-Altman bias and limits, "
                                   "precision error (RMS SD, CV %%), ICC, Cohen's and "
                                   "Fleiss' kappa, point distances. See docs/agreement.md.")
    p.add_argument("readers", nargs="+", metavar="READER",
                   help="landmark folder, landmark file or grade CSV (two or more)")
    p.add_argument("--out", "-o", default="agreement.csv", metavar="FILE",
                   help="statistics CSV (default agreement.csv)")
    p.add_argument("--names", metavar="LIST",
                   help="reader names, comma-separated (default: the file or folder names)")
    p.add_argument("--spacing", type=_spacing, metavar="MM",
                   help="mm per pixel for landmark readers without a recorded spacing")
    p.add_argument("--drop-missing", action="store_true",
                   help="compare only the levels every reader has (default: error)")
    p.add_argument("--points", metavar="FILE", help="also write the per-point distances here")
    p.add_argument("--reference", default="radelement", choices=tuple(REFERENCE_STRATEGIES),
                   help="expected-height strategy for grading landmark readers")
    p.set_defaults(func=_cmd_agree)

    p = sub.add_parser("report", epilog=_EPILOG,
                       help="static HTML QC report of a grade CSV",
                       description="One card per image (overlay thumbnail, level table, "
                                   "reasons for every flag), filters and counts, failed "
                                   "inputs with their messages; no server, no network.")
    p.add_argument("grades", metavar="GRADES", help="output of `vcfmeasure grade` (CSV/Parquet)")
    p.add_argument("--out", "-o", default="report", metavar="DIR",
                   help="folder for index.html and images/ (default report)")
    p.add_argument("--title", help="page title")
    p.add_argument("--no-thumbnails", action="store_true", help="write the page without overlays")
    p.add_argument("--no-detect", action="store_true",
                   help="do not re-detect landmarks to draw overlays of detected rows")
    p.set_defaults(func=_cmd_report)
# The library's advice names Python keywords; on the command line the same advice names
# the options. (pattern, replacement), applied in order to every printed message.
_CLI_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement) for pattern, replacement in (
        (r"\.json or \.parquet, or pass format=", ".json or .parquet"),
        (r"from the name; pass format=", "from the name; give --to FORMAT"),
        (r"pass format=", "give --from FORMAT"),
        (r"; pass spacing= to write_landmarks for true mm", ""),
        (r"pass spacing=\((\S+), (\S+)\)", r"give --spacing \1,\2"),
        (r"(?:pass|give|measure with) spacing=(?: \([^)]*\))?(?: or calibrate_spacing\(\) with a "
         r"known length)?", "give --spacing MM"),
        (r"give levels= to name them", "give --levels to name them"),
        (r"give anchor='cranial'/'caudal'", "give every level in view with --levels"),
        (r"pass landmarks=FOLDER or FILE", "give --landmarks FOLDER or FILE"),
        (r"or detect=True", "or --detect"),
        (r"choose one with image=NAME or read them all with read_landmarks_all",
         "choose one with --image NAME"),
        (r", or pass allow_incomplete=True to read the complete vertebrae only", ""),
        (r"Pass label_map= \(and point_order= for polygons\), or --map / --point-order on "
         r"the command line", "Give --map (and --point-order for polygons)"),
    ))


def _cli_words(message: str) -> str:
    """A library message in command-line terms (``--spacing``, not ``spacing=``).

    Examples
    --------
    >>> _cli_words("a.png: unknown size; pass spacing= or calibrate_spacing() with a known length")
    'a.png: unknown size; give --spacing MM'
    """
    for pattern, replacement in _CLI_WORDS:
        message = pattern.sub(replacement, message)
    return message


def _plural(n: int, word: str, plural: str | None = None) -> str:
    """``"1 image"``, ``"2 images"``; ``plural`` for irregular words (``vertebrae``).

    Examples
    --------
    >>> _plural(1, "patient"), _plural(3, "vertebra", "vertebrae")
    ('1 patient', '3 vertebrae')
    """
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _err(message: str) -> None:
    print(f"vcfmeasure: error: {_cli_words(message)}", file=sys.stderr)


def _show_warning(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
    """Print a warning as one readable line (batch commands record them in the rows)."""
    print(f"vcfmeasure: warning: {category.__name__}: {_cli_words(str(message))}",
          file=sys.stderr)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a scheduler ending a job) like Ctrl-C: finish outputs, then stop."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _shard_out(out: str, shard: tuple[int, int] | None) -> str:
    if shard is None or out == "-":
        return out
    tag = f"{shard[0]}-of-{shard[1]}"
    if "{shard}" in out:
        return out.replace("{shard}", tag)
    path = Path(out)
    return str(path.with_name(f"{path.stem}.shard-{tag}{path.suffix}"))


def _run(args: argparse.Namespace, kind: str) -> int:
    from . import batch

    shard = None
    if args.shard:
        try:
            shard = batch.parse_shard(args.shard)
        except VcfMeasureError as exc:
            raise _UsageError(str(exc)) from None
    if args.levels and not args.detect:
        raise _UsageError("--levels goes with --detect")
    if args.jobs > 1 and args.scheduler:
        raise _UsageError("--jobs and --scheduler exclude each other (Dask decides)")
    out = _shard_out(args.out, shard)
    tasks = batch.collect_inputs(args.inputs, landmarks=args.landmarks, detect=args.detect)
    if kind == "compare":
        tasks = batch.group_patients(tasks)
    if not tasks:
        _err(f"no images found in {' '.join(args.inputs)}")
        return EXIT_FAILED
    opts = batch._Options(spacing=args.spacing, reference=args.reference, detect=args.detect,
                          levels=tuple(args.levels) if args.levels else None,
                          require_spacing=args.require_spacing)
    with _sigterm_as_interrupt():
        summary = batch._run_batch(
            kind, tasks, opts, out=None if out == "-" else out, jobs=args.jobs,
            resume=args.resume, shard=shard, client=None, scheduler=args.scheduler,
            progress=args.progress, parquet=args.parquet, memory_limit=args.max_memory,
            max_tasks_per_child=args.max_tasks_per_worker,
        )
    if out == "-":
        sys.stdout.write(summary.output)
    done = summary.n_tasks - summary.n_skipped
    parts = [f"{kind}: {_plural(summary.n_tasks, 'image' if kind == 'grade' else 'patient')}"]
    if summary.n_skipped:
        parts.append(f"{summary.n_skipped} already done (resume)")
    if summary.failed:
        parts.append(f"{len(summary.failed)} failed (see the error column)")
    if summary.in_px:
        what = _plural(len(summary.in_px), "image" if kind == "grade" else "patient")
        parts.append(f"{what} in px (no pixel spacing; see the warnings column, --spacing "
                     "or --require-spacing)")
    if summary.paths:
        parts.append("wrote " + ", ".join(map(str, summary.paths)))
    print("vcfmeasure " + "; ".join(parts), file=sys.stderr)
    if summary.interrupted:
        print(f"vcfmeasure {kind}: interrupted after {done} of this run's inputs; "
              "outputs hold what was finished; continue with --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILED if summary.failed else EXIT_OK


def _cmd_grade(args: argparse.Namespace) -> int:
    return _run(args, "grade")


def _cmd_compare(args: argparse.Namespace) -> int:
    return _run(args, "compare")


def _print_table(frame: Any, columns: Sequence[str]) -> None:
    import pandas as pd

    cols = [c for c in columns if c in frame.columns]
    with pd.option_context("display.width", 200, "display.max_columns", 50,
                           "display.float_format", "{:.3g}".format):
        print(frame[cols].to_string(index=False))


def _cmd_measure(args: argparse.Namespace) -> int:
    from . import batch
    from .grading import grade

    path = Path(args.input)
    if path.name.lower().endswith(batch.LANDMARK_SUFFIXES):
        if args.detect or args.landmarks:
            raise _UsageError(f"{path} is a landmark file; --landmarks/--detect need an image")
        from .io.landmark_files import read_landmarks
        from .morphometry import measure

        morph = measure(read_landmarks(path), spacing=args.spacing)
    else:
        task = batch.Task(str(path), landmarks=args.landmarks or "")
        if not task.landmarks and not args.detect:
            task = batch.collect_inputs([path])[0]
        opts = batch._Options(spacing=args.spacing, detect=args.detect,
                              levels=tuple(args.levels) if args.levels else None)
        morph = batch._measure_task(task, opts)[0]
    from .tables import results_table

    frame = results_table(morph, grade(morph, reference=args.reference))
    print(f"{path}: {_plural(len(frame), 'vertebra', 'vertebrae')}, unit {morph.unit}, spacing from "
          f"{morph.spacing_source}")
    _print_table(frame, _TABLE_COLUMNS)
    if args.out:
        from .io.results import write_results

        write_results(frame, args.out, format="csv")  # formulas neutralised, links kept
        print(f"wrote {args.out}", file=sys.stderr)
    return EXIT_OK


def _cmd_detect(args: argparse.Namespace) -> int:
    from . import batch
    from .io.landmark_files import write_landmarks

    opts = batch._Options(detect=True, levels=tuple(args.levels) if args.levels else None)
    suffix = {"slicer": ".mrk.json", "csv": ".csv", "cvat": ".xml"}.get(args.format, ".json")
    failed = 0
    for image in args.images:
        try:
            radiograph = batch._load_image(image, args.spacing, opts)
            landmarks = batch._detect(radiograph, opts)
            dest = Path(args.out) / f"{batch._stem(image)}{suffix}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_landmarks(landmarks, dest, format=args.format, image=Path(image).name)
            print(f"{image}: {_detected_summary(landmarks)} -> {dest}")
            print(f"{image}: {_plural(len(landmarks), 'vertebra', 'vertebrae')} "
                  f"({', '.join(landmarks.levels)}) "
                  f"-> {dest}")
        except VcfMeasureError as exc:
            failed += 1
            _err(str(exc))
    return EXIT_FAILED if failed else EXIT_OK


def _label_map_item(text: str) -> tuple[str, Any]:
    label, sep, target = text.partition("=")
    if not sep or not label or not target:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not LABEL=TARGET (e.g. 'c=C2,C3,C4' or 'p1=L1-sa')")
    parts = [t.strip() for t in target.split(",")]
    return label, parts[0] if len(parts) == 1 else parts


def _point_order(text: str) -> list[str]:
    return [t.strip() for t in text.split(",")]
def _detected_summary(landmarks: Any) -> str:
    """``5 vertebrae (T12?, L1?, ...); level names guessed; flagged for review: L2``."""
    prov = landmarks.provenance
    guessed = [lv for lv in landmarks.levels if prov[lv].level_guessed]
    names = ", ".join(f"{lv}?" if lv in guessed else lv for lv in landmarks.levels)
    text = f"{len(landmarks)} vertebrae ({names})"
    if guessed:
        text += "; level names guessed (?): give --levels to name them"
    review = [lv for lv in landmarks.levels if prov[lv].needs_review]
    if review:
        text += f"; flagged for review, not graded: {', '.join(review)}"
    return text


def _cmd_convert(args: argparse.Namespace) -> int:
    from .io.landmark_files import read_landmarks, read_landmarks_all, write_landmarks

    if args.point_order and not args.label_map:
        raise _UsageError("--point-order goes with --map (which labels are polygons)")
    options: dict[str, Any] = {"format": args.from_format}
    if args.label_map:
        options.update(label_map=dict(args.label_map), point_order=args.point_order)
    if args.image:
        data: Any = read_landmarks(args.source, image=args.image, **options)
    else:
        every = read_landmarks_all(args.source, **options)
        data = next(iter(every.values())) if len(every) == 1 else every
    empty = [data] if not isinstance(data, dict) else list(data.values())
    if not any(len(lm) for lm in empty):
        _err(f"{args.source}: no vertebra with six points in the file; nothing written to "
             f"{args.dest} (see --map and --point-order for labelme files labelled another way)")
        return EXIT_FAILED
    write_landmarks(data, args.dest, format=args.to_format)
    n = 1 if not isinstance(data, dict) else len(data)
    print(f"{args.source} -> {args.dest} ({_plural(n, 'image')})")
    return EXIT_OK


def _info_lines(meta: dict[str, Any]) -> list[str]:
    keys = ("format", "shape", "frames", "spacing", "spacing_source", "modality",
            "view_position", "photometric_interpretation", "transfer_syntax_name",
            "patient_id", "study_instance_uid", "series_instance_uid", "sop_instance_uid",
            "pixel_spacing", "imager_pixel_spacing", "pixel_spacing_calibration_type",
            "estimated_radiographic_magnification_factor", "manufacturer", "warnings")
    shown = [k for k in keys if meta.get(k) not in (None, "", [], ())]
    width = max((len(k) for k in shown), default=0)
    return [f"  {k:<{width}}  {_spacing_text(meta[k]) if k == 'spacing' else meta[k]}"
            for k in shown]


def _spacing_text(spacing: Any) -> str:
    """``(row_mm, col_mm)`` to 4 significant digits, e.g. ``0.1304 x 0.1304 mm (row x col)``.

    Examples
    --------
    >>> _spacing_text((0.13043478260869565, 0.13043478260869565))
    '0.1304 x 0.1304 mm (row x column)'
    """
    row, col = (float(v) for v in spacing)
    return f"{row:.4g} x {col:.4g} mm (row x column)"


def _cmd_info(args: argparse.Namespace) -> int:
    import json

    from .io.images import read_metadata

    failed = 0
    for image in args.images:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                meta = dict(read_metadata(image))
            # read_metadata lists its notes under "warnings"; others are added here
            listed = [str(w) for w in meta.get("warnings", [])]
            extra = [str(w.message) for w in caught if str(w.message) not in listed]
            if extra:
                meta["warnings"] = listed + extra
        except VcfMeasureError as exc:
            failed += 1
            _err(str(exc))
            continue
        if args.json:
            print(json.dumps(meta, default=str, sort_keys=True))
        else:
            print(image)
            print("\n".join(_info_lines(meta)))
    return EXIT_FAILED if failed else EXIT_OK


def _cmd_agree(args: argparse.Namespace) -> int:
    from .agreement import compare_readers

    if len(args.readers) < 2:
        raise _UsageError("agree needs at least two readers")
    readers: Any = args.readers
    if args.names:
        names = [n.strip() for n in args.names.split(",")]
        if len(names) != len(args.readers) or len(set(names)) != len(names):
            raise _UsageError(f"--names: give {len(args.readers)} different names, comma-separated")
        readers = dict(zip(names, args.readers, strict=True))
    result = compare_readers(readers, spacing=args.spacing, reference=args.reference,
                             missing="drop" if args.drop_missing else "raise")
    out = result.to_csv(args.out)
    if args.points:
        from ._table import write_atomic

        write_atomic(args.points, result.points.to_csv(index=False))
    st = result.statistics
    pair = f"{result.readers[0]} vs {result.readers[1]}"
    print(f"readers: {', '.join(result.readers)}; {len(result.wide('ha'))} vertebrae matched"
          + (f", {len(result.unmatched)} unmatched left out" if len(result.unmatched) else ""))
    for measure in ("ha", "hm", "hp"):
        rows = st[(st["measure"] == measure) & (st["readers"] == pair)].set_index("statistic")
        if "bias" in rows.index:
            unit = rows.loc["bias", "unit"]
            print(f"  {measure} {pair}: bias {rows.loc['bias', 'value']:+.2f} {unit}, 95 % limits "
                  f"{rows.loc['loa_low', 'value']:+.2f} to {rows.loc['loa_high', 'value']:+.2f} {unit}")
    kappa = st[(st["statistic"] == "kappa_linear") & (st["readers"] == pair)]
    if len(kappa):
        print(f"  grades {pair}: linear kappa {kappa['value'].iloc[0]:.2f} (n = {kappa['n'].iloc[0]})")
    print(f"wrote {out}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from ._qc_report import qc_report

    page = qc_report(args.grades, args.out, title=args.title,
                     thumbnails=not args.no_thumbnails, detect=not args.no_detect)
    print(f"wrote {page}")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(Path(args.out), seed=args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``vcfmeasure`` command line; return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 all good, 1 some inputs failed, 2 usage error, 130 interrupted.

    Examples
    --------
    >>> main(["--version"])
    vcfmeasure 0.1.0
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2)
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except VcfMeasureError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except OSError as exc:
        _err(f"{exc.filename or ''}: {exc.strerror or exc}")
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
