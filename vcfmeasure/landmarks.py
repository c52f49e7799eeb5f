"""The landmark record: six points per vertebra, ordered cranial -> caudal, validated."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._errors import LandmarkError
from .geometry import body_frame, polygon_self_intersects, signed_area
from .levels import LEVELS, POINT_NAMES, normalize_level

__all__ = ["Landmarks", "Provenance", "PROVENANCE_METHODS"]

#: How a vertebra's points came to be.
PROVENANCE_METHODS = ("manual", "detected", "refined", "imported")


@dataclass(frozen=True)
class Provenance:
    """Where one vertebra's points came from.

    Parameters
    ----------
    method : {"manual", "detected", "refined", "imported"}
    tool, version : str, optional
        The program that placed the points (``"vcfmeasure.detect"``, ``"3D Slicer"``...).
    confidence : float, optional
        0-1 for the vertebra as a whole (detection, refinement).
    point_confidence : tuple of 6 floats, optional
        0-1 per point in ``POINT_NAMES`` order.
    level_guessed : bool
        The level name is a guess (detection without ``levels=``).
    needs_review : bool
        Flagged for a human before grading (low confidence, unreadable).
    note : str, optional
    reviewed_by, reviewed_at : str, optional
        Who accepted the points after review and when (ISO 8601), set by
        :meth:`Landmarks.mark_reviewed`.
    procedure : str, optional
        What was done to the vertebra (``"vertebroplasty"``, ``"kyphoplasty"``,
        ``"implant"`` or free text); read by :func:`vcfmeasure.cement.measure_cement`
        and kept by the JSON format.

    Examples
    --------
    >>> Provenance("refined", confidence=0.9).method
    'refined'
    """

    method: str = "manual"
    tool: str | None = None
    version: str | None = None
    confidence: float | None = None
    point_confidence: tuple[float, ...] | None = None
    level_guessed: bool = False
    needs_review: bool = False
    note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    procedure: str | None = None

    def __post_init__(self) -> None:
        if self.method not in PROVENANCE_METHODS:
            raise LandmarkError(
                f"provenance method {self.method!r} is not one of {PROVENANCE_METHODS}"
            )
        if self.point_confidence is not None:
            pc = tuple(float(c) for c in self.point_confidence)
            if len(pc) != len(POINT_NAMES):
                raise LandmarkError(f"point_confidence needs 6 values, got {len(pc)}")
            object.__setattr__(self, "point_confidence", pc)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict without the unset fields."""
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @classmethod
    def coerce(cls, value: Provenance | str | Mapping[str, Any] | None) -> Provenance:
        """A Provenance from itself, a method name, a dict, or None (manual)."""
        if value is None:
            return cls()
        if isinstance(value, Provenance):
            return value
        if isinstance(value, str):
            return cls(method=value)
        return cls(**dict(value))


def _as_points(level: str, value: Any) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise LandmarkError(
            f"{level}: points must be numbers, got {value!r}; give a (6, 2) array of (x, y)"
        ) from None
    if arr.shape != (6, 2):
        raise LandmarkError(
            f"{level}: expected 6 points of (x, y) in the order {' '.join(POINT_NAMES)}, "
            f"got an array of shape {arr.shape}"
        )
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise LandmarkError(
            f"{level}: point {POINT_NAMES[i]!r} is not finite ({tuple(arr[i])}); "
            "place it or drop the level"
        )
    far = (np.abs(arr) > MAX_COORDINATE).any(axis=1)
    if far.any():  # beyond any film: the geometry would overflow
        i = int(np.argmax(far))
        raise LandmarkError(
            f"{level}: point {POINT_NAMES[i]!r} at {tuple(float(v) for v in arr[i])} px lies "
            f"beyond +-{MAX_COORDINATE:g} px; coordinates are pixels of the image"
        )
    return arr


#: Largest coordinate magnitude accepted, in pixels (a film is at most tens of thousands).
MAX_COORDINATE = 1e7


def _pair_names(i: int, j: int) -> str:
    return f"{POINT_NAMES[i]!r} and {POINT_NAMES[j]!r}"


def _one_body_faults(xy: np.ndarray) -> dict[str, np.ndarray]:
    """Where each one-body check of :func:`validate_bodies` fails, vectorised.

    ``xy`` ``(n, 6, 2)``, finite. Per body: ``close`` (per pair of points), ``crossing``,
    ``flat``, ``outside1`` and ``outside4`` (a middle point not between its corners).
    """
    dist = np.sqrt(((xy[:, :, None, :] - xy[:, None, :, :]) ** 2).sum(-1))
    extent = dist.max(axis=(1, 2))
    iu = np.triu_indices(6, 1)
    faults = {
        "close": dist[:, iu[0], iu[1]] <= 1e-6 * np.maximum(extent, 1e-12)[:, None],
        "crossing": polygon_self_intersects(xy),
        "flat": np.abs(signed_area(xy)) < 0.02 * extent**2,
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        for mid, (c0, c1) in ((1, (0, 2)), (4, (5, 3))):
            chord = xy[:, c1] - xy[:, c0]
            t = ((xy[:, mid] - xy[:, c0]) * chord).sum(-1) / (chord**2).sum(-1)
            faults[f"outside{mid}"] = ~((t > 0) & (t < 1))
    return faults


def valid_outlines(xy: np.ndarray) -> np.ndarray:
    """Per body of ``xy`` ``(n, 6, 2)``: whether ``Landmarks({level: xy[i]})`` accepts it.

    The one-body checks of :func:`validate_bodies` and finite, bounded coordinates,
    vectorised over bodies and raising nothing (for loops that test many trial outlines).
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 6, 2)
    ok = (np.isfinite(xy) & (np.abs(xy) <= MAX_COORDINATE)).all(axis=(1, 2))
    if ok.any():
        faults = _one_body_faults(xy[ok])
        bad = faults.pop("close").any(axis=1)
        for f in faults.values():
            bad |= f
        ok[ok] = ~bad
    return ok


def validate_bodies(levels: tuple[str, ...], xy: np.ndarray) -> None:
    """Raise :class:`LandmarkError` naming the level for an implausible body outline.

    Checks, vectorised over vertebrae: coinciding points, collapsed outline, an outline
    that crosses itself, middle points not between the corners, superior and inferior
    swapped (needs two or more levels: the cranial direction comes from the level
    order), and an anterior side that differs between levels. Nothing is fixed.
    """
    if len(levels) == 0:
        return
    faults = _one_body_faults(xy)
    iu = np.triu_indices(6, 1)
    close = faults["close"]
    if close.any():
        n, k = np.argwhere(close)[0]
        raise LandmarkError(
            f"{levels[n]}: points {_pair_names(iu[0][k], iu[1][k])} coincide; "
            "the body is degenerate — re-place one of them"
        )
    crossing = faults["crossing"]
    if crossing.any():
        n = int(np.argmax(crossing))
        raise LandmarkError(
            f"{levels[n]}: the outline sp-sm-sa-ia-im-ip crosses itself; a point is out "
            "of order (anterior and posterior, or superior and inferior, swapped?)"
        )
    flat = faults["flat"]
    if flat.any():
        n = int(np.argmax(flat))
        raise LandmarkError(
            f"{levels[n]}: the six points enclose almost no area (degenerate body); "
            "check that superior and inferior points are on different endplates"
        )
    for mid, (c0, c1) in ((1, (0, 2)), (4, (5, 3))):
        outside = faults[f"outside{mid}"]
        if outside.any():
            n = int(np.argmax(outside))
            raise LandmarkError(
                f"{levels[n]}: point {POINT_NAMES[mid]!r} is not between "
                f"{_pair_names(c0, c1)} along the endplate; anterior and posterior must "
                "be on opposite sides of the middle point"
            )
    anterior, cranial, hand = body_frame(xy)
    if len(levels) < 2:
        return
    centroids = xy.mean(axis=1)
    steps = centroids[:-1] - centroids[1:]
    steps /= np.sqrt((steps**2).sum(-1))[:, None]
    spine_up = steps.mean(axis=0)
    up = cranial @ spine_up
    if (up <= 0).all():
        raise LandmarkError(
            f"{', '.join(levels)}: in every vertebra the superior points lie caudal to the "
            "inferior ones — superior and inferior are swapped everywhere, or the level "
            "names run in the wrong direction"
        )
    if (up <= 0).any():
        n = int(np.argmax(up <= 0))
        raise LandmarkError(
            f"{levels[n]}: superior and inferior endplate points are swapped (the 's' "
            "points lie caudal to the 'i' points along the spine)"
        )
    majority = 1.0 if (hand > 0).sum() > (hand < 0).sum() else -1.0
    odd = hand != majority
    if odd.any():
        n = int(np.argmax(odd))
        others = [lv for lv, o in zip(levels, odd, strict=True) if not o][:3]
        raise LandmarkError(
            f"{levels[n]}: the anterior side is opposite to that of {', '.join(others)}; "
            "anterior ('a') and posterior ('p') points are swapped in this level"
        )


class Landmarks(Mapping[str, np.ndarray]):
    """Six landmarks per vertebra, ordered cranial -> caudal, with provenance.

    Parameters
    ----------
    points : mapping or iterable of (level, array)
        Level name -> ``(6, 2)`` array of ``(x, y)`` pixels in ``POINT_NAMES`` order
        (``sp sm sa ia im ip``), pixel centres at integers, y pointing down.
    provenance : Provenance, str, dict or mapping level -> any of those, optional
        Default: ``"manual"`` for every level.
    image : dict, optional
        Reference to the image the points belong to (``path``, ``sop_instance_uid``,
        ``shape``, ``spacing``, ``spacing_source``); kept by the file formats.
    validate : bool
        Check the bodies (see :func:`validate_bodies`). Shape, finiteness and level names
        are always checked.

    Raises
    ------
    LandmarkError
        Naming the level (and point) at fault.

    Examples
    --------
    >>> import numpy as np
    >>> box = np.array([[0, 0], [10, 0], [20, 0], [20, 18], [10, 18], [0, 20]], float)
    >>> lm = Landmarks({"L2": box + [0, 30], "l1": box})
    >>> lm.levels
    ('L1', 'L2')
    >>> lm["L1"][2]
    array([20.,  0.])
    """

    __slots__ = ("_levels", "_xy", "_provenance", "_level_index", "_review", "image")

    def __init__(
        self,
        points: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        provenance: Any = None,
        image: Mapping[str, Any] | None = None,
        validate: bool = True,
    ) -> None:
        from ._checks import check_points

        check_points(points)
        items = list(points.items() if isinstance(points, Mapping) else points)
        seen: dict[str, np.ndarray] = {}
        for name, value in items:
            level = normalize_level(name)
            if level in seen:
                raise LandmarkError(f"{level}: duplicate level (given twice as {name!r})")
            seen[level] = _as_points(level, value)
        levels = tuple(lv for lv in LEVELS if lv in seen)
        xy = np.stack([seen[lv] for lv in levels]) if levels else np.zeros((0, 6, 2))
        xy.setflags(write=False)
        if validate:
            validate_bodies(levels, xy)
        self._levels = levels
        self._xy = xy
        self._provenance = self._coerce_provenance(provenance, levels)
        self._level_index = np.array([LEVELS.index(lv) for lv in levels], dtype=np.int64)
        self._review = np.array([self._provenance[lv].needs_review for lv in levels], dtype=bool)
        self._level_index.setflags(write=False)
        self._review.setflags(write=False)
        self.image = dict(image) if image else None

    @staticmethod
    def _coerce_provenance(provenance: Any, levels: tuple[str, ...]) -> dict[str, Provenance]:
        fields = set(Provenance.__dataclass_fields__)
        if (
            provenance is None
            or isinstance(provenance, (str, Provenance))
            or (isinstance(provenance, Mapping) and set(provenance) <= fields and provenance)
        ):
            one = Provenance.coerce(provenance)
            return dict.fromkeys(levels, one)
        given = {normalize_level(k): Provenance.coerce(v) for k, v in dict(provenance).items()}
        extra = set(given) - set(levels)
        if extra:
            raise LandmarkError(
                f"{sorted(extra)[0]}: provenance given for a level without points"
            )
        return {lv: given.get(lv, Provenance()) for lv in levels}

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]], **kwargs: Any) -> Landmarks:
        """From ``{level: {"sp": (x, y), ..., "ip": (x, y)}}``.

        Raises
        ------
        LandmarkError
            Naming the level and the missing or unknown point.

        Examples
        --------
        >>> pts = {"sp": (0, 0), "sm": (5, 0), "sa": (10, 0),
        ...        "ia": (10, 9), "im": (5, 9), "ip": (0, 10)}
        >>> Landmarks.from_dict({"T12": pts}).levels
        ('T12',)
        """
        from ._checks import check_from_dict

        check_from_dict(data)
        out = {}
        for level, named in data.items():
            named = {str(k).strip().lower(): v for k, v in named.items()}
            missing = [p for p in POINT_NAMES if p not in named]
            unknown = sorted(set(named) - set(POINT_NAMES))
            if unknown:
                raise LandmarkError(
                    f"{level}: unknown point {unknown[0]!r}; points are {' '.join(POINT_NAMES)}"
                )
            if missing:
                raise LandmarkError(
                    f"{level}: point {missing[0]!r} is missing; six points "
                    f"({' '.join(POINT_NAMES)}) are needed per vertebra"
                )
            out[level] = [named[p] for p in POINT_NAMES]
        return cls(out, **kwargs)

    @classmethod
    def from_array(cls, xy: Any, levels: Iterable[str], **kwargs: Any) -> Landmarks:
        """From an ``(N, 6, 2)`` array and N level names.

        Examples
        --------
        >>> import numpy as np
        >>> box = np.array([[0, 0], [5, 0], [10, 0], [10, 9], [5, 9], [0, 10]], float)
        >>> Landmarks.from_array(box[None], ["L3"]).levels
        ('L3',)
        """
        from ._checks import check_from_array

        check_from_array(xy, levels)
        xy = np.asarray(xy, dtype=float)
        levels = list(levels)
        if xy.ndim != 3 or xy.shape[0] != len(levels):
            raise LandmarkError(
                f"from_array needs an (N, 6, 2) array for {len(levels)} levels, "
                f"got shape {xy.shape}"
            )
        return cls(zip(levels, xy, strict=True), **kwargs)

    # -- mapping protocol ---------------------------------------------------------------
    def __getitem__(self, level: str) -> np.ndarray:
        try:
            i = self._levels.index(normalize_level(level))
        except ValueError:
            raise KeyError(level) from None
        return self._xy[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._levels)

    def __len__(self) -> int:
        return len(self._levels)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Landmarks):
            return NotImplemented
        return self._levels == other._levels and np.array_equal(self._xy, other._xy)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if not self._levels:
            return "<Landmarks: no levels>"
        span = self._levels[0] if len(self) == 1 else f"{self._levels[0]}-{self._levels[-1]}"
        methods = sorted({p.method for p in self._provenance.values()})
        return f"<Landmarks {len(self)} levels {span} ({', '.join(methods)})>"

    # -- views --------------------------------------------------------------------------
    @property
    def levels(self) -> tuple[str, ...]:
        """Level names, cranial -> caudal."""
        return self._levels

    @property
    def array(self) -> np.ndarray:
        """All points as a read-only ``(N, 6, 2)`` array, cranial -> caudal."""
        return self._xy

    @property
    def level_index(self) -> np.ndarray:
        """Positions of :attr:`levels` in :data:`~vcfmeasure.LEVELS` (read-only int array)."""
        return self._level_index

    @property
    def needs_review(self) -> np.ndarray:
        """Per level, whether its provenance flags it for human review (read-only bool)."""
        return self._review

    @property
    def provenance(self) -> Mapping[str, Provenance]:
        """Level -> :class:`Provenance`."""
        return dict(self._provenance)

    def to_dict(self) -> dict[str, dict[str, tuple[float, float]]]:
        """``{level: {point_name: (x, y)}}`` with plain floats.

        Examples
        --------
        >>> import numpy as np
        >>> box = np.array([[0, 0], [5, 0], [10, 0], [10, 9], [5, 9], [0, 10]], float)
        >>> Landmarks({"L3": box}).to_dict()["L3"]["ia"]
        (10.0, 9.0)
        """
        return {
            lv: {p: (float(x), float(y)) for p, (x, y) in zip(POINT_NAMES, pts, strict=True)}
            for lv, pts in zip(self._levels, self._xy, strict=True)
        }

    # -- derived records ----------------------------------------------------------------
    def subset(self, levels: Iterable[str]) -> Landmarks:
        """The named levels only (provenance kept)."""
        keep = {normalize_level(lv) for lv in levels}
        missing = keep - set(self._levels)
        if missing:
            raise LandmarkError(f"{sorted(missing)[0]}: level not in these landmarks")
        return Landmarks(
            [(lv, self[lv]) for lv in self._levels if lv in keep],
            provenance={lv: self._provenance[lv] for lv in self._levels if lv in keep},
            image=self.image,
            validate=False,
        )

    def replace(
        self,
        points: Mapping[str, Any] | None = None,
        *,
        provenance: Any = None,
        drop: Iterable[str] = (),
        validate: bool = True,
    ) -> Landmarks:
        """A new record with some levels' points (and provenance) replaced, added or dropped.

        Examples
        --------
        >>> import numpy as np
        >>> box = np.array([[0, 0], [5, 0], [10, 0], [10, 9], [5, 9], [0, 10]], float)
        >>> lm = Landmarks({"L1": box})
        >>> lm.replace({"L1": box + 1}, provenance="refined").provenance["L1"].method
        'refined'
        """
        drop = {normalize_level(lv) for lv in drop}
        pts = {lv: self[lv] for lv in self._levels if lv not in drop}
        prov = {lv: self._provenance[lv] for lv in pts}
        new = {normalize_level(k): v for k, v in (points or {}).items()}
        pts.update(new)
        if isinstance(provenance, Mapping) and not isinstance(provenance, Provenance):
            prov.update({normalize_level(k): Provenance.coerce(v) for k, v in provenance.items()})
        else:
            for lv in new:
                prov[lv] = Provenance.coerce(provenance)
        return Landmarks(pts, provenance=prov, image=self.image, validate=validate)

    def with_image(self, **image: Any) -> Landmarks:
        """A copy whose image reference is updated with the given keys."""
        new = self.subset(self._levels)
        new.image = {**(self.image or {}), **image}
        return new

    def mark_reviewed(
        self,
        levels: str | Iterable[str],
        *,
        reader: str,
        when: Any = None,
    ) -> Landmarks:
        """A new record in which a reader has accepted the given levels after review.

        Clears ``needs_review`` and records ``reviewed_by`` and ``reviewed_at`` in each
        level's provenance (kept by the native JSON landmark format); the points, the
        method and the note stay as they were. :func:`vcfmeasure.grade` then grades them.

        Parameters
        ----------
        levels : str or iterable of str
            The levels accepted (``"all"`` for every level).
        reader : str
            Who reviewed them (name, initials or user id); not empty.
        when : datetime or str, optional
            When (default: now). A naive datetime is taken as UTC; a string must be ISO
            8601.

        Returns
        -------
        Landmarks

        Raises
        ------
        LandmarkError
            For a level not in the record, an empty reader, a time that is not ISO 8601,
            or an accepted level whose outline is implausible (correct its points first).

        Examples
        --------
        >>> import numpy as np
        >>> box = np.array([[0, 0], [10, 0], [20, 0], [20, 18], [10, 18], [0, 20]], float)
        >>> lm = Landmarks({"L1": box}, provenance={"method": "detected", "needs_review": True})
        >>> ok = lm.mark_reviewed("L1", reader="AB", when="2026-12-03T09:00:00+00:00")
        >>> bool(ok.needs_review[0]), ok.provenance["L1"].reviewed_by
        (False, 'AB')
        >>> ok.provenance["L1"].reviewed_at
        '2026-12-03T09:00:00+00:00'
        """
        from dataclasses import replace as _replace
        from datetime import UTC, datetime

        if not isinstance(reader, str) or not reader.strip():
            raise LandmarkError("mark_reviewed: reader must name who reviewed (e.g. initials)")
        if when is None:
            when = datetime.now(UTC).replace(microsecond=0)
        elif isinstance(when, str):
            try:
                when = datetime.fromisoformat(when)
            except ValueError:
                raise LandmarkError(
                    f"mark_reviewed: when={when!r} is not an ISO 8601 time "
                    "(e.g. '2026-12-03T09:00:00+00:00')"
                ) from None
        elif not isinstance(when, datetime):
            raise LandmarkError(
                f"mark_reviewed: when must be a datetime or ISO 8601 string, got {when!r}"
            )
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if isinstance(levels, str) and levels.strip().lower() == "all":
            chosen = set(self._levels)
        else:
            names = [levels] if isinstance(levels, str) else list(levels)
            chosen = {normalize_level(lv) for lv in names}
        missing = sorted(chosen - set(self._levels))
        if missing:
            raise LandmarkError(f"{missing[0]}: level not in these landmarks; cannot accept it")
        for lv in chosen:
            try:
                validate_bodies((lv,), self[lv][None])
            except LandmarkError as exc:
                raise LandmarkError(
                    f"{lv}: cannot accept an implausible outline; correct its points first "
                    f"({exc})"
                ) from None
        stamp = when.isoformat()
        prov = {
            lv: _replace(p, needs_review=False, reviewed_by=reader.strip(), reviewed_at=stamp)
            if lv in chosen else p
            for lv, p in self._provenance.items()
        }
        return Landmarks(zip(self._levels, self._xy, strict=True), provenance=prov,
                         image=self.image, validate=False)

    def map_points(self, func: Any, **kwargs: Any) -> Landmarks:
        """Apply ``func((N, 6, 2) array) -> (N, 6, 2) array`` to every point.

        Handy for transforms (flip, crop offset, rescale). Provenance is kept.
        """
        xy = np.asarray(func(np.array(self._xy)), dtype=float)
        return Landmarks.from_array(xy, self._levels, provenance=self._provenance, image=self.image, **kwargs)
