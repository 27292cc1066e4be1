"""Accounts: invites and login links, browser sessions, consent and the survey.

A service like ``campaign`` and ``review``: the web platform and ``redline serve`` call
these functions and never touch the rows themselves.
"""

from redline.accounts.invites import (
    InviteInfo,
    InviteInvalid,
    create_invite,
    describe_invite,
    ensure_first_admin,
    first_admin_id,
    list_invites,
    login_link_token,
    redeem_invite,
    revoke_invite,
)
from redline.accounts.profile import record_consent, record_survey
from redline.accounts.sessions import SESSION_DAYS, Viewer, end_session, viewer_for

__all__ = [
    "SESSION_DAYS",
    "InviteInfo",
    "InviteInvalid",
    "Viewer",
    "create_invite",
    "describe_invite",
    "end_session",
    "ensure_first_admin",
    "first_admin_id",
    "list_invites",
    "login_link_token",
    "record_consent",
    "record_survey",
    "redeem_invite",
    "revoke_invite",
    "viewer_for",
]
