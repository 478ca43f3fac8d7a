"""The database schema's revisions (Alembic), shipped inside the package: `env.py` is Alembic's
entry point, `versions/` holds one file per revision, `script.py.mako` is the template new
revisions are written from. `ledger.kit.migrate` runs them (`label-ledger db upgrade`); no
alembic.ini is needed."""
