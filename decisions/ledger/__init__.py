"""The audit chain's hot paths on the driver's own cursor.

Appending and walking the chain are the store's busiest operations, so they skip the ORM
and SQLAlchemy's statement layer and speak to the DBAPI cursor with prepared SQL in the
driver's parameter style. Everything else in the store goes through repositories.

Callers either hold an open write transaction (``append_rows`` inside a unit of work) or
let :func:`append_durable` / :func:`append_batch` open one of their own on a pooled
connection. Either way the head is read and extended under the store's write lock, so
several processes appending at once queue up and never fork the chain.

The surface (import from here; the modules are how it is kept), split where the transaction
comes from:

========================  ==================================================================
:mod:`.chain`             ``NewEvent``, ``ChainSQL``, ``chain_sql``, ``append_rows``,
                          ``COLUMNS``: linking events inside the caller's transaction
:mod:`.durable`           ``append_durable``, ``append_batch``: in a transaction of their own
:mod:`.group_commit`      ``GroupCommit``: one process's threads sharing a commit
:mod:`.walk`              ``iter_rows``, ``verify_store``: reading the chain back
========================  ==================================================================
"""

from __future__ import annotations

from decisions.ledger.chain import COLUMNS, ChainSQL, NewEvent, append_rows, chain_sql
from decisions.ledger.durable import append_batch, append_durable
from decisions.ledger.group_commit import GroupCommit
from decisions.ledger.walk import iter_rows, verify_store

__all__ = [
    "ChainSQL",
    "NewEvent",
    "chain_sql",
    "append_rows",
    "append_durable",
    "append_batch",
    "GroupCommit",
    "verify_store",
    "iter_rows",
    "COLUMNS",
]
