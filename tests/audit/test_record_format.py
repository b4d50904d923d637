"""Format 3's fast RFC 8785 serialisation agrees with the JCS library byte for byte, and restoring the exact
integers leaves the parsed record untouched."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from govern.audit.record_format import (
    EXACT_INTEGERS_KEY,
    content_members,
    content_text,
    jcs_members,
    jcs_scalar,
    restored_content,
)

SCALARS = st.none() | st.text() | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
NAMES = st.text(alphabet=st.characters(max_codepoint=127), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.text() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


@given(st.dictionaries(NAMES, SCALARS.filter(lambda v: not isinstance(v, str) or _encodable(v)), max_size=8))
def test_flat_objects_serialise_as_the_jcs_library_does(values):
    assert jcs_members({k: jcs_scalar(v) for k, v in values.items()}) == rfc8785.dumps(values).decode()


@given(JSON.filter(lambda v: _encodable(json.dumps(v, ensure_ascii=False))), JSON.filter(lambda v: _encodable(json.dumps(v, ensure_ascii=False))))
def test_a_record_is_the_jcs_text_of_its_content_and_restores_exactly(decision, policy_input):
    text = content_text(content_members("check", "token-1", {"d": decision}, {"i": policy_input}), 7, "2026-12-03T08:00:00+00:00")
    content = json.loads(text)
    assert text == rfc8785.dumps(content).decode()
    parsed = json.loads(text)
    restored = restored_content(parsed)
    assert restored["decision"] == {"d": decision} and restored["input"] == {"i": policy_input}
    assert parsed == content and EXACT_INTEGERS_KEY not in restored


def test_member_names_must_be_ascii():
    with pytest.raises(ValueError, match="ASCII"):
        jcs_members({"é": "1"})
