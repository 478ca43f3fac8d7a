"""`label-ledger` subcommands kept apart from ledger/cli.py, each module with its `register`."""
