"""Who owns the SES identity a stage sends under, judged from the stage's settings and the other stage blocks
of cdk.json (infra/config.py reads them; infra/sender.py builds what they decide).

SES identities are unique per account and region, and the identity of a domain holds its DKIM keys. So one
stage per account and region creates the domain identity of its sender's domain and owns it (kept when a
protected stage is deleted); every other stage there names it (`sesIdentity`) and creates nothing: a second
creator fails with AlreadyExists, and deleting a creator would delete the identity under the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra import constants

OWNER = constants.CONTEXT_SES_IDENTITY_OWNER
IDENTITY = constants.CONTEXT_SES_IDENTITY
VERIFIED = constants.CONTEXT_SES_IDENTITY_VERIFIED


@dataclass(frozen=True)
class StageSender:
    stage: str
    # The account and region the stage deploys to, where its settings say.
    where: tuple[str | None, str | None]
    # The domain of the identity it sends under, and whether it creates (owns) that identity.
    domain: str
    owns: bool


def domain_of(address: str) -> str:
    """The domain of an address (a domain is its own)."""
    return address.rpartition("@")[2]


def sender_identity(given: str, *, owner: bool | None, verified: bool, email_from: str, protected: bool) -> str | None:
    """The identity the stage names and does not own, or None when it owns (creates) the domain identity of
    emailFrom's domain. Protected stages say which (`sesIdentityOwner`, or `sesIdentity`); a dev stage that
    says neither owns its identity. A named identity must be the one SES checks emailFrom against: the address
    itself or its domain (Cognito names the identity by either)."""
    domain = domain_of(email_from)
    if owner and given:
        raise ValueError(
            f"{OWNER}=true and {IDENTITY}={given} exclude each other: a stage either creates and owns the domain "
            f"identity of {domain} or sends under one that exists already, never both"
        )
    if owner or (owner is None and not given and not protected):
        return None
    if not given:
        raise ValueError(
            f"{OWNER}=false: name the identity this stage sends under with -c {IDENTITY}={domain}"
            if owner is False
            else f"say who owns the SES identity of {domain}: -c {OWNER}=true on the one stage of this account and "
            f"region that creates it (kept when the stage is deleted), -c {IDENTITY}={domain} on every other stage "
            "there"
        )
    if given.lower() not in (email_from.lower(), domain.lower()):
        raise ValueError(
            f"{IDENTITY} {given!r} must be {constants.CONTEXT_EMAIL_FROM} ({email_from}) or its domain ({domain}): "
            "SES sends from an address only under an identity of that name"
        )
    if verified:
        raise ValueError(
            f"{VERIFIED} is for the identity a stage owns; {given} ({IDENTITY}) is verified already and Cognito "
            f"sends under it from the first deployment: remove {VERIFIED}"
        )
    return given


def ownership_problems(stage: StageSender, others: Iterable[StageSender]) -> list[str]:
    """What is wrong with who owns the stage's identity, against the other stages of the same account, region
    and domain (only where both name their account and region): two owners, or a protected stage sending under
    the identity of a disposable stage, which deletes it with its stack."""
    account, region = stage.where
    if not (account and region):
        return []
    problems = []
    for other in others:
        if other.where != stage.where or other.domain.lower() != stage.domain.lower():
            continue
        if stage.owns and other.owns:
            problems.append(
                f"stages {stage.stage!r} and {other.stage!r} both own the SES identity of {stage.domain} in "
                f"{account}/{region} (the second to deploy would fail with AlreadyExists): keep {OWNER}=true on "
                f"one, give the other {IDENTITY}={stage.domain}"
            )
        owner, user = (stage, other) if stage.owns else (other, stage)
        disposable_owner = constants.is_dev_stage(owner.stage) and not constants.is_dev_stage(user.stage)
        if owner.owns and not user.owns and disposable_owner:
            problems.append(
                f"stage {user.stage!r} sends under the SES identity of {stage.domain}, which the disposable stage "
                f"{owner.stage!r} owns in {account}/{region} and deletes with its stack: let a protected stage own it"
            )
    return problems
