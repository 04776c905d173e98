"""Forms of the ledger: importing a customer list, and looking a customer up."""
from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from incidents.forms import BaseForm, options
from incidents.ledger.csvformat import COLUMNS, CUSTOMER_REF_MAX, OPTIONAL
from incidents.ledger.importing import MODE_LABELS

KIND_CHOICES = [
    ("customers", "Affected customers (added, or merged by customer id)"),
    ("restored", "Customers whose data is restored (customer_id, optionally data_categories)"),
    ("lost", "Customers whose data is lost for good (customer_id, optionally data_categories)"),
    ("bounced", "Customers whose notice bounced (customer_id)"),
]


FILE_HELP = (f"Affected customers: a header row with {', '.join(c for c in COLUMNS if c not in OPTIONAL)} "
             f"(and optionally {', '.join(OPTIONAL)}), then one row per customer. Status lists: customer_id "
             "(and data_categories, else all of the customer's), one per row.")


class ImportForm(BaseForm):
    kind = RadioField("The file lists", choices=options(KIND_CHOICES), default="customers",
                      validators=[DataRequired("Choose what the file lists.")])
    workstream = SelectField("Restored by", coerce=int, default=0, validate_choice=True,
                             description="For a list of restored customers: the recovery work that brought "
                                         "the data back.")
    file = FileField("CSV file (UTF-8)", description=FILE_HELP)
    mode = RadioField("If some rows have problems", choices=options(MODE_LABELS.items()), default="all_or_nothing",
                      validators=[DataRequired("Choose what happens to a file with bad rows.")])


def import_form(workstreams, **kwargs) -> ImportForm:
    """The import form, its workstream choices those of the incident."""
    form = ImportForm(**kwargs)
    form.workstream.choices = options([(0, "—")] + [(w.id, w.name) for w in workstreams])
    return form


class LookupForm(BaseForm):
    """A GET form: nothing changes, so no CSRF token (the look-up itself is audited)."""

    class Meta:
        csrf = False

    customer = StringField("Customer id", validators=[DataRequired("Type the customer's id."),
                                                       Length(max=CUSTOMER_REF_MAX)],
                           render_kw={"autocomplete": "off", "spellcheck": "false", "autofocus": True})
