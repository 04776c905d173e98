"""The impact update form: customer counts and one row of record counts per data category."""
from __future__ import annotations

from wtforms import IntegerField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, StopValidation
from wtforms.widgets import HiddenInput, NumberInput

from incidents.forms import BaseForm, MarkdownField, UTCDateTimeField
from incidents.idempotency import IdempotentFormMixin
from incidents.impact.models import ImpactUpdate
from incidents.impact.service import CategoryCounts, CustomerCounts
from incidents.incident.enums import DATA_CATEGORIES

MAX_COUNT = 10**15  # far beyond any real customer base, well inside a 64-bit column
MAX_NOTE = 20_000
CUSTOMER_FIELDS = ("customers_affected", "customers_restored", "customers_lost", "customers_notified")
RECORD_PARTS = ("affected", "recovered", "unrecoverable")


def count_in_range(form, field) -> None:
    """A count is a whole number from 0 to MAX_COUNT; the message says which end was missed."""
    if field.data is None:
        return
    if field.data < 0:
        raise StopValidation("A count cannot be negative.")
    if field.data > MAX_COUNT:
        raise StopValidation(f"That is more than {MAX_COUNT:,}; check the figure.")


class CountField(IntegerField):
    """A whole, non-negative number typed in a number input."""

    widget = NumberInput(min=0, step=1)

    def __init__(self, label=None, *, required: bool, validators=(), **kwargs):
        first = InputRequired("Enter a number (0 if none).") if required else Optional()
        super().__init__(label, validators=[first, count_in_range, *validators], **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0].strip() if isinstance(valuelist[0], str) else valuelist[0]
        try:
            # Only plain ASCII digits: int() also takes "1_000", "٣" and 4,300-digit strings.
            if not (isinstance(raw, str) and raw.lstrip("-").isascii() and raw.lstrip("-").isdigit()
                    and len(raw) <= 20):
                raise ValueError
            self.data = int(raw)
        except ValueError:
            self.data = None
            raise ValueError("Enter a whole number, like 12000.") from None


class ImpactForm(IdempotentFormMixin, BaseForm):
    """Customer counts; `for_categories` adds a row of record counts per data category."""

    based_on = IntegerField(widget=HiddenInput(), validators=[
        Optional(), NumberRange(min=1, max=2**31 - 1, message="The form is damaged; reload the page.")])
    customers_affected = CountField("Customers affected", required=True)
    customers_restored = CountField("Restored", required=True,
                                    description="Customers whose data is fully back")
    customers_lost = CountField("Permanently lost", required=True,
                                description="Customers with data that cannot come back")
    customers_notified = CountField("Notified", required=True)
    as_of = UTCDateTimeField("As of", validators=[Optional()],
                             description="UTC; when these figures were true. Leave empty for now.")
    note = MarkdownField("Note (optional, goes on the timeline)", validators=[Optional(), Length(max=MAX_NOTE)],
                         render_kw={"rows": 3, "placeholder": "Where the figures come from, what changed"})

    categories: list[str] = []

    @classmethod
    def for_categories(cls, categories: list[str]) -> type[ImpactForm]:
        """A form class with `<category>-affected`, `-recovered` and `-unrecoverable` fields."""
        attrs: dict = {"categories": list(categories)}
        for category in categories:
            label = DATA_CATEGORIES.get(category, category)
            for part in RECORD_PARTS:
                attrs[f"{category}-{part}"] = CountField(f"{label}: records {part}", required=False)
        return type("ImpactFormFor", (cls,), attrs)

    def category_fields(self, category: str) -> list:
        return [self[f"{category}-{part}"] for part in RECORD_PARTS]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for category in self.categories:
            affected, recovered, unrecoverable = self.category_fields(category)
            if affected.data is None and not affected.errors and (
                    recovered.data is not None or unrecoverable.data is not None):
                affected.errors = list(affected.errors) + [
                    "Enter the records affected, or leave the whole row empty if not known yet."]
                valid = False
        return valid

    def fill_from(self, update: ImpactUpdate | None) -> None:
        """Prefill with the latest figures (a GET), basing the form on that update."""
        if update is None:
            self.based_on.data = None
            for name in CUSTOMER_FIELDS[1:]:  # nothing restored, lost or told yet; affected is asked
                self[name].data = 0
            return
        self.based_on.data = update.id
        for name in CUSTOMER_FIELDS:
            self[name].data = getattr(update, name)
        by_category = {c.category: c for c in update.categories}
        for category in self.categories:
            row = by_category.get(category)
            if row is not None:
                for part, field in zip(RECORD_PARTS, self.category_fields(category), strict=True):
                    field.data = getattr(row, f"records_{part}")

    def counts(self) -> CustomerCounts:
        return CustomerCounts(affected=self.customers_affected.data, notified=self.customers_notified.data,
                              restored=self.customers_restored.data, lost=self.customers_lost.data)

    def category_counts(self) -> list[CategoryCounts]:
        """One entry per category row that was filled in; empty rows are not known yet."""
        out = []
        for category in self.categories:
            affected, recovered, unrecoverable = (f.data for f in self.category_fields(category))
            if affected is None:
                continue
            out.append(CategoryCounts(category=category, affected=affected, recovered=recovered or 0,
                                      unrecoverable=unrecoverable or 0))
        return out


def categories_for(incident, latest: ImpactUpdate | None) -> list[str]:
    """The incident's categories, plus any the latest figures have that it no longer lists, so
    recording an update never silently drops a category's figures."""
    categories = [c for c in incident.data_categories or [] if c in DATA_CATEGORIES]
    if latest is not None:
        categories += [c.category for c in latest.categories if c.category not in categories]
    return list(dict.fromkeys(categories))
