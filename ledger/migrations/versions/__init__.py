"""One module per schema revision, applied in order by `ledger.kit.migrate.upgrade`."""
