"""Who is likely under 15: their requests are flagged for a coordinator to review.

One rule, in one place (`likely_under_15`), decided when a request arrives from what it says
and from what the person said before.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

MINOR_AGE = 15  # under this age, a coordinator reviews the exchanges (`mailflow minors`)
DAYS_PER_YEAR = 365.25
COLLEGE = "collegien"  # at collège: 11 to 15 years old, most of them under 15


def likely_under_15(
    age: int | None,
    situation: str | None,
    earlier_ages: Iterable[tuple[int, datetime]],
    now: datetime,
) -> bool:
    """Whether to flag a request, when any of these says the person is under 15:

    - the age stated in this request is under 15;
    - an age stated in an earlier request, plus the time elapsed since, is still under 15
      (13 eight months ago is about 13.7 now; 14 two years ago is 16, not flagged);
    - no age is given and the person is at collège.

    Protecting a child outweighs a wrongly flagged review, so one reason is enough, even
    when another request said otherwise.
    """
    if age is not None and age < MINOR_AGE:
        return True
    if any(then + (now - at).days / DAYS_PER_YEAR < MINOR_AGE for then, at in earlier_ages):
        return True
    return age is None and situation == COLLEGE
