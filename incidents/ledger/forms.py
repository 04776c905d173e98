"""Forms of the ledger: importing a customer list, and looking a customer up."""
from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length

from incidents.forms import BaseForm, options
from incidents.ledger.csvformat import COLUMNS, CUSTOMER_REF_MAX, OPTIONAL
from incidents.ledger.importing import MODE_LABELS


class ImportForm(BaseForm):
    file = FileField("Customer list (CSV, UTF-8)",
                     description=f"A header row with {', '.join(c for c in COLUMNS if c not in OPTIONAL)} "
                                 f"(and optionally {', '.join(OPTIONAL)}), then one row per customer. "
                                 "Customers already in the ledger are merged by customer id.")
    mode = RadioField("If some rows have problems", choices=options(MODE_LABELS.items()), default="all_or_nothing",
                      validators=[DataRequired("Choose what happens to a file with bad rows.")])


class LookupForm(BaseForm):
    """A GET form: nothing changes, so no CSRF token (the look-up itself is audited)."""

    class Meta:
        csrf = False

    customer = StringField("Customer id", validators=[DataRequired("Type the customer's id."),
                                                       Length(max=CUSTOMER_REF_MAX)],
                           render_kw={"autocomplete": "off", "spellcheck": "false", "autofocus": True})
