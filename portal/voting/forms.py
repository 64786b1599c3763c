"""Forms of the eligibility check, the sworn declaration, voting sites and paper ballots."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional


class CheckForm(FlaskForm):
    """RUT and the census's second fact."""

    rut = StringField(
        _l("RUT"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("For example 12.345.678-5"),
        render_kw={"autocomplete": "off", "inputmode": "text", "autocapitalize": "characters"},
    )
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])
    serial = StringField(
        _l("Or the serial number of your ID card"),
        validators=[Optional(), Length(max=20)],
        description=_l("The “número de documento” on your cédula, e.g. 123.456.789"),
        render_kw={"autocomplete": "off"},
    )
    link = BooleanField(_l("Remember my RUT on my account, so I can vote without typing it"))


class DeclareForm(FlaskForm):
    """A resident not in the census, under a sworn declaration."""

    rut = StringField(
        _l("RUT"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("For example 12.345.678-5"),
        render_kw={"autocomplete": "off"},
    )
    birth_date = DateField(_l("Date of birth"), validators=[InputRequired()])
    district = SelectField(_l("District where you live"), choices=[], validate_choice=False)
    sworn = BooleanField(
        _l("I declare under oath that I live in this comuna and that I have not voted before."),
        validators=[DataRequired(_l("Tick the declaration to go on."))],
    )


class SiteForm(FlaskForm):
    """A voting site."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=160)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])


class PaperVoterForm(FlaskForm):
    """The RUT of a person voting on paper, and where."""

    rut = StringField(
        _l("Voter's RUT"),
        validators=[DataRequired(), Length(max=20)],
        render_kw={"autocomplete": "off", "autofocus": True},
    )
    site = SelectField(_l("Voting site"), choices=[], validate_choice=False)


class PaperBallotForm(FlaskForm):
    """The second step of a paper ballot: choices are read from the request (see ballots)."""

    voter = HiddenField(validators=[DataRequired()])
    site = HiddenField()


class PaperImportForm(FlaskForm):
    """A CSV file of paper ballots."""

    file = FileField(_l("CSV file"), validators=[FileRequired()])
    site = SelectField(_l("Voting site"), choices=[], validate_choice=False)
