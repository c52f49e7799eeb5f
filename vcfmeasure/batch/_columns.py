"""The row schemas of batch outputs and the key that identifies each input's rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..procedures import CEMENT_COLUMNS

if TYPE_CHECKING:
    from ._inputs import Task

# (name, kind): kind is str, float, int (nullable) or bool (nullable).
GRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("image", "str"),
    ("landmarks", "str"),
    ("patient", "str"),
    ("time_point", "str"),
    ("study_instance_uid", "str"),
    ("series_instance_uid", "str"),
    ("sop_instance_uid", "str"),
    ("level", "str"),
    ("unit", "str"),
    ("ha", "float"),
    ("hm", "float"),
    ("hp", "float"),
    ("wedge_ratio", "float"),
    ("biconcavity_ratio", "float"),
    ("crush_ratio", "float"),
    ("wedge_angle", "float"),
    ("local_kyphosis_cobb", "float"),
    ("local_kyphosis_gardner", "float"),
    ("area", "float"),
    ("grade", "int"),
    ("deformity", "str"),
    ("height_loss", "float"),
    ("reduction_a", "float"),
    ("reduction_m", "float"),
    ("reduction_p", "float"),
    ("borderline", "bool"),
    ("reference", "str"),
    ("reference_levels", "str"),
    ("spacing_row_mm", "float"),
    ("spacing_col_mm", "float"),
    ("spacing_source", "str"),
    ("provenance", "str"),
    ("confidence", "float"),
    ("needs_review", "bool"),
    ("level_guessed", "bool"),
    ("outside_genant_range", "bool"),
    ("warnings", "str"),
    ("error", "str"),
)
_GRADE_KEY = ("image", "landmarks")

_H = ("a", "m", "p")
COMPARE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("patient", "str"),
    ("pre_image", "str"),
    ("post_image", "str"),
    ("follow_up_image", "str"),
    ("level", "str"),
    ("unit", "str"),
    ("treated", "bool"),
    *((f"h{x}_{t}", "float") for x in _H for t in ("pre", "post")),
    *((f"delta_h{x}", "float") for x in _H),
    *((f"reference_h{x}", "float") for x in _H),
    *((f"preop_loss_{x}", "float") for x in _H),
    *((f"restored_{x}", "float") for x in _H),
    ("reference", "str"),
    ("reference_levels", "str"),
    ("reference_source", "str"),
    ("restored_note", "str"),
    ("level_guessed", "bool"),
    ("outside_genant_range", "bool"),
    ("wedge_angle_pre", "float"),
    ("wedge_angle_post", "float"),
    ("wedge_angle_correction", "float"),
    ("local_kyphosis_pre", "float"),
    ("local_kyphosis_post", "float"),
    ("local_kyphosis_correction", "float"),
    *((f"h{x}_fu", "float") for x in _H),
    *((f"loss_{x}", "float") for x in _H),
    ("wedge_angle_fu", "float"),
    ("angle_loss", "float"),
    ("local_kyphosis_fu", "float"),
    ("local_kyphosis_loss", "float"),
    ("recollapse", "bool"),
    ("procedure", "str"),
    ("adjacent_new_fractures", "str"),
    *CEMENT_COLUMNS,
    ("grade_pre", "int"),
    ("grade_post", "int"),
    ("grade_fu", "int"),
    ("spacing_row_mm", "float"),
    ("spacing_col_mm", "float"),
    ("spacing_source", "str"),
    ("provenance", "str"),
    ("warnings", "str"),
    ("error", "str"),
)
_COMPARE_KEY = ("patient", "pre_image", "post_image", "follow_up_image")


def _key_fields(kind: str, task: Task) -> dict[str, str]:
    if kind == "grade":
        return {"image": task.image, "landmarks": task.landmarks, "patient": task.patient,
                "time_point": task.time_point}
    by_time = {t.time_point: t.image for t in task.members}
    return {"patient": task.patient, "pre_image": by_time.get("pre", ""),
            "post_image": by_time.get("post", ""), "follow_up_image": by_time.get("follow_up", "")}


def _task_key(kind: str, task: Task) -> tuple[str, ...]:
    fields = _key_fields(kind, task)
    return tuple(fields[k] for k in (_GRADE_KEY if kind == "grade" else _COMPARE_KEY))
