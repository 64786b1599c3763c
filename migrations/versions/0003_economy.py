"""SSE registry (organizations, locations), fairs with schedules, programme rules

Revision ID: economy_0001
Revises: budgeting_0001
Create Date: 2026-11-24 00:17:48.273234

"""
from alembic import op
import sqlalchemy as sa

import portal.database


# revision identifiers, used by Alembic.
revision = 'economy_0001'
down_revision = 'budgeting_0001'
branch_labels = None
depends_on = None

# The rule the portal ships with; the programmes feature will move rules to its own table.
SERCOTEC_FAIRS_FUND = {
    "code": "sercotec-ferias-libres",
    "programme": "Fondo de Desarrollo de Ferias Libres",
    "agency": "SERCOTEC",
    "min_stalls": 15,
    "requires_legal_organization": True,
    "kinds": "feria_libre",
    "url": "https://www.sercotec.cl/",
    "active": True,
}


def upgrade():
    programme_rules = op.create_table('programme_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('programme', sa.String(length=200), nullable=False),
    sa.Column('agency', sa.String(length=120), nullable=False),
    sa.Column('min_stalls', sa.Integer(), nullable=True),
    sa.Column('requires_legal_organization', sa.Boolean(), nullable=False),
    sa.Column('kinds', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_rules')),
    sa.UniqueConstraint('code', name=op.f('uq_programme_rules_code'))
    )
    op.create_table('economy_fairs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('stalls', sa.Integer(), nullable=True),
    sa.Column('permit_number', sa.String(length=60), nullable=False),
    sa.Column('product_categories', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_economy_fairs_municipality_id_municipalities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_economy_fairs'))
    )
    with op.batch_alter_table('economy_fairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_economy_fairs_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('economy_organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('rut', sa.String(length=12), nullable=True),
    sa.Column('legal_form', sa.String(length=32), nullable=False),
    sa.Column('sector', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('members_total', sa.Integer(), nullable=True),
    sa.Column('members_women', sa.Integer(), nullable=True),
    sa.Column('led_by_women', sa.Boolean(), nullable=False),
    sa.Column('indigenous', sa.Boolean(), nullable=False),
    sa.Column('youth', sa.Boolean(), nullable=False),
    sa.Column('organic', sa.Boolean(), nullable=False),
    sa.Column('fair_trade', sa.Boolean(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('website', sa.String(length=300), nullable=True),
    sa.Column('social_url', sa.String(length=300), nullable=True),
    sa.Column('opening_hours', sa.Text(), nullable=False),
    sa.Column('products', sa.Text(), nullable=False),
    sa.Column('last_verified_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_note', sa.Text(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('representative_user_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', portal.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['economy_organizations.id'], name=op.f('fk_economy_organizations_merged_into_id_economy_organizations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_economy_organizations_municipality_id_municipalities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['representative_user_id'], ['users.id'], name=op.f('fk_economy_organizations_representative_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_economy_organizations'))
    )
    with op.batch_alter_table('economy_organizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_economy_organizations_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_economy_organizations_representative_user_id'), ['representative_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_economy_organizations_rut'), ['rut'], unique=False)
        batch_op.create_index(batch_op.f('ix_economy_organizations_status'), ['status'], unique=False)

    op.create_table('economy_fair_one_offs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fair_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('opens_at', sa.Time(), nullable=False),
    sa.Column('closes_at', sa.Time(), nullable=False),
    sa.ForeignKeyConstraint(['fair_id'], ['economy_fairs.id'], name=op.f('fk_economy_fair_one_offs_fair_id_economy_fairs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_economy_fair_one_offs')),
    sa.UniqueConstraint('fair_id', 'day', name=op.f('uq_economy_fair_one_offs_fair_id_day'))
    )
    with op.batch_alter_table('economy_fair_one_offs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_economy_fair_one_offs_fair_id'), ['fair_id'], unique=False)

    op.create_table('economy_fair_organizers',
    sa.Column('fair_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fair_id'], ['economy_fairs.id'], name=op.f('fk_economy_fair_organizers_fair_id_economy_fairs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['economy_organizations.id'], name=op.f('fk_economy_fair_organizers_organization_id_economy_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fair_id', 'organization_id', name=op.f('pk_economy_fair_organizers'))
    )
    op.create_table('economy_fair_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fair_id', sa.Integer(), nullable=False),
    sa.Column('freq', sa.String(length=8), nullable=False),
    sa.Column('byday', sa.String(length=32), nullable=False),
    sa.Column('opens_at', sa.Time(), nullable=False),
    sa.Column('closes_at', sa.Time(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['fair_id'], ['economy_fairs.id'], name=op.f('fk_economy_fair_schedules_fair_id_economy_fairs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_economy_fair_schedules'))
    )
    with op.batch_alter_table('economy_fair_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_economy_fair_schedules_fair_id'), ['fair_id'], unique=False)

    op.create_table('economy_fair_vendors',
    sa.Column('fair_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fair_id'], ['economy_fairs.id'], name=op.f('fk_economy_fair_vendors_fair_id_economy_fairs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['economy_organizations.id'], name=op.f('fk_economy_fair_vendors_organization_id_economy_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('fair_id', 'organization_id', name=op.f('pk_economy_fair_vendors'))
    )
    op.create_table('economy_locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('comuna_cut', sa.String(length=5), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['comuna_cut'], ['comunas.cut'], name=op.f('fk_economy_locations_comuna_cut_comunas')),
    sa.ForeignKeyConstraint(['organization_id'], ['economy_organizations.id'], name=op.f('fk_economy_locations_organization_id_economy_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_economy_locations'))
    )
    with op.batch_alter_table('economy_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_economy_locations_comuna_cut'), ['comuna_cut'], unique=False)
        batch_op.create_index(batch_op.f('ix_economy_locations_organization_id'), ['organization_id'], unique=False)

    op.create_table('economy_fair_schedule_exceptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['economy_fair_schedules.id'], name=op.f('fk_economy_fair_schedule_exceptions_schedule_id_economy_fair_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_economy_fair_schedule_exceptions')),
    sa.UniqueConstraint('schedule_id', 'day', name=op.f('uq_economy_fair_schedule_exceptions_schedule_id_day'))
    )
    with op.batch_alter_table('economy_fair_schedule_exceptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_economy_fair_schedule_exceptions_schedule_id'), ['schedule_id'], unique=False)

    op.bulk_insert(programme_rules, [SERCOTEC_FAIRS_FUND])


def downgrade():
    with op.batch_alter_table('economy_fair_schedule_exceptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_economy_fair_schedule_exceptions_schedule_id'))

    op.drop_table('economy_fair_schedule_exceptions')
    with op.batch_alter_table('economy_locations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_economy_locations_organization_id'))
        batch_op.drop_index(batch_op.f('ix_economy_locations_comuna_cut'))

    op.drop_table('economy_locations')
    op.drop_table('economy_fair_vendors')
    with op.batch_alter_table('economy_fair_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_economy_fair_schedules_fair_id'))

    op.drop_table('economy_fair_schedules')
    op.drop_table('economy_fair_organizers')
    with op.batch_alter_table('economy_fair_one_offs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_economy_fair_one_offs_fair_id'))

    op.drop_table('economy_fair_one_offs')
    with op.batch_alter_table('economy_organizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_economy_organizations_status'))
        batch_op.drop_index(batch_op.f('ix_economy_organizations_rut'))
        batch_op.drop_index(batch_op.f('ix_economy_organizations_representative_user_id'))
        batch_op.drop_index(batch_op.f('ix_economy_organizations_municipality_id'))

    op.drop_table('economy_organizations')
    with op.batch_alter_table('economy_fairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_economy_fairs_municipality_id'))

    op.drop_table('economy_fairs')
    op.drop_table('programme_rules')
