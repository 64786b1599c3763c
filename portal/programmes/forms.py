"""Forms of programmes and funded projects: the record, co-financing, milestones and photos."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from portal.budgeting.forms import THEME_LABELS
from portal.economy.forms import (
    check_coordinate,
    coordinate,
    latitude_field,
    longitude_field,
)
from portal.economy.vocab import FAIR_KINDS, choices
from portal.programmes.vocab import AGENCY_LABELS, LEVEL_LABELS, STATUS_LABELS

# Programme and project amounts are BIGINT columns: a regional fund passes 2,147 million pesos.
MAX_PESOS = 10**13


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _end_after_start(start: Any, end: Any) -> None:
    if start.data and end.data and end.data < start.data:
        raise ValidationError(_l("The end is before the start."))


class ProgrammeForm(FlaskForm):
    """A programme of the catalogue."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=60),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9-]*$", message=_l("Use letters, digits and hyphens.")),
        ],
        description=_l("Short and unique, e.g. fndr-valparaiso-2027"),
    )
    agency = SelectField(_l("Agency"), choices=list(AGENCY_LABELS.items()))
    level = SelectField(_l("Level"), choices=list(LEVEL_LABELS.items()))
    region_cut = SelectField(_l("Region"), validators=[Optional()])
    yearly_amount = IntegerField(
        _l("Yearly amount (pesos)"), validators=[Optional(), NumberRange(min=0, max=MAX_PESOS)]
    )
    period_start = DateField(_l("Period start"), validators=[Optional()])
    period_end = DateField(_l("Period end"), validators=[Optional()])
    axes = TextAreaField(
        _l("Strategic axes of the regional development strategy (ERD)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("One per line."),
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    eligibility_text = TextAreaField(
        _l("Eligibility rules"), validators=[Optional(), Length(max=4000)]
    )
    min_stalls = IntegerField(
        _l("Fairs: fewest stalls"),
        validators=[Optional(), NumberRange(min=0, max=100000)],
        description=_l("Leave empty when the programme does not ask it."),
    )
    legal_organization_required = BooleanField(
        _l("Requires an organization with legal personality")
    )
    fair_kinds = MultiCheckboxField(
        _l("Fairs: kinds accepted"),
        choices=choices(FAIR_KINDS),
        validators=[Optional()],
        description=_l("Check none when the programme is not about fairs or accepts any kind."),
    )
    url = URLField(_l("Web page"), validators=[Optional(), Length(max=300)])
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=160)])
    contact_email = EmailField(
        _l("Contact email"), validators=[Optional(), Email(), Length(max=254)]
    )
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=40)])
    active = BooleanField(_l("Open (offered to projects)"), default=True)

    def validate_period_end(self, field: Any) -> None:
        _end_after_start(self.period_start, field)

    def validate_url(self, field: Any) -> None:
        if field.data and not field.data.startswith(("https://", "http://")):
            raise ValidationError(_l("Write an address that starts with https://"))

    def values(self) -> dict[str, Any]:
        """Return the programme's fields for the service."""
        data = {
            name: getattr(self, name).data
            for name in (
                "name",
                "code",
                "agency",
                "level",
                "region_cut",
                "yearly_amount",
                "period_start",
                "period_end",
                "axes",
                "description",
                "eligibility_text",
                "min_stalls",
                "legal_organization_required",
                "url",
                "contact_name",
                "contact_email",
                "contact_phone",
                "active",
            )
        }
        data["region_cut"] = data["region_cut"] or None
        data["fair_kinds"] = ",".join(k for k in self.fair_kinds.data or [] if k in FAIR_KINDS)
        return data


class ProjectForm(FlaskForm):
    """A funded project's record."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=6000)])
    theme = SelectField(_l("Theme"), choices=list(THEME_LABELS.items()))
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(min=2000, max=2100)])
    status = SelectField(_l("Status"), choices=list(STATUS_LABELS.items()))
    progress = IntegerField(
        _l("Progress (%)"), default=0, validators=[Optional(), NumberRange(min=0, max=100)]
    )
    budget = IntegerField(
        _l("Budget (pesos)"), validators=[InputRequired(), NumberRange(min=0, max=MAX_PESOS)]
    )
    spent = IntegerField(
        _l("Spent to date (pesos)"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=MAX_PESOS)],
    )
    bip_code = StringField(
        _l("BIP code"),
        validators=[Optional(), Length(max=20), Regexp(r"^[0-9-]+$", message=_l("Digits only."))],
        description=_l("The code of the national investment system, when it has one."),
    )
    start_date = DateField(_l("Start"), validators=[Optional()])
    end_date = DateField(_l("End"), validators=[Optional()])
    district = StringField(_l("Sector or district"), validators=[Optional(), Length(max=120)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    latitude = latitude_field()
    longitude = longitude_field()
    organization_id = SelectField(_l("Implementing organization"), coerce=str)

    def validate_latitude(self, field: Any) -> None:
        check_coordinate(field, -90, 90)
        if bool(field.data) != bool(self.longitude.data):
            raise ValidationError(_l("Give both latitude and longitude, or neither."))

    def validate_longitude(self, field: Any) -> None:
        check_coordinate(field, -180, 180)

    def validate_end_date(self, field: Any) -> None:
        _end_after_start(self.start_date, field)

    def values(self) -> dict[str, Any]:
        """Return the project's fields for the service."""
        org = self.organization_id.data or ""
        return {
            "title": self.title.data,
            "description": self.description.data or "",
            "theme": self.theme.data,
            "year": self.year.data,
            "status": self.status.data,
            "progress": self.progress.data or 0,
            "budget": self.budget.data,
            "spent": self.spent.data or 0,
            "bip_code": self.bip_code.data or "",
            "start_date": self.start_date.data,
            "end_date": self.end_date.data,
            "district": self.district.data or "",
            "address": self.address.data or "",
            "latitude": coordinate(self.latitude.data),
            "longitude": coordinate(self.longitude.data),
            "organization_id": int(org) if org.isdigit() else None,
        }


class FundingForm(FlaskForm):
    """A programme's contribution to a project."""

    programme_id = SelectField(_l("Programme"), coerce=int, validators=[InputRequired()])
    amount = IntegerField(
        _l("Amount it contributes (pesos)"),
        validators=[InputRequired(), NumberRange(min=0, max=MAX_PESOS)],
    )
    agreement_ref = StringField(
        _l("Agreement reference"),
        validators=[Optional(), Length(max=100)],
        description=_l("e.g. the number of the agreement or resolution"),
    )
    agreement_date = DateField(_l("Agreement date"), validators=[Optional()])
    start_date = DateField(_l("Funding from"), validators=[Optional()])
    end_date = DateField(_l("Funding until"), validators=[Optional()])

    def validate_end_date(self, field: Any) -> None:
        _end_after_start(self.start_date, field)


class MilestoneForm(FlaskForm):
    """A new milestone."""

    title = StringField(_l("Milestone"), validators=[DataRequired(), Length(max=200)])
    planned_on = DateField(_l("Planned date"), validators=[InputRequired()])
    done_on = DateField(_l("Done on"), validators=[Optional()])


class MilestoneDoneForm(FlaskForm):
    """The date a milestone was reached (empty: not yet)."""

    done_on = DateField(_l("Done on"), validators=[Optional()])


class PhotoForm(FlaskForm):
    """A photo of progress."""

    photo = FileField(_l("Photo (JPEG, PNG or WebP, up to 5 MB)"), validators=[FileRequired()])
    caption = StringField(
        _l("What it shows"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("A short description for people who cannot see the photo."),
    )
