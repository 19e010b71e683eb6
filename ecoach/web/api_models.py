"""Request and response models of the JSON API; the OpenAPI document is built from them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. message_too_long")
    message: str = Field(description="Human-readable explanation")


class Error(BaseModel):
    error: ErrorBody


class CoacheeOut(BaseModel):
    id: int
    name: str
    email: str | None


class EngagementOut(BaseModel):
    id: int
    coachee: CoacheeOut
    language: Literal["nl", "en"]
    time_zone: str
    status: Literal["active", "paused", "closed"]
    sponsor_name: str | None
    sponsor_email: str | None
    created_at: datetime
    last_exchange_at: datetime | None
    last_channel: str | None
    last_snippet: str | None
    waiting_since: datetime | None = Field(description="Oldest unanswered coachee message")
    unread_count: int


class EngagementList(BaseModel):
    engagements: list[EngagementOut]


EMAIL = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"


class EngagementCreate(Strict):
    coachee_name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    coachee_email: str = Field("", max_length=320, pattern=EMAIL)
    language: Literal["nl", "en"] | None = None
    time_zone: str | None = Field(None, max_length=64, description="An IANA time zone, e.g. Europe/Amsterdam")
    sponsor_name: str = Field("", max_length=200)
    sponsor_email: str = Field("", max_length=320, pattern=EMAIL)


class EngagementCreated(EngagementOut):
    chat_url: str = Field(description="The coachee's personal chat link")


class StatusChange(Strict):
    action: Literal["pause", "resume", "close", "reopen"]


class ExchangeOut(BaseModel):
    id: int
    engagement_id: int
    channel: Literal["chat", "mail", "video", "phone", "system", "note"]
    direction: Literal["in", "out", "internal"]
    author: Literal["coach", "coachee", "sponsor", "system"]
    author_name: str
    text: str
    html: str = Field(description="Sanitized HTML rendering of the text")
    created_at: datetime
    client_id: str | None
    delivery_state: str
    delivery_detail: str | None = None
    subject: str | None = None


class ExchangePage(BaseModel):
    exchanges: list[ExchangeOut]
    has_more: bool = Field(description="More exchanges exist in the paging direction")


class MessageCreate(Strict):
    client_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="Chosen by the client; a resend with the same id is stored once",
    )
    text: str = Field(description="Not empty, up to max_message_chars characters (400 message_empty, message_too_long)")
    channel: Literal["chat", "mail", "note"] = "chat"


class ChatLinkOut(BaseModel):
    chat_url: str | None = Field(description="Null after the link was withdrawn")


class SearchHit(BaseModel):
    engagement_id: int
    coachee_name: str
    exchange: ExchangeOut


class SearchResult(BaseModel):
    hits: list[SearchHit]


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    database: str | None = Field(None, description="Set when the database is unreachable")
    mailboxes: dict[str, str] | None = Field(None, description="Mailboxes that cannot be read, with the reason")
