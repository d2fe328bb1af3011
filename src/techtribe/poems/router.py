"""`/poems`: publish, read, list, edit and delete poems; rate them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from techtribe.auth.dependencies import CurrentUser, OptionalAuth
from techtribe.db import ReadSessions, SessionDep
from techtribe.errors import Unauthorized
from techtribe.inputs import Timestamp
from techtribe.pagination import CursorQuery, LimitQuery, Page
from techtribe.poems import service
from techtribe.poems.dependencies import EditablePoemDep, PoemDep, ReadablePoemDep
from techtribe.poems.schemas import (
    PoemCreate,
    PoemRead,
    PoemUpdate,
    RatingCreate,
    RatingRead,
    RatingUpdate,
)

router = APIRouter(prefix="/poems", tags=["poems"])

PoemSort = Literal["newest", "oldest", "rating", "most_rated", "author"]


@router.get("", response_model=Page[PoemRead])
async def list_poems(
    reads: ReadSessions,
    auth: OptionalAuth,
    author_id: uuid.UUID | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the title (any case).")
    ] = None,
    created_from: Annotated[
        Timestamp | None,
        Query(alias="from", description="Created at or after (with a UTC offset)."),
    ] = None,
    created_to: Annotated[
        Timestamp | None,
        Query(alias="to", description="Created at or before (with a UTC offset)."),
    ] = None,
    min_score: Annotated[
        float | None, Query(ge=0, le=5, description="Rated poems with at least this average.")
    ] = None,
    exclude_mine: Annotated[
        bool, Query(description="Leave out the caller's own poems (needs a login: else 401).")
    ] = False,
    sort: PoemSort = "newest",
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Any:
    """Anyone may list. `sort=rating` puts unrated poems last."""
    exclude_author_id = None
    if exclude_mine:
        if auth is None:
            raise Unauthorized("`exclude_mine` needs a login: send your access token.")
        exclude_author_id = auth.user.id
    async with reads() as session:
        items, next_cursor = await service.list_poems(
            session,
            sort=sort,
            limit=limit,
            cursor=cursor,
            author_id=author_id,
            q=q,
            created_from=created_from,
            created_to=created_to,
            min_score=min_score,
            exclude_author_id=exclude_author_id,
        )
    return {"items": items, "next_cursor": next_cursor}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PoemRead)
async def publish_poem(body: PoemCreate, user: CurrentUser, session: SessionDep) -> Any:
    return await service.publish(session, author=user, title=body.title, body=body.body)


@router.get("/{poem_id}", response_model=PoemRead)
async def read_poem(poem: ReadablePoemDep) -> Any:
    return poem


@router.patch("/{poem_id}", response_model=PoemRead)
async def edit_poem(poem: EditablePoemDep, body: PoemUpdate, session: SessionDep) -> Any:
    """The author or an admin; fields left out stay as they are."""
    return await service.edit(session, poem, body.model_dump(exclude_unset=True))


@router.delete("/{poem_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_poem(poem: EditablePoemDep, session: SessionDep) -> Response:
    """The author or an admin; the poem's ratings go with it."""
    await service.delete_poem(session, poem)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{poem_id}/ratings", status_code=status.HTTP_201_CREATED, response_model=RatingRead)
async def rate_poem(
    user: CurrentUser, poem: PoemDep, body: RatingCreate, session: SessionDep
) -> Any:
    """One rating per member and poem (`409 already_rated`); not one's own (`403 own_poem`)."""
    return await service.rate(
        session, poem=poem, rater=user, score=body.score, comment=body.comment
    )


@router.get("/{poem_id}/ratings", response_model=Page[RatingRead])
async def list_ratings(
    poem: ReadablePoemDep,
    reads: ReadSessions,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Any:
    """Newest first."""
    async with reads() as session:
        items, next_cursor = await service.list_ratings(
            session, poem=poem, limit=limit, cursor=cursor
        )
    return {"items": items, "next_cursor": next_cursor}


@router.patch("/{poem_id}/ratings/mine", response_model=RatingRead)
async def change_my_rating(
    user: CurrentUser, poem: PoemDep, body: RatingUpdate, session: SessionDep
) -> Any:
    """Change the caller's rating (`404` if they have none); the author is not told again."""
    return await service.change_rating(
        session, poem=poem, rater=user, changes=body.model_dump(exclude_unset=True)
    )


@router.delete("/{poem_id}/ratings/mine", status_code=status.HTTP_204_NO_CONTENT)
async def withdraw_my_rating(user: CurrentUser, poem: PoemDep, session: SessionDep) -> Response:
    await service.withdraw_rating(session, poem=poem, rater=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
