"""The starter content: 150+ correct exercises over Mathematik 3-10, Deutsch 3-7 and
Englisch 5-8, each with a worked solution, every sample answer judged as its author said."""

from __future__ import annotations

from collections import Counter

from central_hub.learning import starter
from central_hub.learning.domain.checking import sample_failures
from central_hub.learning.domain.vocabularies import SUBJECTS


def test_every_starter_exercise_passes_its_own_samples() -> None:
    loaded = starter.items()
    failures = [f"{item.id}: {failure}" for item, _ in loaded for exercise in item.exercises
                for failure in sample_failures(exercise)]
    assert failures == []
    samples = sum(len(e.samples.accept) + len(e.samples.reject)
                  for item, _ in loaded for e in item.exercises)
    assert samples >= 600


def test_the_catalogue_covers_the_grades_and_subjects_asked_for() -> None:
    loaded = [item for item, _ in starter.items()]
    exercises = Counter(item.subject for item in loaded for _ in item.exercises)
    assert sum(exercises.values()) >= 150
    assert set(exercises) == {"mathematik", "deutsch", "englisch"}
    assert all(subject in SUBJECTS for subject in exercises)
    wanted = {"mathematik": range(3, 11), "deutsch": range(3, 8), "englisch": range(5, 9)}
    for subject, grades in wanted.items():
        for grade in grades:
            assert any(item.subject == subject and item.kind == "exercises"
                       and item.grade_min <= grade <= item.grade_max for item in loaded), \
                (subject, grade)
    types = Counter(e.type for item in loaded for e in item.exercises)
    assert set(types) == {"single_choice", "multiple_choice", "input", "cloze", "ordering",
                          "matching"}
    kinds = Counter(e.answer.kind for item in loaded for e in item.exercises if e.answer)
    assert set(kinds) == {"number", "expression", "quantity", "text"}
    assert all(e.solution.strip() for item in loaded for e in item.exercises)
    assert len({item.id for item in loaded}) == len(loaded)
    assert any(item.kind == "explanation" for item in loaded)
