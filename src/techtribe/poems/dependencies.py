"""Dependencies that load a poem (404 when it doesn't exist) and check who may change it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from techtribe.auth.dependencies import CurrentUser
from techtribe.db import ReadSessions, SessionDep
from techtribe.poems import service
from techtribe.poems.models import Poem


async def poem_by_id(poem_id: uuid.UUID, session: SessionDep) -> Poem:
    return await service.get_poem(session, poem_id)


PoemDep = Annotated[Poem, Depends(poem_by_id)]


async def poem_to_read(poem_id: uuid.UUID, reads: ReadSessions) -> Poem:
    async with reads() as session:
        return await service.get_poem(session, poem_id)


# For GET routes, on a read session (the rule is in `auth/dependencies.py`).
ReadablePoemDep = Annotated[Poem, Depends(poem_to_read)]


async def editable_poem(user: CurrentUser, poem: PoemDep) -> Poem:
    """The poem, if the caller is its author or an admin (the caller is checked first: 401)."""
    service.check_can_edit(poem, user)
    return poem


EditablePoemDep = Annotated[Poem, Depends(editable_poem)]
