"""Forms of the registry: organizations, self-registration, fairs, merges and imports."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts.forms import MIN_PASSWORD
from portal.economy.services import clean_rut, parse_dates, parse_one_offs
from portal.economy.vocab import (
    FAIR_KINDS,
    LEGAL_FORMS,
    QUALIFIERS,
    SECTORS,
    WEEKDAY_LABELS,
    choices,
)


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes (weekdays, organizations)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def validate_rut(form: Any, field: Any) -> None:
    """Accept an empty RUT or a valid one (check digit included)."""
    try:
        clean_rut(field.data)
    except ValueError as error:
        raise ValidationError(
            _l("This RUT is not valid: check the number and the check digit.")
        ) from error


def latitude_field() -> StringField:
    """An optional latitude in decimal degrees (checked with check_coordinate)."""
    return StringField(
        _l("Latitude"),
        validators=[Optional(), Length(max=20)],
        description=_l("Optional, decimal degrees, e.g. -33.0458"),
    )


def longitude_field() -> StringField:
    """An optional longitude in decimal degrees (checked with check_coordinate)."""
    return StringField(
        _l("Longitude"),
        validators=[Optional(), Length(max=20)],
        description=_l("Optional, decimal degrees, e.g. -71.6197"),
    )


class LocationForm(Form):
    """One place of an organization (no CSRF of its own: it lives inside a FlaskForm)."""

    name = StringField(
        _l("Name of the place"),
        validators=[Optional(), Length(max=200)],
        description=_l("Optional, e.g. 'Stall 34' or 'Workshop'."),
    )
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    comuna_cut = SelectField(_l("Comuna"), validators=[Optional()])
    latitude = latitude_field()
    longitude = longitude_field()

    def validate_latitude(self, field: Any) -> None:
        check_coordinate(field, -90, 90)

    def validate_longitude(self, field: Any) -> None:
        check_coordinate(field, -180, 180)


def check_coordinate(field: Any, low: float, high: float) -> None:
    """Check a decimal-degrees field (empty is fine) against its range."""
    if not field.data:
        return
    try:
        value = float(str(field.data).replace(",", "."))
    except ValueError as error:
        raise ValidationError(_l("Write a number in decimal degrees.")) from error
    if not low <= value <= high:
        raise ValidationError(
            _l("Write a number between %(low)d and %(high)d.", low=low, high=high)
        )


def coordinate(value: str | None) -> float | None:
    """Read a validated coordinate field."""
    return float(str(value).replace(",", ".")) if value else None


class OrganizationForm(FlaskForm):
    """An organization's record, as staff or its representative fills it in."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    rut = StringField(
        _l("RUT"),
        validators=[Optional(), Length(max=14), validate_rut],
        description=_l("Optional for informal groups, e.g. 65.123.456-7"),
    )
    legal_form = SelectField(
        _l("Legal form"), choices=choices(LEGAL_FORMS), validators=[DataRequired()]
    )
    sector = SelectField(
        _l("Economic sector"), choices=choices(SECTORS), validators=[DataRequired()]
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    products = TextAreaField(
        _l("Products and services"),
        validators=[Optional(), Length(max=2000)],
        description=_l("What the organization makes or sells, separated by commas."),
    )
    members_total = IntegerField(
        _l("Members in total"), validators=[Optional(), NumberRange(min=0, max=100000)]
    )
    members_women = IntegerField(
        _l("Women members"), validators=[Optional(), NumberRange(min=0, max=100000)]
    )
    led_by_women = BooleanField(QUALIFIERS["led_by_women"][0])
    indigenous = BooleanField(QUALIFIERS["indigenous"][0])
    youth = BooleanField(QUALIFIERS["youth"][0])
    organic = BooleanField(QUALIFIERS["organic"][0])
    fair_trade = BooleanField(QUALIFIERS["fair_trade"][0])
    email = EmailField(_l("Public email"), validators=[Optional(), Email(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    website = URLField(_l("Website"), validators=[Optional(), Length(max=300)])
    social_url = URLField(_l("Social network page"), validators=[Optional(), Length(max=300)])
    opening_hours = TextAreaField(
        _l("Opening hours"),
        validators=[Optional(), Length(max=1000)],
        description=_l("e.g. Monday to Friday 09:00–18:00"),
    )
    locations = FieldList(FormField(LocationForm), min_entries=1, max_entries=5)

    def validate_members_women(self, field: Any) -> None:
        if (
            field.data is not None
            and self.members_total.data is not None
            and field.data > self.members_total.data
        ):
            raise ValidationError(_l("There cannot be more women members than members in total."))

    def validate_website(self, field: Any) -> None:
        _web(field)

    def validate_social_url(self, field: Any) -> None:
        _web(field)

    def set_comunas(self, comunas: list[tuple[str, str]]) -> None:
        """Offer these comunas in every location."""
        for entry in self.locations:
            entry.form.comuna_cut.choices = [("", _l("Choose a comuna")), *comunas]

    def validate_locations(self, field: Any) -> None:
        for entry in field:
            sub = entry.form
            if sub.address.data and not sub.comuna_cut.data:
                sub.comuna_cut.errors.append(_l("Choose the comuna of this address."))
                raise ValidationError(_l("Complete the locations."))
            if (sub.latitude.data or sub.longitude.data) and not sub.address.data:
                sub.address.errors.append(_l("Write the address of this point."))
                raise ValidationError(_l("Complete the locations."))
            if bool(sub.latitude.data) != bool(sub.longitude.data):
                sub.latitude.errors.append(_l("Give both latitude and longitude, or neither."))
                raise ValidationError(_l("Complete the locations."))

    def values(self) -> dict[str, Any]:
        """Return the record's fields for the service."""
        data = {
            name: getattr(self, name).data
            for name in (
                "name",
                "rut",
                "legal_form",
                "sector",
                "description",
                "products",
                "members_total",
                "members_women",
                "email",
                "phone",
                "website",
                "social_url",
                "opening_hours",
            )
        }
        for key in QUALIFIERS:
            data[key] = bool(getattr(self, key).data)
        return data


def _web(field: Any) -> None:
    if field.data and not str(field.data).startswith(("http://", "https://")):
        raise ValidationError(_l("Write the full address, starting with https://"))


class RegistrationForm(OrganizationForm):
    """Self-registration: the organization, and an account for its representative if needed."""

    representative_name = StringField(_l("Your name"), validators=[Optional(), Length(max=160)])
    representative_email = EmailField(
        _l("Your email"),
        validators=[Optional(), Email(), Length(max=254)],
        description=_l("We write here about the verification; it is not shown in public."),
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            Optional(),
            Length(
                min=MIN_PASSWORD,
                max=200,
                message=_l("Use at least %(min)d characters.", min=MIN_PASSWORD),
            ),
        ],
        description=_l("At least %(min)d characters.", min=MIN_PASSWORD),
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[Optional(), EqualTo("password", message=_l("The passwords do not match."))],
    )
    consent = BooleanField(
        _l("I represent this organization and the data are correct."), validators=[DataRequired()]
    )

    needs_account = True

    def validate_representative_name(self, field: Any) -> None:
        if self.needs_account and not field.data:
            raise ValidationError(_l("This field is required."))

    def validate_representative_email(self, field: Any) -> None:
        if self.needs_account and not field.data:
            raise ValidationError(_l("This field is required."))

    def validate_password(self, field: Any) -> None:
        if self.needs_account and not field.data:
            raise ValidationError(_l("This field is required."))


class SuspendForm(FlaskForm):
    """Why an organization is suspended."""

    note = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l("Kept in the record and the audit log; not shown in public."),
    )


class MergeForm(FlaskForm):
    """Fold a duplicate into the record that stays."""

    survivor = SelectField(_l("Record that stays"), coerce=int, validators=[DataRequired()])


class FairForm(FlaskForm):
    """A fair or market, its weekly schedule and one-off dates."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=choices(FAIR_KINDS), validators=[DataRequired()])
    place = StringField(
        _l("Street stretch or place"),
        validators=[DataRequired(), Length(max=300)],
        description=_l("e.g. Av. Argentina between Chacabuco and Pedro Montt"),
    )
    latitude = latitude_field()
    longitude = longitude_field()
    stalls = IntegerField(
        _l("Number of stalls"), validators=[Optional(), NumberRange(min=0, max=100000)]
    )
    permit_number = StringField(
        _l("Municipal permit number"), validators=[Optional(), Length(max=60)]
    )
    product_categories = StringField(
        _l("Product categories"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Separated by commas, e.g. fruit, vegetables, fish"),
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    byday = MultiCheckboxField(_l("Weekdays"), choices=list(WEEKDAY_LABELS.items()))
    opens_at = TimeField(_l("Opens at"), validators=[Optional()], format="%H:%M")
    closes_at = TimeField(
        _l("Closes at"),
        validators=[Optional()],
        format="%H:%M",
        description=_l("A closing time earlier than the opening means the next day."),
    )
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_to = DateField(_l("Valid until"), validators=[Optional()])
    exceptions = TextAreaField(
        _l("Dates without fair"),
        validators=[Optional(), Length(max=4000)],
        description=_l("One per line or separated by commas, e.g. 18-09-2026"),
    )
    one_offs = TextAreaField(
        _l("One-off dates"),
        validators=[Optional(), Length(max=4000)],
        description=_l(
            "For seasonal fairs, one per line with its hours, e.g. 20-12-2026 10:00-22:00"
        ),
    )
    organizers = MultiCheckboxField(_l("Organizing organizations"), coerce=int)
    vendors = MultiCheckboxField(_l("Organizations that sell here"), coerce=int)

    def validate_latitude(self, field: Any) -> None:
        check_coordinate(field, -90, 90)

    def validate_longitude(self, field: Any) -> None:
        check_coordinate(field, -180, 180)
        if bool(self.latitude.data) != bool(field.data):
            raise ValidationError(_l("Give both latitude and longitude, or neither."))

    def validate_byday(self, field: Any) -> None:
        if field.data and (self.opens_at.data is None or self.closes_at.data is None):
            raise ValidationError(_l("Give the opening and closing times of the weekly schedule."))
        if not field.data and not (self.one_offs.data or "").strip():
            raise ValidationError(_l("Choose the weekdays, or give one-off dates."))

    def validate_valid_to(self, field: Any) -> None:
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(_l("The end of validity is before its start."))

    def validate_exceptions(self, field: Any) -> None:
        try:
            parse_dates(field.data or "")
        except ValueError as error:
            raise ValidationError(_l("Write dates as dd-mm-yyyy.")) from error

    def validate_one_offs(self, field: Any) -> None:
        try:
            parse_one_offs(field.data or "")
        except ValueError as error:
            raise ValidationError(
                _l("Write each date with its hours, e.g. 20-12-2026 10:00-22:00.")
            ) from error


class ImportForm(FlaskForm):
    """A CSV file to import."""

    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(), FileAllowed(["csv", "txt"], _l("Upload a .csv file."))],
    )
