"""check_plain accepts the common values (a scalar, a step's fields of scalars) without its walk;
for every value, with any limits, the outcome must be the walk's: accepted by both, or refused by
both with the same message."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lienthong.errors import InvalidData
from lienthong.plaindata import MAX_BYTES, MAX_INT, MIN_INT, _walk, check_plain

_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "KS-1", "Nguyễn Văn An", "\ud800", "a\udfffb", "x" * 40]),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=MIN_INT - 2, max_value=MIN_INT + 2),
    st.integers(min_value=MAX_INT - 2, max_value=MAX_INT + 2),
    st.integers(min_value=-1000, max_value=1000),
    st.floats(allow_nan=True, allow_infinity=True),
    _TEXT,
    st.sampled_from([(1, 2), {1}, b"x", bytearray(b"y"), object()]),
)
_KEYS = st.one_of(
    st.sampled_from(["a", "so_ho_so", "số_hồ_sơ", "_private", "1a", "a-b", "", "ok"]),
    st.text(max_size=6),
    st.integers(min_value=0, max_value=3),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=8,
)
_FIELDS = st.one_of(
    st.dictionaries(_KEYS, _SCALARS, max_size=5),
    st.dictionaries(_KEYS, _VALUES, max_size=3),
    _VALUES,
)


def _outcome(fn: Any, *args: Any) -> str | None:
    try:
        fn(*args)
    except InvalidData as e:
        return str(e)
    return None


@settings(max_examples=400, deadline=None)
@given(
    value=_FIELDS,
    field_names=st.booleans(),
    max_bytes=st.sampled_from([0, 20, 26, 27, 60, 200, 1000, MAX_BYTES]),
    max_depth=st.sampled_from([-1, 0, 1, 64]),
)
def test_the_short_cut_decides_as_the_walk_does(
    value: Any, field_names: bool, max_bytes: int, max_depth: int
) -> None:
    fast = _outcome(
        lambda: check_plain(
            value,
            "data",
            path="f",
            field_names=field_names,
            max_depth=max_depth,
            max_bytes=max_bytes,
        )
    )
    walked = _outcome(_walk, value, "data", "f", field_names, max_depth, max_bytes)
    assert fast == walked


def test_the_common_values_are_accepted_and_the_rest_still_refused() -> None:
    check_plain("KS-1", "data")
    check_plain(
        {"birth_certificate_no": "KS-1", "số_hồ_sơ": "Nguyễn", "n": 3}, "data", field_names=True
    )
    for bad, fields, limit in [
        (float("nan"), False, MAX_BYTES),
        (MAX_INT + 1, False, MAX_BYTES),
        ("\ud800", False, MAX_BYTES),
        ({"_x": 1}, True, MAX_BYTES),
        ({"a": (1,)}, True, MAX_BYTES),
        ("x" * 100, False, 60),  # 102 bytes of JSON
        ({"a": "x" * 100}, True, 60),
    ]:
        try:
            check_plain(bad, "data", field_names=fields, max_bytes=limit)
        except InvalidData:
            continue
        raise AssertionError(f"accepted {bad!r}")
