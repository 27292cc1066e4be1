"""The review task (issue 6) will live here; for now reviewers get a placeholder queue."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from redline.platform.web import render, require
from redline.store.models import Role

router = APIRouter(prefix="/review")


@router.get("")
def queue(request: Request) -> Response:
    require(request, Role.REVIEWER)
    return render(request, "review_queue.html")
