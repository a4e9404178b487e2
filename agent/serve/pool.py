"""Cached conversations: a small LRU pool of Sessions, each request served by the longest matching prefix.

Clients resend the whole history every step. Each request is turned into a conversation (images
preprocessed once and remembered by their bytes; an assistant message whose text is a reply this
server generated becomes that reply's generated token ids again, never re-tokenised text), rendered
against every pooled Session, and compared key by key (token ids, image content digests) with what
that Session's KV cache holds. The request goes to the Session with the longest match, which then
computes only what is new. A request that matches little of any Session's cache gets a new Session
while the pool has room, so interleaved conversations (a harness driving several desktops) do not
evict each other; past `size` Sessions, or past the KV byte budget, the least recently used goes.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable, Union

from agent.serve.requests import AssistantMessage, ChatRequest, ImageInput, RawMessage, UserMessage
from model import (
    AssistantTurn,
    Conversation,
    HistoryPolicy,
    ImageEntry,
    LoadedModel,
    Session,
    SessionSettings,
    UserTurn,
)

IMAGE_MEMORY = 12  # preprocessed images remembered by their bytes (~25 MB each at 1280x800)


@dataclass
class ServedReply(AssistantTurn):
    """A reply this server generated: its ids, and the text it sent (how the client will quote it)."""

    served_text: str = ""


@dataclass
class RawTurn:
    """A text-only message the template renders as given (tool results, assistant tool_calls)."""

    message: dict[str, Any]


class ServedConversation(Conversation):
    """A Conversation that may also hold RawTurns (rendered by the chat template from their message)."""

    def chat_messages(self, sentinel: Callable[[int], str]) -> list[dict]:
        plain = Conversation(system=self.system, tools=self.tools, marker=self.marker,
                             turns=[turn for turn in self.turns if not isinstance(turn, RawTurn)])
        rendered = iter(plain.chat_messages(sentinel))
        messages = [next(rendered)] if self.system is not None else []
        for turn in self.turns:
            messages.append(dict(turn.message) if isinstance(turn, RawTurn) else next(rendered))
        return messages


Turn = Union[UserTurn, AssistantTurn, RawTurn]


class ConversationPool:
    """Sessions kept between requests (most recently used last), within a count and a KV byte budget."""

    def __init__(self, loaded: LoadedModel, size: int = 4, kv_budget_bytes: int | None = None,
                 encoder_cache_bytes: int = 512 << 20, min_pixels: int | None = None,
                 max_pixels: int | None = None, reuse: bool = True):
        """`reuse` False: every request starts from an empty cache (the baseline that re-reads history)."""
        if size < 1:
            raise ValueError(f"the pool needs room for at least one conversation, got {size}")
        self.loaded, self.size, self.kv_budget_bytes, self.reuse = loaded, size, kv_budget_bytes, reuse
        self.settings = SessionSettings(history=HistoryPolicy(keep_images=None), min_pixels=min_pixels,
                                        max_pixels=max_pixels, encoder_cache_bytes=encoder_cache_bytes,
                                        max_kv_bytes=kv_budget_bytes, on_budget="error")
        self.blank = Session(loaded, settings=self.settings)  # never answers: pooled Sessions are its forks
        self.sessions: list[Session] = []
        self.images: OrderedDict[str, ImageEntry] = OrderedDict()

    # ------------------------------------------------------------------------------ requests

    def session_for(self, request: ChatRequest) -> Session:
        """The Session to answer `request` with, the request's conversation adopted."""
        entries = {key: self._image_entry(image) for key, image in _images(request).items()}
        if not self.reuse:
            session = Session(self.loaded, settings=self.settings)  # its own empty encoder cache as well
            session.adopt(self._conversation(request, entries, []))
            return session
        candidates = [(s, self._conversation(request, entries, s.conversation.turns)) for s in self.sessions]
        scored = [(s.cached_prefix(conversation), s, conversation) for s, conversation in candidates]
        best_match, best, conversation = max(scored, key=lambda item: item[0], default=(0, None, None))
        if best is not None and best_match > 0 and (2 * best_match >= best.kv_tokens
                                                    or continues(best.conversation.turns, conversation.turns)):
            session = best  # continues a cached conversation (maybe with old screenshots dropped since)
        elif len(self.sessions) < self.size:
            session = self.blank.fork()
            self.sessions.append(session)
        else:
            session = self.sessions[0]  # least recently used; it keeps whatever prefix still matches
        session.adopt(self._conversation(request, entries, session.conversation.turns))
        self._touch(session)
        return session

    def finished(self, session: Session, served_text: str) -> None:
        """Record the reply as sent (so the next request that quotes it reuses its ids); keep the budget."""
        conversation = session.conversation
        last = conversation.turns[-1]
        if isinstance(last, AssistantTurn):
            served = ServedReply(last.token_ids, last.text, served_text)
            session.adopt(replace(conversation, turns=[*conversation.turns[:-1], served]))
        self._within_budget(keep=session)

    def forget(self, session: Session) -> None:
        """Drop a Session whose state is unknown (a request failed half-way)."""
        if session in self.sessions:
            self.sessions.remove(session)

    def kv_bytes(self) -> int:
        """KV cache bytes held by the pooled Sessions."""
        return sum(session.kv_bytes for session in self.sessions)

    # ------------------------------------------------------------------------------ internals

    def _conversation(self, request: ChatRequest, entries: dict[str, ImageEntry], cached: list) -> ServedConversation:
        turns: list[Turn] = []
        for index, message in enumerate(request.messages):
            if isinstance(message, UserMessage):
                turns.append(UserTurn([entries[p.key] if isinstance(p, ImageInput) else p for p in message.parts]))
            elif isinstance(message, AssistantMessage):
                known = cached[index] if index < len(cached) else None
                if isinstance(known, ServedReply) and known.served_text == message.text:
                    turns.append(known)  # the ids this server generated for exactly this text
                else:
                    turns.append(RawTurn({"role": "assistant", "content": message.text}))
            elif isinstance(message, RawMessage):
                turns.append(RawTurn(message.message))
        return ServedConversation(system=request.system, tools=list(request.tools), turns=turns)

    def _image_entry(self, image: ImageInput) -> ImageEntry:
        if image.key in self.images:
            self.images.move_to_end(image.key)
            return self.images[image.key]
        entry = self.blank.prepare_image(image.image)
        self.images[image.key] = entry
        while len(self.images) > IMAGE_MEMORY:
            self.images.popitem(last=False)
        return entry

    def _touch(self, session: Session) -> None:
        self.sessions.remove(session)
        self.sessions.append(session)

    def _within_budget(self, keep: Session) -> None:
        """Evict least recently used Sessions (never `keep`) while the pool is over its KV byte budget."""
        if self.kv_budget_bytes is None:
            return
        for session in list(self.sessions):
            if self.kv_bytes() <= self.kv_budget_bytes:
                break
            if session is not keep:
                self.sessions.remove(session)


def continues(cached: list, new: list) -> bool:
    """Whether `new` is the `cached` conversation plus more turns, where screenshots may since have been
    replaced by text (a client's history policy dropping old ones): then the same Session serves it."""
    if len(new) <= len(cached):
        return False
    for old, turn in zip(cached, new):
        if isinstance(old, UserTurn) and isinstance(turn, UserTurn):
            if len(old.parts) != len(turn.parts) or not all(map(_same_part, old.parts, turn.parts)):
                return False
        elif isinstance(old, RawTurn) and isinstance(turn, RawTurn):
            if old.message != turn.message:
                return False
        elif old is not turn:  # a reply continues only as the very turn this server generated
            return False
    return True


def _same_part(old, new) -> bool:
    if isinstance(old, ImageEntry):
        return isinstance(new, str) or (isinstance(new, ImageEntry) and new.digest == old.digest)
    return old == new


def _images(request: ChatRequest) -> dict[str, ImageInput]:
    return {part.key: part for message in request.messages if isinstance(message, UserMessage)
            for part in message.parts if isinstance(part, ImageInput)}
