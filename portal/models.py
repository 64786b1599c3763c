"""Import every model so that the metadata (and Alembic) sees all tables."""

from portal.accounts.models import Invitation, Membership, User  # noqa: F401
from portal.audit.models import AuditEntry  # noqa: F401
from portal.budgeting.models import (  # noqa: F401
    Ballot,
    BallotChoice,
    CensusEntry,
    District,
    Participation,
    Proposal,
    ProposalImage,
    Round,
)
from portal.economy.models import (  # noqa: F401
    Fair,
    FairOneOff,
    FairSchedule,
    FairScheduleException,
    Organization,
    OrganizationLocation,
)
from portal.geo.models import Comuna, Municipality, Region  # noqa: F401
from portal.programmes.models import (  # noqa: F401
    FundedProject,
    Milestone,
    Programme,
    ProjectFollow,
    ProjectFunding,
    ProjectPhoto,
)
from portal.voting.models import ListResult, ResultLine, VotingSite  # noqa: F401
