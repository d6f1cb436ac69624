"""``ketaclinic`` with the audit entries of reads dropped — for ``make bench`` only.

bench_api measures what auditing every read costs by serving the same load twice: once from
the real server, once from this one, in which a read-only unit of work's audit entries
(adapters/db/audit_commit.py ``DeferredAuditLog``) are discarded instead of written. Writes are
still audited. This module is never imported by the application; the product has no switch
that turns auditing off.

Usage (what bench_api runs): ``python -m bench.serve_unaudited serve --port N``.
"""

from __future__ import annotations

from ketaclinic.adapters.db import audit_commit
from ketaclinic.cli.main import main


def _drop(self: audit_commit.DeferredAuditLog) -> None:
    self.discard()


if __name__ == "__main__":
    audit_commit.DeferredAuditLog.flush = _drop  # type: ignore[method-assign]
    main()
