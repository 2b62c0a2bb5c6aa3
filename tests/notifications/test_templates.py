from __future__ import annotations

import re

import jinja2
import pytest
from jinja2 import meta

from billhook.kit.money import Money
from billhook.notifications.brand import Brand
from billhook.notifications.templates import (
    BRAND_VARIABLES,
    CONTRACTS,
    SUBJECTS,
    TEMPLATE_NAMES,
    EmailTemplateError,
    email_environment,
    normalize_context,
    render_email,
)
from tests.support import notification_factories as factories

BRAND = Brand("Coachly", "help@coachly.example", "https://coachly.example")

# What each rendered email must say, in both parts (amounts in the currency's own decimals).
EXPECTED = {
    "welcome": ["Ada Lovelace", "password/set?token=st_9f8e7d6c5b4a", "24 hours"],
    "signup_welcome": ["Ada Lovelace", "https://coachly.example/account", "https://coachly.example/pricing"],
    "trial_ending": ["Pro Monthly", "Thursday, December 24, 2026", "$29.00", "https://coachly.example/account"],
    "password_reset": ["reset?token=rt_1a2b3c4d5e6f", "2 hours"],
    "booking_confirmed": [
        "Grace Hopper", "Tuesday, December 1, 2026", "14:30 UTC+01:00", "60 minutes", "bkg_01JD3XK2Q8",
        "Next steps", "help@coachly.example",
    ],
    "booking_new_for_coach": [
        "Ada Lovelace", "ada@example.com", "Tuesday, December 1, 2026", "14:30 UTC+01:00", "60 minutes",
        "€120.00", "bkg_01JD3XK2Q8", "positioning",
    ],
    "payment_receipt": ["Career strategy workbook", "€49.00", "Interview practice pack", "€79.00",
                        "pay_01JD3Y7M2C", "Tuesday, November 24, 2026"],
    "subscription_renewed": ["Pro Monthly", "$29.00", "Thursday, December 24, 2026", "https://coachly.example"],
    "payment_failed": ["Pro Yearly", "¥350,000", "pdate your card", "billing.stripe.com/p/session"],
    "subscription_canceled": ["Pro Monthly", "Thursday, December 24, 2026"],
    "refund_issued": ["KWD12.500", "re_01JD40A1B2", "Coaching session on 1 December"],
    "dead_letter_alert": ["job_01JD41ZZ9X", "fulfilment.grant", "connection refused"],
    "dispute_opened": ["dp_1QfZ3kL", "pay_01JD41ZZ9X", "€110.00", "fraudulent", "needs_response"],
    "test_message": ["smtp"],
}  # fmt: skip


def test_every_template_has_realistic_data_and_expectations() -> None:
    assert set(factories.CONTEXTS) == set(TEMPLATE_NAMES) == set(EXPECTED)


@pytest.mark.parametrize("template", sorted(TEMPLATE_NAMES))
def test_each_template_renders_both_parts_with_the_brand(template: str) -> None:
    context = normalize_context(factories.CONTEXTS[template]())

    rendered = render_email(template, context, BRAND)

    assert rendered.subject and "\n" not in rendered.subject
    for part in (rendered.text, rendered.html):
        for expected in EXPECTED[template]:
            assert expected in part, f"{expected!r} missing from {template}"
        assert "Coachly" in part
        assert "help@coachly.example" in part
    assert rendered.html.lstrip().startswith("<!doctype html>")
    assert "<p>" not in rendered.text and "<table" not in rendered.text


def test_subjects_speak_of_the_message() -> None:
    contexts = {name: normalize_context(factory()) for name, factory in factories.CONTEXTS.items()}
    subject = {name: render_email(name, contexts[name], BRAND).subject for name in contexts}

    assert (
        subject["booking_confirmed"]
        == "Your session with Grace Hopper on Tuesday, December 1, 2026 is confirmed"
    )
    assert subject["payment_receipt"] == "Your receipt from Coachly (€79.00)"
    assert subject["refund_issued"] == "Refund issued: KWD12.500"
    assert subject["dead_letter_alert"] == "[Coachly] job fulfilment.grant failed for good"


def test_html_part_escapes_what_users_typed() -> None:
    rendered = render_email(
        "booking_new_for_coach", normalize_context(factories.booking_new_for_coach()), BRAND
    )

    assert "&lt;b&gt;pricing&lt;/b&gt; &amp; positioning" in rendered.html
    assert "<b>pricing</b> & positioning" in rendered.text


def test_empty_preparation_notes_say_so() -> None:
    context = normalize_context({**factories.booking_new_for_coach(), "notes": None})

    rendered = render_email("booking_new_for_coach", context, BRAND)

    assert "None given." in rendered.text and "None given." in rendered.html


@pytest.mark.parametrize(
    ("template", "missing"),
    [("welcome", "password_set_url"), ("booking_confirmed", "start_at"), ("payment_failed", "currency"),
     ("subscription_renewed", "expires_at"), ("refund_issued", "amount"), ("dead_letter_alert", "job_type"),
     ("booking_new_for_coach", "client_name")],
)  # fmt: skip
def test_a_missing_variable_fails_the_render(template: str, missing: str) -> None:
    context = normalize_context(factories.CONTEXTS[template]())
    del context[missing]

    with pytest.raises(EmailTemplateError, match=f"{template}.*{missing}"):
        render_email(template, context, BRAND)


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(EmailTemplateError, match="unknown email template 'welcom'"):
        render_email("welcom", {}, BRAND)


def test_money_that_is_not_money_fails_the_render() -> None:
    context = {**normalize_context(factories.refund_issued()), "amount": "12.50"}

    with pytest.raises(EmailTemplateError, match="refund_issued"):
        render_email("refund_issued", context, BRAND)


def test_contexts_are_stored_as_json_values() -> None:
    context = normalize_context(factories.booking_new_for_coach())

    assert (context["amount"], context["currency"]) == (12000, "eur")
    assert context["start_at"] == "2026-12-01T14:30:00+01:00"
    assert normalize_context({"price": Money(500, "usd")}) == {"price": {"amount": 500, "currency": "usd"}}
    with pytest.raises(TypeError, match="JSON-like"):
        normalize_context({"callback": object()})


def _used_variables(environment: jinja2.Environment, template: str) -> set[str]:
    sources = [environment.parse(SUBJECTS[template])]
    for suffix in ("txt", "html"):
        source, _, _ = environment.loader.get_source(environment, f"{template}.{suffix}")  # type: ignore[union-attr]
        sources.append(environment.parse(source))
    return set().union(*(meta.find_undeclared_variables(ast) for ast in sources))


@pytest.mark.parametrize("template", sorted(TEMPLATE_NAMES))
def test_the_documented_variables_are_exactly_the_ones_used(template: str) -> None:
    contract = CONTRACTS[template]
    assert (
        _used_variables(email_environment(), template) - BRAND_VARIABLES
        == contract.required | contract.optional
    )


def test_missing_variables_are_all_named_at_once() -> None:
    with pytest.raises(EmailTemplateError, match="'booking_confirmed' needs booking_id, start_at"):
        render_email("booking_confirmed", {"client_name": "Ada", "duration_minutes": 60}, BRAND)


def test_unknown_names_are_greeted_politely() -> None:
    context = normalize_context({**factories.booking_confirmed(), "client_name": None, "coach_name": None})

    rendered = render_email("booking_confirmed", context, BRAND)

    assert rendered.text.startswith("Hello there,")
    assert rendered.subject.startswith("Your session with your coach on")
    assert "None" not in rendered.text and "None" not in rendered.html


def test_an_amount_in_another_currency_than_stated_fails() -> None:
    context = {**normalize_context(factories.refund_issued()), "amount": {"amount": 500, "currency": "eur"}}

    with pytest.raises(EmailTemplateError, match="amount in eur shown as kwd"):
        render_email("refund_issued", context, BRAND)


def test_a_missing_field_inside_a_list_fails_the_render() -> None:
    context = normalize_context({**factories.payment_receipt(), "items": [{"quantity": 1, "amount": 4900}]})

    with pytest.raises(EmailTemplateError, match=r"payment_receipt.*description"):
        render_email("payment_receipt", context, BRAND)


def _shows_none(part: str) -> bool:
    """A Python None leaked into the text ("None given." is the notes placeholder)."""
    return re.search(r"\bNone\b(?! given)", part) is not None


@pytest.mark.parametrize("template", sorted(TEMPLATE_NAMES))
def test_the_required_variables_alone_make_a_complete_email(template: str) -> None:
    full = normalize_context(factories.CONTEXTS[template]())
    context = {name: full[name] for name in CONTRACTS[template].required}

    rendered = render_email(template, context, BRAND)

    assert not _shows_none(rendered.text) and not _shows_none(rendered.html)
    assert "Coachly" in rendered.text


# Contexts shaped the way other domains enqueue them today (inbox, accounts, fulfilment).
CALLER_CONTEXTS = {
    "payment_failed": {"amount": 1999, "currency": "usd", "reason": "Your card was declined."},
    "refund_issued": {"amount": 500, "currency": "eur"},
    "subscription_canceled": {"subscription_id": "sub_1", "ended_at": None},
    "password_reset": {"reset_url": "https://coachly.example/reset?token=t", "name": "ada",
                       "link_valid_hours": 1, "email": "ada@example.com",
                       "expires_at": "2026-11-24T23:00:00+00:00"},
    "subscription_renewed": {"name": None, "product_id": "pro", "subscription": "sub_1", "amount": 2900,
                             "currency": "usd", "expires_at": None},
    "booking_confirmed": {"booking_id": "bkg_1", "start_at": "2026-12-01T14:30:00+00:00",
                          "duration_minutes": 45, "amount": 9000, "currency": "gbp", "client_name": None,
                          "coach_name": "Grace"},
    "booking_new_for_coach": {"booking_id": "bkg_1", "start_at": "2026-12-01T14:30:00+00:00",
                              "duration_minutes": 45, "amount": 9000, "currency": "gbp", "client_name": "Ada",
                              "coach_name": None},
}  # fmt: skip


@pytest.mark.parametrize("template", sorted(CALLER_CONTEXTS))
def test_contexts_other_domains_send_render(template: str) -> None:
    rendered = render_email(template, CALLER_CONTEXTS[template], BRAND)

    assert not _shows_none(rendered.text) and not _shows_none(rendered.html)


def test_a_failed_payment_links_to_the_account_when_no_portal_link_is_given() -> None:
    rendered = render_email("payment_failed", CALLER_CONTEXTS["payment_failed"], BRAND)

    assert 'Your bank said: "Your card was declined."' in rendered.text
    assert "update your card to keep your subscription active: https://coachly.example" in rendered.text
    assert rendered.subject == "Action needed: your Coachly payment failed"
