from __future__ import annotations

import pytest

from kfexplorer.query.model import Cohort, criterion
from kfexplorer.services.cohort_state import CohortState


def test_edits_undo_redo_and_listeners() -> None:
    state = CohortState()
    seen: list[Cohort] = []
    state.add_listener(seen.append)
    assert state.top_level() == () and not state.can_undo
    sex = criterion("participant.sex", "in", "female")
    study = criterion("participant.study_id", "in", "SD_A")
    state.add(sex)
    state.add(study)
    assert state.top_level() == (sex, study)
    state.replace(0, criterion("participant.sex", "in", "male"))
    assert state.field_values("participant.sex") == ("male",)
    state.remove(1)
    assert state.top_level() == (criterion("participant.sex", "in", "male"),)
    assert len(seen) == 4 and seen[-1] == state.cohort
    assert state.undo() and state.top_level()[1] == study
    assert state.undo() and state.top_level() == (sex, study)
    assert state.can_redo and state.redo()
    assert state.field_values("participant.sex") == ("male",)
    state.add(study)  # a new edit drops the redo history
    assert not state.can_redo and not state.redo()
    assert len(seen) == 8
    state.remove_listener(seen.append)
    state.clear()
    assert len(seen) == 8 and state.top_level() == ()
    with pytest.raises(IndexError):
        state.remove(0)


def test_set_field_values_replaces_in_place_and_empty_removes() -> None:
    state = CohortState()
    state.add(criterion("participant.sex", "in", "female"))
    state.set_field_values("participant.study_id", ["SD_A"])
    state.set_field_values("participant.sex", ["female", "male"])
    assert [c.field for c in state.top_level()] == ["participant.sex", "participant.study_id"]  # type: ignore[union-attr]
    assert state.field_values("participant.sex") == ("female", "male")
    state.set_field_values("participant.sex", [])
    assert [c.field for c in state.top_level()] == ["participant.study_id"]  # type: ignore[union-attr]
    before = len(state._undo)
    state.set_field_values("participant.sex", [])  # no change, no history entry
    assert len(state._undo) == before
    while state.undo():
        pass
    assert state.top_level() == ()
