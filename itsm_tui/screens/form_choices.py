"""The directory choices record forms offer (services, groups, people, CIs), read once when a
form opens, and the Select helpers that keep a stored value visible even when it is no longer
offered (a retired service, an inactive assignee)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from sqlmodel import Session
from textual.dom import DOMNode
from textual.widgets import Select, SelectionList

from itsm_tui.display import user_text
from itsm_tui.screens.incident_form import person_label
from itsm_tui.services import directory
from itsm_tui.services.records import ConfigItemRecord, GroupRecord, ServiceRecord, UserRecord

NOBODY = ""  # a Select that must always hold a value: "" stands for unassigned
Options = list[tuple[Text, str]]


@dataclass(frozen=True)
class Choices:
    """What the Selects offer, read once when the form opens."""

    services: list[ServiceRecord]
    groups: list[GroupRecord]
    users: list[UserRecord]
    config_items: list[ConfigItemRecord]

    @classmethod
    def load(cls, session: Session) -> Choices:
        return cls(
            services=directory.list_services(session),
            groups=directory.list_groups(session),
            users=directory.list_users(session),
            config_items=directory.list_config_items(session),
        )


def offer(form: DOMNode, store: dict[str, Options], name: str, options: Options) -> None:
    """Offer `options` in the Select `#field-{name}`, remembering them in `store`."""
    store[name] = options
    form.query_one(f"#field-{name}", Select).set_options(options)


def pick(form: DOMNode, store: dict[str, Options], name: str, value: str | None) -> None:
    """Select `value`, adding it to the options first when it is no longer offered."""
    select = form.query_one(f"#field-{name}", Select)
    if value is None:
        select.clear()
        return
    options = store.get(name)
    if options is not None and all(option != value for _label, option in options):
        offer(form, store, name, [*options, (user_text(value), value)])
    select.value = value


def offer_directory(form: DOMNode, store: dict[str, Options], choices: Choices) -> None:
    """Service, group, assignee (active, not viewers) and the CI list, by their usual ids."""
    offer(form, store, "service", [(user_text(s.name), s.name) for s in choices.services])
    offer(form, store, "group", [(user_text(g.name), g.name) for g in choices.groups])
    offer(
        form,
        store,
        "assignee",
        [(Text("(unassigned)"), NOBODY)]
        + [
            (user_text(person_label(u)), u.username)
            for u in choices.users
            if u.active and u.role != "viewer"
        ],
    )
    cis = form.query_one("#field-cis", SelectionList)
    cis.clear_options()
    cis.add_options(
        [
            (user_text(ci.name).append_text(Text(f"  {ci.service}", style="dim")), ci.name)
            for ci in choices.config_items
        ]
    )


def pick_cis(form: DOMNode, names: list[str] | tuple[str, ...]) -> None:
    """Select exactly `names` in `#field-cis`, showing stored CIs no longer listed."""
    cis = form.query_one("#field-cis", SelectionList)
    cis.deselect_all()
    offered = {option.value for option in cis._options}
    for name in names:
        if name not in offered:
            cis.add_option((user_text(name), name))
        cis.select(name)
