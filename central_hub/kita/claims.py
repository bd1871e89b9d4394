"""The priority claims of an application (sibling, hardship, home) and where each stands.

WHY its own module: a claim counts in the allocation only once staff verified the value
claimed *now*; a changed value is unverified again. That one rule decides both what a
family and staff see and what the allocation reads, so both read it here. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from central_hub.kita.model import Claim, ClaimCheck, ClaimState, ClaimStatus, StoredApplication


def claimed_value(app: StoredApplication, claim: Claim) -> str | None:
    """The value an application claims for ``claim`` as staff check it; ``None``: not claimed."""
    if claim is Claim.SIBLING:
        return app.sibling_kita
    if claim is Claim.HARDSHIP:
        return "true" if app.hardship else None
    return f"{app.lat!r},{app.lon!r}"


def claim_statuses(
    app: StoredApplication, checks: Mapping[str, ClaimCheck]
) -> tuple[ClaimStatus, ...]:
    """Each claim's state: a check counts only for the value the application claims now."""
    out = []
    for claim in Claim:
        value = claimed_value(app, claim)
        check = checks.get(claim.value)
        if value is None:
            out.append(ClaimStatus(claim, ClaimState.NOT_CLAIMED, None))
        elif check is None or check.value != value:
            out.append(ClaimStatus(claim, ClaimState.UNVERIFIED, None))
        else:
            out.append(ClaimStatus(claim, ClaimState(check.verdict), check))
    return tuple(out)


def verified_claims(app: StoredApplication, checks: Mapping[str, ClaimCheck]) -> set[Claim]:
    """The claims that count in the allocation."""
    return {s.claim for s in claim_statuses(app, checks) if s.state is ClaimState.VERIFIED}
