"""Label quality without a database: truth inference (`aggregation`), agreement between labels
and across a dataset (`agreement`), and annotator reputation and reward tiers (`reputation`).

Everything here is a pure function of its arguments, so the same numbers come out in the API,
in a settlement job and in a test.
"""
