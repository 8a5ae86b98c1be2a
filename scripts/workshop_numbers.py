"""Print every number the workshop guide (docs/workshop.md) quotes, from the current model.

    .venv/bin/python scripts/workshop_numbers.py

Run it after any change to the model's output and carry the phrases into the
guide's exercises; ``tests/test_workshop_exercises.py`` checks that the
guide's claims hold and that the guide contains each phrase (whitespace
aside).  Takes a few seconds.
"""

from __future__ import annotations

import json

from improvesim.analysis.workshop import exercise_1, exercise_2, exercise_3, guide_phrases


def main() -> None:
    results = [exercise_1(), exercise_2(), exercise_3()]
    for i, numbers in enumerate(results, start=1):
        print(f"# exercise {i}")
        for key, value in numbers.items():
            print(f"{key}: {json.dumps(value)}")
    print("\n# phrases the guide must contain")
    for phrase in guide_phrases(*results):
        print(f"- {phrase}")


if __name__ == "__main__":
    main()
