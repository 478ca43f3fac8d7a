"""label-ledger: escrowed pay per verified label, with every payout checkable on chain."""
