"""Forms for rounds, rules, districts, proposals, review and the census."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import (
    DateField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.budgeting.models import AllocationRule, DistrictMode, Eligibility, Method

SANTIAGO = ZoneInfo("America/Santiago")
MAX_PESOS = 2_000_000_000  # fits an INTEGER column on every backend

THEME_LABELS = {
    "fairs-markets": _l("Fairs and markets"),
    "local-commerce": _l("Local commerce"),
    "sse-organizations": _l("Social economy organizations"),
    "tourism": _l("Tourism"),
    "training": _l("Training"),
    "digitalisation": _l("Digitalisation"),
    "other": _l("Other"),
}
METHOD_LABELS = {
    Method.APPROVAL.value: _l("Approval: choose up to a number of projects"),
    Method.KNAPSACK.value: _l("Budget: choose projects whose total cost fits the budget"),
    Method.CUMULATIVE.value: _l("Points: spread a number of points among projects"),
    Method.RANKED.value: _l("Ranking: order your favourite projects"),
}
RULE_LABELS = {
    AllocationRule.GREEDY.value: _l("Most votes first (greedy)"),
    AllocationRule.GREEDY_THRESHOLD.value: _l("Most votes first, with a minimum number of votes"),
    AllocationRule.MES_ADD1.value: _l("Method of Equal Shares (proportional)"),
}
DISTRICT_MODE_LABELS = {
    DistrictMode.DISTRICT.value: _l("Each resident votes in their district"),
    DistrictMode.DISTRICT_AND_COMUNA.value: _l(
        "Each resident votes in their district and in the comuna-wide list"
    ),
}
PAPER_CONFLICT_LABELS = {
    "keep-first": _l("The first ballot counts; the paper ballot is refused"),
    "paper-replaces": _l("The paper ballot replaces the online ballot"),
}
ELIGIBILITY_LABELS = {
    Eligibility.CENSUS.value: _l("Only residents in the census"),
    Eligibility.CENSUS_OR_DECLARED.value: _l(
        "Residents in the census, and others under a sworn declaration"
    ),
}


class LocalDateTimeField(DateTimeLocalField):
    """A datetime typed in Santiago time, kept as an aware UTC datetime."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, datetime) and self.data.tzinfo is None:
            self.data = self.data.replace(tzinfo=SANTIAGO).astimezone(UTC)

    def _value(self) -> str:
        if isinstance(self.data, datetime):
            local = self.data.astimezone(SANTIAGO) if self.data.tzinfo else self.data
            return local.strftime("%Y-%m-%dT%H:%M")
        return super()._value()


class MultiCheckboxField(SelectMultipleField):
    """Several checkboxes for one list."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def pesos(
    label: Any, *, required: bool = True, minimum: int = 1, description: Any = ""
) -> IntegerField:
    """An amount of whole pesos."""
    return IntegerField(
        label,
        validators=[
            InputRequired() if required else Optional(),
            NumberRange(
                min=minimum,
                max=MAX_PESOS,
                message=_l("Write a whole number of pesos from %(min)s up to %(max)s."),
            ),
        ],
        description=description,
    )


class RoundForm(FlaskForm):
    """A round's description, budget, themes and phase dates."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10000)])
    total_budget = pesos(_l("Total budget (pesos)"), description=_l("Whole pesos, without dots."))
    themes = MultiCheckboxField(
        _l("Themes"), choices=list(THEME_LABELS.items()), validators=[DataRequired()]
    )
    proposals_start = LocalDateTimeField(_l("Proposals open"), validators=[InputRequired()])
    review_start = LocalDateTimeField(_l("Technical review starts"), validators=[InputRequired()])
    voting_start = LocalDateTimeField(_l("Voting opens"), validators=[InputRequired()])
    results_start = LocalDateTimeField(
        _l("Voting closes and results follow"), validators=[InputRequired()]
    )
    implementation_start = LocalDateTimeField(
        _l("Implementation starts"), validators=[InputRequired()]
    )
    closed_start = LocalDateTimeField(_l("Round closes"), validators=[InputRequired()])


class RulesForm(FlaskForm):
    """The voting rules of a round."""

    method = SelectField(_l("Voting method"), choices=list(METHOD_LABELS.items()))
    min_selections = IntegerField(
        _l("Fewest projects a voter must choose"),
        default=1,
        validators=[InputRequired(), NumberRange(min=0, max=100)],
    )
    max_selections = IntegerField(
        _l("Most projects a voter may choose"),
        validators=[Optional(), NumberRange(min=1, max=100)],
        description=_l("Leave empty for no limit (budget and points methods)."),
    )
    points_total = IntegerField(
        _l("Points each voter spreads"), validators=[Optional(), NumberRange(min=1, max=1000)]
    )
    points_cap = IntegerField(
        _l("Most points on one project"), validators=[Optional(), NumberRange(min=1, max=1000)]
    )
    rank_k = IntegerField(
        _l("Longest ranking"), validators=[Optional(), NumberRange(min=1, max=20)]
    )
    allocation_rule = SelectField(_l("How winners are chosen"), choices=list(RULE_LABELS.items()))
    threshold_votes = IntegerField(
        _l("Minimum votes to be funded"),
        validators=[Optional(), NumberRange(min=1, max=10_000_000)],
    )
    district_mode = SelectField(
        _l("Lists on the ballot"), choices=list(DISTRICT_MODE_LABELS.items())
    )
    comuna_wide_budget = pesos(
        _l("Budget of the comuna-wide list (pesos)"), required=False, minimum=0
    )
    min_age = IntegerField(
        _l("Minimum age to vote"),
        default=14,
        validators=[InputRequired(), NumberRange(min=0, max=120)],
    )
    age_reference_date = DateField(
        _l("Date at which age counts"),
        validators=[Optional()],
        description=_l("Leave empty to use the day voting closes."),
    )
    eligibility = SelectField(_l("Who may vote"), choices=list(ELIGIBILITY_LABELS.items()))
    paper_conflict = SelectField(
        _l("A person who voted online brings a paper ballot"),
        choices=list(PAPER_CONFLICT_LABELS.items()),
    )


class DistrictForm(FlaskForm):
    """A district of a round."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    code = StringField(
        _l("Code"),
        validators=[Optional(), Length(max=40)],
        description=_l("As written in the census file, if it differs from the name."),
    )
    budget = pesos(_l("Budget (pesos)"), minimum=0)


class ProposalForm(FlaskForm):
    """A resident's proposal."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(min=5, max=160)])
    summary = StringField(
        _l("Summary in one sentence"), validators=[DataRequired(), Length(max=300)]
    )
    description = TextAreaField(
        _l("Description"),
        validators=[DataRequired(), Length(min=20, max=10000)],
        description=_l("What would be done, where, for whom, and why it helps the local economy."),
    )
    theme = SelectField(_l("Theme"), choices=[], validators=[DataRequired()])
    district_id = SelectField(_l("District"), choices=[], validators=[Optional()])
    estimated_cost = pesos(_l("Estimated cost (pesos)"))
    address = StringField(_l("Address or place"), validators=[Optional(), Length(max=200)])
    latitude = DecimalField(
        _l("Latitude"),
        places=6,
        validators=[Optional(), NumberRange(min=-56, max=-17)],
        description=_l("Optional, e.g. -33.0472"),
    )
    longitude = DecimalField(
        _l("Longitude"),
        places=6,
        validators=[Optional(), NumberRange(min=-110, max=-66)],
        description=_l("Optional, e.g. -71.6127"),
    )
    organization_id = SelectField(
        _l("Submitted by"),
        choices=[],
        default="",
        description=_l("An organization you represent in the registry, or yourself."),
    )
    implementer_id = SelectField(
        _l("Organization that would carry it out"),
        choices=[],
        default="",
        description=_l("From the comuna's registry of organizations."),
    )
    implementing_organization = StringField(
        _l("Or name another organization"), validators=[Optional(), Length(max=200)]
    )
    images = MultipleFileField(_l("Images (up to 3: JPEG, PNG or WebP, 5 MB each)"))


class ReviewForm(FlaskForm):
    """The technical review of a proposal."""

    decision = SelectField(
        _l("Decision"), choices=[("feasible", _l("Feasible")), ("not_feasible", _l("Not feasible"))]
    )
    reason = TextAreaField(_l("Public reason"), validators=[DataRequired(), Length(max=5000)])
    final_cost = pesos(_l("Final cost (pesos)"), required=False)


class MergeForm(FlaskForm):
    """Merge a duplicate into another proposal."""

    into = SelectField(_l("Merge into"), choices=[], validators=[DataRequired()])
    reason = TextAreaField(_l("Public reason"), validators=[Optional(), Length(max=5000)])


class WithdrawForm(FlaskForm):
    """Withdraw a proposal."""

    reason = TextAreaField(_l("Public reason"), validators=[DataRequired(), Length(max=5000)])


class CensusForm(FlaskForm):
    """Upload the census CSV."""

    file = FileField(_l("Census file (CSV)"), validators=[FileRequired()])
