"""The one parameter schema of the district model.

Every parameter the model reads is declared here once, with its default, unit,
allowed range, meaning, source and (for sensitivity analysis) its family and
its role in the EMA Workbench vocabulary: an *uncertainty* is a condition a
district does not control, a *lever* is a choice it makes, a *constant* is a
behavioural coefficient of the model or a setting of the run.

Scenario validation, ``improvesim params``, ``docs/ODD.md`` and (later)
sensitivity bounds are all generated from this table, so they cannot drift
apart.  Sources are keys into :data:`SOURCES`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from improvesim.sim.errors import AdoptedFileError

Kind = Literal["float", "int", "choice"]
Role = Literal["uncertainty", "lever", "constant"]

#: Short keys for the evidence each default rests on (full references in the ODD).
SOURCES: dict[str, str] = {
    "NCES-TFS": (
        "NCES Teacher Follow-up Survey 2021-22 (Taie and Lewis 2023, NCES 2024-039): "
        "about 84% of public-school teachers stayed in their school, 16% moved or left; "
        "attrition is about half again as high in high-poverty schools."
    ),
    "NCES-PFS": (
        "NCES Principal Follow-up Survey 2021-22 (NCES 2024-043): about 80% of public-school "
        "principals stayed in their school; about 20% moved or left."
    ),
    "CGCS": (
        "Council of the Great City Schools (2022), Urban School Superintendents: Characteristics, "
        "Tenure and Salary: mean tenure of urban superintendents about 5.5 years (annual turnover ~0.18)."
    ),
    "Kraft2018": (
        "Kraft, Blazar and Hogan (2018), The effect of teacher coaching on instruction and "
        "achievement, Review of Educational Research 88(4): pooled effect 0.49 SD on instruction, "
        "smaller in programmes with more teachers per coach."
    ),
    "Repenning2002": (
        "Repenning (2002), A simulation-based approach to understanding the dynamics of innovation "
        "implementation, Organization Science 13(2): commitment with a motivation threshold; "
        "reversion when pressure is withdrawn before results sustain it."
    ),
    "RepenningSterman2002": (
        "Repenning and Sterman (2001, 2002): the capability trap; under time pressure, working "
        "harder crowds out working smarter."
    ),
    "Seed001": (
        "Seed 001: Anderson, Cunningham and Richardson (2024), Framework for implementing improvement "
        "science in a school district to support institutionalized improvement, Education Sciences "
        "14(7):770 (school-centred and integrated; bottom-up decisions with top-down support; "
        "coaching, succession ('deep bench') and knowledge-management plans; phased rollout; "
        "'at least a 10-year journey')."
    ),
    "Seed002": (
        "Seed 002: Russell and Hannan (Carnegie Foundation), capacity building in networked improvement "
        "communities with facilitators and coaches (weekly coaching of teams through PDSA cycles)."
    ),
    "Seed003": (
        "Seed 003: Viano, Shahrokhi and Hunter (2024), Improvement science and school leadership: the "
        "precarious path to dynamic school improvement, Frontiers in Education 9:1371664; a networked "
        "improvement community of 8 "
        "elementary schools over 3 years (optional participation, coaching planned monthly and "
        "delivered about quarterly, 2-3 convenings a year, PDSA cycles of 45-90 days, a pandemic "
        "from month 7, turnover, central-office capacity lost in year 3)."
    ),
    "BLS": (
        "US Bureau of Labor Statistics, Occupational Outlook Handbook, Instructional Coordinators "
        "(median pay about $74,600 in 2023)."
    ),
    "NCES-salary": (
        "NCES Digest of Education Statistics, average public-school teacher salary about $69,500 "
        "(2022-23), about $50 an hour of contract time with benefits."
    ),
    "Calibrated": (
        "Calibrated by rejection ABC (the first edition's `improvesim calibrate`) on the case of seed 003 "
        "(experiments/calibrate_viano2024.toml at commit 1852e72): the posterior median for the model's first edition, kept "
        "in the second edition until it is recalibrated (issue 17); procedure in docs/validation.md."
    ),
    "Bartanen2019": (
        "Bartanen, Grissom and Rogers (2019), The impacts of principal turnover, Educational Evaluation "
        "and Policy Analysis 41(3): 350-374: nationally 18% of principals turn over each year; in Missouri "
        "and Tennessee principal turnover lowers school achievement by 0.03 SD in the next year and "
        "increases teacher turnover."
    ),
    "BacherHicks2023": (
        "Bacher-Hicks, Chi and Orellana (2023), Two years later: how COVID-19 has shaped the teacher "
        "workforce, Educational Researcher 52(4): 219-229: Massachusetts teacher turnover was similar to "
        "prepandemic levels going into the fall of 2020, then rose by 17%, from 15.0% to 17.5%, going "
        "into the fall of 2021."
    ),
    "BLS-ECEC": (
        "US Bureau of Labor Statistics, Employer Costs for Employee Compensation, September 2021: state and "
        "local government employers paid $33.76 an hour worked in wages and salaries and $20.70 in benefits "
        "(62.0% and 38.0% of compensation); benefits are thus about 0.61 of wages."
    ),
    "BLS-OEWS-sub": (
        "US Bureau of Labor Statistics, Occupational Employment and Wage Statistics, May 2023: national mean "
        "hourly wage of short-term substitute teachers $20.95 (as reported by Kelly Education); a day of 7 "
        "hours at that wage is about $147 (the 7-hour day is an assumption)."
    ),
    "Compen2020": (
        "Compen and Schelfhout (2020), The role of external and internal team coaches in teacher design teams: "
        "a mixed methods study, Education Sciences 10(10):263: teams are coached either by external experts or by "
        "peer teachers from within; the literature debates which is more effective and how they differ."
    ),
    "assumption": (
        "Modelling assumption: no direct estimate exists; the value is set for plausible "
        "behaviour, documented in the ODD, and varied in sensitivity analysis."
    ),
}

FAMILIES = (
    "district",
    "turnover",
    "time",
    "governance",
    "messaging",
    "coaching",
    "succession",
    "knowledge",
    "rollout",
    "improvement",
    "sensemaking",
    "institution",
    "costs",
    "run",
)


@dataclass(frozen=True)
class Param:
    """One model parameter: its name, default, unit, range and provenance.

    ``name`` is ``"section.key"`` as written in scenario files.  ``low`` and
    ``high`` bound the allowed values (inclusive) for numbers; ``choices``
    lists the allowed values of a categorical parameter.
    """

    name: str
    default: float | int | str
    unit: str
    description: str
    source: str
    kind: Kind = "float"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    role: Role = "constant"

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def key(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def family(self) -> str:
        """Family for grouped sensitivity indices (the scenario section)."""
        return self.section

    def allowed(self) -> str:
        """Human-readable statement of what values are allowed."""
        if self.kind == "choice":
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        kind = "an integer" if self.kind == "int" else "a number"
        return f"{kind} from {_fmt(self.low)} to {_fmt(self.high)}"


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:g}" if isinstance(x, float) else str(x)


def _p(name, default, low, high, unit, description, source, role="constant", kind=None):
    if kind is None:
        kind = "int" if isinstance(default, int) and not isinstance(default, bool) else "float"
    return Param(
        name=name,
        default=default,
        unit=unit,
        description=description,
        source=source,
        kind=kind,
        low=low,
        high=high,
        role=role,
    )


U, L = "uncertainty", "lever"

PARAMETERS: tuple[Param, ...] = (
    # --- district -----------------------------------------------------------
    _p("district.schools", 40, 1, 5000, "schools", "Number of schools in the district.", "assumption", U),
    _p(
        "district.team_size",
        6,
        3,
        12,
        "people",
        "Members of each school's improvement team: principal, assistant principal, improvement "
        "lead, and teachers for the remaining seats. Mechanism: seed 003; the value is an assumption.",
        "assumption",
    ),
    _p(
        "district.demand_spread",
        0.2,
        0.0,
        0.5,
        "fraction",
        "Spread of competing demands between schools: each school's demand multiplier is uniform "
        "on [1 - spread, 1 + spread].",
        "assumption",
        U,
    ),
    _p(
        "district.initial_commitment",
        0.3,
        0.0,
        1.0,
        "0-1",
        "Mean commitment of staff to the improvement approach before it starts.",
        "assumption",
        U,
    ),
    _p(
        "district.initial_skill",
        0.15,
        0.0,
        1.0,
        "0-1",
        "Mean improvement-science skill of staff before it starts (below 1/3 is novice, above 2/3 expert).",
        "assumption",
        U,
    ),
    _p(
        "district.leader_weight",
        2.0,
        1.0,
        5.0,
        "-",
        "Weight of the principal's and the improvement lead's seats in team means (commitment, skill), "
        "relative to each other seat's.",
        "assumption",
    ),
    # --- run ----------------------------------------------------------------
    _p("run.years", 10, 1, 30, "years", "Simulated years (12 months each, starting in August).", "Seed001"),
    _p(
        "run.seed",
        1,
        0,
        2**63 - 1,
        "-",
        "Seed from which every random stream of every replicate is derived.",
        "assumption",
    ),
    _p("run.replicates", 10, 1, 100_000, "runs", "Replicates (independent seeds) of the scenario.", "assumption"),
    # --- turnover -----------------------------------------------------------
    _p(
        "turnover.teacher",
        0.16,
        0.0,
        0.6,
        "per year",
        "Annual share of teachers on the team who leave their school.",
        "NCES-TFS",
        U,
    ),
    _p(
        "turnover.principal",
        0.20,
        0.0,
        0.6,
        "per year",
        "Annual share of principals and assistant principals who leave their school.",
        "NCES-PFS",
        U,
    ),
    _p(
        "turnover.lead",
        0.16,
        0.0,
        0.6,
        "per year",
        "Annual share of improvement leads (teacher leaders) who leave the role; teacher rate by default.",
        "NCES-TFS",
        U,
    ),
    _p(
        "turnover.coach",
        0.15,
        0.0,
        0.6,
        "per year",
        "Annual share of improvement coaches who leave; close to the teacher rate, in the absence of coach-specific data.",
        "assumption",
        U,
    ),
    _p(
        "turnover.central_office",
        0.18,
        0.0,
        1.0,
        "per year",
        "Annual hazard that the central-office leader for improvement (or superintendent) is replaced.",
        "CGCS",
        U,
    ),
    _p(
        "turnover.summer_share",
        0.75,
        0.0,
        1.0,
        "fraction",
        "Share of each year's exits that happen in the summer months (June and July).",
        "assumption",
    ),
    _p(
        "turnover.pandemic_rise",
        0.167,
        0.0,
        2.0,
        "fraction",
        "Relative rise of every exit hazard (staff, coaches) under a full-severity pandemic "
        "(from turnover.pandemic_delay months into it). 17.5/15 - 1 = 0.167 is the rise Bacher-Hicks, Chi "
        "and Orellana (2023) observed on the annual rate, with turnover.pandemic_delay = 5: the default. (It multiplies the "
        "monthly hazard, so at full severity for a year it takes 15.0% to 17.3% a year.) The first edition used 0.5.",
        "BacherHicks2023",
    ),
    _p(
        "turnover.pandemic_delay",
        5,
        0,
        36,
        "months",
        "Months a pandemic has been under way (without a break) before it raises exit hazards; its other "
        "effects start at once. 5 = the timing Bacher-Hicks, Chi and Orellana (2023) observed for a pandemic "
        "from March (month 7): exits into fall 2020 flat, exits of the 2020-21 school year raised. "
        "The default is 5. 0: raised from the pandemic's first month, as in the first edition.",
        "BacherHicks2023",
    ),
    _p(
        "turnover.after_principal_rise",
        0.3,
        0.0,
        2.0,
        "fraction",
        "Relative rise of the exit hazard of the lead and the teachers of a school in the "
        "turnover.after_principal_months after its principal leaves. That principal turnover raises teacher "
        "turnover: Bartanen, Grissom and Rogers (2019); the size (default 0.3) is an assumption. 0 switches it off (the first edition).",
        "assumption",
    ),
    _p(
        "turnover.after_principal_months",
        18,
        0,
        36,
        "months",
        "Months after a principal leaves in which the school's lead and teachers leave more readily "
        "(by turnover.after_principal_rise).",
        "assumption",
    ),
    _p(
        "turnover.arrival_fatigue",
        0.2,
        0.0,
        1.0,
        "fraction",
        "Share of a newcomer's starting commitment lost to the fatigue staff carry from initiatives that came "
        "and went elsewhere. Mechanism: seed 001 (initiative fatigue); the value is an assumption.",
        "assumption",
    ),
    _p(
        "turnover.newcomer_low",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Lowest skill and commitment of a newcomer as a share of the district's initial levels (newcomers spread uniformly from this share to this share + 1).",
        "assumption",
    ),
    # --- time ---------------------------------------------------------------
    _p(
        "time.protected_hours",
        6.0,
        0.0,
        40.0,
        "hours per team per month",
        "Time each improvement team meets for improvement work each month (every member attends; costed per member).",
        "Seed001",
        L,
    ),
    _p(
        "time.hours_needed",
        8.0,
        1.0,
        40.0,
        "hours per team per month",
        "Time a team needs to run improvement work at full pace.",
        "assumption",
    ),
    _p(
        "time.integrated",
        0.3,
        0.0,
        1.0,
        "0-1",
        "How far improvement is integrated into existing structures (PLCs, school improvement plan): "
        "0 = added on top of existing duties, 1 = fully integrated. Mechanism: seed 001; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "time.competing_demands",
        0.5,
        0.0,
        1.0,
        "0-1",
        "Baseline pressure of competing demands on school teams (share of the protected time "
        "that added-on work loses to them). Mechanism: Repenning and Sterman 2002; the value is an assumption.",
        "assumption",
        U,
    ),
    _p(
        "time.testing_load",
        0.2,
        0.0,
        0.5,
        "0-1",
        "Extra demand in the testing season (April and May).",
        "assumption",
        U,
    ),
    _p(
        "time.support_protection",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of the crowding out of added-on work that full top-down support (protected-time policies) prevents.",
        "assumption",
    ),
    _p(
        "time.improvement_relief",
        0.3,
        0.0,
        1.0,
        "fraction",
        "Share of competing demands that full local knowledge (built by successful PDSA cycles) takes away: improvement frees time, after a delay. Mechanism: Repenning and Sterman 2002 (the capability trap); the value is an assumption.",
        "assumption",
    ),
    _p(
        "time.pandemic_demand",
        0.3,
        0.0,
        1.0,
        "0-1",
        "Extra competing demand a full-severity pandemic puts on schools.",
        "assumption",
    ),
    _p(
        "time.initiative_demand",
        0.15,
        0.0,
        1.0,
        "0-1",
        "Extra competing demand while a competing central-office initiative runs.",
        "assumption",
    ),
    _p(
        "time.stress_pressure",
        0.5,
        0.0,
        1.0,
        "-",
        "Weight of the pressure of competing demands in a team's stress.",
        "assumption",
    ),
    _p(
        "time.stress_shortfall",
        0.5,
        0.0,
        1.0,
        "-",
        "Weight of the shortfall of time for improvement in a team's stress.",
        "assumption",
    ),
    _p(
        "time.stress_stall",
        0.3,
        0.0,
        1.0,
        "0-1",
        "Stress added while the work is stalled after losing the principal or lead.",
        "assumption",
    ),
    _p(
        "time.stress_pandemic",
        0.3,
        0.0,
        1.0,
        "0-1",
        "Stress added by a full-severity pandemic.",
        "assumption",
    ),
    # --- governance ---------------------------------------------------------
    Param(
        name="governance.participation",
        default="optional",
        unit="-",
        kind="choice",
        choices=("optional", "required"),
        role=L,
        source="Seed003",
        description="Whether schools may opt out (optional, as under site-based management) or must take part (a mandate).",
    ),
    _p(
        "governance.top_down_support",
        0.5,
        0.0,
        1.0,
        "0-1",
        "Central support: structures, protected-time policies, data systems and a common aim. Mechanism: seed 001; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "governance.school_autonomy",
        0.5,
        0.0,
        1.0,
        "0-1",
        "How far schools choose their own aims and changes (bottom-up decisions). Mechanism: seed 001; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "governance.priority",
        0.8,
        0.0,
        1.0,
        "0-1",
        "Initial priority of improvement for the central office.",
        "assumption",
        U,
    ),
    _p(
        "governance.initiative_churn",
        0.5,
        0.0,
        1.0,
        "probability",
        "Chance that a new central-office leader brings a competing initiative. Mechanism: seed 001; the value is an assumption.",
        "assumption",
        U,
    ),
    _p(
        "governance.initiative_length",
        24,
        1,
        120,
        "months",
        "Months a competing initiative brought by a new central-office leader lasts.",
        "assumption",
    ),
    _p(
        "governance.initiative_priority_cut",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of its priority improvement keeps when a new leader brings a competing initiative.",
        "assumption",
    ),
    _p(
        "governance.initiative_moratorium_years",
        0.0,
        0.0,
        30.0,
        "years",
        "Years from the start during which the board holds a moratorium on new competing initiatives: a new "
        "central-office leader who would have brought one (governance.initiative_churn) sets improvement's priority "
        "as a leader without one does. 0: no moratorium. A decision a board can take and publish; what the "
        "initiatives it stops would have given is not modelled. The value is a plan's choice.",
        "assumption",
        L,
    ),
    _p(
        "governance.initiative_sunset_months",
        120,
        1,
        120,
        "months",
        "Longest a competing initiative may run before the district ends it (a sunset clause set when it is "
        "launched): it lasts the smaller of this and governance.initiative_length. 120 (the largest "
        "initiative_length): no sunset. The value is a plan's choice.",
        "assumption",
        L,
    ),
    _p(
        "governance.new_leader_priority_low",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Lowest priority a new leader without a competing initiative gives improvement, as a share of governance.priority.",
        "assumption",
    ),
    _p(
        "governance.new_leader_priority_spread",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Spread of that priority above the lowest (uniform), as a share of governance.priority.",
        "assumption",
    ),
    # --- messaging ----------------------------------------------------------
    _p(
        "messaging.urgency",
        0.5,
        0.0,
        1.0,
        "0-1",
        "Urgency of the central office's message about improvement. Mechanism: seed 003; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "messaging.why_framing",
        0.5,
        0.0,
        1.0,
        "0-1",
        "How far the message is framed around the why (equity, students) rather than compliance. Mechanism: seed 003; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "messaging.consistency",
        0.5,
        0.0,
        1.0,
        "probability per month",
        "Chance each month that the message is repeated consistently. Mechanism: seed 003; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "messaging.new_leader_message_kept",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of the felt message kept when the central-office leader changes.",
        "assumption",
    ),
    _p(
        "messaging.memory",
        0.8,
        0.0,
        0.99,
        "per month",
        "Share of the felt message kept from one month to the next (the rest is this month's message, when repeated).",
        "assumption",
    ),
    _p(
        "messaging.urgency_mix",
        0.4,
        0.0,
        1.0,
        "-",
        "Weight of urgency in the strength of the message.",
        "assumption",
    ),
    _p(
        "messaging.why_mix",
        0.6,
        0.0,
        1.0,
        "-",
        "Weight of the why framing in the strength of the message.",
        "assumption",
    ),
    # --- coaching -----------------------------------------------------------
    _p("coaching.coaches", 4, 0, 500, "coaches", "Improvement coaches employed at the start.", "Seed002", L),
    _p(
        "coaching.visits_per_month",
        1.0,
        0.0,
        8.0,
        "visits per school per month",
        "Planned coaching visits to each participating school.",
        "Seed003",
        L,
    ),
    _p(
        "coaching.hours_per_month",
        60.0,
        0.0,
        160.0,
        "hours per coach per month",
        "School-facing hours of each coach.",
        "assumption",
        L,
    ),
    _p(
        "coaching.hours_per_visit",
        6.0,
        1.0,
        24.0,
        "hours",
        "Hours one visit takes, with travel, preparation and follow-up.",
        "assumption",
    ),
    _p("coaching.skill", 0.6, 0.0, 1.0, "0-1", "Mean skill of a newly hired coach.", "assumption", U),
    _p(
        "coaching.grant_share",
        1.0,
        0.0,
        1.0,
        "fraction",
        "Share of coach positions funded by an external grant (the rest are internal).",
        "Seed002",
        L,
    ),
    _p("coaching.funded_years", 10.0, 0.0, 30.0, "years", "Years the grant funds its coach positions.", "Seed002", L),
    _p(
        "coaching.retained_after_grant",
        0.0,
        0.0,
        1.0,
        "fraction",
        "Share of grant-funded coach positions the district takes over when the grant ends.",
        "Seed001",
        L,
    ),
    Param(
        name="coaching.model",
        default="hired",
        unit="-",
        kind="choice",
        choices=("hired", "external", "internal"),
        role=L,
        source="Compen2020",
        description="Who the coaches are: hired (coaches hired into district posts from outside, the model's "
        "reference coach), external (an outside organisation's coaches under contract: more improvement-science "
        "skill, billed by the day, gone when the contract ends) or internal (the district's own teachers and "
        "leaders made coaches: less skill at the start, they know the schools and people, and what a coach "
        "learned stays in the district when the coach leaves the post).",
    ),
    _p(
        "coaching.external_skill",
        1.25,
        0.5,
        2.0,
        "multiple of coaching.skill",
        "Skill of an external coach at hire as a multiple of a hired coach's (they bring improvement-science "
        "experience from other districts). Mechanism: external and internal coaches differ (Compen and "
        "Schelfhout 2020); the value is an assumption.",
        "assumption",
    ),
    _p(
        "coaching.internal_skill",
        0.7,
        0.0,
        2.0,
        "multiple of coaching.skill",
        "Skill of an internal coach at hire as a multiple of a hired coach's (teachers new to coaching and to "
        "improvement science). Mechanism: Compen and Schelfhout 2020; the value is an assumption.",
        "assumption",
    ),
    _p(
        "coaching.internal_understanding",
        1.5,
        1.0,
        3.0,
        "multiple",
        "Understanding of the problem a school gains from a visit by an internal coach, as a multiple of "
        "coaching.understanding_per_visit (the coach knows the school, its people and the district: trust comes "
        "sooner). Mechanism: Compen and Schelfhout 2020; the value is an assumption.",
        "assumption",
    ),
    _p(
        "coaching.internal_learning",
        0.05,
        0.0,
        0.5,
        "fraction of gap per month",
        "Share of the gap between an internal coach's skill and a hired coach's mean skill (coaching.skill) "
        "the internal coach closes each month in post, learning the craft on the job (about half the gap in a "
        "year at 0.05). The value is an assumption.",
        "assumption",
    ),
    _p(
        "coaching.internal_skill_kept",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of what a departing internal coach had learned beyond a new hire's skill that the next internal "
        "coach in the post starts with (the one who left stays in the district and passes it on). The value is "
        "an assumption.",
        "assumption",
    ),
    _p(
        "coaching.vacancy_months",
        4,
        0,
        24,
        "months",
        "Months a coach position stays vacant after the coach leaves (at least one).",
        "assumption",
        U,
    ),
    _p(
        "coaching.effect_leaders",
        0.08,
        0.0,
        0.5,
        "fraction of gap per visit",
        "Skill gain of principals and improvement leads from one visit by a fully skilled coach, as a share of the gap to expert. Mechanism: Kraft, Blazar and Hogan 2018; the value is an assumption.",
        "assumption",
    ),
    _p(
        "coaching.effect_teachers",
        0.04,
        0.0,
        0.5,
        "fraction of gap per visit",
        "Skill gain of the other team members from one visit (coaching differentiated by role). Mechanism: Kraft, Blazar and Hogan 2018; the value is an assumption.",
        "assumption",
    ),
    _p(
        "coaching.scale_caseload",
        15.0,
        1.0,
        200.0,
        "schools per coach",
        "Caseload at which the effect of a visit is halved (coaching effects are smaller at scale). Mechanism: Kraft, Blazar and Hogan 2018; the value is an assumption.",
        "assumption",
    ),
    _p(
        "coaching.new_coach_low",
        0.75,
        0.0,
        2.0,
        "fraction",
        "Lowest skill of a newly hired coach as a share of coaching.skill.",
        "assumption",
    ),
    _p(
        "coaching.new_coach_spread",
        0.5,
        0.0,
        2.0,
        "fraction",
        "Spread of a new coach's skill above the lowest (uniform), as a share of coaching.skill.",
        "assumption",
    ),
    _p(
        "coaching.paused_visit_share",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of its planned visits a paused school gets (to win it back).",
        "assumption",
    ),
    _p(
        "coaching.pressure_cancellation",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of planned visits that full pressure of competing demands cancels.",
        "assumption",
    ),
    _p(
        "coaching.pandemic_loss",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Relative loss of a visit's effect under a full-severity pandemic (virtual visits).",
        "assumption",
    ),
    _p(
        "coaching.understanding_per_visit",
        0.15,
        0.0,
        1.0,
        "fraction of gap per visit",
        "Understanding of the problem a school gains from one fully effective visit.",
        "assumption",
    ),
    # --- succession ---------------------------------------------------------
    _p(
        "succession.deep_bench",
        0.3,
        0.0,
        1.0,
        "0-1",
        "Strength of the succession plan: monthly chance (times succession.groom_chance) that a working school "
        "grooms a skilled team member as a successor for the principal or lead (at most one for each). Mechanism: seed 001; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "succession.onboarding",
        0.3,
        0.0,
        1.0,
        "0-1",
        "Strength of onboarding routines: how much of the team's skill and commitment a newcomer "
        "receives, scaled by how embedded the routines are. Mechanism: seed 001; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "succession.stall_months",
        6,
        0,
        24,
        "months",
        "Months the work stalls after the principal or lead leaves with no successor ready. Mechanism: seed 001; the value is an assumption.",
        "assumption",
        U,
    ),
    _p(
        "succession.successor_skill_margin",
        0.07,
        0.0,
        0.66,
        "0-1",
        "Skill above the developing level (1/3) that a groomed successor has at least when stepping up.",
        "assumption",
    ),
    _p(
        "succession.continue_base",
        0.5,
        0.0,
        1.0,
        "probability",
        "Chance a new principal or lead (no successor ready) continues the work at a school with no embedded routines.",
        "assumption",
    ),
    _p(
        "succession.continue_embedded",
        0.5,
        0.0,
        1.0,
        "probability",
        "Added chance of continuing at a school with fully embedded routines.",
        "assumption",
    ),
    _p(
        "succession.dropped_commitment",
        0.7,
        0.0,
        1.0,
        "fraction",
        "Share of each team member's commitment left when a new leader drops the work.",
        "assumption",
    ),
    _p(
        "succession.practice_loss",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of practice and understanding that leaves with the share of the team that leaves (unless embedded or documented).",
        "assumption",
    ),
    _p(
        "succession.groom_chance",
        1.0 / 6.0,
        0.0,
        1.0,
        "per month",
        "Monthly chance that a working school grooms a successor under a full succession plan (scaled by succession.deep_bench).",
        "assumption",
    ),
    _p(
        "succession.refill_promoted_seat",
        1,
        0,
        1,
        "0/1",
        "1: a teammate promoted from the deep bench into the principal's or the lead's seat leaves their own "
        "seat to a newcomer, drawn as replacements are (a novice unless onboarding or documented knowledge "
        "carries skill over; the default). 0: the promoted teammate's seat is not modelled as vacated, as in the first edition.",
        "assumption",
    ),
    # --- knowledge ----------------------------------------------------------
    _p(
        "knowledge.management",
        0.3,
        0.0,
        1.0,
        "0-1",
        "Share of what schools learn that is documented in the hub's knowledge base. Mechanism: seed 001; the value is an assumption.",
        "assumption",
        L,
    ),
    _p(
        "knowledge.convenings_per_year",
        3,
        0,
        10,
        "per year",
        "Network convenings in a school year (at most one a school month).",
        "Seed003",
        L,
    ),
    _p(
        "knowledge.hub_staff",
        1.0,
        0.0,
        20.0,
        "FTE",
        "Central-office hub staff for the network and knowledge management.",
        "Seed001",
        L,
    ),
    _p(
        "knowledge.schools_per_hub_staff",
        15.0,
        1.0,
        200.0,
        "schools per FTE",
        "Participating schools one hub FTE can fully support.",
        "assumption",
    ),
    _p(
        "knowledge.spread_rate",
        0.15,
        0.0,
        1.0,
        "per convening",
        "How much of the gap to bright spots a school closes at a fully supported convening.",
        "assumption",
        U,
    ),
    _p(
        "knowledge.decay",
        0.01,
        0.0,
        0.2,
        "per month",
        "Monthly loss of the hub's documented knowledge as it goes out of date.",
        "assumption",
    ),
    _p(
        "knowledge.documented_skill",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of the team's skill a newcomer gets from fully managed, complete documented knowledge.",
        "assumption",
    ),
    _p(
        "knowledge.convening_cancel_severity",
        0.5,
        0.0,
        1.0,
        "0-1",
        "Pandemic severity above which convenings are cancelled.",
        "assumption",
    ),
    _p(
        "knowledge.min_hub_capacity",
        0.05,
        0.0,
        1.0,
        "0-1",
        "Hub capacity at or below which no convening is held.",
        "assumption",
    ),
    _p(
        "knowledge.head_start",
        0.3,
        0.0,
        1.0,
        "fraction",
        "Understanding an invited school starts with from complete documented knowledge at full hub capacity.",
        "assumption",
    ),
    _p(
        "knowledge.bright_spot_results",
        0.3,
        0.0,
        1.0,
        "-1 to 1",
        "Recent PDSA results above which a participating school is a bright spot at convenings.",
        "assumption",
    ),
    _p(
        "knowledge.autonomy_aim_loss",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of the common aim that full school autonomy (every school its own aim) takes away.",
        "assumption",
    ),
    _p(
        "knowledge.aim_floor",
        0.25,
        0.0,
        1.0,
        "0-1",
        "Weight of the common aim in a convening's pull with no common aim.",
        "assumption",
    ),
    _p(
        "knowledge.aim_weight",
        0.75,
        0.0,
        1.0,
        "0-1",
        "Weight added by a full common aim.",
        "assumption",
    ),
    # --- rollout ------------------------------------------------------------
    _p(
        "rollout.initial_schools",
        40,
        0,
        5000,
        "schools",
        "Schools invited at the start (at most district.schools).",
        "Seed001",
        L,
    ),
    _p(
        "rollout.cohort_size",
        0,
        0,
        5000,
        "schools",
        "Schools invited in each later cohort (0 = no phased rollout).",
        "Seed001",
        L,
    ),
    _p("rollout.cohort_interval_months", 12, 1, 120, "months", "Months between cohorts.", "Seed001", L),
    _p(
        "rollout.capacity_gate",
        0,
        0,
        1,
        "0/1",
        "1: a later cohort is invited only when the hub can carry it, i.e. when knowledge.hub_staff x "
        "knowledge.schools_per_hub_staff covers the participating schools and the cohort together; otherwise "
        "it waits for the next cohort date. 0: cohorts come on schedule (the first edition's rule). Mechanism: "
        "seed 001 (expand only when teams can be supported).",
        "Seed001",
        L,
    ),
    _p(
        "rollout.min_priority",
        0.3,
        0.0,
        1.0,
        "0-1",
        "Priority of improvement below which the central office stops inviting new cohorts.",
        "assumption",
    ),
    _p(
        "rollout.join_base",
        0.4,
        0.0,
        1.0,
        "probability",
        "Chance an invited school joins (optional participation) before its team's commitment and the why of the message are added.",
        "assumption",
    ),
    _p(
        "rollout.join_why",
        0.3,
        0.0,
        1.0,
        "probability",
        "Added chance of joining from a message framed fully around the why.",
        "assumption",
    ),
    # --- improvement work ---------------------------------------------------
    _p("improvement.cycle_months", 2.0, 0.5, 12.0, "months", "Duration of a PDSA cycle at full pace.", "Seed003"),
    _p(
        "improvement.base_success",
        0.25,
        0.0,
        1.0,
        "probability",
        "Chance a cycle succeeds for a novice team that did not study the problem.",
        "assumption",
    ),
    _p(
        "improvement.skill_effect",
        0.4,
        0.0,
        1.0,
        "probability",
        "Added success chance of a fully skilled team.",
        "assumption",
    ),
    _p(
        "improvement.understanding_effect",
        0.2,
        0.0,
        1.0,
        "probability",
        "Added success chance when the problem is fully understood first. Mechanism: seed 001; the value is an assumption.",
        "assumption",
    ),
    _p(
        "improvement.solutionitis_penalty",
        0.15,
        0.0,
        0.5,
        "probability",
        "Lost success chance when a team jumps to solutions (understanding below one half). Mechanism: seed 001; the value is an assumption.",
        "assumption",
    ),
    _p(
        "improvement.principle_gain",
        0.7,
        0.0,
        1.0,
        "per month",
        "Monthly growth rate of a principle's practice at full-pace work, unit yield and unit difficulty, as a share of the room left.",
        "assumption",
    ),
    _p(
        "improvement.practice_threshold",
        0.5,
        0.1,
        0.9,
        "0-1",
        "Practice level above which a principle counts as practised. Mechanism: seed 003; the value is an assumption.",
        "assumption",
    ),
    _p(
        "improvement.solutionitis_understanding",
        0.5,
        0.0,
        1.0,
        "0-1",
        "Understanding of the problem below which a team counts as jumping to solutions (pays the solutionitis penalty).",
        "assumption",
    ),
    _p(
        "improvement.data_systems_effect",
        0.1,
        0.0,
        0.5,
        "probability",
        "Added success chance of a cycle with full data systems (scaled by governance.top_down_support).",
        "assumption",
    ),
    _p(
        "improvement.knowledge_share",
        0.5,
        0.0,
        1.0,
        "-",
        "Weight of each of local and documented (hub) knowledge in the knowledge a cycle draws on.",
        "assumption",
    ),
    _p(
        "improvement.knowledge_effect",
        0.1,
        0.0,
        0.5,
        "probability",
        "Added success chance from full knowledge (local and documented).",
        "assumption",
    ),
    _p(
        "improvement.min_success",
        0.02,
        0.0,
        0.5,
        "probability",
        "Least chance a finished cycle succeeds.",
        "assumption",
    ),
    _p(
        "improvement.max_success",
        0.98,
        0.5,
        1.0,
        "probability",
        "Greatest chance a finished cycle succeeds.",
        "assumption",
    ),
    _p(
        "improvement.results_memory",
        0.9,
        0.0,
        1.0,
        "per month",
        "Share of the recent-results signal kept from one month to the next.",
        "assumption",
    ),
    _p(
        "improvement.results_update",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Weight of a finished cycle's outcome in the recent-results signal (the rest is kept).",
        "assumption",
    ),
    _p(
        "improvement.failure_results",
        0.5,
        0.0,
        1.0,
        "-",
        "Size of the negative outcome of a failed cycle for a team without disciplined inquiry (inquiry turns failure into learning).",
        "assumption",
    ),
    _p(
        "improvement.learn_from_failure",
        0.1,
        0.0,
        0.5,
        "fraction of gap",
        "Understanding gained from a failed cycle at full disciplined inquiry.",
        "assumption",
    ),
    _p(
        "improvement.learn_from_success",
        0.05,
        0.0,
        0.5,
        "fraction of gap",
        "Understanding gained from a successful cycle.",
        "assumption",
    ),
    _p(
        "improvement.local_knowledge_gain",
        0.1,
        0.0,
        0.5,
        "fraction of gap",
        "Local knowledge gained from a successful cycle.",
        "assumption",
    ),
    _p(
        "improvement.learn_per_cycle",
        0.03,
        0.0,
        0.2,
        "fraction of gap",
        "Skill each team member gains from a finished cycle.",
        "assumption",
    ),
    _p(
        "improvement.learn_by_doing",
        0.01,
        0.0,
        0.1,
        "fraction of gap per month",
        "Skill each team member gains from a month of improvement work.",
        "assumption",
    ),
    _p(
        "improvement.problem_understanding_gain",
        0.05,
        0.0,
        0.5,
        "fraction of gap per month",
        "Understanding a working team gains a month at full practice of the problem focus.",
        "assumption",
    ),
    _p(
        "improvement.embedded_decay_shield",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of principle decay that fully embedded routines prevent.",
        "assumption",
    ),
    _p(
        "improvement.effort_floor",
        0.1,
        0.0,
        1.0,
        "0-1",
        "Priority a team with no commitment still gives improvement work (share of its time used). Mechanism: Repenning 2002; the value is an assumption.",
        "assumption",
    ),
    _p(
        "improvement.own_time",
        0.15,
        0.0,
        1.0,
        "share of full pace",
        "Improvement work a fully committed team does on its own time, beyond its protected time (scaled by its "
        "commitment; only at a school with some protected time left, which is what makes it a working school). Mechanism: seed 003, 5.2.2.1 ('on your own time with no compensation'); the value is calibrated (issue 17; sim/calibrated.toml).",
        "assumption",
    ),
    _p(
        "improvement.own_time_belief",
        1.0,
        0.0,
        1.0,
        "0-1",
        "How far the time a team gives on its own follows its leaders' belief that improvement advances equity: "
        "own time is scaled by 1 - b + 2 b x the belief (0-1, uniform across schools, so the district's mean own "
        "time is unchanged). 0: every school gives the same share of its commitment; 1: schools whose leaders see "
        "the work as their equity agenda give the most. Mechanism: seed 003, 6.1 (leaders interested in equity were "
        "those most likely to implement authentically) and 6.2 (they reported engagement even outside the NIC); the "
        "value is an assumption.",
        "assumption",
    ),
    _p(
        "improvement.own_time_concentration",
        1.0,
        0.0,
        8.0,
        "exponent",
        "How sharply the own time that follows the leaders' equity belief concentrates among the schools whose "
        "leaders hold it most (k): own time is scaled by 1 - b + b x (k + 1) x belief^k (b: own_time_belief; the "
        "belief's k-th power over its mean across schools, so the district's mean own time is unchanged). 1: "
        "linear in the belief (the model before this constant); 0: every school the same; larger: a few schools "
        "give most of the district's own time (with b = 1 the top fifth by belief give 1 - 0.8^(k+1) of it). "
        "No number on the spread across schools was found; the range comes from the spread of unpaid or voluntary "
        "effort across people (TUC 2024: 40% of teachers do unpaid overtime, about k = 2; Wu 2010: the top tenth of "
        "online contributors give 56%, k = 6.8; docs/validation.md); the value is an assumption.",
        "assumption",
    ),
    _p(
        "improvement.yield_base",
        0.4,
        0.0,
        2.0,
        "-",
        "What a full-pace month of practice yields for a novice, uncoached team, relative to the principle gain.",
        "assumption",
    ),
    _p(
        "improvement.skill_yield",
        0.6,
        0.0,
        2.0,
        "-",
        "Yield added by a fully skilled team.",
        "assumption",
    ),
    _p(
        "improvement.coaching_yield",
        0.5,
        0.0,
        2.0,
        "-",
        "Yield added by coaching, in proportion to the visits this month up to one.",
        "assumption",
    ),
    _p(
        "improvement.difficulty_problem",
        1.0,
        0.1,
        10.0,
        "-",
        "Difficulty of becoming problem-focused and user-centred (growth is divided by it).",
        "assumption",
    ),
    _p(
        "improvement.difficulty_variability",
        1.5,
        0.1,
        10.0,
        "-",
        "Difficulty of attending to variability (growth is divided by it).",
        "assumption",
    ),
    _p(
        "improvement.difficulty_system",
        1.5,
        0.1,
        10.0,
        "-",
        "Difficulty of seeing the system (growth is divided by it).",
        "assumption",
    ),
    _p(
        "improvement.difficulty_measurement",
        4.0,
        0.1,
        10.0,
        "-",
        "Difficulty of embracing measurement without data systems (growth is divided by it). Mechanism: seed 003 (5.1.2, a persistent weakness); the value is an assumption.",
        "assumption",
    ),
    _p(
        "improvement.difficulty_inquiry",
        1.5,
        0.1,
        10.0,
        "-",
        "Difficulty of disciplined inquiry, practised only while a PDSA cycle runs (growth is divided by it).",
        "assumption",
    ),
    _p(
        "improvement.difficulty_networks",
        2.0,
        0.1,
        10.0,
        "-",
        "Difficulty of organizing as networks, practised only through exchanges between schools (growth is divided by it). Mechanism: seed 003 (5.1.2, a persistent weakness); the value is an assumption.",
        "assumption",
    ),
    _p(
        "improvement.data_systems_ease",
        0.5,
        0.0,
        0.9,
        "fraction",
        "Share of the difficulty of measurement that full data systems (governance.top_down_support) remove.",
        "assumption",
    ),
    _p(
        "improvement.exchange_between_convenings",
        0.5,
        0.0,
        1.0,
        "0-1",
        "Exchanges between schools in a month without a convening, as a share of a convening month's (times the hub's capacity).",
        "assumption",
    ),
    _p(
        "improvement.decay_problem",
        0.02,
        0.0,
        0.5,
        "per month",
        "Monthly decay of the problem focus when not practised.",
        "assumption",
    ),
    _p(
        "improvement.decay_variability",
        0.03,
        0.0,
        0.5,
        "per month",
        "Monthly decay of attending to variability when not practised.",
        "assumption",
    ),
    _p(
        "improvement.decay_system",
        0.02,
        0.0,
        0.5,
        "per month",
        "Monthly decay of seeing the system when not practised.",
        "assumption",
    ),
    _p(
        "improvement.decay_measurement",
        0.04,
        0.0,
        0.5,
        "per month",
        "Monthly decay of measurement routines (run charts lapse) when not practised.",
        "assumption",
    ),
    _p(
        "improvement.decay_inquiry",
        0.03,
        0.0,
        0.5,
        "per month",
        "Monthly decay of disciplined inquiry when no PDSA cycle runs.",
        "assumption",
    ),
    _p(
        "improvement.decay_networks",
        0.03,
        0.0,
        0.5,
        "per month",
        "Monthly decay of organizing as networks without exchanges between schools.",
        "assumption",
    ),
    _p(
        "improvement.tool_gain",
        0.5,
        0.0,
        1.0,
        "per month",
        "Monthly growth of tool use (fishbone and driver diagrams, templates) at full-pace use. Mechanism: seed 003 (partially authentic implementation); the value is calibrated (issue 17; sim/calibrated.toml).",
        "assumption",
    ),
    _p(
        "improvement.tool_decay",
        0.03,
        0.0,
        0.5,
        "per month",
        "Monthly decay of tool use without use.",
        "assumption",
    ),
    _p(
        "improvement.mandate_tool_push",
        0.6,
        0.0,
        1.0,
        "0-1",
        "Use of the tools a mandate imposes on an engaged school whatever its commitment (compliance). Mechanism: Meyer and Rowan 1977; Yurkofsky 2021 (ceremonial compliance, decoupling); the value is an assumption.",
        "assumption",
    ),
    # --- sensemaking --------------------------------------------------------
    _p(
        "sensemaking.threshold",
        0.33,
        0.1,
        0.9,
        "0-1",
        "Motivation threshold: above it commitment sustains itself, below it reverts.",
        "Calibrated",
    ),
    _p(
        "sensemaking.uptake_rate",
        0.42,
        0.0,
        1.0,
        "per month",
        "Rate at which positive drive raises commitment.",
        "Calibrated",
    ),
    _p(
        "sensemaking.reversion_rate",
        0.043,
        0.0,
        1.0,
        "per month",
        "Rate at which commitment below the threshold reverts.",
        "Calibrated",
    ),
    _p(
        "sensemaking.results_weight",
        1.0,
        0.0,
        3.0,
        "-",
        "Weight of recent PDSA results in the drive (learning begets learning). Mechanism: seed 003; the value is an assumption.",
        "assumption",
    ),
    _p(
        "sensemaking.message_weight",
        0.5,
        0.0,
        3.0,
        "-",
        "Weight of central-office messaging in the drive. Mechanism: seed 003; the value is an assumption.",
        "assumption",
    ),
    _p(
        "sensemaking.coaching_weight",
        0.3,
        0.0,
        3.0,
        "-",
        "Weight of a coaching visit in the drive. Mechanism: seed 002; the value is an assumption.",
        "assumption",
    ),
    _p(
        "sensemaking.pressure_weight",
        0.25,
        0.0,
        3.0,
        "-",
        "Weight of time pressure against the drive. Mechanism: Repenning and Sterman 2002; the value is an assumption.",
        "assumption",
    ),
    _p(
        "sensemaking.fatigue_weight",
        0.5,
        0.0,
        3.0,
        "-",
        "Weight of initiative fatigue against the drive. Mechanism: seed 001; the value is an assumption.",
        "assumption",
    ),
    _p(
        "sensemaking.fatigue_per_change",
        0.25,
        0.0,
        1.0,
        "0-1",
        "Fatigue added by a leader or initiative that comes and goes. Mechanism: seed 001; the value is an assumption.",
        "assumption",
    ),
    _p("sensemaking.fatigue_recovery", 0.02, 0.0, 0.5, "per month", "Monthly recovery from fatigue.", "assumption"),
    _p(
        "sensemaking.pause_rate",
        0.033,
        0.0,
        1.0,
        "per month",
        "Chance an engaged school under full stress and no commitment pauses.",
        "Calibrated",
    ),
    _p(
        "sensemaking.resume_rate",
        0.54,
        0.0,
        1.0,
        "per month",
        "Chance a paused, fully committed school without stress resumes.",
        "Calibrated",
    ),
    _p(
        "sensemaking.opt_out_rate",
        0.046,
        0.0,
        1.0,
        "per month",
        "Chance a paused school under full stress and no commitment opts out (optional participation only).",
        "Calibrated",
    ),
    _p(
        "sensemaking.threshold_width",
        0.1,
        0.01,
        0.3,
        "0-1",
        "Half-width of the tipping point: commitment sustains itself fully above threshold + width, "
        "not at all below threshold - width (a smoothstep between).",
        "assumption",
    ),
    _p(
        "sensemaking.ownership_base",
        0.5,
        0.0,
        1.0,
        "0-1",
        "Ownership of the work a school feels with no autonomy and no mandate.",
        "assumption",
    ),
    _p(
        "sensemaking.ownership_autonomy",
        0.5,
        0.0,
        1.0,
        "0-1",
        "Ownership added by full school autonomy (own aims), scaled by governance.school_autonomy.",
        "assumption",
    ),
    _p(
        "sensemaking.mandate_ownership_loss",
        0.3,
        0.0,
        1.0,
        "fraction",
        "Share of ownership lost under required participation (a mandate).",
        "assumption",
    ),
    _p(
        "sensemaking.max_felt_visits",
        2.0,
        0.0,
        8.0,
        "visits per month",
        "Coaching visits a month beyond which more visits add nothing to the drive.",
        "assumption",
    ),
    _p(
        "sensemaking.mandate_pause_factor",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Factor on an engaged school's chance of pausing under a mandate.",
        "assumption",
    ),
    _p(
        "sensemaking.mandate_pull_back",
        0.25,
        0.0,
        1.0,
        "per month",
        "Least monthly chance that a paused school under a mandate is pulled back.",
        "assumption",
    ),
    _p(
        "sensemaking.visit_resume_pull",
        0.5,
        0.0,
        1.0,
        "-",
        "Pull of a coaching visit (at most one counted) on a paused school's return.",
        "assumption",
    ),
    _p(
        "sensemaking.urgency_resume_pull",
        0.5,
        0.0,
        1.0,
        "-",
        "Pull of the urgency of the felt message on a paused school's return (times urgency x message).",
        "assumption",
    ),
    _p(
        "sensemaking.min_pause_months",
        3,
        0,
        24,
        "months",
        "School months a school must have been paused before it can opt out.",
        "assumption",
    ),
    _p(
        "sensemaking.initiative_end_fatigue",
        0.5,
        0.0,
        1.0,
        "fraction",
        "Share of a change's fatigue (sensemaking.fatigue_per_change) added when a competing initiative ends.",
        "assumption",
    ),
    _p(
        "sensemaking.ownership_belief",
        0.4,
        0.0,
        1.0,
        "0-1",
        "Ownership added where the school's leaders fully see improvement as advancing equity. Mechanism: seed 003 (the authentic schools' leaders saw it so); the value is an assumption.",
        "assumption",
    ),
    _p(
        "sensemaking.reactance",
        0.05,
        0.0,
        0.5,
        "per month",
        "Push against a mandate on commitment at a school with no autonomy (scaled by 1 - governance.school_autonomy).",
        "assumption",
    ),
    _p(
        "sensemaking.drift",
        0.1,
        0.0,
        0.2,
        "per month",
        "Share of commitment lost each month without reinforcement. Mechanism: Repenning 2002; the value is calibrated (issue 17; sim/calibrated.toml).",
        "assumption",
    ),
    # --- institutionalization -----------------------------------------------
    _p(
        "institution.embed_rate",
        0.03,
        0.0,
        0.5,
        "per month",
        "Growth of routine embeddedness at full quality of practice and full effort.",
        "assumption",
    ),
    _p(
        "institution.integration_boost",
        1.0,
        0.0,
        5.0,
        "-",
        "Relative extra growth of embeddedness when fully integrated. Mechanism: seed 001; the value is an assumption.",
        "assumption",
    ),
    _p(
        "institution.embed_decay",
        0.02,
        0.0,
        0.5,
        "per month",
        "Decay of embeddedness without practice. Mechanism: seed 001; the value is an assumption.",
        "assumption",
    ),
    _p(
        "institution.hazard",
        0.05,
        0.0,
        0.5,
        "per month",
        "Monthly chance that a fully embedded school practising authentically is institutionalized (before the factors below).",
        "assumption",
    ),
    _p(
        "institution.hazard_shape",
        2.0,
        0.5,
        6.0,
        "-",
        "Exponent of embeddedness in the institutionalization hazard (higher: only well-embedded schools).",
        "assumption",
    ),
    _p(
        "institution.integration_hazard",
        1.0,
        0.0,
        5.0,
        "-",
        "Relative rise of the institutionalization hazard when improvement is fully integrated into existing structures. Mechanism: seed 001; the value is an assumption.",
        "assumption",
    ),
    _p(
        "institution.bench_hazard",
        0.5,
        0.0,
        3.0,
        "per successor",
        "Relative rise of the institutionalization hazard per groomed successor on the deep bench. Mechanism: seed 001; the value is an assumption.",
        "assumption",
    ),
    _p(
        "institution.stable_leader_months",
        24.0,
        0.0,
        120.0,
        "months",
        "Principal's tenure below which the leadership counts as unstable for institutionalization.",
        "assumption",
    ),
    _p(
        "institution.new_leader_hazard",
        0.3,
        0.0,
        1.0,
        "fraction",
        "Institutionalization hazard under a principal newer than institution.stable_leader_months, relative to a stable one.",
        "assumption",
    ),
    _p(
        "institution.loss_hazard",
        0.02,
        0.0,
        0.5,
        "per month",
        "Monthly chance an institutionalized school loses it while its work is stalled (a leader left with no successor) or a competing initiative runs.",
        "assumption",
    ),
    # --- costs --------------------------------------------------------------
    _p(
        "costs.coach_salary",
        97_000.0,
        0.0,
        500_000.0,
        "$ per year",
        "Salary and benefits of one coach in the engine's running cost: the BLS median pay plus about 30% "
        "benefits (the 30% is an assumption; a plan comparison's budget uses costs.coach_wage and "
        "costs.benefits_rate instead).",
        "BLS",
    ),
    _p(
        "costs.staff_hourly",
        50.0,
        0.0,
        300.0,
        "$ per hour",
        "Cost of an hour of a team member's protected time.",
        "NCES-salary",
    ),
    _p("costs.convening", 5_000.0, 0.0, 200_000.0, "$ per convening", "Cost of one network convening.", "assumption"),
    _p(
        "costs.hub_salary",
        110_000.0,
        0.0,
        500_000.0,
        "$ per FTE-year",
        "Salary and benefits of one hub FTE.",
        "assumption",
    ),
    _p(
        "costs.successor_stipend",
        3_000.0,
        0.0,
        50_000.0,
        "$ per successor-year",
        "Stipend and training for each groomed successor on a school's deep bench.",
        "assumption",
    ),
    # --- costs: the district budget of a plan comparison (improvesim compare) ----
    _p(
        "costs.coach_wage",
        74_600.0,
        0.0,
        500_000.0,
        "$ per year",
        "Salary (wages alone) of one coach in a plan comparison's budget; benefits are added at costs.benefits_rate.",
        "BLS",
    ),
    _p(
        "costs.benefits_rate",
        0.61,
        0.0,
        2.0,
        "fraction of wages",
        "Employer benefits (insurance, retirement, paid leave, legally required) per dollar of wages, in a plan "
        "comparison's budget.",
        "BLS-ECEC",
    ),
    _p(
        "costs.external_coach_daily",
        900.0,
        0.0,
        10_000.0,
        "$ per coaching day",
        "Day rate an outside organisation bills for an external coach (coaching.model = external), all costs "
        "included: replaces the coach's salary, benefits and training in a plan comparison's budget, and "
        "costs.coach_salary in the running cost.",
        "assumption",
    ),
    _p(
        "costs.coach_days",
        180.0,
        0.0,
        260.0,
        "days per year",
        "Days a year an external coach is billed for (a school year of coaching).",
        "assumption",
    ),
    _p(
        "costs.coach_training",
        5_000.0,
        0.0,
        100_000.0,
        "$ per coach hired",
        "Training of each newly hired coach (the first coaches and every replacement) in a plan comparison's budget.",
        "assumption",
    ),
    _p(
        "costs.substitute_daily",
        147.0,
        0.0,
        1_000.0,
        "$ per day",
        "Pay of a substitute teacher for one day, in a plan comparison's budget: protected time added on top of "
        "duties, and convening attendance, are released with substitutes.",
        "BLS-OEWS-sub",
    ),
    _p(
        "costs.substitute_day_hours",
        7.0,
        1.0,
        12.0,
        "hours",
        "Hours of a teacher's time one substitute day releases.",
        "assumption",
    ),
    _p(
        "costs.lead_stipend",
        2_000.0,
        0.0,
        50_000.0,
        "$ per engaged school per year",
        "Stipend of each engaged school's improvement lead, in a plan comparison's budget.",
        "assumption",
    ),
    _p(
        "costs.data_system",
        1_500.0,
        0.0,
        50_000.0,
        "$ per participating school per year",
        "Data system licences and support for each school taking part (engaged or paused), in a plan "
        "comparison's budget.",
        "assumption",
    ),
    _p(
        "costs.attendees_per_school",
        2.0,
        0.0,
        20.0,
        "people per engaged school",
        "People each engaged school sends to a convening, each released with a substitute day, in a plan "
        "comparison's budget.",
        "assumption",
    ),
    _p(
        "costs.convening_attendee",
        100.0,
        0.0,
        5_000.0,
        "$ per attendee",
        "Meals, materials and travel of each convening attendee, in a plan comparison's budget (on top of "
        "costs.convening, the fixed cost of holding it).",
        "assumption",
    ),
)


#: The adopted calibration: the joint point of the posterior that ``scripts/adopt_calibration.py`` made the
#: defaults of the calibrated constants, with its provenance.  Absent until a calibration is adopted.
CALIBRATED_FILE = Path(__file__).with_name("calibrated.toml")


def read_adopted(path: Path = CALIBRATED_FILE) -> dict:
    """The adopted calibration (``{"provenance": {...}, "values": {name: value}}``), or {} when there is none.

    Raises :class:`AdoptedFileError` for a file that is not TOML, has tables other than
    ``[provenance]`` and ``[values]``, or lacks a ``[values]`` table (which would silently
    leave every calibrated constant at its first edition's value).
    """
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as f:
            adopted = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AdoptedFileError(
            f"{path}: not valid TOML ({exc}); allowed: the file scripts/adopt_calibration.py writes"
        ) from None
    unknown = sorted(set(adopted) - {"provenance", "values"})
    if unknown:
        raise AdoptedFileError(f"{path}: {unknown[0]}: unknown key; allowed: [provenance] and [values] tables")
    for table in ("provenance", "values"):
        if not isinstance(adopted.get(table), dict):
            raise AdoptedFileError(f"{path}: [{table}]: missing or not a table; allowed: a [{table}] table")
    adopted["path"] = path
    return adopted


def with_adopted(parameters: tuple[Param, ...], adopted: dict) -> tuple[Param, ...]:
    """``parameters`` with the adopted calibration's values as defaults (source "Calibrated").

    Constants marked Calibrated that the adopted calibration does not
    calibrate keep their first edition's values, marked "FirstEdition".
    Raises :class:`AdoptedFileError` (a ValueError) for an unknown constant, or a value
    that is not a finite number of the parameter's kind (text, true/false, 3.5 for an
    integer) or lies out of its range.
    """
    if not adopted:
        return parameters
    where = adopted.get("path", CALIBRATED_FILE)
    values = adopted.get("values", {})
    names = {p.name for p in parameters}
    unknown = sorted(set(values) - names)
    if unknown:
        raise AdoptedFileError(f"{where}: values.{unknown[0]}: not a parameter; allowed: a numeric model parameter")
    out = []
    for p in parameters:
        if p.name in values:
            p = replace(p, default=adopted_value(p, values[p.name], where), source="Calibrated")
        elif p.source == "Calibrated":
            p = replace(p, source="FirstEdition")
        out.append(p)
    return tuple(out)


def adopted_value(p: Param, raw: object, where: object) -> int | float:
    """One adopted value of parameter ``p`` in its type (``where`` names the file in the error).

    Raises :class:`AdoptedFileError` for text, true/false, NaN or infinity, a fraction for an
    integer parameter, or a value out of the parameter's range.
    """

    def bad() -> AdoptedFileError:
        return AdoptedFileError(f"{where}: values.{p.name}: got {raw!r}; allowed: {p.allowed()}")

    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise bad()
    if p.kind == "int" and not float(raw).is_integer():
        raise bad()
    value = int(raw) if p.kind == "int" else float(raw)
    if not p.low <= value <= p.high:
        raise bad()
    return value


ADOPTED = read_adopted()
if ADOPTED:
    _prov = ADOPTED.get("provenance", {})
    SOURCES["Calibrated"] = (
        f"Calibrated by ABC-SMC (`improvesim calibrate {_prov.get('experiment', '?')}`, seed {_prov.get('seed', '?')}, "
        f"{_prov.get('date', '?')}, commit {_prov.get('commit', '?')}) on the case of seed 003, the posterior "
        "conditioned on the second edition's structure criteria: its joint point "
        f"({_prov.get('point_rule', 'kde mode')}; sim/calibrated.toml); the posterior is bundled as "
        "`--posterior viano2024`; procedure in docs/validation.md."
    )
    SOURCES["FirstEdition"] = (
        "The posterior median of the first edition's rejection-ABC calibration; a nuisance constant (drawn from its "
        "prior) in the second edition's calibration, not calibrated."
    )
PARAMETERS = with_adopted(PARAMETERS, ADOPTED)

BY_NAME: dict[str, Param] = {p.name: p for p in PARAMETERS}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(p.section for p in PARAMETERS)) + ("shocks",)

#: Fields of one ``[[shocks]]`` table: name -> (kind, low, high, unit, description).
SHOCK_FIELDS: dict[str, tuple[str, float, float, str, str]] = {
    "kind": (
        "choice",
        0,
        0,
        "-",
        '"pandemic" (demands rise, coaching goes virtual, convenings stop, turnover rises) or "hub_loss" (central-office hub capacity is lost)',
    ),
    "start_month": ("int", 0, 360, "months", "Month the shock starts (0 = the first August)."),
    "months": ("int", 1, 360, "months", "How long it lasts."),
    "severity": ("float", 0.0, 1.0, "0-1", "How strong it is."),
}
SHOCK_KINDS = ("pandemic", "hub_loss")
MAX_SHOCKS = 8
