"""Structural numbers of the model: the calendar and the definitions of its outcomes.

These are not behavioural coefficients (those are parameters in
:mod:`sim.schema`): they fix what a month, a school year or a long spell
is, and change only with the model's design.
"""

from __future__ import annotations

#: Months in a year; month 0 is August.
MONTHS_PER_YEAR = 12
#: Months of the school year in which schools are open (August to May).
SCHOOL_MONTHS = 10
#: Summer: June and July, months 10 and 11 of the school year.
SUMMER = (10, 11)
#: The testing season: April and May, months 8 and 9 of the school year.
TESTING = (8, 9)
#: Last month (July) of the school year, when ``State.authentic_years`` counts it.
YEAR_END = 11
#: Disengagement spell and time since authentic practice (months) the outcomes count (seed 003).
LONG_SPELL = 6
#: Largest annual exit rate turned into a monthly hazard (a rate of 1 has no finite hazard).
MAX_ANNUAL_RATE = 0.999999
#: Where in its slice of the school year a convening sits (convenings split the
#: school months into equal slices and sit in the middle of each).
CONVENING_SLOT_CENTRE = 0.5
