"""Platform admin forms."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, URLField
from wtforms.validators import URL, DataRequired, Email, Length, Optional

from portal.accounts.models import Role


class MunicipalityForm(FlaskForm):
    """A municipality and the comuna it governs."""

    comuna_cut = SelectField(_l("Comuna"), validators=[DataRequired()], choices=[])
    name = StringField(
        _l("Name"),
        validators=[Optional(), Length(max=160)],
        description=_l("Leave empty for “Municipalidad de” and the comuna's name."),
    )
    email = EmailField(_l("Contact email"), validators=[Optional(), Email(), Length(max=254)])
    website = URLField(_l("Website"), validators=[Optional(), URL(), Length(max=300)])


class InvitationForm(FlaskForm):
    """Invite a person to a staff or admin role."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField(
        _l("Role"),
        choices=[
            (Role.MUNICIPAL_STAFF.value, _l("Municipal staff")),
            (Role.REGIONAL_STAFF.value, _l("Regional staff")),
            (Role.ADMIN.value, _l("Platform admin")),
        ],
        validators=[DataRequired()],
    )
    municipality_id = SelectField(_l("Municipality"), choices=[], validators=[Optional()])
    region_cut = SelectField(_l("Region"), choices=[], validators=[Optional()])

    def validate(self, extra_validators: Any = None) -> bool:
        """Require the municipality or the region that the chosen role is scoped to."""
        ok = super().validate(extra_validators)
        if self.role.data == Role.MUNICIPAL_STAFF.value and not self.municipality_id.data:
            self.municipality_id.errors = [
                *self.municipality_id.errors,
                _l("Choose the municipality."),
            ]
            ok = False
        if self.role.data == Role.REGIONAL_STAFF.value and not self.region_cut.data:
            self.region_cut.errors = [*self.region_cut.errors, _l("Choose the region.")]
            ok = False
        return ok


class StaffInvitationForm(FlaskForm):
    """Invite a colleague to one's own municipality."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
