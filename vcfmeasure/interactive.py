"""Interactive landmark placement in notebooks (``%matplotlib widget``, ipympl).

The state lives in :class:`PlacementModel`, a plain object with no matplotlib in it: which
points are placed, the undo history and the provenance of each level. :class:`LandmarkEditor`
draws the model on a figure and turns mouse and key events into model calls; its callbacks
stay thin, so everything can be driven (and tested) without a display.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ._errors import LandmarkError, VcfMeasureError, VcfMeasureWarning
from .landmarks import Landmarks, Provenance
from .levels import LEVELS, POINT_NAMES, normalize_level

__all__ = ["PlacementModel", "LandmarkEditor", "place_landmarks", "POINT_DESCRIPTIONS",
           "InteractiveBackendWarning"]

#: What each point is, for the guidance shown in the editor's title.
POINT_DESCRIPTIONS: dict[str, str] = {
    "sp": "superior endplate, posterior corner",
    "sm": "superior endplate, middle",
    "sa": "superior endplate, anterior corner",
    "ia": "inferior endplate, anterior corner",
    "im": "inferior endplate, middle",
    "ip": "inferior endplate, posterior corner",
}

#: Editor keys (chosen to avoid matplotlib's default key map).
UNDO_KEYS = ("u", "ctrl+z", "cmd+z")
DELETE_KEYS = ("d", "delete")
SNAP_KEYS = ("e",)
#: Placement modes: six clicks per level, or one click inside each body.
MODES = ("points", "centres")


def expand_levels(levels: str | Iterable[str]) -> tuple[str, ...]:
    """Level names from a list or a range such as ``"T11-L2"``, canonical, without repeats.

    The order given is kept (placement follows it); a range runs cranial -> caudal.

    Raises
    ------
    LandmarkError
        For an unknown name, a repeated level, or a range that runs caudal -> cranial.

    Examples
    --------
    >>> expand_levels("T11-L2")
    ('T11', 'T12', 'L1', 'L2')
    >>> expand_levels(["l1", "T12"])
    ('L1', 'T12')
    """
    if isinstance(levels, str):
        if "-" in levels:
            first, last = (normalize_level(p) for p in levels.split("-", 1))
            i, j = LEVELS.index(first), LEVELS.index(last)
            if j < i:
                raise LandmarkError(
                    f"level range {levels!r} runs caudal to cranial; write it as "
                    f"'{last}-{first}'"
                )
            return LEVELS[i : j + 1]
        levels = [levels]
    out = tuple(normalize_level(lv) for lv in levels)
    repeated = sorted({lv for lv in out if out.count(lv) > 1})
    if repeated:
        raise LandmarkError(f"{repeated[0]}: level given twice in levels")
    return out


class PlacementModel:
    """The state of a placement session: points per level, undo history, provenance.

    Points are placed in ``POINT_NAMES`` order (``sp sm sa ia im ip``), level by level in
    the order given. Every change goes through a method that records an undo step, except
    :meth:`set_point`, which a drag calls repeatedly after one :meth:`checkpoint`.

    Parameters
    ----------
    levels : str or iterable of str
        Levels to place, in placement order; a range like ``"T11-L2"`` is accepted.
    landmarks : Landmarks, optional
        Points to start from (detected, imported, a previous session). Their levels not in
        ``levels`` are added after them.

    Examples
    --------
    >>> model = PlacementModel(["L1"])
    >>> model.next_point()
    ('L1', 0)
    >>> for xy in [(0, 0), (10, 0), (20, 0), (20, 18), (10, 18), (0, 20)]:
    ...     _ = model.place(*xy)
    >>> model.next_point() is None, model.landmarks.levels
    (True, ('L1',))
    >>> model.undo(); model.next_point()
    True
    ('L1', 5)
    """

    def __init__(self, levels: str | Iterable[str], *, landmarks: Landmarks | None = None):
        order = list(expand_levels(levels))
        if landmarks is not None:
            order += [lv for lv in landmarks.levels if lv not in order]
        if not order:
            raise LandmarkError(
                "no levels to place; give levels such as ['T12', 'L1'] or 'T11-L2'"
            )
        self.levels: tuple[str, ...] = tuple(order)
        self._xy = {lv: np.full((6, 2), np.nan) for lv in self.levels}
        self._provenance: dict[str, Provenance] = {}
        self._history: list[tuple[dict[str, np.ndarray], dict[str, Provenance]]] = []
        self.image: dict[str, Any] | None = None
        if landmarks is not None:
            self._set_all(landmarks)

    # -- reading --------------------------------------------------------------------------
    def points(self, level: str) -> np.ndarray:
        """Return a copy of one level's ``(6, 2)`` points; NaN rows are not placed yet."""
        return self._xy[self._level(level)].copy()

    @property
    def array(self) -> np.ndarray:
        """All points, ``(n_levels, 6, 2)`` in :attr:`levels` order, NaN where missing."""
        return np.stack([self._xy[lv] for lv in self.levels])

    def is_complete(self, level: str) -> bool:
        """All six points of ``level`` are placed."""
        return bool(np.isfinite(self._xy[self._level(level)]).all())

    @property
    def complete_levels(self) -> tuple[str, ...]:
        """Levels with all six points, in :attr:`levels` order."""
        return tuple(lv for lv in self.levels if self.is_complete(lv))

    def next_point(self) -> tuple[str, int] | None:
        """``(level, index into POINT_NAMES)`` of the next missing point, or None when done."""
        for lv in self.levels:
            missing = np.flatnonzero(~np.isfinite(self._xy[lv]).all(axis=1))
            if missing.size:
                return lv, int(missing[0])
        return None

    def nearest_level(self, x: float, y: float) -> str | None:
        """Return the level whose placed points' centroid is nearest ``(x, y)``, or None."""
        best, best_d = None, np.inf
        for lv in self.levels:
            pts = self._xy[lv][np.isfinite(self._xy[lv]).all(axis=1)]
            if len(pts):
                d = float(np.hypot(*(pts.mean(axis=0) - (x, y))))
                if d < best_d:
                    best, best_d = lv, d
        return best

    @property
    def provenance(self) -> dict[str, Provenance]:
        """Provenance of the levels that have points (``manual`` once edited by hand)."""
        return {lv: self._provenance.get(lv, Provenance("manual")) for lv in self.levels}

    @property
    def landmarks(self) -> Landmarks:
        """The complete levels as validated :class:`~vcfmeasure.Landmarks`.

        Raises
        ------
        LandmarkError
            Naming the level whose outline is implausible (points swapped, crossing).
        """
        done = self.complete_levels
        prov = self.provenance
        return Landmarks(
            {lv: self._xy[lv] for lv in done},
            provenance={lv: prov[lv] for lv in done},
            image=self.image,
        )

    def level_problem(self, level: str) -> str | None:
        """Return why a complete level alone is implausible (crossing outline...), or None.

        Checks between levels (superior/inferior or anterior/posterior swapped against the
        others) are in :meth:`problem`.
        """
        level = self._level(level)
        if not self.is_complete(level):
            return None
        try:
            Landmarks({level: self._xy[level]})
        except LandmarkError as exc:
            return str(exc)
        return None

    def problem(self) -> str | None:
        """Return the validation message of the complete levels, None when plausible."""
        try:
            _ = self.landmarks
        except LandmarkError as exc:
            return str(exc)
        return None

    # -- changing -------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Record the current state as one undo step."""
        self._history.append(
            ({lv: xy.copy() for lv, xy in self._xy.items()}, dict(self._provenance))
        )

    def undo(self) -> bool:
        """Go back one step; False when there is nothing to undo."""
        if not self._history:
            return False
        self._xy, self._provenance = self._history.pop()
        return True

    @property
    def can_undo(self) -> bool:
        """There is a step to undo."""
        return bool(self._history)

    def place(self, x: float, y: float) -> tuple[str, int]:
        """Put the next missing point at ``(x, y)`` pixels; returns ``(level, index)``.

        Raises
        ------
        VcfMeasureError
            When every point is already placed.
        """
        nxt = self.next_point()
        if nxt is None:
            raise VcfMeasureError(
                "every point is placed; drag a point to move it, or delete a level to redo it"
            )
        self.checkpoint()
        self._write(*nxt, x, y)
        return nxt

    def move(self, level: str, index: int, x: float, y: float) -> None:
        """Move one placed point to ``(x, y)`` as one undo step."""
        self.checkpoint()
        self.set_point(level, index, x, y)

    def set_point(self, level: str, index: int, x: float, y: float) -> None:
        """Move one point without recording an undo step (a drag after :meth:`checkpoint`)."""
        level = self._level(level)
        if not np.isfinite(self._xy[level][index]).all():
            raise VcfMeasureError(f"{level}: point {POINT_NAMES[index]!r} is not placed yet")
        self._write(level, index, x, y)

    def delete_level(self, level: str) -> None:
        """Remove every point of ``level``; the next click starts it again."""
        level = self._level(level)
        self.checkpoint()
        self._xy[level] = np.full((6, 2), np.nan)
        self._provenance.pop(level, None)

    def set_level(self, level: str, xy: Any, *, provenance: Any = "manual") -> None:
        """Replace one level's six points (snapping, import) as one undo step."""
        level = self._level(level)
        xy = np.array(xy, dtype=float)
        if xy.shape != (6, 2):
            raise LandmarkError(f"{level}: expected (6, 2) points, got shape {xy.shape}")
        self.checkpoint()
        self._xy[level] = xy
        self._provenance[level] = Provenance.coerce(provenance)

    def load(self, landmarks: Landmarks) -> None:
        """Replace every level present in ``landmarks`` (others keep their points)."""
        unknown = [lv for lv in landmarks.levels if lv not in self.levels]
        if unknown:
            raise LandmarkError(
                f"{unknown[0]}: level is not being placed in this session "
                f"({', '.join(self.levels)}); start a new editor with it in levels"
            )
        self.checkpoint()
        self._set_all(landmarks)

    # -- internals ------------------------------------------------------------------------
    def _set_all(self, landmarks: Landmarks) -> None:
        for lv in landmarks.levels:
            self._xy[lv] = np.array(landmarks[lv], dtype=float)
            self._provenance[lv] = landmarks.provenance[lv]
        if landmarks.image:
            self.image = dict(landmarks.image)

    def _write(self, level: str, index: int, x: float, y: float) -> None:
        if not (np.isfinite(x) and np.isfinite(y)):
            raise LandmarkError(f"{level}: point {POINT_NAMES[index]!r} must be finite")
        self._xy[level][index] = (x, y)
        self._provenance[level] = Provenance("manual")

    def _level(self, level: str) -> str:
        name = normalize_level(level)
        if name not in self._xy:
            raise LandmarkError(
                f"{name}: level is not being placed in this session ({', '.join(self.levels)})"
            )
        return name


def _refiner(snap: bool | Callable[..., Landmarks]) -> Callable[..., Landmarks] | None:
    if callable(snap):
        return snap
    return _default_refiner() if snap else None


def _default_refiner() -> Callable[..., Landmarks]:
    from .detect import refine_landmarks

    return refine_landmarks


def _image_reference(radiograph: Any) -> dict[str, Any] | None:
    """What the landmark files record about the image (path, UID, shape, spacing)."""
    if not hasattr(radiograph, "spacing_source"):
        return None
    ref: dict[str, Any] = {"shape": [int(n) for n in radiograph.shape],
                           "spacing": list(radiograph.spacing) if radiograph.spacing else None,
                           "spacing_source": radiograph.spacing_source}
    if radiograph.path:
        ref["path"] = str(radiograph.path)
    uid = radiograph.metadata.get("sop_instance_uid")
    if uid:
        ref["sop_instance_uid"] = str(uid)
    return ref


class LandmarkEditor:
    """A matplotlib figure for placing and correcting six landmarks per vertebra.

    Made by :func:`place_landmarks`; see there for the controls. The state is
    :attr:`model` (a :class:`PlacementModel`); the figure is :attr:`figure`, the image in
    :attr:`ax` (its first Axes).

    Attributes
    ----------
    pick_radius : float
        Screen pixels: a press this close to a placed point grabs it for dragging.
    click_tolerance : float
        Screen pixels: a press and release further apart is not a click (no point placed).
    """

    pick_radius = 8.0
    click_tolerance = 4.0
    #: Snapping moves a point only where the refinement is at least this confident...
    snap_min_confidence = 0.5
    #: ...and the point moves less than this (mm; pixels when the image has no spacing).
    snap_max_mm = 3.0

    def __init__(
        self,
        radiograph: Any,
        levels: str | Iterable[str],
        *,
        landmarks: Landmarks | None = None,
        snap: bool | Callable[..., Landmarks] = False,
        mode: str = "points",
        facing: str | None = None,
        figsize: tuple[float, float] = (7.0, 8.0),
    ) -> None:
        import matplotlib
        import matplotlib.pyplot as plt

        from .plot._style import OKABE_ITO, show_image

        if mode not in MODES:
            raise VcfMeasureError(f"mode must be one of {MODES}, got {mode!r}")
        if facing not in (None, "right", "left"):
            raise VcfMeasureError(f"facing must be 'right', 'left' or None, got {facing!r}")
        self.mode = mode
        self.facing = facing
        self._centres: dict[str, tuple[float, float]] = {}
        self.model = PlacementModel(levels, landmarks=landmarks)
        self.radiograph = radiograph
        if self.model.image is None:
            self.model.image = _image_reference(radiograph)
        self._refine = _refiner(snap)
        self.figure = plt.figure(figsize=figsize, layout="constrained")
        self.ax = self.figure.add_subplot()
        show_image(self.ax, radiograph)
        self.ax.set_autoscale_on(False)
        self._colors = {"done": OKABE_ITO["sky_blue"], "current": OKABE_ITO["orange"],
                        "problem": OKABE_ITO["vermillion"]}
        self._artists: dict[str, dict[str, Any]] = {}
        for lv in self.model.levels:
            (outline,) = self.ax.plot([], [], "-", lw=1.2)
            (points,) = self.ax.plot([], [], "o", ms=6, mec="black", mew=0.7, ls="none")
            label = self.ax.annotate(lv, (0, 0), xytext=(-10, 0), textcoords="offset points",
                                     ha="right", va="center", fontsize=9, fontweight="bold",
                                     visible=False)
            outline.set_gid(f"vcfmeasure:{lv}:outline")
            points.set_gid(f"vcfmeasure:{lv}:points")
            label.set_gid(f"vcfmeasure:{lv}:label")
            self._artists[lv] = {"outline": outline, "points": points, "label": label}
        self._press: tuple[float, float] | None = None
        self._grab: tuple[str, int] | None = None
        self._dragging = False
        self._background: Any = None
        self.message = ""
        backend = str(matplotlib.get_backend())
        if _static_backend(backend):
            self.message = "static figure: run %matplotlib widget (ipympl) to click"
            warnings.warn(
                f"place_landmarks: the matplotlib backend {backend!r} draws static figures, "
                "so clicks will not reach the editor. In Jupyter, install the notebook extra "
                "(pip install 'vcfmeasure[notebook]') and run %matplotlib widget before "
                "place_landmarks; in a script, use an interactive backend (e.g. "
                "MPLBACKEND=TkAgg or QtAgg). Placing from code (editor.place(x, y)) works "
                "everywhere.",
                InteractiveBackendWarning, stacklevel=3,
            )
        canvas = self.figure.canvas
        self._cids = [
            canvas.mpl_connect("button_press_event", self._on_press),
            canvas.mpl_connect("button_release_event", self._on_release),
            canvas.mpl_connect("motion_notify_event", self._on_motion),
            canvas.mpl_connect("key_press_event", self._on_key),
            canvas.mpl_connect("scroll_event", self._on_scroll),
        ]
        self.redraw()

    # -- public actions -------------------------------------------------------------------
    @property
    def landmarks(self) -> Landmarks:
        """The complete levels as :class:`~vcfmeasure.Landmarks` (see PlacementModel)."""
        return self.model.landmarks

    def place(self, x: float, y: float) -> tuple[str, int]:
        """Put the next missing point at ``(x, y)`` pixels, as a click does; snap if asked.

        Returns
        -------
        (level, index)
            Which point was placed (index into ``POINT_NAMES``).
        """
        level, index = self.model.place(x, y)
        self.message = ""
        if self._refine is not None and self.model.is_complete(level):
            self.snap(level)
        self.redraw()
        return level, index

    def move(self, level: str, index: int, x: float, y: float) -> None:
        """Move one placed point (index into ``POINT_NAMES``) to ``(x, y)``, as a drag does."""
        self.model.move(level, index, x, y)
        self.message = ""
        self.redraw()

    def undo(self) -> bool:
        """Undo the last placement, move, deletion, snap or load."""
        done = self.model.undo()
        self.message = "" if done else "nothing to undo"
        self.redraw()
        return done

    def delete_level(self, level: str) -> None:
        """Remove a level's points; the next clicks place it again."""
        self.model.delete_level(level)
        self._centres.pop(normalize_level(level), None)
        self.message = f"{normalize_level(level)} deleted (u to undo)"
        self.redraw()

    def snap(self, level: str | None = None) -> None:
        """Move a complete level's points onto the nearby edges (``refine_landmarks``).

        ``level`` defaults to the last complete level. One undo step restores the clicks.
        """
        refine = self._refine or _default_refiner()
        if level is None:
            done = self.model.complete_levels
            if not done:
                raise VcfMeasureError("snap: no level has all six points yet")
            level = done[-1]
        level = normalize_level(level)
        if not self.model.is_complete(level):
            raise VcfMeasureError(f"{level}: place all six points before snapping")
        clicks = self.model.points(level)
        before = Landmarks({level: clicks}, validate=False)
        refined = refine(self.radiograph, before)
        prov = refined.provenance[level]
        conf = np.array(prov.point_confidence if prov.point_confidence is not None
                        else (1.0,) * 6)
        spacing = getattr(self.radiograph, "spacing", None)
        per_px = float(np.sqrt(spacing[0] * spacing[1])) if spacing else 1.0
        moved = np.hypot(*(np.asarray(refined[level]) - clicks).T) * per_px
        take = (conf >= self.snap_min_confidence) & (moved <= self.snap_max_mm)
        take &= np.isfinite(np.asarray(refined[level])).all(axis=1)
        names = [n for n, t in zip(POINT_NAMES, take, strict=True) if not t]
        if not take.any():
            self.message = (f"{level}: no clear edge near the clicks: nothing snapped, "
                            "points kept where clicked")
            self.redraw()
            return
        pts = np.where(take[:, None], np.asarray(refined[level]), clicks)
        note = None if take.all() else (
            f"kept as clicked (no clear edge): {' '.join(names)}")
        new = Provenance(
            "refined", tool=prov.tool, version=prov.version,
            confidence=float(np.where(take, conf, 1.0).min()),
            point_confidence=tuple(float(c) if t else 1.0
                                   for c, t in zip(conf, take, strict=True)),
            note=note,
        )
        if self.model.level_problem(level) is None:
            try:
                Landmarks({level: pts})
            except LandmarkError:
                self.message = f"{level}: snapping would cross the outline: points kept"
                self.redraw()
                return
        self.model.set_level(level, pts, provenance=new)
        if take.all():
            self.message = f"{level}: all 6 points snapped to edges (u to undo)"
        else:
            self.message = (f"{level}: {int(take.sum())} of 6 points snapped to edges; "
                            f"{' '.join(names)} kept where clicked (no clear edge; u to undo)")
        self.redraw()

    def place_centre(self, x: float, y: float) -> str | None:
        """One click inside the next level's body: place its six points (centres mode).

        Uses :func:`vcfmeasure.detect.landmarks_from_centres` with this click and the
        clicks of up to two levels on each side (the spine's direction); the facing found
        on the first click is kept for the session (or ``facing=`` as given). Returns
        the level placed, or None when every level is placed or the click is refused (the
        title says why). One undo step.
        """
        from .detect import landmarks_from_centres

        nxt = self.model.next_point()
        if nxt is None:
            self.message = "every level is placed: drag a point to move it, d to delete one"
            self.redraw()
            return None
        level = nxt[0]
        order = [lv for lv in LEVELS if lv in self._centres or lv == level]
        i = order.index(level)
        near = {lv: self._centres[lv] for lv in order[max(i - 2, 0): i + 3] if lv != level}
        try:
            lm = landmarks_from_centres(self.radiograph, {**near, level: (x, y)},
                                        facing=self.facing)
        except VcfMeasureError as exc:
            self.message = f"click refused: {exc}"
            self.redraw()
            return None
        if self.facing is None:
            self.facing = lm.image["facing"] if lm.image else None
        prov = lm.provenance[level]
        self.model.set_level(level, lm[level], provenance=prov)
        self._centres[level] = (float(x), float(y))
        if prov.confidence == 0 and prov.note and "not found" in prov.note:
            self.message = (f"{level}: body edges not found: a typical box around the click; "
                            "drag its points onto the body")
        elif prov.needs_review:
            self.message = f"{level}: some edges unclear: check its points and drag to correct"
        else:
            self.message = f"{level}: six points from one click (drag any to correct)"
        self.redraw()
        return level

    def save(self, path: str | os.PathLike[str], *, format: str | None = None) -> None:
        """Write the complete levels with :func:`vcfmeasure.write_landmarks`."""
        from .io.landmark_files import write_landmarks

        write_landmarks(self.landmarks, os.fspath(path), format=format)
        self.message = f"saved {len(self.landmarks)} levels to {os.fspath(path)}"
        self.redraw()

    def load(self, path: str | os.PathLike[str], *, format: str | None = None) -> None:
        """Read landmarks with :func:`vcfmeasure.read_landmarks` into the session (undoable)."""
        from .io.landmark_files import read_landmarks

        self.model.load(read_landmarks(os.fspath(path), format=format))
        self.message = f"loaded {os.fspath(path)}"
        self.redraw()

    def disconnect(self) -> None:
        """Stop listening to the figure's events (the figure stays as it is)."""
        for cid in self._cids:
            self.figure.canvas.mpl_disconnect(cid)
        self._cids = []

    # -- drawing --------------------------------------------------------------------------
    def title(self) -> str:
        """Return the guidance text: the next level and point, or what to do now."""
        nxt = self.model.next_point()
        if nxt is None:
            head = f"All {len(self.model.levels)} levels placed: drag a point to adjust"
        elif self.mode == "centres":
            level = nxt[0]
            k = self.model.levels.index(level) + 1
            head = (f"Click once inside the {level} body (its central half) - level "
                    f"{k}/{len(self.model.levels)}")
        else:
            level, i = nxt
            name = POINT_NAMES[i]
            k = self.model.levels.index(level) + 1
            head = (f"Click {level} {name} ({POINT_DESCRIPTIONS[name]}) - point {i + 1}/6, "
                    f"level {k}/{len(self.model.levels)}")
        keys = "u undo - d delete level under cursor - scroll zoom - toolbar pans/zooms"
        if self._refine is not None:
            keys += " - e snap"
        lines = [head, keys]
        problem = self.model.problem()
        if problem:
            lines.append(f"problem: {problem}")
        elif self.message:
            lines.append(self.message)
        return "\n".join(lines)

    def redraw(self) -> None:
        """Update every artist from the model and ask the canvas to draw."""
        nxt = self.model.next_point()
        for lv in self._artists:
            self._update_level(lv, current=nxt is not None and lv == nxt[0],
                               problem=self.model.level_problem(lv) is not None)
        self.ax.set_title(self.title(), fontsize=9)
        self.figure.canvas.draw_idle()

    def _update_level(self, level: str, *, current: bool, problem: bool = False) -> None:
        art = self._artists[level]
        xy = self.model.points(level)
        placed = np.isfinite(xy).all(axis=1)
        color = self._colors["problem" if problem else "current" if current else "done"]
        art["points"].set_data(xy[placed, 0], xy[placed, 1])
        art["points"].set_markerfacecolor(color)
        outline = np.vstack([xy, xy[:1]]) if placed.all() else xy[placed]
        art["outline"].set_data(outline[:, 0], outline[:, 1])
        art["outline"].set_color(color)
        art["label"].set_visible(bool(placed.any()))
        if placed.any():
            art["label"].xy = tuple(xy[placed][0])
            art["label"].set_color(color)

    # -- dragging: the moving level is animated and blitted over a saved background -------
    def _start_drag(self, level: str) -> None:
        self.model.checkpoint()
        canvas = self.figure.canvas
        if getattr(canvas, "supports_blit", False):
            for artist in self._artists[level].values():
                artist.set_animated(True)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)  # type: ignore[attr-defined]

    def _drag_to(self, level: str, index: int, x: float, y: float) -> None:
        self.model.set_point(level, index, x, y)
        self._update_level(level, current=False)
        if self._background is None:
            self.figure.canvas.draw_idle()
            return
        canvas = self.figure.canvas
        canvas.restore_region(self._background)  # type: ignore[attr-defined]
        for artist in self._artists[level].values():
            self.ax.draw_artist(artist)
        canvas.blit(self.figure.bbox)

    def _end_drag(self, level: str) -> None:
        for artist in self._artists[level].values():
            artist.set_animated(False)
        self._background = None
        self.redraw()

    # -- event handlers (thin: decide, call the model, redraw) ----------------------------
    def _navigating(self) -> bool:
        toolbar = getattr(self.figure.canvas, "toolbar", None)
        return bool(getattr(toolbar, "mode", "")) or self.ax.get_navigate_mode() is not None

    def _pixel_ratio(self) -> float:
        """Device pixels per screen pixel (2 on HiDPI screens), for the pick distances."""
        return float(getattr(self.figure.canvas, "device_pixel_ratio", 1.0) or 1.0)

    def _hit(self, event: Any) -> tuple[str, int] | None:
        xy = self.model.array
        placed = np.isfinite(xy).all(axis=2)
        if not placed.any():
            return None
        shown = self.ax.transData.transform(xy[placed])
        d = np.hypot(shown[:, 0] - event.x, shown[:, 1] - event.y)
        k = int(np.argmin(d))
        if d[k] > self.pick_radius * self._pixel_ratio():
            return None
        li, pi = np.argwhere(placed)[k]
        return self.model.levels[li], int(pi)

    def _moved(self, press: tuple[float, float], event: Any) -> bool:
        d = np.hypot(event.x - press[0], event.y - press[1])
        return bool(d > self.click_tolerance * self._pixel_ratio())

    def _on_press(self, event: Any) -> None:
        if event.inaxes is not self.ax or event.button != 1 or self._navigating():
            self._press = None
            return
        self._press = (event.x, event.y)
        self._grab = self._hit(event)
        self._dragging = False

    def _on_motion(self, event: Any) -> None:
        if self._press is None or self._grab is None:
            return
        if not self._dragging:
            if not self._moved(self._press, event):
                return
            self._dragging = True
            self._start_drag(self._grab[0])
        if event.inaxes is self.ax and event.xdata is not None:
            self._drag_to(*self._grab, event.xdata, event.ydata)

    def _on_release(self, event: Any) -> None:
        if event.button != 1 or self._press is None:
            return
        grab, dragging, moved = self._grab, self._dragging, self._moved(self._press, event)
        self._press, self._grab, self._dragging = None, None, False
        if grab is not None and (dragging or moved):
            if not dragging:  # released beyond the tolerance without a motion event
                self.model.checkpoint()
            if event.inaxes is self.ax and event.xdata is not None:
                self.model.set_point(*grab, event.xdata, event.ydata)
            self._end_drag(grab[0])
            return
        if moved or event.inaxes is not self.ax or self._navigating():
            return
        if self.model.next_point() is None:
            self.message = "every point is placed: drag to move, d to delete a level"
            self.redraw()
            return
        if self.mode == "centres":
            self.place_centre(event.xdata, event.ydata)
            return
        self.place(event.xdata, event.ydata)

    def _on_key(self, event: Any) -> None:
        if event.key in UNDO_KEYS:
            self.undo()
        elif event.key in DELETE_KEYS or event.key in SNAP_KEYS:
            level = None
            if event.inaxes is self.ax and event.xdata is not None:
                level = self.model.nearest_level(event.xdata, event.ydata)
            if level is None:
                return
            if event.key in DELETE_KEYS:
                self.delete_level(level)
            elif self.model.is_complete(level):
                self.snap(level)

    def _on_scroll(self, event: Any) -> None:
        if event.inaxes is not self.ax or event.xdata is None:
            return
        factor = 1 / 1.25 if event.button == "up" else 1.25
        for get, set_, c in ((self.ax.get_xlim, self.ax.set_xlim, event.xdata),
                             (self.ax.get_ylim, self.ax.set_ylim, event.ydata)):
            lo, hi = get()
            set_(c + (lo - c) * factor, c + (hi - c) * factor)
        self.figure.canvas.draw_idle()

    def __repr__(self) -> str:
        nxt = self.model.next_point()
        where = "done" if nxt is None else f"next {nxt[0]} {POINT_NAMES[nxt[1]]}"
        return (f"<LandmarkEditor {len(self.model.complete_levels)}/{len(self.model.levels)} "
                f"levels complete, {where}>")


class InteractiveBackendWarning(VcfMeasureWarning):
    """The editor was opened on a backend that cannot deliver clicks."""


_STATIC_BACKENDS = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def _static_backend(name: str) -> bool:
    """Whether a matplotlib backend only renders (Agg, files, Jupyter's inline images)."""
    low = name.lower()
    return low in _STATIC_BACKENDS or "inline" in low


def place_landmarks(
    radiograph: Any,
    levels: str | Iterable[str],
    *,
    landmarks: Landmarks | None = None,
    snap: bool | Callable[..., Landmarks] = False,
    mode: str = "points",
    facing: str | None = None,
) -> LandmarkEditor:
    """Open an interactive figure to place six landmarks per vertebra by clicking.

    In a notebook run ``%matplotlib widget`` first (needs the ``notebook`` extra:
    ``pip install 'vcfmeasure[notebook]'``). The title always names the next level and
    point (``sp sm sa ia im ip``: superior posterior, middle, anterior, then inferior
    anterior, middle, posterior — around the body outline).

    Controls
        - left click (press and release in place, even on a placed point): put the next
          missing point;
        - press on a placed point and drag: move it (one undo step per drag);
        - ``u`` or ``ctrl+z``: undo (also :meth:`LandmarkEditor.undo`);
        - ``d`` or ``delete``: delete the level nearest the cursor, to place it again
          (also :meth:`LandmarkEditor.delete_level`);
        - scroll: zoom around the cursor; the toolbar's pan and zoom modes move the view,
          and clicks made in those modes place nothing;
        - ``e``: snap the level under the cursor to the nearby edges with
          :func:`vcfmeasure.refine_landmarks` (with ``snap=True`` each level is snapped
          as soon as its sixth point is placed; ``u`` restores the clicks). Only points
          with a clear edge move; the title says how many did;
        - ``mode="centres"``: each click places a whole level (six points) from one click
          inside its body; then drag points to correct.

    Parameters
    ----------
    radiograph : Radiograph or ndarray
    levels : str or list of str
        Levels in placement order, e.g. ``["T12", "L1", "L2"]`` or ``"T12-L2"``.
    landmarks : Landmarks, optional
        Start from these points (detected or loaded) to correct them.
    snap : bool or callable
        ``True`` snaps each completed level with :func:`vcfmeasure.refine_landmarks`; a
        callable ``(radiograph, landmarks) -> Landmarks`` is used in its place. A point
        moves only where the refinement is confident (``point_confidence`` >= 0.5) and
        the move is under 3 mm; the others stay where clicked and the title says which.
    mode : {"points", "centres"}
        ``"points"``: six clicks per level. ``"centres"``: one click inside each body
        (anywhere in its central half) places its six points
        (:func:`vcfmeasure.detect.landmarks_from_centres`); drag any to correct.
    facing : {"right", "left"}, optional
        Centres mode: the side the bodies' anterior faces (guessed on the first click
        when not given, then kept).

    Returns
    -------
    LandmarkEditor
        ``.figure`` (the image in its first Axes), ``.landmarks`` (complete levels),
        ``.place(x, y)`` (a click from code), ``.move(level, i, x, y)``, ``.undo()``,
        ``.delete_level(level)``,
        ``.snap(level)``, ``.model`` (the state, a :class:`PlacementModel`),
        ``.save(path)`` / ``.load(path)`` through :func:`vcfmeasure.write_landmarks` /
        :func:`vcfmeasure.read_landmarks`.

    Warns
    -----
    InteractiveBackendWarning
        When matplotlib's backend only draws static images (Agg, inline), saying how to
        enable clicking.

    Examples
    --------
    Headless, as here, it warns that clicks need an interactive backend; ``place`` works:

    >>> import numpy as np, warnings, vcfmeasure as vm
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", vm.VcfMeasureWarning)
    ...     editor = vm.place_landmarks(np.zeros((60, 60)), ["L1"])
    >>> editor.ax.get_title().splitlines()[0]
    'Click L1 sp (superior endplate, posterior corner) - point 1/6, level 1/1'
    >>> for xy in [(10, 10), (30, 10), (50, 10), (50, 40), (30, 40), (10, 40)]:
    ...     _ = editor.place(*xy)
    >>> editor.landmarks["L1"][3]
    array([50., 40.])
    """
    from ._checks import check_place

    check_place(levels, landmarks, snap)
    return LandmarkEditor(radiograph, levels, landmarks=landmarks, snap=snap, mode=mode,
                          facing=facing)
