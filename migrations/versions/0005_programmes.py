"""Programmes, funded projects, co-financing, milestones, photos, follows

The fair rules of the economy's `programme_rules` table become programmes whose rules are data
(min_stalls, legal_organization_required, fair_kinds); the old table is dropped.

Revision ID: programmes_0001
Revises: economy_0001
Create Date: 2026-11-24 10:53:01.502011

"""
from alembic import op
import sqlalchemy as sa

import portal.database


# revision identifiers, used by Alembic.
revision = 'programmes_0001'
down_revision = "voting_0001"
branch_labels = None
depends_on = None

AGENCIES = {"gore", "sercotec", "corfo", "sernatur", "subdere", "municipality", "other"}

rules_table = sa.table(
    'programme_rules',
    sa.column('code', sa.String),
    sa.column('programme', sa.String),
    sa.column('agency', sa.String),
    sa.column('min_stalls', sa.Integer),
    sa.column('requires_legal_organization', sa.Boolean),
    sa.column('kinds', sa.String),
    sa.column('url', sa.String),
    sa.column('active', sa.Boolean),
)
programmes_table = sa.table(
    'programmes',
    sa.column('code', sa.String),
    sa.column('name', sa.String),
    sa.column('agency', sa.String),
    sa.column('level', sa.String),
    sa.column('region_cut', sa.String),
    sa.column('axes', sa.Text),
    sa.column('description', sa.Text),
    sa.column('eligibility_text', sa.Text),
    sa.column('min_stalls', sa.Integer),
    sa.column('legal_organization_required', sa.Boolean),
    sa.column('fair_kinds', sa.String),
    sa.column('url', sa.String),
    sa.column('contact_name', sa.String),
    sa.column('contact_email', sa.String),
    sa.column('contact_phone', sa.String),
    sa.column('active', sa.Boolean),
    sa.column('created_at', portal.database.UTCDateTime(timezone=True)),
    sa.column('updated_at', portal.database.UTCDateTime(timezone=True)),
)


def upgrade():
    op.create_table('programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('agency', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('region_cut', sa.String(length=2), nullable=True),
    sa.Column('yearly_amount', sa.BigInteger(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('axes', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('eligibility_text', sa.Text(), nullable=False),
    sa.Column('min_stalls', sa.Integer(), nullable=True),
    sa.Column('legal_organization_required', sa.Boolean(), nullable=False),
    sa.Column('fair_kinds', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=300), nullable=False),
    sa.Column('contact_name', sa.String(length=160), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('contact_phone', sa.String(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('min_stalls >= 0', name=op.f('ck_programmes_min_stalls_positive')),
    sa.CheckConstraint('yearly_amount >= 0', name=op.f('ck_programmes_yearly_amount_positive')),
    sa.ForeignKeyConstraint(['region_cut'], ['regions.cut'], name=op.f('fk_programmes_region_cut_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programmes')),
    sa.UniqueConstraint('code', name=op.f('uq_programmes_code'))
    )
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programmes_region_cut'), ['region_cut'], unique=False)

    op.create_table('funded_projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=True),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('theme', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('budget', sa.BigInteger(), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.Column('bip_code', sa.String(length=20), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('district', sa.String(length=120), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('comuna_cut', sa.String(length=5), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('budget >= 0', name=op.f('ck_funded_projects_budget_positive')),
    sa.CheckConstraint('progress >= 0 AND progress <= 100', name=op.f('ck_funded_projects_progress_percent')),
    sa.CheckConstraint('spent >= 0', name=op.f('ck_funded_projects_spent_positive')),
    sa.ForeignKeyConstraint(['comuna_cut'], ['comunas.cut'], name=op.f('fk_funded_projects_comuna_cut_comunas')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipalities.id'], name=op.f('fk_funded_projects_municipality_id_municipalities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['economy_organizations.id'], name=op.f('fk_funded_projects_organization_id_economy_organizations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_funded_projects_proposal_id_proposals'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_funded_projects_round_id_rounds'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funded_projects')),
    sa.UniqueConstraint('proposal_id', name=op.f('uq_funded_projects_proposal_id'))
    )
    with op.batch_alter_table('funded_projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funded_projects_comuna_cut'), ['comuna_cut'], unique=False)
        batch_op.create_index(batch_op.f('ix_funded_projects_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_funded_projects_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_funded_projects_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_funded_projects_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_funded_projects_year'), ['year'], unique=False)

    op.create_table('funded_project_follows',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['funded_projects.id'], name=op.f('fk_funded_project_follows_project_id_funded_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_funded_project_follows_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'project_id', name=op.f('pk_funded_project_follows'))
    )
    with op.batch_alter_table('funded_project_follows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funded_project_follows_project_id'), ['project_id'], unique=False)

    op.create_table('funded_project_fundings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('agreement_ref', sa.String(length=100), nullable=False),
    sa.Column('agreement_date', sa.Date(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_funded_project_fundings_amount_positive')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_funded_project_fundings_programme_id_programmes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['funded_projects.id'], name=op.f('fk_funded_project_fundings_project_id_funded_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funded_project_fundings')),
    sa.UniqueConstraint('project_id', 'programme_id', name=op.f('uq_funded_project_fundings_project_id_programme_id'))
    )
    with op.batch_alter_table('funded_project_fundings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funded_project_fundings_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_funded_project_fundings_project_id'), ['project_id'], unique=False)

    op.create_table('funded_project_milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['funded_projects.id'], name=op.f('fk_funded_project_milestones_project_id_funded_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funded_project_milestones'))
    )
    with op.batch_alter_table('funded_project_milestones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funded_project_milestones_project_id'), ['project_id'], unique=False)

    op.create_table('funded_project_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=80), nullable=False),
    sa.Column('thumbnail', sa.String(length=80), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('caption', sa.String(length=200), nullable=False),
    sa.Column('created_at', portal.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['funded_projects.id'], name=op.f('fk_funded_project_photos_project_id_funded_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funded_project_photos')),
    sa.UniqueConstraint('filename', name=op.f('uq_funded_project_photos_filename')),
    sa.UniqueConstraint('thumbnail', name=op.f('uq_funded_project_photos_thumbnail'))
    )
    with op.batch_alter_table('funded_project_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funded_project_photos_project_id'), ['project_id'], unique=False)

    # Move the economy's fair rules onto programmes (national: the old rules had no region).
    conn = op.get_bind()
    now = portal.database.utcnow()
    rows = conn.execute(sa.select(rules_table)).mappings().all()
    if rows:
        op.bulk_insert(programmes_table, [
            {
                'code': row['code'],
                'name': row['programme'],
                'agency': row['agency'].lower() if row['agency'].lower() in AGENCIES else 'other',
                'level': 'national',
                'region_cut': None,
                'axes': '',
                'description': '',
                'eligibility_text': '',
                'min_stalls': row['min_stalls'],
                'legal_organization_required': row['requires_legal_organization'],
                'fair_kinds': row['kinds'],
                'url': row['url'],
                'contact_name': '',
                'contact_email': '',
                'contact_phone': '',
                'active': row['active'],
                'created_at': now,
                'updated_at': now,
            }
            for row in rows
        ])
    op.drop_table('programme_rules')


def downgrade():
    op.create_table('programme_rules',
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
    # Give back the fair rules of national programmes (regional ones had no place there).
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(programmes_table).where(
            programmes_table.c.region_cut.is_(None),
            sa.or_(programmes_table.c.min_stalls.is_not(None), programmes_table.c.fair_kinds != ''),
        )
    ).mappings().all()
    if rows:
        op.bulk_insert(rules_table, [
            {
                'code': row['code'],
                'programme': row['name'],
                'agency': row['agency'].upper(),
                'min_stalls': row['min_stalls'],
                'requires_legal_organization': row['legal_organization_required'],
                'kinds': row['fair_kinds'],
                'url': row['url'],
                'active': row['active'],
            }
            for row in rows
        ])
    with op.batch_alter_table('funded_project_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funded_project_photos_project_id'))

    op.drop_table('funded_project_photos')
    with op.batch_alter_table('funded_project_milestones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funded_project_milestones_project_id'))

    op.drop_table('funded_project_milestones')
    with op.batch_alter_table('funded_project_fundings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funded_project_fundings_project_id'))
        batch_op.drop_index(batch_op.f('ix_funded_project_fundings_programme_id'))

    op.drop_table('funded_project_fundings')
    with op.batch_alter_table('funded_project_follows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funded_project_follows_project_id'))

    op.drop_table('funded_project_follows')
    with op.batch_alter_table('funded_projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funded_projects_year'))
        batch_op.drop_index(batch_op.f('ix_funded_projects_status'))
        batch_op.drop_index(batch_op.f('ix_funded_projects_round_id'))
        batch_op.drop_index(batch_op.f('ix_funded_projects_organization_id'))
        batch_op.drop_index(batch_op.f('ix_funded_projects_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_funded_projects_comuna_cut'))

    op.drop_table('funded_projects')
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programmes_region_cut'))

    op.drop_table('programmes')
