"""Status lists: "these customers are restored", "…lost for good", "…bounced", applied in bulk.

A status list names customers already in the incident's ledger (and, optionally, which of their
data categories it is about; none given means all of theirs). It runs through the same pipeline
as an import (importing.py: stored, staged, checked, then applied in one transaction); this module
holds what differs: which staged rows cannot apply, and how the ledger changes.
"""
from __future__ import annotations

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.orm import Session

from incidents.db import UTCDateTime, utcnow
from incidents.ledger import csvformat
from incidents.ledger.models import LedgerImport

ITEM_STATE = {"restored": "restored", "lost": "lost"}
KIND_LABELS = {"customers": "Affected customers", "restored": "Restored customers",
               "lost": "Data lost for good", "bounced": "Bounced notices"}
# A staged row's customer in the ledger of the import's incident.
_CUSTOMER_OF_STAGED = ("SELECT c.id FROM ledger_customer c WHERE c.incident_id = :incident "
                       "AND c.customer_ref = s.customer_ref")


def refuse_unknown_customers(conn: Connection, *, import_id: int, incident_id: int) -> int:
    """Staged rows naming no customer of this incident become problems (and leave the staging)."""
    params = {"import": import_id, "incident": incident_id}
    conn.execute(text(f"""
        INSERT INTO ledger_import_problem (import_id, line, customer_ref, reason)
        SELECT s.import_id, s.line, s.customer_ref, 'customer_id is not in this incident''s ledger'
        FROM ledger_staging_row s WHERE s.import_id = :import AND NOT EXISTS ({_CUSTOMER_OF_STAGED})
    """), params)
    return conn.execute(text(f"""
        DELETE FROM ledger_staging_row WHERE import_id = :import AND id IN (
            SELECT s.id FROM ledger_staging_row s WHERE s.import_id = :import AND NOT EXISTS ({_CUSTOMER_OF_STAGED}))
    """), params).rowcount


def _category_bit() -> str:
    """SQL for the bit of ledger_item's category, as csvformat.CATEGORY_BITS numbers them."""
    cases = " ".join(f"WHEN '{key}' THEN {bit}" for key, bit in csvformat.CATEGORY_BITS.items())
    return f"CASE ledger_item.category {cases} ELSE 0 END"


def apply(*, session: Session, record: LedgerImport) -> int:
    """Change the named customers' items (or bounce marks); returns how many customers it touched."""
    params = {"incident": record.incident_id, "import": record.id}
    stamp = bindparam("now", value=utcnow(), type_=UTCDateTime())
    if record.kind == "bounced":
        return session.execute(text("""
            UPDATE ledger_customer SET bounced_at = :now, updated_at = :now
            WHERE incident_id = :incident AND customer_ref IN (
                SELECT s.customer_ref FROM ledger_staging_row s WHERE s.import_id = :import)
        """).bindparams(stamp), params).rowcount
    session.execute(text(f"""
        UPDATE ledger_item SET state = :state, changed_at = :now, workstream_id = :workstream
        WHERE EXISTS (
            SELECT 1 FROM ledger_staging_row s JOIN ledger_customer c
                ON c.incident_id = :incident AND c.customer_ref = s.customer_ref
            WHERE s.import_id = :import AND c.id = ledger_item.customer_id
              AND (s.categories = 0 OR (s.categories & {_category_bit()}) <> 0))
    """).bindparams(stamp), {**params, "state": ITEM_STATE[record.kind], "workstream": record.workstream_id})
    return session.execute(text(OUTCOMES + """
        WHERE incident_id = :incident AND customer_ref IN (
            SELECT s.customer_ref FROM ledger_staging_row s WHERE s.import_id = :import)
    """), params).rowcount


# A customer's outcome from their items (models.OUTCOMES); the caller adds which customers.
OUTCOMES = """
    UPDATE ledger_customer SET outcome = CASE
        WHEN EXISTS (SELECT 1 FROM ledger_item i WHERE i.customer_id = ledger_customer.id AND i.state = 'lost')
            THEN 'lost'
        WHEN EXISTS (SELECT 1 FROM ledger_item i WHERE i.customer_id = ledger_customer.id AND i.state = 'affected')
            THEN 'waiting'
        ELSE 'restored' END
"""
