"""The red-team task (DESIGN.md section 5): tasks, attempts, turns, picks, target assignment.

One implementation, used by the web platform and ``redline chat``.
"""

from redline.campaign.assignment import choose_target
from redline.campaign.config import CampaignConfig, campaign_config
from redline.campaign.service import CampaignService, ResolveTarget
from redline.campaign.views import AttemptView, CandidateView, TaskView, TurnView
from redline.errors import ConflictError
from redline.store.writes import create_person, get_or_create_person

__all__ = [
    "AttemptView",
    "CampaignConfig",
    "CampaignService",
    "CandidateView",
    "ConflictError",
    "ResolveTarget",
    "TaskView",
    "TurnView",
    "campaign_config",
    "choose_target",
    "create_person",
    "get_or_create_person",
]
